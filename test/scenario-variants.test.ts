import { describe, expect, it } from "vitest";
import { variantsJsonReport } from "../src/report/json.js";
import { textReport, variantsTextReport } from "../src/report/text.js";
import { formatDiagnostic } from "../src/scenario/diagnostics.js";
import { loadScenario, parseScenario } from "../src/scenario/load.js";
import { runScenario, runVariants } from "../src/scenario/runner.js";
import { cliIt, tmpFile, vpmu } from "./cli-helpers.js";

/** A small x86 scenario with one mediated VM; `tail` adds variants and expectations. */
const BASE = `name: v
machine: x86-server
duration: 40ms
kernel:
  nmi_watchdog: false
  kvm: { enable_mediated_pmu: true }
tasks:
  - { name: t, workload: compute, affinity: "1" }
vms:
  - name: vm0
    vcpus: [{ affinity: "2" }]
    perf:
      - { name: g, events: "cycles,instructions,branches", start: 5ms, stop: 35ms }
`;

/** The 1-based line and column of the first occurrence of `needle` in `text`. */
function lineCol(text: string, needle: string): { line: number; col: number } {
  const at = text.indexOf(needle);
  expect(at).toBeGreaterThanOrEqual(0);
  const before = text.slice(0, at).split("\n");
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

function diagnosticsOf(text: string) {
  const r = parseScenario(text, "s.yaml");
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.diagnostics;
}

describe("variants: overlay", () => {
  it("writes each set value into a copy of the document and compiles it", () => {
    const sc = loadScenario(
      `${BASE}variants:
  - name: emulated
    description: the emulated vPMU
    set: { kernel.kvm.enable_mediated_pmu: false }
  - name: as-written
  - name: rfc
    set: { kernel.profile: rfc-v1, "vms[0].perf[0].events": [cycles], vms.0.vcpus.0.exit_rate: 500 }
`,
      "s.yaml",
    );
    expect(sc.variant).toBeUndefined();
    expect(sc.variants.map((v) => v.name)).toEqual(["emulated", "as-written", "rfc"]);
    const [emu, plain, rfc] = sc.variants.map((v) => v.scenario);
    expect(emu!.kernel.kvm.enableMediatedPmu).toBe(false);
    expect(emu!.variant).toBe("emulated");
    expect(sc.variants[0]!.description).toBe("the emulated vPMU");
    expect(sc.variants[0]!.set).toEqual({ "kernel.kvm.enable_mediated_pmu": false });
    // The document as written is unchanged, and so is a variant without set.
    expect(sc.kernel.kvm.enableMediatedPmu).toBe(true);
    expect(plain!.kernel).toEqual(sc.kernel);
    expect(plain!.vms[0]!.perf).toEqual(sc.vms[0]!.perf);
    // Both path spellings, lists replaced whole, other fields kept.
    expect(rfc!.kernel.profile).toBe("rfc-v1");
    expect(rfc!.kernel.kvm.enableMediatedPmu).toBe(true);
    expect(rfc!.vms[0]!.perf[0]!.events).toEqual(["cycles"]);
    expect(rfc!.vms[0]!.perf[0]!.stop).toBe(35_000_000);
    expect(rfc!.vms[0]!.vcpus[0]!.exitRate).toBe(500);
    // Variants of a variant do not exist.
    expect(rfc!.variants).toEqual([]);
  });

  it("creates the mappings on the way to a field the document leaves out", () => {
    const sc = loadScenario(
      `name: m
machine: x86-server
variants:
  - name: a
    set: { kernel.kvm.costs.exit_base_ns: 2000, workloads.hot.ipc: 3, "tasks": [{ name: w, workload: hot }] }
`,
    );
    const a = sc.variants[0]!.scenario;
    expect(a.kernel.kvm.costs.exitBaseNs).toBe(2000);
    expect(a.workloads.get("hot")?.base.ipc).toBe(3);
    expect(a.tasks.map((t) => t.name)).toEqual(["w"]);
    expect(sc.kernel.kvm.costs.exitBaseNs).toBe(800);
    expect(sc.tasks).toEqual([]);
  });

  it("applies the entries in order: a later one sees the list an earlier one wrote", () => {
    const sc = loadScenario(
      `${BASE}variants:
  - name: a
    set:
      vms.0.vcpus: [{ affinity: "3" }, { affinity: "4" }]
      vms.0.vcpus.1.exit_rate: 250
`,
    );
    const v = sc.variants[0]!.scenario.vms[0]!;
    expect(v.vcpus.map((c) => [c.affinity, c.exitRate])).toEqual([
      [[3], 0],
      [[4], 250],
    ]);
  });

  it("leaves a scenario without variants as it was", () => {
    const sc = loadScenario(BASE);
    expect(sc.variants).toEqual([]);
    const r = runScenario(sc);
    expect(r.scenario).not.toHaveProperty("variant");
    expect(textReport(r)).toMatch(/^vpmu \S+: scenario "v" on x86-server/);
  });
});

describe("variants: expectations", () => {
  const text = `${BASE}variants:
  - name: emulated
    set: { kernel.kvm.enable_mediated_pmu: false }
  - name: mediated
expect:
  - label: everywhere
    vcpu: { vm: vm0, id: 0, field: created }
    equals: true
  - label: emulated msr exits
    variant: emulated
    vcpu: { vm: vm0, id: 0, field: exits.msr }
    equals: 8
  - label: mediated msr exits
    variant: mediated
    vcpu: { vm: vm0, id: 0, field: exits.msr }
    equals: 3
  - label: fails on purpose in mediated
    variant: mediated
    vcpu: { vm: vm0, id: 0, field: exits.rdpmc }
    equals: 99
`;

  it("checks an expectation with variant only in that variant, the others in all", () => {
    const sc = loadScenario(text);
    expect(sc.expect.map((e) => e.label)).toEqual(["everywhere"]);
    const runs = runVariants(sc);
    expect(runs.map((v) => v.result.expectations.map((e) => [e.label, e.ok]))).toEqual([
      [
        ["everywhere", true],
        ["emulated msr exits", true],
      ],
      [
        ["everywhere", true],
        ["mediated msr exits", true],
        ["fails on purpose in mediated", false],
      ],
    ]);
    expect(runs.map((v) => v.result.summary.failed)).toEqual([0, 1]);
  });

  cliIt("vpmu check checks every variant, one line each, and fails if one fails", () => {
    const f = tmpFile("exp.yaml", text);
    const r = vpmu("check", f);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`ok   ${f} [emulated] (2 passed, 0 failed)\n`);
    expect(r.out).toContain(`FAIL ${f} [mediated]: fails on purpose in mediated: observed 0`);
    expect(r.out).toContain(`FAIL ${f} [mediated] (2 passed, 1 failed)\n`);
    expect(r.out).toMatch(/^4 passed, 1 failed$/m);
  });

  it("an unknown variant name in an expectation is an input error", () => {
    const t = `${BASE}variants:
  - name: a
expect:
  - variant: b
    vcpu: { vm: vm0, id: 0, field: exits }
    min: 1
`;
    const ds = diagnosticsOf(t);
    expect(ds.map(formatDiagnostic)).toEqual([
      `s.yaml:${lineCol(t, "b\n").line}:${lineCol(t, "b\n").col}: expect[0].variant: unknown variant "b" (one of: a)`,
    ]);
    const none = `${BASE}expect:
  - variant: b
    vcpu: { vm: vm0, id: 0, field: exits }
    min: 1
`;
    expect(diagnosticsOf(none).map((d) => d.message)).toEqual(['unknown variant "b"']);
  });

  it("reports a cross-check of a variant's own expectation where it is, naming the variant", () => {
    const t = `${BASE}variants:
  - name: a
expect:
  - variant: a
    event: { measurement: nope, event: cycles, field: count }
    min: 1
`;
    const ds = diagnosticsOf(t);
    expect(ds).toHaveLength(1);
    expect(formatDiagnostic(ds[0]!)).toBe(
      `s.yaml:${lineCol(t, "nope").line}:${lineCol(t, "nope").col}: expect[0].event.measurement: in variant "a": unknown measurement "nope" (a name under perf)`,
    );
  });
});

