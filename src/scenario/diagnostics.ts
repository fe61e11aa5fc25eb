/**
 * Problems found in a scenario, each located at a file, line and column and a path to the
 * field, printed as `file:line:col: path.to.field: what is wrong (what was expected)`.
 */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  /** Dotted path with [index] for list items; empty for the whole file. */
  path: string;
  message: string;
  expected?: string;
}

/** Formats one diagnostic as a single line. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}:${d.line}:${d.col}`;
  const path = d.path === "" ? "" : `${d.path}: `;
  const exp = d.expected ? ` (${d.expected})` : "";
  // One line per diagnostic, whatever the file's values contain.
  return escapeControls(`${where}: ${path}${d.message}${exp}`);
}

/** Control characters as escapes (\\n, \\t, \\xNN). */
function escapeControls(text: string): string {
  let out = "";
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (c >= 0x20 && c !== 0x7f) out += ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else out += `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/** Renders a path like tasks[0].affinity, or variants[0].set["kernel.profile"]. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let s = "";
  for (const p of path) {
    if (typeof p === "number") s += `[${p}]`;
    else if (/^[^.[\]\s]+$/.test(String(p))) s += s === "" ? String(p) : `.${String(p)}`;
    // A key that would read as more than one step (a variant's "kernel.profile") is quoted.
    else s += `[${JSON.stringify(String(p))}]`;
  }
  return s;
}

/** Thrown (or returned) when a scenario cannot be used; carries every diagnostic. */
export class ScenarioError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join("\n"));
    this.name = "ScenarioError";
  }
}
