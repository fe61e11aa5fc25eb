import type { ChartPanel, ChartPoint, LineChart } from "../../report/svg-chart.js";
import { canonicalJson } from "./hash.js";
import type { ReadRecord, SweepHeader } from "./results.js";

/**
 * What to draw: x, one line per value of `lines` (one line when it is not given), small
 * multiples per `facet`, and y.
 */
export interface ChartChoice {
  x: string;
  lines?: string;
  facet?: string;
  /** A collected value's name; `name.key` for a key of a mapping value (exits by reason). */
  y: string;
  /** Values that fix the other axes: axis name to value (as text). */
  where?: Record<string, string>;
}

type Chart = { ok: true; chart: LineChart } | { ok: false; message: string };

export const label = (v: unknown) => (typeof v === "string" ? v : canonicalJson(v));

/** The y of one record: the collected value, or a key of it; null when not a number. */
export function yOf(r: ReadRecord, y: string, header: SweepHeader): number | null {
  const values = r.data.values as Record<string, unknown>;
  const name = header.collect.includes(y) ? y : y.slice(0, y.lastIndexOf("."));
  let v = values[name];
  if (name !== y && v !== null && typeof v === "object")
    v = (v as Record<string, unknown>)[y.slice(name.length + 1)] ?? 0;
  return typeof v === "number" ? v : null;
}

/** Checks the choice against the header: known axes, a known value, the other axes fixed. */
function checkChoice(h: SweepHeader, c: ChartChoice): string | undefined {
  const axes = h.axes.map((a) => a.name);
  for (const [flag, a] of [
    ["--x", c.x],
    ["--lines", c.lines],
    ["--facet", c.facet],
  ] as const)
    if (a !== undefined && !axes.includes(a))
      return `${flag}: no axis "${a}" (one of: ${axes.join(", ")})`;
  const y = c.y;
  const known = h.collect.includes(y) || h.collect.some((n) => y.startsWith(`${n}.`));
  if (!known) return `--y: no collected value "${y}" (one of: ${h.collect.join(", ")})`;
  for (const [a, v] of Object.entries(c.where ?? {})) {
    const axis = h.axes.find((x) => x.name === a);
    if (!axis) return `--where: no axis "${a}" (one of: ${axes.join(", ")})`;
    const vals = axis.values.map(label);
    if (!vals.includes(v)) return `--where: ${a} has no value "${v}" (one of: ${vals.join(", ")})`;
  }
  const roles = [
    ["--x", c.x],
    ["--lines", c.lines],
    ["--facet", c.facet],
    ...Object.keys(c.where ?? {}).map((a) => ["--where", a]),
  ].filter((r): r is [string, string] => r[1] !== undefined);
  for (const [i, [flag, a]] of roles.entries()) {
    const twice = roles.findIndex((r, j) => j < i && r[1] === a);
    if (twice >= 0) return `${flag}: the axis "${a}" is already ${roles[twice]![0]}`;
  }
  const chosen = new Set([c.x, c.lines, c.facet, ...Object.keys(c.where ?? {})]);
  const loose = h.axes.filter((a) => !chosen.has(a.name) && a.values.length > 1).map((a) => a.name);
  if (loose.length > 0)
    return `the axes ${loose.join(", ")} have several values: fix each with --where AXIS=VALUE`;
  return undefined;
}

/**
 * The points of one series: the mean over the records `xOf` places (the seeds of a point),
 * with the min..max band when there are several; a null y (a gap) when any is not a number.
 */
function seriesPoints(
  records: ReadRecord[],
  h: SweepHeader,
  y: string,
  xOf: (settings: Record<string, unknown>) => number | undefined,
): ChartPoint[] {
  const acc = new Map<number, { sum: number; n: number; lo: number; hi: number; gap: boolean }>();
  for (const r of records) {
    const x = xOf(r.data.settings as Record<string, unknown>);
    if (x === undefined) continue;
    const v = yOf(r, y, h);
    const e = acc.get(x) ?? { sum: 0, n: 0, lo: Infinity, hi: -Infinity, gap: false };
    if (v === null) e.gap = true;
    else {
      e.sum += v;
      e.n++;
      e.lo = Math.min(e.lo, v);
      e.hi = Math.max(e.hi, v);
    }
    acc.set(x, e);
  }
  return [...acc].map(([x, e]) =>
    e.gap || e.n === 0
      ? { x, y: null }
      : e.n > 1
        ? { x, y: e.sum / e.n, lo: e.lo, hi: e.hi }
        : { x, y: e.sum },
  );
}

/**
 * A sweep's results as a line chart: one panel per value of `facet` (or one), one line per
 * value of `lines`, x the `x` axis (numbers on a linear scale, anything else as categories
 * in axis order), y the collected value, the mean over seeds with their min..max band.
 */
export function sweepChart(h: SweepHeader, records: ReadRecord[], c: ChartChoice): Chart {
  const bad = checkChoice(h, c);
  if (bad) return { ok: false, message: bad };
  const xVals = h.axes.find((a) => a.name === c.x)!.values;
  const numeric = xVals.every((v) => typeof v === "number");
  const xPos = (v: unknown) =>
    numeric ? (v as number) : xVals.findIndex((x) => canonicalJson(x) === canonicalJson(v));
  const facets = c.facet ? h.axes.find((a) => a.name === c.facet)!.values : [undefined];
  const lineVals = c.lines ? h.axes.find((a) => a.name === c.lines)!.values : [undefined];
  const where = Object.entries(c.where ?? {});
  const kept = records.filter((r) => {
    const s = r.data.settings as Record<string, unknown>;
    return where.every(([a, v]) => label(s[a]) === v);
  });
  const axisOf = (s: Record<string, unknown>) => ({
    x: xPos(s[c.x]),
    line: c.lines === undefined ? "" : label(s[c.lines]),
    facet: c.facet === undefined ? "" : label(s[c.facet]),
  });
  const panels: ChartPanel[] = facets.map((f) => ({
    title: c.facet ? `${c.facet} = ${label(f)}` : "",
    series: lineVals.map((lv) => ({
      label: c.lines === undefined ? c.y : `${c.lines} = ${label(lv)}`,
      points: seriesPoints(kept, h, c.y, (s) => {
        const a = axisOf(s);
        const ok = a.line === (c.lines === undefined ? "" : label(lv));
        return ok && a.facet === (c.facet === undefined ? "" : label(f)) ? a.x : undefined;
      }),
    })),
  }));
  const seeds = h.seeds > 1 ? ` (mean of ${h.seeds} seeds, band min..max)` : "";
  const fixed = where.length > 0 ? `, ${where.map(([a, v]) => `${a} = ${v}`).join(", ")}` : "";
  return {
    ok: true,
    chart: {
      title: `${h.name}: ${c.y}${seeds}${fixed}`,
      xLabel: c.x,
      yLabel: c.y,
      ...(numeric ? {} : { xCategories: xVals.map(label) }),
      panels,
    },
  };
}
