import type { ChartChoice } from "./chart.js";
import { label } from "./chart.js";
import type { ReadRecord, SweepHeader } from "./results.js";

/** What a reader fixed on the command line; the rest is picked by `chartLayout`. */
export interface LayoutFlags {
  x?: string;
  lines?: string;
  facet?: string;
  where?: Record<string, string>;
}

/** The layout of every chart of a sweep page (the y aside), and the axes it fixed itself. */
export interface ChartLayout {
  choice: Omit<ChartChoice, "y">;
  /** Axes with several values that no flag placed, fixed at their first value. */
  defaulted: string[];
}

const numeric = (a: { values: unknown[] }) => a.values.every((v) => typeof v === "number");

/**
 * The chart layout for flags that leave some roles open. Only axes with several values
 * take a role. x: the axis with the most values among those of numbers (else among all);
 * lines: of the rest, numbers before other values (an ordered family of lines), then the
 * fewest values; facet: the next one; any axis left is fixed at its first value. Ties go
 * to the axis first in the sweep file.
 */
export function chartLayout(h: SweepHeader, f: LayoutFlags): ChartLayout {
  const where = { ...(f.where ?? {}) };
  const taken = new Set([f.x, f.lines, f.facet, ...Object.keys(where)]);
  const free = h.axes.filter((a) => !taken.has(a.name) && a.values.length > 1);
  const take = (pick: (typeof free)[number] | undefined): string | undefined => {
    if (!pick) return undefined;
    free.splice(free.indexOf(pick), 1);
    return pick.name;
  };
  const most = (xs: typeof free) =>
    xs.reduce<(typeof free)[number] | undefined>(
      (b, a) => (!b || a.values.length > b.values.length ? a : b),
      undefined,
    );
  // x falls back to the first axis when none varies (a one-point sweep).
  const x =
    f.x ??
    take(most(free.filter(numeric)) ?? most(free)) ??
    h.axes.find((a) => a.name !== f.lines && a.name !== f.facet)?.name ??
    h.axes[0]!.name;
  const order = () =>
    [...free].sort(
      (a, b) =>
        Number(numeric(b)) - Number(numeric(a)) ||
        a.values.length - b.values.length ||
        h.axes.indexOf(a) - h.axes.indexOf(b),
    )[0];
  const lines = f.lines ?? take(order());
  const facet = f.facet ?? take(order());
  const defaulted = free.map((a) => a.name);
  for (const a of free) where[a.name] = label(a.values[0]);
  return {
    choice: {
      x,
      ...(lines !== undefined ? { lines } : {}),
      ...(facet !== undefined ? { facet } : {}),
      where,
    },
    defaulted,
  };
}

/**
 * The values a page draws, one chart each: every collected value that is a number at some
 * point, and each key of one that is a mapping of numbers (`exits.msr`); error-like names
 * (containing "err") first, then in collect order. The rest are listed as not drawn.
 */
export function chartValues(
  h: SweepHeader,
  records: ReadRecord[],
): { drawn: string[]; skipped: string[] } {
  const drawn: string[] = [];
  const skipped: string[] = [];
  for (const name of h.collect) {
    let isNumber = false;
    const keys = new Set<string>();
    for (const r of records) {
      const v = (r.data.values as Record<string, unknown> | undefined)?.[name];
      if (typeof v === "number") isNumber = true;
      else if (v !== null && typeof v === "object" && !Array.isArray(v))
        for (const [k, x] of Object.entries(v)) if (typeof x === "number") keys.add(k);
    }
    if (isNumber) drawn.push(name);
    else if (keys.size > 0) for (const k of [...keys].sort()) drawn.push(`${name}.${k}`);
    else skipped.push(name);
  }
  const errorLike = (y: string) => /err/i.test(y);
  return {
    drawn: [...drawn.filter(errorLike), ...drawn.filter((y) => !errorLike(y))],
    skipped,
  };
}
