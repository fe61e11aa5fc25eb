/**
 * Colours of the viewer: the Okabe-Ito palette (distinguishable with the common forms of
 * colour blindness), extended by Paul Tol's muted scheme when a run has more holders.
 * Shapes and hatching carry meaning too, so nothing relies on hue alone.
 */
export const OKABE_ITO = [
  "#0072B2", // blue
  "#E69F00", // orange
  "#009E73", // bluish green
  "#CC79A7", // reddish purple
  "#56B4E9", // sky blue
  "#D55E00", // vermillion
  "#F0E442", // yellow
] as const;

/** Paul Tol's muted scheme, after the Okabe-Ito colours. */
const TOL_MUTED = [
  "#332288",
  "#88CCEE",
  "#44AA99",
  "#117733",
  "#999933",
  "#DDCC77",
  "#CC6677",
  "#882255",
  "#AA4499",
] as const;

const SERIES = [...OKABE_ITO, ...TOL_MUTED];

/** The colour of the n-th series (holder, variant, event), cycling past the palette. */
export function seriesColour(n: number): string {
  return SERIES[n % SERIES.length]!;
}

/** Event states (perf's PERF_EVENT_STATE_*), and what they look like. */
export const STATE_COLOURS: Record<string, string> = {
  ACTIVE: "#009E73",
  INACTIVE: "#BBBBBB",
  ERROR: "#D55E00",
  OFF: "#EEEEEE",
  DEAD: "#555555",
  EXIT: "#555555",
};

/** Marks: a colour and a shape each. */
export const MARK_STYLES: Record<
  string,
  { colour: string; shape: "up" | "down" | "dot" | "bar" | "diamond" | "tick" }
> = {
  "vm entry": { colour: "#0072B2", shape: "up" },
  "vm exit": { colour: "#E69F00", shape: "down" },
  PMI: { colour: "#CC79A7", shape: "diamond" },
  rotation: { colour: "#000000", shape: "bar" },
  switch: { colour: "#56B4E9", shape: "tick" },
  migration: { colour: "#D55E00", shape: "dot" },
};

/** Shading of guest-loaded intervals. */
export const GUEST_SHADE = "rgba(0, 114, 178, 0.13)";
export const GUEST_LANE = "#56B4E9";
export const TASK_LANE = "#DDDDDD";
