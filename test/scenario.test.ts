import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { parseEvent, parseEventList } from "../src/perf/tool/parse-events.js";
import { PerfStat } from "../src/perf/tool/stat.js";
import { formatDiagnostic } from "../src/scenario/diagnostics.js";
import { loadScenario, parseScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";
import { msToNs } from "../src/sim/time.js";
import { System } from "../src/system.js";

/** The one-line diagnostics of a scenario (empty when it is valid). */
function diags(text: string): string[] {
  const r = parseScenario(text, "s.yaml");
  return r.ok ? [] : r.diagnostics.map(formatDiagnostic);
}

const base = "name: t\nmachine: rk3399\n";

describe("scenario validation: one located message per problem", () => {
  const cases: Array<[string, string, string]> = [
    ["missing machine", "name: t\n", "s.yaml:1:1: machine: missing required field"],
    [
      "unknown preset",
      "name: t\nmachine: vax\n",
      's.yaml:2:10: machine: unknown preset "vax" (one of: x86-server, x86-hybrid, amd-server, rk3399, arm64-server)',
    ],
    [
      "kernel profile as a number",
      `${base}kernel: { profile: 7.0 }\n`,
      's.yaml:3:20: kernel.profile: 7 is not allowed (one of: "7.0", "5.18", "rfc-v1")',
    ],
    [
      "cpu beyond the machine",
      `${base}tasks: [{ name: w, workload: compute, affinity: "0-9" }]\n`,
      "s.yaml:3:49: tasks[0].affinity: CPU 6 does not exist on rk3399 (CPUs 0-5)",
    ],
    [
      "unknown workload",
      `${base}tasks: [{ name: w, workload: spin }]\n`,
      's.yaml:3:30: tasks[0].workload: unknown workload "spin" (one of: compute, memory, branchy, syscall)',
    ],
    [
      "duplicate task",
      `${base}tasks:\n  - { name: w, workload: compute }\n  - { name: w, workload: compute }\n`,
      's.yaml:5:13: tasks[1].name: task "w" is declared twice (unique task names)',
    ],
    [
      "measurement past the end",
      `${base}duration: 10ms\nperf: [{ name: m, events: cycles, stop: 20ms }]\n`,
      "s.yaml:4:41: perf[0].stop: after the end of the run (at most the duration, 10000000ns)",
    ],
    [
      "approx without tolerance",
      `${base}tasks: [{ name: w, workload: compute }]\nexpect: [{ task: { name: w, field: runtime }, approx: 5ms }]\n`,
      "s.yaml:4:55: expect[0].approx: approx needs a tolerance (tolerance: 2% or an absolute number)",
    ],
    [
      "two subjects",
      `${base}tasks: [{ name: w, workload: compute }]\nexpect: [{ task: { name: w, field: cpu }, cpu: { id: 0, field: busy }, equals: 1 }]\n`,
      "s.yaml:4:10: expect[0]: several subjects (task, cpu) (exactly one of truth, task, cpu, event, vcpu)",
    ],
    [
      "missing field enum",
      `${base}tasks: [{ name: w, workload: compute }]\nexpect: [{ task: { name: w }, equals: 1 }]\n`,
      's.yaml:4:18: expect[0].task.field: missing required field (one of: "runtime", "migrations", "switches", "cpu", "state")',
    ],
    [
      "near_truth on an fd",
      `${base}actions: [{ at: 0ms, do: perf_event_open, name: c, event: cycles, cpu: 0 }]\nexpect: [{ event: { fd: c, field: count }, near_truth: 1% }]\n`,
      "s.yaml:4:56: expect[0].near_truth: near_truth compares a measurement's event with its ground truth (an event subject with measurement)",
    ],
    [
      "attr config not a number",
      `${base}actions: [{ at: 0ms, do: perf_event_open, attr: { type: 4, config: zzz }, cpu: 0 }]\n`,
      's.yaml:3:68: actions[0].attr.config: "zzz" has the wrong format',
    ],
    [
      "attr type: unknown PMU",
      `${base}actions: [{ at: 0ms, do: perf_event_open, attr: { type: cpu_core }, cpu: 0 }]\n`,
      's.yaml:3:57: actions[0].attr.type: no PMU named "cpu_core" on rk3399',
    ],
    [
      "unknown invariant rule",
      `${base}expected_findings: [sibling-bug]\n`,
      's.yaml:3:21: expected_findings[0]: "sibling-bug" is not an invariant rule',
    ],
    [
      "arm64 custom PMU with fixed counters",
      "name: t\nmachine:\n  name: m\n  arch: arm64\n  core_types: [{ name: a, freq_mhz: 1000, pmu: { name: p, counters: 4, fixed: 2 } }]\n  cpus: [{ core_type: a, count: 2 }]\n",
      "s.yaml:5:79: machine.core_types[0].pmu.fixed: arm64 PMUs have exactly one fixed counter, the cycle counter (fixed only on x86_64)",
    ],
  ];
  for (const [what, text, want] of cases) {
    it(what, () => {
      const got = diags(text);
      expect(got.length, got.join("\n")).toBeGreaterThan(0);
      expect(got[0]).toContain(want);
    });
  }

  it("reports a kernel option that does not fit the VMs once, however many VMs there are", () => {
    const vms = "vms:\n  - { name: a, vcpus: [{}] }\n  - { name: b, vcpus: [{}] }\n";
    expect(
      diags(`name: t\nmachine: x86-server\nkernel: { rfc_fix_sibling_loop: true }\n${vms}`),
    ).toEqual([
      's.yaml:3:33: kernel.rfc_fix_sibling_loop: only meaningful with the rfc-v1 profile (profile: "rfc-v1")',
    ]);
    expect(diags(`${base}kernel: { profile: rfc-v1 }\n${vms}`)).toEqual([
      's.yaml:3:20: kernel.profile: rfc-v1 is an x86 profile ("7.0" or "5.18" on arm64)',
    ]);
  });

  it("accepts the built-in tour and every example shape", () => {
    expect(diags(`${base}tasks: [{ name: w, workload: compute, affinity: all }]\n`)).toEqual([]);
  });
});

describe("perf event syntax", () => {
  it("maps u/k/h and G/H like perf's modifiers", () => {
    const u = parseEvent("cycles:u");
    expect(u).toMatchObject({ excludeUser: false, excludeKernel: true, excludeHv: true });
    expect(parseEvent("cycles:G")).toMatchObject({ excludeHost: true, excludeGuest: false });
    expect(parseEvent("cycles:H")).toMatchObject({ excludeHost: false, excludeGuest: true });
    expect(parseEvent("cycles:GH")).toMatchObject({ excludeHost: false, excludeGuest: false });
    expect(parseEvent("cycles")).toMatchObject({ excludeHost: false, excludeGuest: false });
    expect(parseEvent("cycles:Dpp")).toMatchObject({ pinned: true, precise: 2 });
    expect(parseEvent("cycles:x")).toBe(`unknown modifier 'x' in ":x"`);
    expect(parseEvent("r003c")).toMatchObject({ type: 4, config: 0x3cn });
    expect(parseEvent("cpu/event=0x3c,umask=0x01/k")).toMatchObject({
      pmu: "cpu",
      excludeUser: true,
    });
  });

  it("applies group modifiers on top of each member's own", () => {
    const g = parseEventList(["{cycles:p,instructions}:k"]);
    expect(g).not.toBeTypeOf("string");
    const [a, b] = (g as Exclude<typeof g, string>)[0]!.events;
    expect(a).toMatchObject({ precise: 1, excludeUser: true, excludeKernel: false });
    expect(b).toMatchObject({ excludeUser: true, excludeKernel: false });
    expect(parseEventList(["{cycles:pp}:pp"])).toBe("precise modifier used more than three times");
  });
});

describe("measurements", () => {
  it("print the last interval at the stop and keep counting across intervals", () => {
    const sc = loadScenario(
      `${base}duration: 20ms\ntasks: [{ name: w, workload: compute, affinity: "4" }]\nperf: [{ name: m, cpus: "4", events: cycles, interval: 5ms }]\n`,
    );
    const m = runScenario(sc).perf[0]!;
    expect(m.intervals.map((i) => i.t_ns)).toEqual([5, 10, 15, 20].map((x) => msToNs(x)));
    // perf 6.1 on arm64: one legacy cycles, bound on CPU 4 to its own PMU (A72, 1800 MHz).
    expect(m.counters.map((c) => c.event)).toEqual(["cycles"]);
    expect(m.intervals.map((i) => i.counters[0]!.count)).toEqual([
      9_000_000, 9_000_000, 9_000_000, 9_000_000,
    ]);
  });

  it("a run cut short by --duration still reports its measurements", () => {
    const sc = loadScenario(
      `${base}duration: 100ms\ntasks: [{ name: w, workload: compute, affinity: "4" }]\nperf: [{ name: m, cpus: "4", events: cycles }]\n`,
    );
    const r = runScenario(sc, { duration: msToNs(10) });
    expect(r.perf[0]!.stop_ns).toBe(msToNs(10));
    expect(r.perf[0]!.counters[0]).toMatchObject({
      event: "cycles",
      count: 18_000_000,
    });
  });

  it("a bad event stops perf stat before anything is opened", () => {
    // A scenario rejects it at load time (scenario-typos.test.ts); the library's PerfStat
    // still refuses it as perf does.
    const sys = new System({ machine: preset("rk3399")! });
    const stat = new PerfStat(sys, { name: "m", cpus: [4], events: ["cycles", "nosuch/event=1/"] });
    stat.start();
    const m = stat.stop();
    expect(m.error).toContain("Cannot find PMU `nosuch'");
    expect(m.counters).toEqual([]);
    expect(sys.perf.fds.size).toBe(0);
  });
});
