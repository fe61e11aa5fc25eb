import type { CompletionContext, CompletionResult } from "@codemirror/autocomplete";

/** A JSON Schema node, as far as completion reads it. */
interface SchemaNode {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  allOf?: SchemaNode[];
  enum?: unknown[];
  const?: unknown;
  examples?: unknown[];
  description?: string;
  $defs?: Record<string, SchemaNode>;
}

/**
 * The key path of the YAML block the cursor's line belongs to ("perf", "[]", ...), read from
 * the indentation of the lines above it: keys less indented are parents, "- " starts an item.
 */
export function yamlPathAt(lines: string[], lineNo: number, col: number): string[] {
  const path: string[] = [];
  let at = col;
  for (let i = lineNo - 1; i >= 0 && at > 0; i--) {
    const m = /^(\s*)(-\s+)?(?:(["']?)([\w.-]+)\3\s*:)?/.exec(lines[i]!);
    if (!m || /^\s*(#.*)?$/.test(lines[i]!)) continue;
    const indent = m[1]!.length;
    const keyCol = indent + (m[2]?.length ?? 0);
    if (m[4] && keyCol < at) {
      path.push(m[4]);
      at = keyCol;
    }
    if (m[2] && indent < at && keyCol <= at) {
      path.push("[]");
      at = indent;
    }
  }
  return path.reverse();
}

/** One completion: a key (applied as `key: `) or a value from the schema. */
export interface SchemaOption {
  label: string;
  type: "property" | "enum";
  apply: string;
  detail?: string;
  info?: string;
}

/** A scalar as YAML must spell it to stay a string ("7.0", "true" and "null" need quotes). */
function yamlScalar(v: unknown, quoted: boolean): string {
  const s = String(v);
  if (quoted || typeof v !== "string") return s;
  return /^[\w./-][\w./:-]*$/.test(s) &&
    !/^([-+]?[\d.]+([eE][-+]?\d+)?|0x[\da-fA-F]+|0o[0-7]+|true|false|null|~|yes|no|on|off)$/i.test(
      s,
    )
    ? s
    : JSON.stringify(s);
}

/**
 * What the schema offers at `pos` of `doc`: the keys of the object the cursor's line belongs
 * to (`  ev|`), or after `key: ` the values the schema lists for that key (`enum`, `const`
 * and `examples`: kernel profiles, machine presets, action kinds, expectation fields...);
 * on a list item (`  - |`) the values its items list too. Null: nothing to offer.
 */
export function schemaOptions(
  root: SchemaNode,
  doc: string,
  pos: number,
  explicit: boolean,
): { from: number; options: SchemaOption[] } | null {
  const deref = (n: SchemaNode | undefined): SchemaNode[] => {
    if (!n) return [];
    if (n.$ref?.startsWith("#/$defs/")) return deref(root.$defs?.[n.$ref.slice(8)]);
    const alts = [...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])];
    return alts.length ? [n, ...alts.flatMap(deref)] : [n];
  };
  const step = (nodes: SchemaNode[], seg: string): SchemaNode[] =>
    nodes.flatMap((n) => (seg === "[]" ? deref(n.items) : deref(n.properties?.[seg])));
  const values = (nodes: SchemaNode[], quoted: boolean): SchemaOption[] => {
    const seen = new Set<string>();
    const out: SchemaOption[] = [];
    for (const n of nodes)
      for (const v of [
        ...(n.enum ?? []),
        ...("const" in n ? [n.const] : []),
        ...(n.examples ?? []),
      ]) {
        if (v === null || typeof v === "object" || seen.has(String(v))) continue;
        seen.add(String(v));
        out.push({
          label: String(v),
          type: "enum",
          apply: yamlScalar(v, quoted),
          info: n.description,
        });
      }
    return out;
  };
  const lineStart = doc.lastIndexOf("\n", pos - 1) + 1;
  const before = doc.slice(lineStart, pos);
  const lines = doc.split("\n");
  const lineNo = doc.slice(0, lineStart).split("\n").length - 1;
  const kv = /^(\s*)(-\s+)?(["']?)([\w.-]+)\3\s*:\s+(["']?)([\w./:-]*)$/.exec(before);
  if (kv) {
    // A value: the key's schema at the path of its line.
    if (!explicit && kv[6] === "" && kv[5] === "") return null;
    const col = kv[1]!.length + (kv[2]?.length ?? 0);
    const path = yamlPathAt(lines, lineNo, col);
    if (kv[2]) path.push("[]");
    path.push(kv[4]!);
    let nodes = deref(root);
    for (const seg of path) nodes = step(nodes, seg);
    const options = values(nodes, kv[5] !== "");
    return options.length ? { from: pos - kv[6]!.length, options } : null;
  }
  const m = /^(\s*)(-\s+)?([\w.-]*)$/.exec(before);
  if (!m) return null;
  if (!explicit && m[3] === "") return null;
  const col = m[1]!.length + (m[2]?.length ?? 0);
  let nodes = deref(root);
  const path = yamlPathAt(lines, lineNo, col);
  if (m[2]) path.push("[]");
  for (const seg of path) nodes = step(nodes, seg);
  const keys = new Map<string, SchemaNode>();
  for (const n of nodes)
    for (const [k, v] of Object.entries(n.properties ?? {})) if (!keys.has(k)) keys.set(k, v);
  const options: SchemaOption[] = [...keys].map(([k, v]) => ({
    label: k,
    type: "property",
    apply: `${k}: `,
    detail: [v.type, ...deref(v).map((x) => x.type)].filter(Boolean).join("|") || undefined,
    info: v.description,
  }));
  // A list item may be a scalar the schema lists (`modes:\n  - guest-user`).
  if (m[2]) options.push(...values(nodes, false));
  return options.length ? { from: pos - m[3]!.length, options } : null;
}

/** Schema completion of keys and values for a CodeMirror YAML editor. */
export function schemaCompletion(root: SchemaNode) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const r = schemaOptions(root, ctx.state.doc.toString(), ctx.pos, ctx.explicit);
    return r ? { ...r, validFor: /^[\w./:-]*$/ } : null;
  };
}
