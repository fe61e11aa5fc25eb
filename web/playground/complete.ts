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

/** Schema completion of keys for a CodeMirror YAML editor. */
export function schemaCompletion(root: SchemaNode) {
  const deref = (n: SchemaNode | undefined): SchemaNode[] => {
    if (!n) return [];
    if (n.$ref?.startsWith("#/$defs/")) return deref(root.$defs?.[n.$ref.slice(8)]);
    const alts = [...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])];
    return alts.length ? [n, ...alts.flatMap(deref)] : [n];
  };
  const step = (nodes: SchemaNode[], seg: string): SchemaNode[] =>
    nodes.flatMap((n) => (seg === "[]" ? deref(n.items) : deref(n.properties?.[seg])));
  return (ctx: CompletionContext): CompletionResult | null => {
    const line = ctx.state.doc.lineAt(ctx.pos);
    const before = line.text.slice(0, ctx.pos - line.from);
    const m = /^(\s*)(-\s+)?([\w.-]*)$/.exec(before);
    if (!m) return null;
    if (!ctx.explicit && m[3] === "") return null;
    const col = m[1]!.length + (m[2]?.length ?? 0);
    const lines = ctx.state.doc.toString().split("\n");
    let nodes = deref(root);
    const path = yamlPathAt(lines, line.number - 1, col);
    if (m[2]) path.push("[]");
    for (const seg of path) nodes = step(nodes, seg);
    const keys = new Map<string, SchemaNode>();
    for (const n of nodes)
      for (const [k, v] of Object.entries(n.properties ?? {})) if (!keys.has(k)) keys.set(k, v);
    if (keys.size === 0) return null;
    return {
      from: ctx.pos - m[3]!.length,
      options: [...keys].map(([k, v]) => ({
        label: k,
        type: "property",
        apply: `${k}: `,
        detail: [v.type, ...deref(v).map((x) => x.type)].filter(Boolean).join("|") || undefined,
        info: v.description,
      })),
      validFor: /^[\w.-]*$/,
    };
  };
}
