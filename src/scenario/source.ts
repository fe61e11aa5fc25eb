import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { Diagnostic } from "./diagnostics.js";

/**
 * A parsed scenario source (YAML or JSON, which YAML 1.2 reads too) that remembers where
 * every value came from, so any problem can be reported at its line and column.
 */
export class ScenarioSource {
  /** The plain data. */
  readonly data: unknown;
  /** YAML syntax errors (the data is unusable when non-empty). */
  readonly syntaxErrors: Diagnostic[] = [];
  private readonly lc = new LineCounter();
  private readonly root: Node | null;

  constructor(
    readonly text: string,
    readonly file: string,
  ) {
    const doc = parseDocument(text, {
      lineCounter: this.lc,
      prettyErrors: false,
      uniqueKeys: true,
    });
    for (const e of doc.errors) {
      const pos = this.lc.linePos(e.pos[0]);
      this.syntaxErrors.push({
        file,
        line: pos.line,
        col: pos.col,
        path: "",
        message: cleanYamlMessage(e.message),
        expected: e.code === "DUPLICATE_KEY" ? "each key once" : "valid YAML or JSON",
      });
    }
    this.root = (doc.contents as Node | null) ?? null;
    this.data = this.syntaxErrors.length === 0 ? doc.toJS({ maxAliasCount: 100 }) : undefined;
  }

  /** Line and column of the value at `path` (or of its deepest existing ancestor). */
  position(path: ReadonlyArray<PropertyKey>, keyOf = false): { line: number; col: number } {
    let node: Node | null = this.root;
    let keyNode: Node | null = null;
    for (const p of path) {
      if (node && isMap(node)) {
        const pair = node.items.find(
          (it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(p),
        );
        if (!pair) break;
        keyNode = pair.key as Node;
        node = (pair.value as Node | null) ?? keyNode;
      } else if (node && isSeq(node) && typeof p === "number" && node.items[p]) {
        keyNode = null;
        node = node.items[p] as Node;
      } else {
        break;
      }
    }
    const target = keyOf && keyNode ? keyNode : node;
    const offset = target?.range?.[0] ?? 0;
    return this.lc.linePos(offset);
  }

  /** Position of the key `key` inside the map at `path` (for unknown keys). */
  keyPosition(path: ReadonlyArray<PropertyKey>, key: string): { line: number; col: number } {
    return this.position([...path, key], true);
  }
}

function cleanYamlMessage(m: string): string {
  const first = m.split("\n")[0] ?? m;
  return first.replace(/ at line \d+, column \d+:?$/, "").trim();
}
