import { readFileSync } from "node:fs";
import type { Scenario } from "../scenario/compile.js";
import type { Diagnostic } from "../scenario/diagnostics.js";
import { parseScenario } from "../scenario/load.js";

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
