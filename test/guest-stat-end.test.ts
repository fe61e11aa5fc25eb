import { describe, expect, it } from "vitest";
import { GuestPerfStat } from "../src/guest/perf-stat.js";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { Kvm } from "../src/kvm/kvm.js";
import type { CounterResult } from "../src/report/result.js";
import { loadScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";
import { msToNs, type Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

/*
 * A guest perf stat whose stop is the end of the run. Its reads are guest instructions: under
 * the emulated vPMU the first one at the stop (the GLOBAL_CTRL write) exits, and the reads
 * behind it wait for a VM entry that comes after the run. They take the counters' values at
 * the end of the run, as KVM would return them then.
 */

const EVENTS = "cycles,instructions";
/** Within this of the truth: what a stop before the end gives under the emulated vPMU. */
const TOLERANCE = 0.005;

function x86(opts: { mediated: boolean; stop?: string; events?: string; hog?: boolean }) {
  const stop = opts.stop ? `, stop: ${opts.stop}` : "";
  const hog = opts.hog ? `tasks: [{ name: hog, workload: compute, affinity: "2" }]\n` : "";
  const text = `name: end
machine: x86-server
duration: 20ms
kernel: { nmi_watchdog: false, kvm: { enable_mediated_pmu: ${opts.mediated} } }
${hog}vms:
  - name: vm0
    workload: branchy
    vcpus: [{ affinity: "2" }]
    perf:
      - { name: g, events: "${opts.events ?? EVENTS}"${stop} }
`;
  return runScenario(loadScenario(text, "end.yaml"));
}

function counters(r: ReturnType<typeof runScenario>): CounterResult[] {
  return r.perf.find((m) => m.name === "g")!.counters;
}

function expectNearTruth(
  cs: CounterResult[],
  tol = TOLERANCE,
  field: "count" | "scaled" = "count",
) {
  expect(cs.length).toBeGreaterThan(0);
  for (const c of cs) {
    expect(c.status, c.event).toBe("counted");
    expect(c.truth, c.event).toBeGreaterThan(0);
    const v = field === "count" ? c.count : c.scaled!;
    expect(Math.abs(v - c.truth) / c.truth, c.event).toBeLessThan(tol);
  }
}

describe("x86 guest perf stat stopped at the end of the run", () => {
  for (const mediated of [false, true]) {
    const vpmu = mediated ? "mediated" : "emulated";

    it(`${vpmu}: without stop, counts agree with the truth`, () => {
      expectNearTruth(counters(x86({ mediated })));
    });

    it(`${vpmu}: stop equal to duration is the same as no stop`, () => {
      expect(counters(x86({ mediated, stop: "20ms" }))).toEqual(counters(x86({ mediated })));
    });

    it(`${vpmu}: a stop before the end agrees with the truth too`, () => {
      expectNearTruth(counters(x86({ mediated, stop: "15ms" })));
    });
  }

  it("emulated and mediated agree with each other at the end of the run", () => {
    const e = counters(x86({ mediated: false }));
    const m = counters(x86({ mediated: true }));
    for (let k = 0; k < e.length; k++)
      expect(Math.abs(e[k]!.count - m[k]!.count) / m[k]!.count, e[k]!.event).toBeLessThan(0.01);
  });

  it("emulated, 12 events multiplexed on 8 counters: the last interval is read", () => {
    const events =
      "cycles,instructions,branches,branch-misses,cache-references,cache-misses,ref-cycles,r01c4,r81d0,r82d0,r83d0,r00c4";
    const cs = counters(x86({ mediated: false, events }));
    // The rotation's exits make the emulated vPMU's scaled counts up to ~2% off.
    expectNearTruth(cs, 0.02, "scaled");
    // The events on the counters in the last interval [16, 20] ms ran in it, as well as in
    // 3 of the 4 earlier intervals: more than half the time.
    for (const c of cs) expect(c.running_ns / c.enabled_ns, c.event).toBeGreaterThan(0.55);
  });

  it("a vCPU out at the end of the run (a host task shares its CPU): both vPMUs read counts", () => {
    const e = counters(x86({ mediated: false, hog: true }));
    const m = counters(x86({ mediated: true, hog: true }));
    for (const cs of [e, m])
      for (const c of cs) {
        expect(c.status, c.event).toBe("counted");
        // Unscaled, the count is the guest's own work over the window.
        expect(Math.abs(c.count - c.truth) / c.truth, c.event).toBeLessThan(TOLERANCE);
      }
  });
});

describe("GuestPerfStat.finishReads()", () => {
  function setup(mediated: boolean) {
    const sys = new System({ machine: preset("x86-server")!, profile: "7.0" });
    const kvm = new Kvm(sys, { enableMediatedPmu: mediated });
    const vcpu = kvm
      .createVm("vm0")
      .createVcpu(0, { workload: BUILTIN_WORKLOADS.compute!, affinity: [2] }, sys.now);
    if (typeof vcpu === "number") throw new Error(`createVcpu: ${vcpu}`);
    const stat = new GuestPerfStat(vcpu, [{ name: "instructions", encoding: 0x00c0 }]);
    sys.run(msToNs(1));
    stat.start(sys.now);
    sys.run(msToNs(11));
    stat.stop(sys.now);
    return { sys, stat };
  }

  it("takes a read still waiting for the re-entry once: the late RDPMC adds nothing", () => {
    const { sys, stat } = setup(false);
    // The GLOBAL_CTRL write exited; the RDPMC waits for the entry after it.
    expect(stat.result()[0]!.count).toBe(0);
    stat.finishReads(sys.now);
    const taken = stat.result()[0]!;
    expect(Math.abs(taken.count - taken.truth) / taken.truth).toBeLessThan(TOLERANCE);
    // The vCPU re-enters and the RDPMC executes (its exit): the value was already taken.
    sys.run((sys.now + msToNs(1)) as Ns);
    expect(stat.result()[0]!.count).toBe(taken.count);
  });

  it("rejects a time that is not now", () => {
    const { sys, stat } = setup(false);
    expect(() => stat.finishReads((sys.now - 1) as Ns)).toThrow("GuestPerfStat.finishReads(now)");
  });

  it("changes nothing when every read has executed", () => {
    const { sys, stat } = setup(false);
    sys.run((sys.now + msToNs(1)) as Ns);
    const before = stat.result();
    stat.finishReads(sys.now);
    expect(stat.result()).toEqual(before);
    expect(before[0]!.count).toBeGreaterThan(0);
  });
});

describe("arm64 guest perf stat stopped at the end of the run", () => {
  it("every trapped counter read is taken, not only the first", () => {
    const text = `name: end
machine: rk3399
duration: 20ms
vms:
  - name: vm0
    vmm: kvmtool
    vmm_cpu: 4
    vcpus: [{ affinity: "4" }]
    perf:
      - { name: g, events: "cycles,instructions,mem_access" }
`;
    expectNearTruth(counters(runScenario(loadScenario(text, "end.yaml"))), 0.001);
  });
});
