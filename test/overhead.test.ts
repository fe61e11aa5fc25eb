import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_KVM_COSTS } from "../src/kvm/costs.js";
import { variantsJsonReport } from "../src/report/json.js";
import type { RunResult } from "../src/report/result.js";
import { loadScenario } from "../src/scenario/load.js";
import { runScenario, runVariants } from "../src/scenario/runner.js";
import { cliIt, root, tmpFile, vpmu } from "./cli-helpers.js";

const OVERHEAD = readFileSync(join(root, "examples", "x86-overhead.yaml"), "utf8");

/** The vCPU of each x86-overhead variant, by variant name. */
function overheadVcpus(text = OVERHEAD) {
  const out = new Map<string, RunResult["vms"][number]["vcpus"][number]>();
  for (const v of runVariants(loadScenario(text, "x86-overhead.yaml")))
    out.set(v.name, v.result.vms[0]!.vcpus[0]!);
  return out;
}

/** A one-vCPU guest sampling with perf record; `costs` goes under kernel.kvm.costs. */
const recordYaml = (mediated: boolean, costs: string, events = 6) => `
name: cost
machine: x86-server
duration: 100ms
kernel: { nmi_watchdog: false, kvm: { enable_mediated_pmu: ${mediated}, costs: { ${costs} } } }
vms:
  - name: vm0
    vcpus: [{ affinity: "2" }]
    perf:
      - { name: rec, events: "${Array(events).fill("instructions").join(",")}", start: 0ms, record: { freq: 1000 } }
`;

function runRecord(mediated: boolean, costs: string, events = 6) {
  const r = runScenario(loadScenario(recordYaml(mediated, costs, events), "cost.yaml"));
  const m = r.perf.find((x) => x.name === "rec")!;
  return { v: r.vms[0]!.vcpus[0]!, m, r };
}

const ZERO_PERF_OPS =
  "perf_event_pause_ns: 0, perf_event_period_ns: 0, perf_event_enable_ns: 0, perf_ctx_event_ns: 0, host_pmi_ns: 0";
const ZERO_GUEST = "guest_pmi_ns: 0, guest_sample_ns: 0, guest_drain_ns: 0";

