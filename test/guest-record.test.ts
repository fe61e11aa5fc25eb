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
  describe("without global registers (x86_pmu_handle_irq())", () => {
    const legacy = (machine: string, shape: string, events: string, record: string) =>
      runScenario(
        loadScenario(
          `name: l\nmachine: ${machine}\nduration: 100ms\nkernel: { nmi_watchdog: false, kvm: { enable_mediated_pmu: false } }\nvms:\n  - name: vm0\n    ${shape}\n    vcpus: [{ affinity: "2" }]\n    perf:\n      - { name: r, events: "${events}", start: 10ms, stop: 90ms, record: ${record} }\n`,
          "l.yaml",
        ),
      );

    it("Intel v1: a PMI during the handler is held, not lost (LVTPC is unmasked first)", () => {
      const r = legacy(
        "x86-server",
        "cpuid: { version: 1, gp: 4 }",
        "instructions",
        "{ period: 20000 }",
      );
      const c = r.perf[0]!.counters[0]!;
      // The handler's own instructions count (no global disable): PMIs come back to back,
      // each held until IRET (an nmi_window exit), and sampling goes on, throttled by perf
      // (max_samples_per_tick, lowered as the handlers take too long) rather than stuck.
      expect(c.samples).toBeGreaterThan(400);
      expect(c.count).toBe(c.samples! * 20000);
      expect(r.vms[0]!.vcpus[0]!.exits.nmi_window).toBeGreaterThan(100);
    });

    it("legacy AMD, 10 events on 4 counters, a PMI storm: throttling lets rotations through", () => {
      const events =
        "cycles,instructions,branches,branch-misses,cycles,instructions,branches,r0c2,cycles,instructions";
      const r = legacy(
        "amd-server",
        "amd_cpuid: { perfctr_core: false }",
        events,
        "{ period: 20000 }",
      );
      for (const c of r.perf[0]!.counters) {
        expect(c.status, c.event).toBe("counted");
        // Each event is on one of the 4 counters part of the time.
        expect(c.running_ns / c.enabled_ns, c.event).toBeGreaterThan(0.2);
        expect(c.running_ns / c.enabled_ns, c.event).toBeLessThan(0.6);
      }
    });

    it("legacy AMD rotations: a sample goes to the event whose period the counter holds", () => {
      const events =
        "cycles,instructions,branches,branch-misses,cache-references,cache-misses,instructions,instructions,instructions,cycles";
      const r = legacy(
        "amd-server",
        "amd_cpuid: { perfctr_core: false }",
        events,
        "{ freq: 10000 }",
      );
      // Unscaled and on a counter 4/10 of the time: no event may exceed its truth.
      for (const c of r.perf[0]!.counters) expect(c.count, c.event).toBeLessThanOrEqual(c.truth);
    });
  });

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
