import { compileScenario } from "../compile.js";
import type { VariantPlacement } from "../context.js";
import type { Diagnostic } from "../diagnostics.js";
import { ScenarioSchema } from "../schema.js";
import type { ScenarioSource } from "../source.js";
import { schemaDiagnostics } from "../validate.js";
import { writeAt } from "../variants/derive.js";
import { canonicalJson } from "./hash.js";
import type { PlanAxis } from "./plan.js";
import type { AxisSpecFile } from "./schema.js";

/** Most values of one axis checked alone before the sweep runs (the first ones). */
export const MAX_CHECKED_VALUES = 1000;

/** Where the problems of one axis value go: at that value (or its level's `set` entry). */
function valuePlacement(
  src: ScenarioSource,
  spec: AxisSpecFile,
  a: number,
  k: number,
  label: unknown,
): VariantPlacement {
  const where: PropertyKey[] = spec.levels
    ? ["axes", a, "levels", k]
    : spec.values
      ? ["axes", a, "values", k]
      : ["axes", a, "range"];
  const shownWhere = spec.levels
    ? `axes[${a}].levels[${k}]`
    : spec.values
      ? `axes[${a}].values[${k}]`
      : `axes[${a}].range`;
  return {
    name: `${spec.name}=${canonicalJson(label)}`,
    diagnostic(shown, message, expected) {
      return {
        file: src.file,
        ...src.position(where),
        path: shownWhere,
        message: `with ${spec.name} = ${canonicalJson(label)}: ${shown === "" ? "" : `${shown}: `}${message}`,
        ...(expected ? { expected } : {}),
      };
    },
  };
}

/** The problems of the base with one axis value written in, as the value's own. */
function checkValue(
  base: Record<string, unknown>,
  ax: PlanAxis,
  k: number,
  place: VariantPlacement,
): Diagnostic[] {
  const doc = structuredClone(base);
  for (const s of ax.sets[k]!) writeAt(doc, s.path, s.value);
  const parsed = ScenarioSchema.safeParse(doc);
  if (!parsed.success) {
    const loc = {
      file: "",
      data: doc,
      position: () => ({ line: 1, col: 1 }),
      keyPosition: () => ({ line: 1, col: 1 }),
    };
    return schemaDiagnostics(loc, parsed.error.issues).map((d) =>
      place.diagnostic(d.path, d.message, d.expected),
    );
  }
  const c = compileScenario(parsed.data, undefined, "", place);
  return c.ok ? [] : c.diagnostics;
}

/**
 * Checks each axis value alone on the base (the first MAX_CHECKED_VALUES of each axis), so
 * a value the scenario format refuses is reported at its line before any point runs. The
 * first problem of each value is kept.
 */
export function checkAxisValues(
  base: Record<string, unknown>,
  axes: PlanAxis[],
  specs: AxisSpecFile[],
  src: ScenarioSource,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  axes.forEach((ax) => {
    const spec = specs.find((s) => s.name === ax.name)!;
    const ai = specs.indexOf(spec);
    const n = Math.min(ax.labels.length, MAX_CHECKED_VALUES);
    for (let k = 0; k < n; k++) {
      const ds = checkValue(base, ax, k, valuePlacement(src, spec, ai, k, ax.labels[k]));
      if (ds.length > 0) out.push(ds[0]!);
    }
  });
  return out;
}
