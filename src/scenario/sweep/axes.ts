import { type Diagnostic, formatPath } from "../diagnostics.js";
import type { ScenarioSource } from "../source.js";
import { resolveSetPath } from "../variants/derive.js";
import { canonicalJson } from "./hash.js";
import type { PlanAxis, PlanSet } from "./plan.js";
import { type AxisSpecFile, MAX_AXIS_VALUES } from "./schema.js";

/** Reports a problem at a path of the sweep file. */
export type Report = (path: PropertyKey[], message: string, expected?: string) => void;

/** The sweep file's problem reporter, each problem at its line and column. */
export function reporter(src: ScenarioSource, out: Diagnostic[]): Report {
  return (path, message, expected) => {
    const shown = formatPath(path);
    out.push({
      file: src.file,
      ...src.position(path),
      path: shown,
      message,
      ...(expected ? { expected } : {}),
    });
  };
}

/** The values of a range, rounded to 12 significant digits (0.1 steps add up exactly). */
function rangeValues(
  r: { from: number; to: number; step?: number },
  at: PropertyKey[],
  report: Report,
): number[] {
  const step = r.step ?? 1;
  const n = Math.floor((r.to - r.from) / step + 1e-9) + 1;
  if (n < 1) {
    report(at, `the range from ${r.from} to ${r.to} is empty`, "from <= to");
    return [];
  }
  if (n > MAX_AXIS_VALUES) {
    report(at, `the range has ${n} values`, `at most ${MAX_AXIS_VALUES}`);
    return [];
  }
  return Array.from({ length: n }, (_, k) => Number((r.from + k * step).toPrecision(12)));
}

/** One `set` entry resolved against the base, or a problem at `at`. */
function resolved(
  key: string,
  value: unknown,
  base: Record<string, unknown>,
  at: PropertyKey[],
  report: Report,
): PlanSet | undefined {
  if (key === "variants" || key.startsWith("variants.") || key.startsWith("variants[")) {
    report(at, "a sweep cannot set variants", "a path outside variants");
    return undefined;
  }
  const r = resolveSetPath(key, base);
  if (!r.ok) {
    report(at, r.message, r.expected);
    return undefined;
  }
  return { key, path: r.path, value };
}

/** The labels and entries of one axis: `path` with `values` or `range`, or `levels`. */
function compileAxis(
  ax: AxisSpecFile,
  i: number,
  base: Record<string, unknown>,
  report: Report,
): PlanAxis | undefined {
  const kinds = [ax.values, ax.range, ax.levels].filter((k) => k !== undefined).length;
  if (kinds !== 1) {
    report(
      ["axes", i],
      `axis "${ax.name}" has ${kinds === 0 ? "no" : "more than one"} kind of values`,
      "exactly one of values, range, levels",
    );
    return undefined;
  }
  if (ax.levels !== undefined) {
    if (ax.path !== undefined)
      report(["axes", i, "path"], "levels name their own paths", "no path with levels");
    const sets = ax.levels.map((l, k) =>
      Object.entries(l.set).map(([key, v]) =>
        resolved(key, v, base, ["axes", i, "levels", k, "set", key], report),
      ),
    );
    if (sets.some((s) => s.some((x) => x === undefined))) return undefined;
    return { name: ax.name, labels: ax.levels.map((l) => l.value), sets: sets as PlanSet[][] };
  }
  if (ax.path === undefined) {
    report(["axes", i], `axis "${ax.name}" has no path`, "path: a set path such as kernel.profile");
    return undefined;
  }
  const values = ax.values ?? rangeValues(ax.range!, ["axes", i, "range"], report);
  const set = resolved(ax.path, undefined, base, ["axes", i, "path"], report);
  if (!set) return undefined;
  return { name: ax.name, labels: values, sets: values.map((v) => [{ ...set, value: v }]) };
}

/** Compiles every axis: names once, at least one value, each value once. */
export function compileAxes(
  specs: AxisSpecFile[],
  base: Record<string, unknown>,
  report: Report,
): PlanAxis[] {
  const out: PlanAxis[] = [];
  const names = new Set<string>();
  specs.forEach((spec, i) => {
    if (names.has(spec.name))
      report(["axes", i, "name"], `axis "${spec.name}" is declared twice`, "unique axis names");
    names.add(spec.name);
    const ax = compileAxis(spec, i, base, report);
    if (!ax) return;
    const where = spec.levels ? "levels" : spec.values ? "values" : "range";
    if (ax.labels.length === 0) {
      if (spec.range === undefined)
        report(["axes", i, where], `axis "${spec.name}" has no values`, "at least one value");
      return;
    }
    const seen = new Map<string, number>();
    ax.labels.forEach((l, k) => {
      const c = canonicalJson(l);
      if (seen.has(c))
        report(
          ["axes", i, where, k],
          `value ${c} is already value ${seen.get(c)} of axis "${spec.name}"`,
          "each value once",
        );
      seen.set(c, k);
    });
    out.push(ax);
  });
  return out;
}
