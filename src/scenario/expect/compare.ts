import { parseDuration } from "../../sim/time.js";
import type { CompileContext, Path } from "../context.js";
import type { ExpectationSpec } from "./schema.js";
import type { Observed } from "./subject.js";

/** A comparison to make at the end of the run. */
export type Comparator =
  | { kind: "equals"; value: number | string | boolean }
  | { kind: "approx"; value: number; tolerance: Tolerance }
  | { kind: "range"; min: number | undefined; max: number | undefined }
  | { kind: "one_of"; values: Array<number | string | boolean> }
  | { kind: "near_truth"; tolerance: Tolerance };

/** An absolute or relative tolerance. */
export type Tolerance = { abs: number } | { pct: number };

/** What the subject says about the values it is compared with. */
export interface SubjectTraits {
  /** Values may be durations. */
  isTime: boolean;
  /** near_truth applies. */
  hasTruth: boolean;
}

/**
 * The one comparison of an expectation: equals, approx with a tolerance, min and/or max,
 * one_of or near_truth; undefined (with a problem reported) when there is not exactly one.
 */
export function compileComparison(
  e: ExpectationSpec,
  subject: SubjectTraits,
  at: Path,
  ctx: CompileContext,
): Comparator | undefined {
  const p = (...rest: PropertyKey[]) => [...at, ...rest];
  const cmps = (["equals", "approx", "one_of", "near_truth"] as const).filter(
    (c) => e[c] !== undefined,
  );
  const hasRange = e.min !== undefined || e.max !== undefined;
  if (cmps.length + (hasRange ? 1 : 0) !== 1) {
    ctx.err(
      p(),
      cmps.length === 0 && !hasRange ? "no comparison" : "several comparisons",
      "exactly one of equals, approx (+ tolerance), min/max, one_of, near_truth",
    );
    return undefined;
  }
  if (e.tolerance !== undefined && e.approx === undefined)
    ctx.err(p("tolerance"), "tolerance without approx", "approx: value");
  const num = (v: number | string | undefined, key: string) =>
    numberOrTime(v, subject.isTime, () => ctx.err(p(key), ...notANumber(v!, subject.isTime)));
  if (e.equals !== undefined) {
    let v = e.equals;
    if (typeof v === "string" && subject.isTime && parseDuration(v) !== undefined)
      v = parseDuration(v)!;
    return { kind: "equals", value: v };
  }
  if (e.approx !== undefined) {
    if (e.tolerance === undefined)
      ctx.err(p("approx"), "approx needs a tolerance", "tolerance: 2% or an absolute number");
    const value = num(e.approx, "approx") ?? 0;
    return { kind: "approx", value, tolerance: tolerance(e.tolerance ?? 0) };
  }
  if (e.one_of !== undefined) return { kind: "one_of", values: e.one_of };
  if (e.near_truth !== undefined) {
    if (!subject.hasTruth)
      ctx.err(
        p("near_truth"),
        "near_truth compares a measurement's event with its ground truth",
        "an event subject with measurement",
      );
    return { kind: "near_truth", tolerance: tolerance(e.near_truth) };
  }
  return { kind: "range", min: num(e.min, "min"), max: num(e.max, "max") };
}

/** A number, or (for a time) a duration in ns; undefined after `bad()` for anything else. */
function numberOrTime(
  v: number | string | undefined,
  isTime: boolean,
  bad: () => void,
): number | undefined {
  if (v === undefined || typeof v === "number") return v;
  if (isTime) {
    const d = parseDuration(v);
    if (d !== undefined) return d;
  }
  bad();
  return undefined;
}

function notANumber(v: number | string, isTime: boolean): [string, string] {
  return [
    `${JSON.stringify(v)} is not a number${isTime ? " or a duration" : ""}`,
    isTime ? "e.g. 40ms" : "a number",
  ];
}

function tolerance(v: string | number): Tolerance {
  if (typeof v === "number") return { abs: v };
  return { pct: Number.parseFloat(v) };
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
      return { ok: inRange(c, observed), expected: rangeText(c) };
    case "one_of":
      return {
        ok: c.values.includes(observed as number | string | boolean),
        expected: `one of ${JSON.stringify(c.values)}`,
      };
    case "near_truth":
      return nearTruth(c.tolerance, observed, truth());
  }
}

type Range = Extract<Comparator, { kind: "range" }>;

function inRange(c: Range, observed: Observed): boolean {
  return (
    typeof observed === "number" &&
    (c.min === undefined || observed >= c.min) &&
    (c.max === undefined || observed <= c.max)
  );
}

function rangeText(c: Range): string {
  if (c.min !== undefined && c.max !== undefined) return `in [${c.min}, ${c.max}]`;
  return c.min !== undefined ? `>= ${c.min}` : `<= ${c.max}`;
}

function nearTruth(
  tol: Tolerance,
  observed: Observed,
  t: number | null,
): { ok: boolean; expected: string } {
  if (t === null || typeof observed !== "number")
    return { ok: false, expected: `within ${fmtTol(tol)} of the truth (no truth available)` };
  return {
    ok: Math.abs(observed - t) <= tolAbs(tol, t),
    expected: `${Math.round(t)} (truth) ± ${fmtTol(tol)}`,
  };
}
