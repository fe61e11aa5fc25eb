import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/*
 * The reference notes end with numbered testable behaviours; each has a test whose title
 * names it (perf-core.md behaviour 22 is "B22", kvm-x86.md 26 is "K26", kvm-arm64.md 7 is
 * "A7"; "B28/B30" names two). This keeps every one of them covered.
 */

const dir = import.meta.dirname;
const titles = readdirSync(dir)
  .filter((f) => f.endsWith(".test.ts"))
  .flatMap((f) =>
    [...readFileSync(join(dir, f), "utf8").matchAll(/\bit\(\s*"([^"]*)"/g)].map((m) => m[1]!),
  );
const named = new Set(titles.flatMap((t) => [...t.matchAll(/\b([ABK]\d+)\b/g)].map((m) => m[1]!)));

function range(prefix: string, from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);
}

describe("reference behaviours", () => {
  it.each([
    ["perf-core.md 22-38", range("B", 22, 38)],
    ["kvm-x86.md 1-49", range("K", 1, 49)],
    ["kvm-arm64.md 1-48", range("A", 1, 48)],
  ])("%s each have a test", (_notes, ids) => {
    expect(ids.filter((id) => !named.has(id))).toEqual([]);
  });
});
