import { compileScenario } from "../compile.js";
import type { Scenario } from "../compiled.js";
import type { VariantPlacement } from "../context.js";
import type { Diagnostic } from "../diagnostics.js";
import { type ScenarioFile, ScenarioSchema } from "../schema.js";
import { ScenarioSource } from "../source.js";
import { type Locator, schemaDiagnostics, validateScenario } from "../validate.js";

/** Reads a base scenario named by path (the CLI resolves it against the sweep file). */
export type ReadBase = (
  path: string,
) => { ok: true; text: string; file: string } | { ok: false; message: string };

export type BaseResult =
  | { ok: true; doc: Record<string, unknown>; scenario: Scenario }
  | { ok: false; diagnostics: Diagnostic[] };

/** Where problems of an inline base go: at their field under `base:` of the sweep file. */
function inlinePlacement(src: ScenarioSource): VariantPlacement {
  return {
    name: "base",
    diagnostic(shown, message, expected, path) {
      return {
        file: src.file,
        ...src.position(["base", ...(path ?? [])]),
        path: shown === "" ? "base" : shown.startsWith("[") ? `base${shown}` : `base.${shown}`,
        message,
        ...(expected ? { expected } : {}),
      };
    },
  };
}

/** The base given inline: checked like a scenario, its problems at their line in the sweep file. */
function inlineBase(data: Record<string, unknown>, src: ScenarioSource): BaseResult {
  const parsed = ScenarioSchema.safeParse(data);
  if (!parsed.success) {
    const loc: Locator = {
      file: src.file,
      data,
      position: (p, k) => src.position(["base", ...p], k),
      keyPosition: (p, key) => src.keyPosition(["base", ...p], key),
    };
    const ds = schemaDiagnostics(loc, parsed.error.issues).map((d) => ({
      ...d,
      path: d.path === "" ? "base" : d.path.startsWith("[") ? `base${d.path}` : `base.${d.path}`,
    }));
    return { ok: false, diagnostics: ds };
  }
  return compiled(parsed.data, undefined, src.file, inlinePlacement(src));
}

function compiled(
  f: ScenarioFile,
  src: ScenarioSource | undefined,
  file: string,
  placement: VariantPlacement | undefined,
): BaseResult {
  const c = compileScenario(f, src, file, placement);
  if (!c.ok) return c;
  return { ok: true, doc: f as Record<string, unknown>, scenario: c.scenario };
}

/**
 * The sweep's base scenario, inline or read by path, validated and compiled as any
 * scenario. A base with variants is refused: a sweep's axes replace them.
 */
export function loadBase(
  base: string | Record<string, unknown>,
  src: ScenarioSource,
  read: ReadBase,
): BaseResult {
  const at = (message: string, expected: string): BaseResult => ({
    ok: false,
    diagnostics: [{ file: src.file, ...src.position(["base"]), path: "base", message, expected }],
  });
  let r: BaseResult;
  if (typeof base === "string") {
    const got = read(base);
    if (!got.ok) return at(`${JSON.stringify(base)}: ${got.message}`, "a readable scenario file");
    const bsrc = new ScenarioSource(got.text, got.file);
    const v = validateScenario(bsrc);
    r = v.ok ? compiled(v.file, bsrc, got.file, undefined) : v;
  } else {
    r = inlineBase(base, src);
  }
  if (r.ok && r.doc.variants !== undefined)
    return at("the base scenario has variants", "no variants: make them an axis of the sweep");
  return r;
}
