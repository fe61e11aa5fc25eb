import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { SRC, srcTsFiles } from "./src-files.js";

/**
 * The layer order of src/ (docs/architecture.md): a file may import files of its own layer
 * and of lower layers, never of a higher layer or of a peer (layers of one rank). Type-only
 * imports count: a lower layer that needs a higher one's shape declares the interface itself.
 */
const LAYERS: ReadonlyArray<{ rank: number; name: string; files: RegExp }> = [
  { rank: 0, name: "sim", files: /^(sim\/|version\.ts$)/ },
  { rank: 1, name: "hw", files: /^hw\// },
  { rank: 2, name: "sched", files: /^sched\// },
  { rank: 3, name: "perf", files: /^perf\/(?!tool\/)/ },
  { rank: 4, name: "check", files: /^check\// },
  { rank: 5, name: "system", files: /^system\.ts$/ },
  { rank: 6, name: "kvm", files: /^kvm\// },
  { rank: 6, name: "perf/tool", files: /^perf\/tool\// },
  { rank: 7, name: "guest", files: /^guest\// },
  { rank: 8, name: "report", files: /^report\// },
  { rank: 9, name: "scenario", files: /^scenario\// },
  { rank: 10, name: "cli", files: /^cli\// },
  { rank: 10, name: "index", files: /^index\.ts$/ },
];

/**
 * Layers whose files import each other in cycles today, as the kernel code they model
 * does (perf core and its helpers, KVM's vCPU and VM objects). Every other layer's import
 * graph is acyclic.
 */
const CYCLES_ALLOWED = new Set(["perf", "kvm"]);

const src = SRC;

/** Relative specifiers of a file's static, re-export and type-position `import()` imports. */
function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)"(\.[^"]+)"/g)) out.push(m[1]!);
  return out;
}

const files = srcTsFiles().sort();
const layerOf = (f: string) => LAYERS.find((l) => l.files.test(f));
const edges = new Map<string, string[]>(
  files.map((f) => [
    f,
    importsOf(readFileSync(join(src, f), "utf8")).map((s) =>
      relative(src, join(src, dirname(f), s)).replace(/\.js$/, ".ts"),
    ),
  ]),
);

describe("layer order of src/", () => {
  it("puts every file in a layer", () => {
    expect(files.filter((f) => !layerOf(f))).toEqual([]);
  });

  it("imports only existing files", () => {
    const missing = [...edges].flatMap(([f, to]) =>
      to.filter((t) => !edges.has(t)).map((t) => `${f} -> ${t}`),
    );
    expect(missing).toEqual([]);
  });

  it("has no import from a lower layer to a higher one, or between peers", () => {
    const bad: string[] = [];
    for (const [f, to] of edges) {
      const a = layerOf(f)!;
      for (const t of to) {
        const b = layerOf(t);
        if (!b || b === a) continue;
        if (b.rank >= a.rank) bad.push(`${f} (${a.name}) -> ${t} (${b.name})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("has no import cycle inside a layer, except where the modelled kernel code has them", () => {
    const cycles: string[] = [];
    for (const layer of LAYERS) {
      if (CYCLES_ALLOWED.has(layer.name)) continue;
      const inLayer = files.filter((f) => layerOf(f) === layer);
      for (const scc of stronglyConnected(inLayer, (f) =>
        edges.get(f)!.filter((t) => layerOf(t) === layer),
      )) {
        if (scc.length > 1) cycles.push(scc.sort().join(" <-> "));
      }
    }
    expect(cycles).toEqual([]);
  });
});

/** Most lines a function of the scenario and report layers may take (a scroll, about). */
const MAX_FUNCTION_LINES = 80;

/**
 * Functions (declarations, methods, calls with a body) of a file longer than `limit`
 * lines, from their first line to their closing brace. Strings and comments are blanked
 * first, so their braces do not count.
 */
function longFunctions(text: string, limit: number): string[] {
  const lines = text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .split("\n")
    .map((l) => l.replace(/"(\\.|[^"\\])*"|'(\\.|[^'\\])*'|\/\/.*$/g, '""'));
  const head =
    /^\s*(export\s+)?(async\s+)?(function\s+\w+|((private|protected|public|static|readonly|get|set)\s+)*\w+\s*(<[^>]*>)?\s*\()/;
  const out: string[] = [];
  lines.forEach((l, i) => {
    const m = head.exec(l);
    if (!m || /^\s*(if|for|while|switch|catch|return)\b/.test(l)) return;
    let depth = 0;
    for (let j = i; j < lines.length; j++) {
      for (const ch of lines[j]!) depth += ch === "{" ? 1 : ch === "}" ? -1 : 0;
      if (depth === 0 && !lines.slice(i, j + 1).some((x) => x.includes("{"))) {
        // A statement that ends before any body is a call, not a function.
        if (/;\s*$/.test(lines[j]!)) return;
        continue;
      }
      if (depth <= 0) {
        if (j - i + 1 > limit) out.push(`${i + 1}: ${j - i + 1} lines: ${l.trim()}`);
        return;
      }
    }
  });
  return out;
}

describe("function length", () => {
  it(`keeps every function of src/scenario and src/report within ${MAX_FUNCTION_LINES} lines`, () => {
    const long = files
      .filter((f) => /^(scenario|report)\//.test(f))
      .flatMap((f) =>
        longFunctions(readFileSync(join(src, f), "utf8"), MAX_FUNCTION_LINES).map(
          (x) => `${f}:${x}`,
        ),
      );
    expect(long).toEqual([]);
  });

  it("finds a long function (the check can fail)", () => {
    const body = Array.from({ length: MAX_FUNCTION_LINES }, (_, k) => `  x += ${k};`).join("\n");
    const text = `export function f(x: number): number {\n${body}\n  return x;\n}\n`;
    expect(longFunctions(text, MAX_FUNCTION_LINES)).toEqual([
      `1: ${MAX_FUNCTION_LINES + 3} lines: export function f(x: number): number {`,
    ]);
    expect(longFunctions(text, MAX_FUNCTION_LINES + 3)).toEqual([]);
  });
});

describe("docs/architecture.md", () => {
  const doc = readFileSync(join(import.meta.dirname, "..", "docs", "architecture.md"), "utf8");
  /** Its layer table: rank, and the names in backticks of its layer column. */
  const rows = [...doc.matchAll(/^\| (\d+) \| ([^|]+) \|/gm)].map((m) => ({
    rank: Number(m[1]),
    names: [...m[2]!.matchAll(/`([^`]+)`/g)].map((n) => n[1]!.replace(/\.ts$/, "")),
  }));

  it("lists every layer at its rank, as this test orders them", () => {
    const listed = rows.flatMap((r) => r.names.map((name) => `${r.rank} ${name}`));
    expect(listed).toEqual(LAYERS.map((l) => `${l.rank} ${l.name}`));
  });
});

/** Tarjan's strongly connected components. */
function stronglyConnected(nodes: string[], next: (n: string) => string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc);
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return out;
}
