import { describe, expect, it } from "vitest";
import { loadScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";

// The mechanism tests leave out the guest's own sampling work (kernel.kvm.costs guest_*),
// whose instructions run with the PMU disabled and so are in the truth but not counted,
// and the emulated vPMU's perf-operation costs; test/overhead.test.ts covers them.
const NO_SAMPLING_COSTS =
  "{ guest_pmi_ns: 0, guest_sample_ns: 0, guest_drain_ns: 0, perf_event_pause_ns: 0, perf_event_period_ns: 0, perf_event_enable_ns: 0, perf_ctx_event_ns: 0, host_pmi_ns: 0 }";

const yaml = (mediated: boolean, record: string, events = "instructions,cycles") => `
name: rec
machine: x86-server
duration: 200ms
kernel: { nmi_watchdog: false, kvm: { enable_mediated_pmu: ${mediated}, costs: ${NO_SAMPLING_COSTS} } }
vms:
  - name: vm0
    vcpus: [{ affinity: "2" }]
    perf:
      - { name: rec, events: "${events}", start: 10ms, stop: 190ms, record: ${record} }
`;

function run(mediated: boolean, record: string, events?: string) {
  const r = runScenario(loadScenario(yaml(mediated, record, events), "rec.yaml"));
  const m = r.perf.find((x) => x.name === "rec")!;
  const v = r.vms[0]!.vcpus[0]!;
  return { m, v };
}

describe("guest perf record", () => {
  it("a period beyond max_period (half a 32-bit counter) takes two overflows per sample", () => {
    const text = `name: narrow
machine: x86-server
duration: 2s
kernel: { nmi_watchdog: false, kvm: { enable_mediated_pmu: false } }
vms:
  - name: vm0
    cpuid: { version: 2, gp: 4, gp_width: 32 }
    vcpus: [{ affinity: "2" }]
    perf:
      - { name: r, events: "cycles", record: { period: 2500000000 } }
`;
    const r = runScenario(loadScenario(text, "narrow.yaml"));
    const c = r.perf[0]!.counters[0]!;
    // 2.5e9 > 2^31 - 1: x86_perf_event_set_period() loads 2^31 - 1, then the rest.
    expect(c.samples).toBe(Math.floor(c.truth / 2_500_000_000));
    expect(c.count).toBe(c.samples! * 2_500_000_000);
    expect(r.vms[0]!.vcpus[0]!.exits.pmi).toBe(2 * c.samples!);
  });

  it("-F 1000 under the mediated vPMU: ~1000 samples/s per event, event counts equal the truth", () => {
    const { m, v } = run(true, "{ freq: 1000 }");
    for (const c of m.counters) {
      // 180 ms of sampling; the first period (100,000 events) is before the rate is known.
      expect(c.samples).toBeGreaterThanOrEqual(170);
      expect(c.samples).toBeLessThanOrEqual(185);
      expect(Math.abs(c.count - c.truth) / c.truth).toBeLessThan(0.01);
    }
    expect(v.exits.pmi).toBeGreaterThanOrEqual(170);
    // Only the event selects (2 at start, 2 at stop) exit; counter reloads do not.
    expect(v.exits.msr).toBe(4);
  });

  it("-F 1000 under the emulated vPMU: every MSR access of the PMI handler exits", () => {
    const { m, v } = run(false, "{ freq: 1000 }");
    expect(m.counters.every((c) => (c.samples ?? 0) >= 170)).toBe(true);
    // Per PMI: GLOBAL_CTRL off, GLOBAL_STATUS, one reload per overflowed counter, OVF_CTRL, GLOBAL_CTRL on.
    expect(v.exits.msr!).toBeGreaterThanOrEqual(5 * v.exits.pmi!);
  });

  it("-c <period>: samples are the count divided by the period", () => {
    const { m } = run(true, "{ period: 1000000 }", "instructions");
    const c = m.counters[0]!;
    expect(c.samples).toBe(Math.floor(c.truth / 1_000_000));
    expect(c.count).toBe(c.samples! * 1_000_000);
  });

  it("rejects a record without freq or period", () => {
    expect(() => loadScenario(yaml(true, "{ every: 3 }"), "rec.yaml")).toThrow(/record needs/);
  });
});
