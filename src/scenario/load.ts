import { compileScenario, type Scenario } from "./compile.js";
import type { Diagnostic } from "./diagnostics.js";
import { ScenarioError } from "./diagnostics.js";
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
  const src = new ScenarioSource(text, file);
  const v = validateScenario(src);
  if (!v.ok) return v;
  return compileScenario(v.file, src, file);
}

/** Like parseScenario, but throws a ScenarioError listing every problem. */
export function loadScenario(text: string, file = "<scenario>"): Scenario {
  const r = parseScenario(text, file);
  if (!r.ok) throw new ScenarioError(r.diagnostics);
  return r.scenario;
}
