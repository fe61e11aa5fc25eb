import { VERSION } from "../../version.js";
import type { Diagnostic } from "../diagnostics.js";
import { ScenarioSource } from "../source.js";
import { schemaDiagnostics } from "../validate.js";
import { compileAxes, type Report, reporter } from "./axes.js";
import { loadBase, type ReadBase } from "./base.js";
import { checkAxisValues } from "./check.js";
import { compileCollect } from "./collect.js";
import { canonicalJson, shortHash } from "./hash.js";
import type { PlanAxis, SweepPlan } from "./plan.js";
import { MAX_SWEEP_POINTS, type SweepFile, SweepSchema } from "./schema.js";

export type { ReadBase } from "./base.js";

export type SweepResult = { ok: true; plan: SweepPlan } | { ok: false; diagnostics: Diagnostic[] };

const fail = (diagnostics: Diagnostic[]): SweepResult => ({ ok: false, diagnostics });

/** The sweep file's schema check (syntax, a mapping, the zod schema). */
function validateSweep(
  src: ScenarioSource,
): { ok: true; f: SweepFile } | { ok: false; diagnostics: Diagnostic[] } {
  if (src.syntaxErrors.length > 0) return { ok: false, diagnostics: src.syntaxErrors };
  const d = src.data;
  if (d === null || typeof d !== "object" || Array.isArray(d))
    return {
      ok: false,
      diagnostics: [
        {
          file: src.file,
          ...src.position([]),
          path: "",
          message: "the file is not a mapping",
          expected: "a sweep with name, base, axes and collect",
        },
      ],
    };
  const r = SweepSchema.safeParse(d);
  if (r.success) return { ok: true, f: r.data };
  return { ok: false, diagnostics: schemaDiagnostics(src, r.error.issues, SweepSchema) };
}

/** Points in the product (seeds included), or a problem when over the limit. */
function productSize(axes: PlanAxis[], seeds: number, report: Report): number {
  let n = seeds;
  for (const a of axes) n *= a.labels.length;
  if (n > MAX_SWEEP_POINTS) {
    const sizes = axes.map((a) => `${a.name} ${a.labels.length}`).join(" x ");
    report(
      ["axes"],
      `the grid has ${n} points (${sizes}${seeds > 1 ? ` x seeds ${seeds}` : ""})`,
      `at most ${MAX_SWEEP_POINTS} points`,
    );
  }
  return n;
}

/** Exclusion rules: each names known axes and values they have. */
function compileExclude(
  f: SweepFile,
  axes: PlanAxis[],
  report: Report,
): Array<Record<string, string[]>> {
  return (f.exclude ?? []).map((rule, i) => {
    const out: Record<string, string[]> = {};
    for (const [name, v] of Object.entries(rule)) {
      const ax = axes.find((a) => a.name === name);
      if (!ax) {
        report(
          ["exclude", i, name],
          `no axis "${name}"`,
          `one of: ${axes.map((a) => a.name).join(", ")}`,
        );
        continue;
      }
      const labels = new Set(ax.labels.map(canonicalJson));
      const vals = (Array.isArray(v) && !ax.labels.some(Array.isArray) ? v : [v]).map(
        canonicalJson,
      );
      for (const x of vals)
        if (!labels.has(x))
          report(["exclude", i, name], `axis "${name}" has no value ${x}`, "one of its values");
      out[name] = vals;
    }
    return out;
  });
}

/**
 * Parses and checks a sweep file (YAML or JSON): the schema, the base scenario, each axis's
 * `set` paths against the base, the size of the grid, the exclusions, the collect list, and
 * each axis value alone on the base. Every problem comes back at its file, line and column,
 * before any point runs. `read` loads a base named by path.
 */
export function parseSweep(text: string, file: string, read: ReadBase): SweepResult {
  const src = new ScenarioSource(text, file);
  const v = validateSweep(src);
  if (!v.ok) return v;
  const f = v.f;
  const base = loadBase(f.base, src, read);
  if (!base.ok) return base;
  const diags: Diagnostic[] = [];
  const report = reporter(src, diags);
  const axes = compileAxes(f.axes, base.doc, report);
  if (diags.length > 0) return fail(diags);
  const seeds = f.seeds ?? 1;
  const points = productSize(axes, seeds, report);
  const exclude = compileExclude(f, axes, report);
  const collect = compileCollect(f.collect, base.scenario, report);
  if (diags.length > 0) return fail(diags);
  const values = checkAxisValues(base.doc, axes, f.axes, src);
  if (values.length > 0) return fail(values);
  const meaning = { vpmu: VERSION, name: f.name, base: base.doc, axes, exclude, collect, seeds };
  return {
    ok: true,
    plan: {
      name: f.name,
      file,
      base: base.doc,
      axes,
      exclude,
      collect,
      seeds,
      points,
      hash: shortHash(meaning),
    },
  };
}
