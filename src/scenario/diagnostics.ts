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
  const c = clipDiagnostic(d);
  const where = `${c.file}:${c.line}:${c.col}`;
  const path = c.path === "" ? "" : `${c.path}: `;
  const exp = c.expected ? ` (${c.expected})` : "";
  // One line per diagnostic, whatever the file's values contain.
  return escapeControls(`${where}: ${path}${c.message}${exp}`);
}

/** Longest quoted value a diagnostic shows whole (in characters). */
export const MAX_QUOTED = 60;

/** Longest "what was expected" part (a list of every task name can be long). */
const MAX_EXPECTED = 400;

/**
 * The diagnostic with each quoted value cut to MAX_QUOTED characters (`"abc…" (1048576
 * characters)`), so a huge value in a file is never echoed whole.
 */
export function clipDiagnostic(d: Diagnostic): Diagnostic {
  const message = clipQuoted(d.message);
  const path = clipQuoted(d.path);
  let expected = d.expected === undefined ? undefined : clipQuoted(d.expected);
  if (expected !== undefined && expected.length > MAX_EXPECTED)
    expected = `${cut(expected, MAX_EXPECTED)}…`;
  if (message === d.message && path === d.path && expected === d.expected) return d;
  return { ...d, path, message, ...(expected !== undefined ? { expected } : {}) };
}

/** Every "..." or '...' in `text` longer than MAX_QUOTED, cut, with its length. */
export function clipQuoted(text: string): string {
  if (text.length <= MAX_QUOTED) return text;
  return text.replace(
    /"((?:[^"\\]|\\.)*)"|(?<!\w)'([^']*)'(?!\w)/g,
    (whole, dq?: string, sq?: string) => {
      const inner = dq ?? sq ?? "";
      // Already cut (a diagnostic is clipped when parsed and again when printed).
      if (inner.length <= MAX_QUOTED || (inner.length === MAX_QUOTED + 1 && inner.endsWith("…")))
        return whole;
      const q = dq !== undefined ? '"' : "'";
      return `${q}${cut(inner, MAX_QUOTED)}…${q} (${inner.length} characters)`;
    },
  );
}

/** The first `n` UTF-16 units of `s`, without a lone high surrogate at the end. */
function cut(s: string, n: number): string {
  const c = s.slice(0, n);
  const last = c.charCodeAt(c.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? c.slice(0, -1) : c;
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
    else if (String(p).length > MAX_QUOTED) s += `[${JSON.stringify(String(p))}]`;
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
