import { type Diagnostic, formatPath } from "../diagnostics.js";
import type { ScenarioSource } from "../source.js";

/** One `set` entry of a variant, resolved to a path in the document. */
export interface SetEntry {
  /** The key as written under `set`. */
  key: string;
  path: PropertyKey[];
  /** formatPath(path), e.g. vms[0].perf[0].events. */
  shown: string;
}

/** Locates the problems of one variant: at the set entry they come from, else in the file. */
export class VariantContext {
  constructor(
    readonly name: string,
    readonly index: number,
    readonly entries: SetEntry[],
    readonly src: ScenarioSource | undefined,
    readonly file: string,
  ) {}

  /** The set entry whose path is `shown`, lies above it or below it. */
  private entryFor(shown: string): SetEntry | undefined {
    const under = (a: string, b: string) =>
      a === b || b === "" || a.startsWith(`${b}.`) || a.startsWith(`${b}[`);
    return (
      this.entries.find((e) => under(shown, e.shown)) ??
      this.entries.find((e) => under(e.shown, shown))
    );
  }

  private where(path: ReadonlyArray<PropertyKey>): { line: number; col: number } {
    return this.src ? this.src.position(path) : { line: 1, col: 1 };
  }

  /** A problem at the formatted document path `shown` (raw `path` when known). */
  diagnostic(
    shown: string,
    message: string,
    expected: string | undefined,
    path?: ReadonlyArray<PropertyKey>,
  ): Diagnostic {
    const e = this.entryFor(shown);
    const exp = expected ? { expected } : {};
    if (e) {
      return {
        file: this.file,
        ...this.where(["variants", this.index, "set", e.key]),
        path: `variants[${this.index}].set[${JSON.stringify(e.key)}]`,
        message: shown === e.shown ? message : `${shown}: ${message}`,
        ...exp,
      };
    }
    return {
      file: this.file,
      ...this.where(path ?? ["variants", this.index, "set"]),
      path: path ? formatPath(path) : `variants[${this.index}].set`,
      message: `in variant "${this.name}": ${path ? "" : `${shown}: `}${message}`,
      ...exp,
    };
  }
}

/** Keeps the first problem of each set entry (one clear line per bad entry). */
export function onePerEntry(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    if (!/^variants\[\d+\]\.set\[/.test(d.path)) return true;
    if (seen.has(d.path)) return false;
    seen.add(d.path);
    return true;
  });
}

/** Sorted by line and column (stable). */
export function inFileOrder(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.line - b.line || a.col - b.col);
}
