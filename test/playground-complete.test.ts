import { describe, expect, it } from "vitest";
import { PRESETS } from "../src/hw/presets.js";
import { scenarioJsonSchema } from "../src/scenario/schema.js";
import { schemaOptions, yamlPathAt } from "../web/playground/complete.js";

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

describe("playground completion: values from the scenario JSON Schema", () => {
  const schema = scenarioJsonSchema() as Parameters<typeof schemaOptions>[0];
  /** The completions at "|" (removed), as the editor offers them on Ctrl+Space. */
  function at(doc: string): { from: number; labels: string[]; apply: string[] } | null {
    const pos = doc.indexOf("|");
    const r = schemaOptions(schema, doc.replace("|", ""), pos, true);
    return (
      r && {
        from: r.from,
        labels: r.options.map((o) => o.label),
        apply: r.options.map((o) => o.apply),
      }
    );
  }

  it("offers the kernel profiles, quoted where YAML would read a number", () => {
    const r = at("name: a\nkernel:\n  profile: |")!;
    expect(r.labels).toEqual(["7.0", "5.18", "rfc-v1"]);
    expect(r.apply).toEqual(['"7.0"', '"5.18"', "rfc-v1"]);
    // Inside quotes the value goes in as typed; from = the start of the partial value.
    const q = at('kernel:\n  profile: "rf|')!;
    expect(q.apply).toContain("rfc-v1");
    expect(q.from).toBe('kernel:\n  profile: "'.length);
  });

  it("offers the machine presets, for a preset name and { preset: }", () => {
    const presets = Object.keys(PRESETS);
    expect(presets.length).toBeGreaterThan(3);
    expect(at("name: a\nmachine: x8|")!.labels).toEqual(presets);
    expect(at("machine:\n  preset: |")!.labels).toEqual(presets);
  });

  it("offers action kinds, ioctl ops, expectation fields and enum list items", () => {
    expect(at("actions:\n  - do: |")!.labels).toEqual(
      expect.arrayContaining(["perf_event_open", "ioctl", "kvm_run", "sysctl"]),
    );
    expect(at("actions:\n  - do: ioctl\n    op: |")!.labels).toEqual([
      "ENABLE",
      "DISABLE",
      "RESET",
      "REFRESH",
      "PERIOD",
      "ID",
    ]);
    expect(at("expect:\n  - event:\n      field: |")!.labels).toContain("scaled");
    expect(at("vms:\n  - name: v\n    vmm: |")!.labels).toEqual([
      "qemu",
      "kvmtool",
      "firecracker",
      "none",
    ]);
    const modes = at("expect:\n  - truth:\n      modes:\n        - |")!;
    expect(modes.labels).toEqual(["host-user", "host-kernel", "guest-user", "guest-kernel"]);
  });

  it("still offers keys, and nothing for a free-form value", () => {
    expect(at("name: a\nperf:\n  - name: s\n    ev|")!.labels).toContain("events");
    expect(at("name: |")).toBeNull();
  });
});
