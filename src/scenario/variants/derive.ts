import { type Diagnostic, formatPath } from "../diagnostics.js";
import { type ScenarioFile, ScenarioSchema } from "../schema.js";
import type { ScenarioSource } from "../source.js";
import { type AnySchema, describe, schemaDiagnostics, suggest, unwrap } from "../validate.js";
import { inFileOrder, onePerEntry, type SetEntry, VariantContext } from "./placement.js";
import { MAX_VARIANT_SETS, type VariantSpecFile } from "./schema.js";

/**
 * Scenario variants: the scenario document with some values overwritten at dotted paths
 * (`kernel.profile`, `vms.0.perf.0.events`, also written `vms[0].perf[0].events`). A
 * variant's document is validated and compiled like any scenario; its problems are reported
 * at the `set` entry they come from.
 */

type Resolved =
  | { ok: true; path: PropertyKey[] }
  | { ok: false; message: string; expected?: string };

/** Splits `a.b.0.c` or `a.b[0].c` and checks each step against the schema and the document. */
export function resolveSetPath(key: string, doc: unknown): Resolved {
  const fail = (message: string, expected?: string): Resolved => ({
    ok: false,
    message,
    ...(expected ? { expected } : {}),
  });
  const segs = key.replace(/\[(\d+)\]/g, ".$1").split(".");
  if (segs.some((s) => s.trim() === "" || s !== s.trim()))
    return fail(
      `"${key}" is not a dotted path`,
      "a path such as kernel.profile or vms.0.perf.0.events",
    );
  if (segs[0] === "variants") return fail("a variant cannot change variants", "a path outside it");
  let nodes: AnySchema[] = [ScenarioSchema];
  let value: unknown = doc;
  const path: PropertyKey[] = [];
  for (const seg of segs) {
    const here = path.length > 0 ? formatPath(path) : "the scenario";
    const defs = nodes
      .flatMap((n) => unwrap(n, value))
      .map((o) => o._zod.def as unknown as Record<string, unknown>);
    const lists = defs.filter((d) => d.type === "array");
    const maps = defs.filter((d) => d.type === "object" || d.type === "record");
    if (Array.isArray(value)) {
      const n = value.length;
      if (!/^\d+$/.test(seg))
        return fail(`${here} is a list; "${seg}" is not an index`, `an index below ${n}`);
      const i = Number(seg);
      if (i >= n)
        return fail(
          `${here} has ${n} ${n === 1 ? "item" : "items"}; there is no item ${i}`,
          n > 0 ? `an index below ${n}, or set ${here} as a whole list` : `set ${here} as a list`,
        );
      nodes = lists.map((d) => d.element as AnySchema);
      value = value[i];
      path.push(i);
      continue;
    }
    if (value !== undefined && (value === null || typeof value !== "object"))
      return fail(`${here} is ${describe(value)}, not a mapping`, `set ${here} itself`);
    if (maps.length === 0) {
      if (lists.length > 0)
        return fail(
          `${here} is not in the file, so it has no item ${seg}`,
          `set ${here} as a list`,
        );
      return fail(`${here} has no fields`, `set ${here} itself`);
    }
    const next: AnySchema[] = [];
    for (const d of maps) {
      const shape = d.shape as Record<string, AnySchema> | undefined;
      if (d.type === "record") next.push(d.valueType as AnySchema);
      else if (shape && Object.hasOwn(shape, seg)) next.push(shape[seg]!);
    }
    if (next.length === 0) {
      const keys = [
        ...new Set(
          maps.flatMap((d) => (d.type === "object" ? Object.keys(d.shape as object) : [])),
        ),
      ];
      return fail(
        `unknown field "${seg}" in ${here}${suggest(seg, keys)}`,
        keys.length > 0 ? `one of: ${keys.join(", ")}` : undefined,
      );
    }
    nodes = next;
    const obj = value as Record<string, unknown> | undefined;
    value = obj && Object.hasOwn(obj, seg) ? obj[seg] : undefined;
    path.push(seg);
  }
  return { ok: true, path };
}

/** Writes `value` at `path`, creating the mappings on the way (resolveSetPath checked it). */
function writeAt(doc: Record<string, unknown>, path: PropertyKey[], value: unknown): void {
  let cur: Record<PropertyKey, unknown> = doc;
  for (const [k, p] of path.entries()) {
    const last = k === path.length - 1;
    const have = Object.hasOwn(cur, p) ? cur[p] : undefined;
    if (last || have === undefined) {
      Object.defineProperty(cur, p, {
        value: last ? structuredClone(value) : {},
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    if (!last) cur = cur[p] as Record<PropertyKey, unknown>;
  }
}

/**
 * The document of variant `index`: the scenario without its variants, with the variant's
 * values written in. Problems come back located at the variant's set entries.
 */
export function deriveVariant(
  f: ScenarioFile,
  index: number,
  src: ScenarioSource | undefined,
  file: string,
):
  | { ok: true; file: ScenarioFile; ctx: VariantContext }
  | { ok: false; diagnostics: Diagnostic[] } {
  const v = f.variants![index]! as VariantSpecFile;
  const doc = structuredClone(f) as Record<string, unknown>;
  delete doc.variants;
  const set = Object.entries(v.set ?? {});
  const entries: SetEntry[] = [];
  const ctx = new VariantContext(v.name, index, entries, src, file);
  const where = (path: PropertyKey[]) => (src ? src.position(path) : { line: 1, col: 1 });
  if (set.length > MAX_VARIANT_SETS) {
    return {
      ok: false,
      diagnostics: [
        {
          file,
          ...where(["variants", index, "set"]),
          path: `variants[${index}].set`,
          message: `${set.length} entries`,
          expected: `at most ${MAX_VARIANT_SETS}`,
        },
      ],
    };
  }
  const diags: Diagnostic[] = [];
  for (const [key, value] of set) {
    const r = resolveSetPath(key, doc);
    if (!r.ok) {
      diags.push({
        file,
        ...where(["variants", index, "set", key]),
        path: `variants[${index}].set[${JSON.stringify(key)}]`,
        message: r.message,
        ...(r.expected ? { expected: r.expected } : {}),
      });
      continue;
    }
    entries.push({ key, path: r.path, shown: formatPath(r.path) });
    writeAt(doc, r.path, value);
  }
  if (diags.length > 0) return { ok: false, diagnostics: diags };
  const parsed = ScenarioSchema.safeParse(doc);
  if (!parsed.success) {
    const loc = {
      file,
      data: doc,
      position: () => ({ line: 1, col: 1 }),
      keyPosition: () => ({ line: 1, col: 1 }),
    };
    const ds = schemaDiagnostics(loc, parsed.error.issues).map((d) =>
      ctx.diagnostic(d.path, d.message, d.expected),
    );
    return { ok: false, diagnostics: inFileOrder(onePerEntry(ds)) };
  }
  return { ok: true, file: parsed.data, ctx };
}