describe("cost model: in-guest sampling overhead (kvm-x86 D.1/D.2)", () => {
  it("K48: the documented defaults, calibrated to the mediated vPMU cover letter", () => {
    expect(DEFAULT_KVM_COSTS).toEqual({
      exitBaseNs: 800,
      pmuMsrNs: 400,
      perfEventCreateNs: 20_000,
      pmuSwitchNs: 150,
      pmiInjectNs: 500,
      perfEventPauseNs: 2000,
      perfEventPeriodNs: 2000,
      perfEventEnableNs: 2000,
      perfCtxEventNs: 5500,
      hostPmiNs: 5000,
      guestPmiNs: 10_000,
      guestSampleNs: 5000,
      guestDrainNs: 1000,
    });
  });

  it("K48: x86-overhead lands near the published 33.6% vs 4.2-6.2% (6 events) and 79.3% vs 7.3-10.5% (10)", () => {
    const v = overheadVcpus();
    const s = (n: string) => v.get(n)!.slowdown_pct;
    // What the model gives with the defaults (deterministic): ~33%, ~5%, ~64%, ~10%.
    expect(s("emulated-6")).toBeGreaterThan(30);
    expect(s("emulated-6")).toBeLessThan(37);
    expect(s("mediated-6")).toBeGreaterThan(4.2);
    expect(s("mediated-6")).toBeLessThan(6.2);
    expect(s("emulated-10")).toBeGreaterThan(55);
    expect(s("emulated-10")).toBeLessThan(80);
    expect(s("mediated-10")).toBeGreaterThan(7.3);
    expect(s("mediated-10")).toBeLessThan(10.5);
    // Published ratios: 33.62/6.21..33.62/4.24 = 5.4..7.9 and 79.32/10.45..79.32/7.34 = 7.6..10.8.
    const r6 = s("emulated-6") / s("mediated-6");
    const r10 = s("emulated-10") / s("mediated-10");
    expect(r6).toBeGreaterThan(5);
    expect(r6).toBeLessThan(9);
    expect(r10).toBeGreaterThan(5);
    expect(r10).toBeLessThan(11);
    // Multiplexing costs more in both designs, relatively more under the emulated vPMU.
    expect(s("emulated-10")).toBeGreaterThan(1.5 * s("emulated-6"));
    expect(s("mediated-10")).toBeGreaterThan(s("mediated-6"));
    // The mediated overhead is mostly the guest's own sampling work, the emulated one KVM's.
    for (const n of ["mediated-6", "mediated-10"]) {
      expect(v.get(n)!.guest_sampling_ns).toBeGreaterThan(4 * v.get(n)!.host_ns);
    }
    for (const n of ["emulated-6", "emulated-10"]) {
      expect(v.get(n)!.host_ns).toBeGreaterThan(4 * v.get(n)!.guest_sampling_ns);
    }
  });

  it("K49: the mediated PMU switch is charged per exit (load + put), not per vcpu_load", () => {
    const yaml = (sw: number) => `
name: switch
machine: x86-server
duration: 50ms
kernel: { nmi_watchdog: false, kvm: { enable_mediated_pmu: true, costs: { pmu_switch_ns: ${sw} } } }
vms:
  - name: vm0
    vcpus: [{ affinity: "2", exit_rate: 2000 }]
`;
    const at = (sw: number) => runScenario(loadScenario(yaml(sw), "switch.yaml")).vms[0]!.vcpus[0]!;
    const a = at(150);
    const b = at(300);
    const exits = (v: typeof a) => Object.values(v.exits).reduce((x, y) => x + y, 0);
    expect(exits(a)).toBeGreaterThan(50);
    // One vcpu_load for the whole run, but every exit pays put + load.
    expect(a.host_ns).toBe(exits(a) * (800 + 2 * 150));
    expect(b.host_ns).toBe(exits(b) * (800 + 2 * 300));
    // ~3.3k cycles at 3 GHz per CPUID-like round trip: the published ~3k (EMR, after elision).
    expect((800 + 2 * 150) * 3).toBeGreaterThan(3000);
    expect((800 + 2 * 150) * 3).toBeLessThan(4000);
  });

  it("guest sampling time is the handler's cost per PMI and per sample, taken from the workload", () => {
    const base = runRecord(true, "");
    const samples = base.m.counters.reduce((s, c) => s + (c.samples ?? 0), 0);
    const pmis = base.v.exits.pmi!;
    expect(samples).toBe(6 * pmis);
    const c = DEFAULT_KVM_COSTS;
    const expected = pmis * c.guestPmiNs + samples * (c.guestSampleNs + c.guestDrainNs);
    // The last handler may still be under way at the end of the run.
    expect(base.v.guest_sampling_ns).toBeLessThanOrEqual(expected);
    expect(base.v.guest_sampling_ns).toBeGreaterThan(expected - c.guestPmiNs - 6 * 6000);
    // Doubling the per-sample cost adds one more guest_sample_ns per sample.
    const dbl = runRecord(true, `guest_sample_ns: ${2 * c.guestSampleNs}`);
    const samples2 = dbl.m.counters.reduce((s, x) => s + (x.samples ?? 0), 0);
    const delta = dbl.v.guest_sampling_ns - base.v.guest_sampling_ns;
    expect(delta).toBeGreaterThan(0.9 * samples2 * c.guestSampleNs);
    expect(delta).toBeLessThan(1.1 * samples2 * c.guestSampleNs);
    // The workload loses that time: its user instructions (the truth) drop.
    const none = runRecord(true, ZERO_GUEST);
    expect(base.m.counters[0]!.truth).toBeLessThan(none.m.counters[0]!.truth);
    expect(none.v.guest_sampling_ns).toBe(0);
  });

  it("emulated vPMU: each backing-event overflow charges host_pmi_ns on the host", () => {
    const off = runRecord(false, `${ZERO_PERF_OPS}, ${ZERO_GUEST}`);
    const on = runRecord(
      false,
      `${ZERO_PERF_OPS.replace("host_pmi_ns: 0", "host_pmi_ns: 10000")}, ${ZERO_GUEST}`,
    );
    const overflows = on.m.counters.reduce((s, c) => s + (c.samples ?? 0), 0);
    const delta = on.v.host_ns - off.v.host_ns;
    expect(delta).toBeGreaterThan(0.9 * overflows * 10_000);
    expect(delta).toBeLessThan(1.1 * overflows * 10_000);
    // The mediated vPMU has no backing events: the parameter changes nothing there.
    const m0 = runRecord(true, ZERO_PERF_OPS);
    const m1 = runRecord(true, ZERO_PERF_OPS.replace("host_pmi_ns: 0", "host_pmi_ns: 10000"));
    expect(m1.v).toEqual(m0.v);
  });

  it("emulated vPMU: enabling a backing event costs more with more events in the vCPU's perf context", () => {
    const ctx = (n: number) =>
      runRecord(false, `${ZERO_GUEST}, perf_ctx_event_ns: ${n}`, 6).v.host_ns;
    const a = ctx(0);
    const b = ctx(5500);
    const c = ctx(11_000);
    expect(b).toBeGreaterThan(a);
    expect(c).toBeGreaterThan(b);
  });

  it("is deterministic", () => {
    const a = JSON.stringify(variantsJsonReport(runVariants(loadScenario(OVERHEAD))));
    const b = JSON.stringify(variantsJsonReport(runVariants(loadScenario(OVERHEAD))));
    expect(a).toBe(b);
  });

  it("expectations read slowdown, guest_sampling_time and perf record samples", () => {
    const text = `${recordYaml(true, "")}expect:
  - { label: s, vcpu: { vm: vm0, id: 0, field: slowdown }, min: 3, max: 8 }
  - { label: g, vcpu: { vm: vm0, id: 0, field: guest_sampling_time }, min: 1000000 }
  - { label: n, event: { measurement: rec, event: instructions, field: samples }, min: 80, max: 110 }
`;
    const r = runScenario(loadScenario(text, "cost.yaml"));
    expect(r.expectations.map((e) => [e.label, e.ok])).toEqual([
      ["s", true],
      ["g", true],
      ["n", true],
    ]);
    expect(r.expectations[2]!.observed).toBe(r.perf[0]!.counters[0]!.samples);
  });

  cliIt("a misspelt kernel.kvm.costs field is one error naming file:line and the field", () => {
    const f = tmpFile(
      "costs.yaml",
      "name: x\nmachine: x86-server\nkernel:\n  kvm:\n    costs:\n      guest_sampel_ns: 1\n",
    );
    const r = vpmu("check", f);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(
      new RegExp(
        `^${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:6:7: kernel\\.kvm\\.costs\\.guest_sampel_ns: unknown key "guest_sampel_ns"; did you mean "guest_sample_ns"\\?`,
      ),
    );
  });

  cliIt("a negative cost is rejected at its line", () => {
    const f = tmpFile(
      "neg.yaml",
      "name: x\nmachine: x86-server\nkernel:\n  kvm:\n    costs:\n      host_pmi_ns: -5\n",
    );
    const r = vpmu("check", f);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${f}:6:20: kernel.kvm.costs.host_pmi_ns:`);
  });

  cliIt("samples of a raw fd is refused", () => {
    const f = tmpFile(
      "fd.yaml",
      `name: x
machine: x86-server
actions:
  - { at: 0ms, do: perf_event_open, name: c, event: cycles, cpu: 0 }
expect:
  - { label: x, event: { fd: c, field: samples }, min: 1 }
`,
    );
    const r = vpmu("check", f);
    expect(r.code).toBe(2);
    expect(r.err).toContain("samples are counted by a perf record measurement, not a raw fd");
  });
});
