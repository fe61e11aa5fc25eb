import type { Scenario, VariantDecl } from "../compiled.js";
import type { CompileContext } from "../context.js";
import type { Diagnostic } from "../diagnostics.js";
import type { ScenarioFile } from "../schema.js";
import type { ScenarioSource } from "../source.js";
import { deriveVariant } from "./derive.js";
import { inFileOrder, type VariantContext } from "./placement.js";
import type { VariantSpecFile } from "./schema.js";

/** Declares the variants' names (expectations may name one); each name once. */
export function declareVariants(specs: VariantSpecFile[] | undefined, ctx: CompileContext): void {
  const names = ctx.names.variants;
  (specs ?? []).forEach((v, i) => {
    if (names.has(v.name))
      ctx.err(
        ["variants", i, "name"],
        `variant "${v.name}" is declared twice`,
        "unique variant names",
      );
    names.add(v.name);
  });
}

/** The compile step of a whole document, which each variant goes through. */
export type CompileFn = (
  f: ScenarioFile,
  src: ScenarioSource | undefined,
  file: string,
  variant: VariantContext,
) => { ok: true; scenario: Scenario } | { ok: false; diagnostics: Diagnostic[] };

/**
 * Compiles each variant: the document with its values written in, checked like a scenario,
 * its problems placed at its `set` entries.
 */
export function compileVariants(
  f: ScenarioFile,
  src: ScenarioSource | undefined,
  file: string,
  compile: CompileFn,
): { ok: true; variants: VariantDecl[] } | { ok: false; diagnostics: Diagnostic[] } {
  const variants: VariantDecl[] = [];
  const diags: Diagnostic[] = [];
  for (const [i, v] of (f.variants ?? []).entries()) {
    const d = deriveVariant(f, i, src, file);
    if (!d.ok) {
      diags.push(...d.diagnostics);
      continue;
    }
    const c = compile(d.file, src, file, d.ctx);
    if (!c.ok) {
      diags.push(...inFileOrder(c.diagnostics));
      continue;
    }
    const decl = { index: i, name: v.name, description: v.description ?? "", set: v.set ?? {} };
    variants.push({ ...decl, scenario: c.scenario });
  }
  return diags.length > 0 ? { ok: false, diagnostics: diags } : { ok: true, variants };
}