describe("variants: bad input", () => {
  /** The one diagnostic of a variant with `set`, which must point at the set entry `key`. */
  function oneAtEntry(set: string, key: string): string {
    const t = `${BASE}variants:\n  - name: a\n    set: ${set}\n`;
    const ds = diagnosticsOf(t);
    expect(ds).toHaveLength(1);
    const d = ds[0]!;
    // The column of the entry's value: after "key: ".
    const at = lineCol(t, `${key}: `);
    expect([d.line, d.col]).toEqual([at.line, at.col + key.length + 2]);
    return formatDiagnostic(d);
  }

  it("a path that the schema does not have", () => {
    expect(
      oneAtEntry("{ kernel.kvm.enable_mediatd_pmu: false }", "kernel.kvm.enable_mediatd_pmu"),
    ).toMatch(
      /: variants\[0\]\.set\["kernel\.kvm\.enable_mediatd_pmu"\]: unknown field "enable_mediatd_pmu" in kernel\.kvm; did you mean "enable_mediated_pmu"\? \(one of: enable_pmu, enable_mediated_pmu, costs\)$/,
    );
    expect(oneAtEntry("{ kernal.profile: rfc-v1 }", "kernal.profile")).toContain(
      'unknown field "kernal" in the scenario; did you mean "kernel"?',
    );
    expect(oneAtEntry('{ "vms.0.perf.4.events": cycles }', '"vms.0.perf.4.events"')).toContain(
      "vms[0].perf has 1 item; there is no item 4",
    );
    expect(oneAtEntry("{ tasks.first.name: x }", "tasks.first.name")).toContain(
      'tasks is a list; "first" is not an index',
    );
    expect(oneAtEntry("{ machine.preset: rk3399 }", "machine.preset")).toContain(
      'machine is "x86-server", not a mapping (set machine itself)',
    );
    expect(oneAtEntry("{ duration.ms: 5 }", "duration.ms")).toContain("not a mapping");
    expect(oneAtEntry("{ variants.0.name: b }", "variants.0.name")).toContain(
      "a variant cannot change variants",
    );
    expect(oneAtEntry('{ "kernel..hz": 5 }', '"kernel..hz"')).toContain("is not a dotted path");
  });

  it("a value that the schema rejects", () => {
    expect(oneAtEntry("{ kernel.profile: 7 }", "kernel.profile")).toMatch(
      /variants\[0\]\.set\["kernel\.profile"\]: 7 is not allowed \(one of: "7\.0", "5\.18", "rfc-v1"\)$/,
    );
    expect(oneAtEntry("{ kernel.hz: 5 }", "kernel.hz")).toContain("5 is too small (at least 100)");
    expect(oneAtEntry('{ "duration": 5 parsecs }', '"duration"')).toContain("has the wrong format");
    // A list of mappings with a bad item: one line, naming the item.
    expect(oneAtEntry("{ vms.0.perf: [{ name: g, evnts: cycles }] }", "vms.0.perf")).toMatch(
      /variants\[0\]\.set\["vms\.0\.perf"\]: vms\[0\]\.perf\[0\]/,
    );
    // A mapping as a value.
    expect(oneAtEntry("{ kernel.kvm: { enable_pmu: false } }", "kernel.kvm")).toContain(
      "set each of its fields by its own dotted path",
    );
  });

  it("a value the cross-checks reject", () => {
    expect(oneAtEntry("{ tasks.0.affinity: 99 }", "tasks.0.affinity")).toMatch(
      /variants\[0\]\.set\["tasks\.0\.affinity"\]: CPU 99 does not exist on x86-server \(CPUs 0-7\)$/,
    );
    expect(
      oneAtEntry('{ "vms.0.perf.0.events": "cycles,bogus" }', '"vms.0.perf.0.events"'),
    ).toContain('guest event "bogus" is not an architectural event');
  });

  it("one line per bad entry, several entries and variants", () => {
    const t = `${BASE}variants:
  - name: a
    set: { kernel.hz: 5, kernel.profile: "6.1" }
  - name: b
    set: { kernel.nmi_watchdogg: true }
`;
    expect(diagnosticsOf(t).map((d) => d.path)).toEqual([
      'variants[0].set["kernel.hz"]',
      'variants[0].set["kernel.profile"]',
      'variants[1].set["kernel.nmi_watchdogg"]',
    ]);
  });

  it("duplicate names, too many variants, bad names", () => {
    const dup = `${BASE}variants:\n  - name: a\n  - name: a\n`;
    expect(diagnosticsOf(dup).map(formatDiagnostic)).toEqual([
      `s.yaml:${BASE.split("\n").length + 2}:11: variants[1].name: variant "a" is declared twice (unique variant names)`,
    ]);
    const many = `${BASE}variants:\n${Array.from({ length: 17 }, (_, i) => `  - name: v${i}\n`).join("")}`;
    expect(diagnosticsOf(many).map((d) => `${d.path}: ${d.message} (${d.expected})`)).toEqual([
      "variants: a list of 17 items is too large (at most 16 items)",
    ]);
    expect(diagnosticsOf(`${BASE}variants:\n  - name: "a b"\n`)[0]!.path).toBe("variants[0].name");
    expect(diagnosticsOf(`${BASE}variants: []\n`)[0]!.path).toBe("variants");
  });

  cliIt("the CLI prints the diagnostic and exits 2, without a stack trace", () => {
    const f = tmpFile(
      "bad.yaml",
      `${BASE}variants:\n  - name: a\n    set: { kernel.profile: 7 }\n`,
    );
    for (const args of [
      ["run", f],
      ["check", f],
      ["run", "--variant", "a", f],
    ]) {
      const r = vpmu(...args);
      expect(r.code).toBe(2);
      expect(r.err).toBe(
        `${f}:${BASE.split("\n").length + 2}:28: variants[0].set["kernel.profile"]: 7 is not allowed (one of: "7.0", "5.18", "rfc-v1")\n`,
      );
    }
  });

  cliIt("--variant with an unknown name, or on a scenario without variants", () => {
    const f = tmpFile("v.yaml", `${BASE}variants:\n  - name: a\n  - name: b\n`);
    let r = vpmu("run", "--variant", "c", f);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`vpmu: --variant: no variant "c" in ${f} (one of: a, b)\n`);
    const g = tmpFile("plain.yaml", BASE);
    r = vpmu("run", "--variant", "a", g);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`vpmu: --variant: ${g} has no variants\n`);
  });
});

