import { readFileSync } from "node:fs";
import type { Scenario } from "../scenario/compile.js";
import { type Diagnostic, formatDiagnostic } from "../scenario/diagnostics.js";
import { parseScenario } from "../scenario/load.js";
import { type Merged, mergeResults } from "../scenario/sweep/merge.js";
import { EXIT_USAGE, fail } from "./flags.js";

/** Reads and compiles a scenario file; file-system errors become a diagnostic too. */
export function loadScenarioFile(
  path: string,
): { ok: true; scenario: Scenario } | { ok: false; diagnostics: Diagnostic[] } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    const what =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : `cannot read (${code})`;
    return {
      ok: false,
      diagnostics: [
        {
          file: path,
          line: 1,
          col: 1,
          path: "",
          message: what,
          expected: "a readable YAML or JSON scenario file",
        },
      ],
    };
  }
  return parseScenario(text, path);
}

/** The variant `name` of a scenario, or the `--variant` usage message naming the choices. */
export function pickVariant(sc: Scenario, file: string, name: string): Scenario | string {
  if (sc.variants.length === 0) return `--variant: ${file} has no variants`;
  const v = sc.variants.find((x) => x.name === name);
  if (v) return v.scenario;
  return `--variant: no variant "${name}" in ${file} (one of: ${sc.variants.map((x) => x.name).join(", ")})`;
}

/**
 * A scenario file, or its variant `variant`, for a command that only takes files: bad input
 * prints its diagnostics (or the `--variant` message) and exits 2.
 */
export function scenarioOrExit(file: string, variant: string | undefined): Scenario {
  const loaded = loadScenarioFile(file);
  if (!loaded.ok) {
    for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.exit(EXIT_USAGE);
  }
  if (variant === undefined) return loaded.scenario;
  const v = pickVariant(loaded.scenario, file, variant);
  return typeof v === "string" ? fail(v) : v;
}

/**
 * A sweep results file, read and checked (one sweep, whole lines): bad input prints one
 * `vpmu: [prefix]message` line and exits 2.
 */
export function resultsOrExit(file: string, prefix: string): Extract<Merged, { ok: true }> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    fail(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const m = mergeResults([{ file, text }], false);
  return m.ok ? m : fail(`${prefix}${m.message}`);
}
