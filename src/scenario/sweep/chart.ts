import type { ChartPanel, LineChart } from "../../report/svg-chart.js";
import { canonicalJson } from "./hash.js";
import type { ReadRecord, SweepHeader } from "./results.js";

/** What to draw: x, one line per value of `lines`, small multiples per `facet`, and y. */
export interface ChartChoice {
  x: string;
  lines: string;
  facet?: string;
  /** A collected value's name; `name.key` for a key of a mapping value (exits by reason). */
  y: string;
  /** Values that fix the other axes: axis name to value (as text). */
  where?: Record<string, string>;
}

type Chart = { ok: true; chart: LineChart } | { ok: false; message: string };

const label = (v: unknown) => (typeof v === "string" ? v : canonicalJson(v));

/** The y of one record: the collected value, or a key of it; null when not a number. */
function yOf(r: ReadRecord, y: string, header: SweepHeader): number | null {
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
  for (const a of Object.keys(c.where ?? {}))
    if (!axes.includes(a)) return `--where: no axis "${a}" (one of: ${axes.join(", ")})`;
  const chosen = new Set([c.x, c.lines, c.facet, ...Object.keys(c.where ?? {})]);
  const loose = h.axes.filter((a) => !chosen.has(a.name) && a.values.length > 1).map((a) => a.name);
  if (loose.length > 0)
    return `the axes ${loose.join(", ")} have several values: fix each with --where AXIS=VALUE`;
  return undefined;
}

/**
 * A sweep's results as a line chart: one panel per value of `facet` (or one), one line per
 * value of `lines`, x the `x` axis (numbers on a linear scale, anything else as categories
 * in axis order), y the collected value, the mean over seeds.
 */
export function sweepChart(h: SweepHeader, records: ReadRecord[], c: ChartChoice): Chart {
  const bad = checkChoice(h, c);
  if (bad) return { ok: false, message: bad };
  const xVals = h.axes.find((a) => a.name === c.x)!.values;
  const numeric = xVals.every((v) => typeof v === "number");
  const xPos = (v: unknown) =>
    numeric ? (v as number) : xVals.findIndex((x) => canonicalJson(x) === canonicalJson(v));
  const facets = c.facet ? h.axes.find((a) => a.name === c.facet)!.values : [undefined];
  const lineVals = h.axes.find((a) => a.name === c.lines)!.values;
  const where = Object.entries(c.where ?? {});
  const kept = records.filter((r) => {
    const s = r.data.settings as Record<string, unknown>;
    return where.every(([a, v]) => label(s[a]) === v);
  });
  const panels: ChartPanel[] = facets.map((f) => ({
    title: c.facet ? `${c.facet} = ${label(f)}` : "",
    series: lineVals.map((lv) => {
      const sums = new Map<number, { sum: number; n: number; gap: boolean }>();
      for (const r of kept) {
        const s = r.data.settings as Record<string, unknown>;
        if (label(s[c.lines]) !== label(lv) || (c.facet && label(s[c.facet]) !== label(f)))
          continue;
        const x = xPos(s[c.x]);
        const y = yOf(r, c.y, h);
        const e = sums.get(x) ?? { sum: 0, n: 0, gap: false };
        if (y === null) e.gap = true;
        else {
          e.sum += y;
          e.n++;
        }
        sums.set(x, e);
      }
      const points = [...sums].map(([x, e]) => ({ x, y: e.gap || e.n === 0 ? null : e.sum / e.n }));
      return { label: `${c.lines} = ${label(lv)}`, points };
    }),
  }));
  const seeds = h.seeds > 1 ? ` (mean of ${h.seeds} seeds)` : "";
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