describe("variants: running and reports", () => {
  const text = `${BASE}variants:
  - name: emulated
    description: perf-backed
    set: { kernel.kvm.enable_mediated_pmu: false }
  - name: mediated
`;

  it("runs each variant with the same seed; the same scenario gives the same bytes", () => {
    const a = variantsTextReport(runVariants(loadScenario(text)), { truth: true });
    const b = variantsTextReport(runVariants(loadScenario(text)), { truth: true });
    expect(a).toBe(b);
  });

  cliIt("vpmu run of variants: the same bytes twice, one seed for every variant", () => {
    const f = tmpFile("det.yaml", text);
    const r1 = vpmu("run", f);
    const r2 = vpmu("run", f);
    expect(r1.code).toBe(0);
    expect(r1.out).toBe(r2.out);
    const j1 = vpmu("run", "-f", "json", "--seed", "7", f);
    const j2 = vpmu("run", "-f", "json", "--seed", "7", f);
    expect(j1.out).toBe(j2.out);
    const seeds = JSON.parse(j1.out).variants.map(
      (v: { result: { scenario: { seed: number } } }) => v.result.scenario.seed,
    );
    expect(seeds).toEqual([7, 7]);
  });

  it("a variant runs exactly like the same scenario written out", () => {
    const sc = loadScenario(text);
    const written = loadScenario(
      BASE.replace("enable_mediated_pmu: true", "enable_mediated_pmu: false"),
    );
    const [emu] = runVariants(sc);
    const plain = runScenario(written);
    expect({ ...emu!.result, scenario: { ...emu!.result.scenario, variant: undefined } }).toEqual({
      ...plain,
      scenario: { ...plain.scenario, variant: undefined },
    });
  });

  it("prints the variants side by side, then each report under a heading", () => {
    const out = variantsTextReport(runVariants(loadScenario(text)));
    const lines = out.split("\n");
    expect(lines[0]).toMatch(/^vpmu \S+: scenario "v", 2 variants, seed 1, 40ms simulated each$/);
    expect(out).toContain("  emulated  kernel.kvm.enable_mediated_pmu: false\n");
    expect(out).toContain("  mediated  (the scenario as written)\n");
    const header = lines.find((l) => l.startsWith("Side by side"));
    expect(header).toContain("model estimates");
    const row = (label: string) => lines.find((l) => l.trimStart().startsWith(label))!;
    expect(row("vPMU of vm0")).toMatch(/emulated v2\s+mediated v2$/);
    expect(row("msr")).toMatch(/\s8\s+3$/);
    expect(row("rdpmc")).toMatch(/\s3\s+0$/);
    expect(row("overhead (model estimate)")).toMatch(/%\s+\S+%$/);
    expect(row("error vs truth")).toMatch(/%\s+\S+%$/);
    expect(row("checks")).toMatch(/0 passed, 0 failed\s+0 passed, 0 failed$/);
    expect(out.indexOf("=== variant emulated ===")).toBeGreaterThan(out.indexOf("checks"));
    expect(out.indexOf("=== variant mediated ===")).toBeGreaterThan(
      out.indexOf("=== variant emulated ==="),
    );
    expect(out).toContain('scenario "v" variant "emulated" on x86-server');
    expect(out.endsWith("2 variants: 0 passed, 0 failed\n")).toBe(true);
  });

  it("JSON: { variants: [{ name, description, set, result }] }", () => {
    const runs = runVariants(loadScenario(text));
    const j = JSON.parse(variantsJsonReport(runs));
    expect(Object.keys(j)).toEqual(["variants"]);
    expect(j.variants.map((v: object) => Object.keys(v))).toEqual([
      ["name", "description", "set", "result"],
      ["name", "description", "set", "result"],
    ]);
    expect(j.variants[0].name).toBe("emulated");
    expect(j.variants[0].description).toBe("perf-backed");
    expect(j.variants[0].set).toEqual({ "kernel.kvm.enable_mediated_pmu": false });
    expect(j.variants[1].set).toEqual({});
    expect(j.variants[0].result.format).toBe(1);
    expect(j.variants[0].result.scenario.variant).toBe("emulated");
    expect(j.variants[0].result.vms[0].vpmu).toBe("emulated");
    expect(j.variants[1].result.vms[0].vpmu).toBe("mediated");
    // The CLI prints the same.
    const f = tmpFile("json.yaml", text);
    expect(vpmu("run", "-f", "json", f).out).toBe(variantsJsonReport(runs));
  });

  cliIt("--variant runs one variant and prints its plain report", () => {
    const f = tmpFile("one.yaml", text);
    const r = vpmu("run", "--variant", "emulated", f);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^vpmu \S+: scenario "v" variant "emulated" on x86-server/);
    expect(r.out).not.toContain("Side by side");
    const j = JSON.parse(vpmu("run", "-f", "json", "--variant", "mediated", f).out);
    expect(j.scenario.variant).toBe("mediated");
    expect(j.vms[0].vpmu).toBe("mediated");
  });

  cliIt("CSV: perf stat -x, lines of one variant, never a comment line", () => {
    const f = tmpFile("csv.yaml", text);
    const all = vpmu("run", "-f", "csv", f);
    expect(all.code).toBe(2);
    expect(all.err).toContain("has variants (emulated, mediated): choose one with --variant NAME");
    const r = vpmu("run", "-f", "csv", "--variant", "mediated", f);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(0);
    // value, unit, event, run, pct, metric value, metric unit.
    for (const l of lines) expect(l.split(",")).toHaveLength(7);
    expect(lines.some((l) => l.startsWith("#"))).toBe(false);
  });

  cliIt("the example passes in every variant and differs where the designs differ", () => {
    const r = vpmu("check", "--check-invariants", "examples/x86-vpmu-modes.yaml");
    expect(r.code).toBe(0);
    expect(r.out.match(/^ok {3}examples\/x86-vpmu-modes\.yaml \[/gm)).toHaveLength(3);
  });
});
