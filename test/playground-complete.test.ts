import { describe, expect, it } from "vitest";
import { yamlPathAt } from "../web/playground/complete.js";

/** The key path the playground's completion reads at the line holding "|" (its column). */
function pathAt(doc: string): string[] {
  const lines = doc.split("\n");
  const n = lines.findIndex((l) => l.includes("|"));
  const col = lines[n]!.indexOf("|");
  return yamlPathAt(lines, n, col);
}

describe("playground completion: the YAML path at the cursor", () => {
  it("is empty at the top level", () => {
    expect(pathAt("name: a\n|")).toEqual([]);
  });

  it("follows nested maps and list items by indentation", () => {
    expect(pathAt("kernel:\n  profile: 7.0\n  |")).toEqual(["kernel"]);
    expect(pathAt("perf:\n  - name: a\n    |")).toEqual(["perf", "[]"]);
    expect(pathAt("vms:\n  - name: vm0\n    vcpus:\n      - affinity: 2\n        |")).toEqual([
      "vms",
      "[]",
      "vcpus",
      "[]",
    ]);
  });

  it("skips blank and comment lines and leaves a finished block", () => {
    expect(pathAt("kernel:\n  profile: 7.0\n\n  # note\n  |")).toEqual(["kernel"]);
    expect(pathAt("kernel:\n  profile: 7.0\ntasks:\n  - name: a\n|")).toEqual([]);
  });
});
