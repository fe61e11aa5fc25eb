import { describe, expect, it } from "vitest";
import type { CounterResult } from "../src/report/result.js";
import { loadScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";

/*
 * A guest perf stat on a vCPU that shares its host CPU with a host task. The guest's perf
 * core measures event times with the guest's clock, which advances while the host has the
 * vCPU preempted, and it does not know about the preemption: an event the guest keeps on a
 * counter runs as long as it is enabled (perf_event_update_time() in the guest). Enabled
 * time begins when the guest executes its enable, which waits for the vCPU to run.
 */

/** Within this of the truth, as for a guest perf stat on a CPU of its own. */
const TOLERANCE = 0.005;
/** Scaled counts of multiplexed events on a vCPU that is preempted between rotations. */
const MUX_TOLERANCE = 0.03;
const X86_MUX_EVENTS =
  "cycles,instructions,branches,branch-misses,cache-references,cache-misses,ref-cycles,r01c4,r81d0,r82d0,r83d0,r00c4";
const ARM_MUX_EVENTS =
  "cycles,instructions,mem_access,branch_misses,l1d_cache,l1d_cache_refill,instructions,mem_access,branch_misses";

/** The guest perf stat's start: the host task has CPU 2 (or 4) then, the vCPU is out. */
const START_MS = 0;
const STOP_MS = 90;

function x86(mediated: boolean, events: string, hog = true) {
  const tasks = hog ? `tasks: [{ name: hog, workload: compute, affinity: "2" }]\n` : "";
  const text = `name: shared
machine: x86-server
duration: 100ms
kernel: { nmi_watchdog: false, kvm: { enable_mediated_pmu: ${mediated} } }
${tasks}vms:
  - name: vm0
    workload: compute
    vcpus: [{ affinity: "2" }]
    perf:
      - { name: g, events: "${events}", start: ${START_MS}ms, stop: ${STOP_MS}ms }
`;
  return runScenario(loadScenario(text, "shared.yaml"));
}

function arm64(events: string, hog = true) {
  const tasks = hog ? `tasks: [{ name: hog, workload: compute, affinity: "4" }]\n` : "";
  const text = `name: shared
machine: rk3399
duration: 100ms
${tasks}vms:
  - name: vm0
    vmm: kvmtool
    vmm_cpu: 5
    workload: compute
    vcpus: [{ affinity: "4" }]
    perf:
      - { name: g, events: "${events}", start: ${START_MS}ms, stop: ${STOP_MS}ms }
`;
  return runScenario(loadScenario(text, "shared.yaml"));
}

function counters(r: ReturnType<typeof runScenario>): CounterResult[] {
  const cs = r.perf.find((m) => m.name === "g")!.counters;
  expect(cs.length).toBeGreaterThan(0);
  return cs;
}

/** The vCPU was preempted for a good part of the window: the scenario shares its CPU. */
function expectShared(r: ReturnType<typeof runScenario>) {
  const v = r.vms.find((x) => x.name === "vm0")!.vcpus[0]!;
  expect(v.guest_ns).toBeLessThan(0.6 * r.scenario.duration_ns);
}

/** No guest multiplexing: 100% running, scaled as read, and near the truth. */
function expectFullyRunning(cs: CounterResult[]) {
  for (const c of cs) {
    expect(c.status, c.event).toBe("counted");
    expect(c.running_ns, c.event).toBe(c.enabled_ns);
    expect(c.scaled, c.event).toBe(c.count);
    expect(c.truth, c.event).toBeGreaterThan(0);
    expect(Math.abs(c.scaled! - c.truth) / c.truth, c.event).toBeLessThan(TOLERANCE);
  }
}

/** The guest enabled its events when the vCPU ran: after the start asked for, not before. */
function expectEnabledByGuest(cs: CounterResult[]) {
  const window = (STOP_MS - START_MS) * 1e6;
  for (const c of cs) {
    expect(c.enabled_ns, c.event).toBeLessThan(window);
    expect(c.enabled_ns, c.event).toBeGreaterThan(0.8 * window);
  }
}

/**
 * Guest multiplexing of `cs` on `nrCounters` counters: the counters are always full, so the
 * running times add up to exactly nrCounters × enabled (the host's preemption takes none of
 * it), each event gets a share, and the scaled counts are near the truth. They are less near
 * than on a CPU of its own: a rotation the guest takes when the vCPU comes back leaves the
 * events on through the preemption, running without counting.
 */
function expectRotated(cs: CounterResult[], nrCounters: number) {
  const enabled = cs[0]!.enabled_ns;
  let total = 0;
  for (const c of cs) {
    expect(c.status, c.event).toBe("counted");
    expect(c.enabled_ns, c.event).toBe(enabled);
    expect(c.running_ns, c.event).toBeLessThan(enabled);
    expect(c.running_ns, c.event).toBeGreaterThan(0.4 * enabled);
    expect(Math.abs(c.scaled! - c.truth) / c.truth, c.event).toBeLessThan(MUX_TOLERANCE);
    total += c.running_ns;
  }
  expect(total).toBe(nrCounters * enabled);
}

describe("guest perf stat on a vCPU that shares its CPU with a host task", () => {
  for (const mediated of [false, true]) {
    const vpmu = mediated ? "mediated" : "emulated";

    it(`x86 ${vpmu}: cycles,instructions run 100% of enabled, scaled = count ≈ truth`, () => {
      const r = x86(mediated, "cycles,instructions");
      expectShared(r);
      const cs = counters(r);
      expectFullyRunning(cs);
      expectEnabledByGuest(cs);
    });

    it(`x86 ${vpmu}: guest multiplexing still gives running < enabled, by the rotation only`, () => {
      const cs = counters(x86(mediated, X86_MUX_EVENTS));
      expectRotated(cs, 8);
    });
  }

  it("x86: the times do not depend on the vPMU, as the guest's clock does not", () => {
    const e = counters(x86(false, "cycles,instructions"));
    const m = counters(x86(true, "cycles,instructions"));
    expect(e.map((c) => c.enabled_ns)).toEqual(m.map((c) => c.enabled_ns));
  });

  it("arm64: cycles,instructions run 100% of enabled, scaled = count ≈ truth", () => {
    const r = arm64("cycles,instructions");
    expectShared(r);
    const cs = counters(r);
    expectFullyRunning(cs);
    expectEnabledByGuest(cs);
  });

  it("arm64: guest multiplexing, 8 events on 6 counters: running < enabled, by the rotation only", () => {
    const [cycles, ...events] = counters(arm64(ARM_MUX_EVENTS));
    // The cycle counter's event is never rotated.
    expect(cycles!.running_ns).toBe(cycles!.enabled_ns);
    expect(cycles!.scaled).toBe(cycles!.count);
    expect(Math.abs(cycles!.count - cycles!.truth) / cycles!.truth).toBeLessThan(TOLERANCE);
    expectRotated(events, 6);
  });

  it("without the host task the vCPU runs at start: enabled is the whole window", () => {
    for (const cs of [counters(x86(false, "cycles", false)), counters(arm64("cycles", false))])
      for (const c of cs) {
        expect(c.enabled_ns, c.event).toBe((STOP_MS - START_MS) * 1e6);
        expect(c.running_ns, c.event).toBe(c.enabled_ns);
      }
  });
});
