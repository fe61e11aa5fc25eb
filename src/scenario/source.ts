import { isMap, isPair, isScalar, isSeq, type Node, parseDocument } from "yaml";
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
  /** Offsets where each line starts (yaml's LineCounter stops counting after an error). */
  private readonly lineStarts: number[] = [0];
  private readonly root: Node | null;

  constructor(
    readonly text: string,
    readonly file: string,
  ) {
    for (let i = 0; i < text.length; i++)
      if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    const doc = parseDocument(text, {
      prettyErrors: false,
      uniqueKeys: true,
      // Problems become diagnostics, never process warnings.
      logLevel: "silent",
    });
    for (const e of doc.errors) {
      const pos = this.linePos(e.pos[0]);
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
    let data: unknown;
    if (this.syntaxErrors.length === 0) {
      try {
        data = doc.toJS({ maxAliasCount: 100 });
      } catch (e) {
        // Unresolved or excessive aliases, bad merge keys: the document has no value.
        const range = (doc.contents as Node | null)?.range;
        const pos = this.linePos(range?.[0] ?? 0);
        this.syntaxErrors.push({
          file,
          line: pos.line,
          col: pos.col,
          path: "",
          message: cleanYamlMessage(e instanceof Error ? e.message : String(e)),
          expected: "valid YAML or JSON",
        });
      }
    }
    this.data = data;
  }

  /** 1-based line and column of a character offset. */
  private linePos(offset: number): { line: number; col: number } {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: o - this.lineStarts[lo]! + 1 };
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
    return this.linePos(offset);
  }

  /**
   * Position of `needle` inside the string value at `path`, searched from character `from`
   * of the value (an event inside "cycles,instructions"); the value's own position when the
   * text as written does not hold it (escapes).
   */
  positionWithin(
    path: ReadonlyArray<PropertyKey>,
    needle: string,
    from: number,
  ): { line: number; col: number } {
    const node = this.nodeAt(path);
    const range = node && isScalar(node) ? node.range : undefined;
    if (!range || needle === "") return this.position(path);
    const raw = this.text.slice(range[0], range[1]);
    const k = raw.indexOf(needle, Math.max(0, from));
    return k < 0 ? this.position(path) : this.linePos(range[0] + k);
  }

  /** The node at exactly `path`, or null. */
  private nodeAt(path: ReadonlyArray<PropertyKey>): Node | null {
    let node: Node | null = this.root;
    for (const p of path) {
      if (node && isMap(node)) {
        const pair = node.items.find(
          (it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(p),
        );
        node = (pair?.value as Node | null | undefined) ?? null;
      } else if (node && isSeq(node) && typeof p === "number") {
        node = (node.items[p] as Node | undefined) ?? null;
      } else return null;
    }
    return node;
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
