import { compileScenario, type Scenario } from "./compile.js";
import type { Diagnostic } from "./diagnostics.js";
import { clipDiagnostic, ScenarioError } from "./diagnostics.js";
import { checkBeforeParse } from "./limits.js";
import { ScenarioSource } from "./source.js";
import { validateScenario } from "./validate.js";

/**
 * Parses, validates and compiles scenario text (YAML or JSON). Never throws on bad input:
 * problems come back as diagnostics located at file, line and column.
 */
export function parseScenario(
  text: string,
  file = "<scenario>",
): { ok: true; scenario: Scenario } | { ok: false; diagnostics: Diagnostic[] } {
  // A file too large to parse quickly, or with a far too long list, is refused unparsed.
  const early = checkBeforeParse(text, file);
  if (early.length > 0) return { ok: false, diagnostics: early };
  const src = new ScenarioSource(text, file);
  const v = validateScenario(src);
  const r = v.ok ? compileScenario(v.file, src, file) : v;
  // A value of the file is quoted at a readable length, however long it is.
  return r.ok ? r : { ok: false, diagnostics: r.diagnostics.map(clipDiagnostic) };
}

/** Like parseScenario, but throws a ScenarioError listing every problem. */
export function loadScenario(text: string, file = "<scenario>"): Scenario {
  const r = parseScenario(text, file);
  if (!r.ok) throw new ScenarioError(r.diagnostics);
  return r.scenario;
}
