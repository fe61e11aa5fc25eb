import type { CounterResult, MeasurementResult } from "../report/result.js";
import type { Comparator, Tolerance } from "./compile.js";

/** What an expectation's subject evaluates to (null when it does not exist). */
export type Observed = number | string | boolean | null;

/** The counter of a measurement an expectation names: exact name first, then a prefix. */
export function findCounter(
  m: MeasurementResult | undefined,
  event: string | undefined,
): CounterResult | undefined {
  if (!m || event === undefined) return undefined;
  return (
    m.counters.find((x) => x.event === event) ?? m.counters.find((x) => x.event.startsWith(event))
  );
}

/**
 * One field of a counter reading: perf's scaled value (count * enabled / running) unless
 * `scaled` is given, and the running percentage.
 */
export function counterField(
  field: string,
  count: number,
  enabled: number,
  running: number,
  state: string,
  scaled: number | null,
): Observed {
  switch (field) {
    case "count":
      return count;
    case "enabled":
      return enabled;
    case "running":
      return running;
    case "state":
      return state;
    case "scaled":
      return scaled ?? (running > 0 ? Math.trunc((count * enabled) / running) : null);
    case "percent":
      return enabled > 0 ? Math.round((10000 * running) / enabled) / 100 : null;
    default:
      return null;
  }
}

function tolAbs(t: Tolerance, ref: number): number {
  return "abs" in t ? t.abs : (Math.abs(ref) * t.pct) / 100;
}

function fmtTol(t: Tolerance): string {
  return "abs" in t ? String(t.abs) : `${t.pct}%`;
}

/** Applies a comparator to an observed value; `truth` is asked only by near_truth. */
export function compare(
  c: Comparator,
  observed: Observed,
  truth: () => number | null,
): { ok: boolean; expected: string } {
  switch (c.kind) {
    case "equals":
      return { ok: observed === c.value, expected: `= ${JSON.stringify(c.value)}` };
    case "approx":
      return {
        ok:
          typeof observed === "number" &&
          Math.abs(observed - c.value) <= tolAbs(c.tolerance, c.value),
        expected: `${c.value} ± ${fmtTol(c.tolerance)}`,
      };
    case "range":
      return {
        ok:
          typeof observed === "number" &&
          (c.min === undefined || observed >= c.min) &&
          (c.max === undefined || observed <= c.max),
        expected:
          c.min !== undefined && c.max !== undefined
            ? `in [${c.min}, ${c.max}]`
            : c.min !== undefined
              ? `>= ${c.min}`
              : `<= ${c.max}`,
      };
    case "one_of":
      return {
        ok: c.values.includes(observed as number | string | boolean),
        expected: `one of ${JSON.stringify(c.values)}`,
      };
    case "near_truth": {
      const t = truth();
      if (t === null || typeof observed !== "number")
        return {
          ok: false,
          expected: `within ${fmtTol(c.tolerance)} of the truth (no truth available)`,
        };
      return {
        ok: Math.abs(observed - t) <= tolAbs(c.tolerance, t),
        expected: `${Math.round(t)} (truth) ± ${fmtTol(c.tolerance)}`,
      };
    }
  }
}
