import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { PERF_EVENT_STATE } from "../src/perf/event.js";
import { perfEventSetState } from "../src/perf/time.js";
import { PERF_TYPE_RAW } from "../src/perf/uapi.js";
import { loadScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";
import { msToNs, type Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

function recording(): System {
  return new System({ machine: preset("x86-server")!, checkInvariants: "record" });
}

describe("invariant checker", () => {
  it("flags a transition the kernel never makes (OFF -> ACTIVE)", () => {
    const sys = recording();
    const fd = sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc4, disabled: true }, -1, 0);
    const e = sys.perf.fds.get(fd)!;
    perfEventSetState(sys.perf, e, PERF_EVENT_STATE.ACTIVE);
    const f = sys.invariants!.findings.find((x) => x.rule === "legal-transition")!;
    expect(f).toMatchObject({ before: "OFF", after: "ACTIVE", cpu: 0, t: 0 });
    expect(f.subject).toContain(`#${e.id}`);
  });

  it("flags a counter whose owner is placed elsewhere, once the operation completes", () => {
    const sys = recording();
    const fd = sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc4, disabled: true }, -1, 0);
    const e = sys.perf.fds.get(fd)!;
    sys.machine.cpus[0]!.pmu.gp[3]!.owner = e;
    sys.ioctl(fd, "ENABLE");
    expect(e.hw.counter).toBe(sys.machine.cpus[0]!.pmu.gp[0]);
    expect(sys.invariants!.findings.map((x) => [x.rule, x.subject])).toEqual([
      ["counter-owner", "cpu0/ctr3"],
    ]);
  });

  it("flags running time above enabled time", () => {
    const sys = recording();
    sys.spawn({ comm: "w", workload: BUILTIN_WORKLOADS.compute!, affinity: [1] });
    const fd = sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc4 }, -1, 1);
    sys.run(msToNs(1));
    sys.perf.fds.get(fd)!.totalTimeRunning += 5e6;
    sys.ioctl(fd, "DISABLE");
    expect(sys.invariants!.findings.some((x) => x.rule === "running-le-enabled")).toBe(true);
  });

  it("flags time going backwards and leaves the clock alone", () => {
    const sys = recording();
    sys.run(msToNs(2));
    sys.clock.advance(msToNs(1));
    expect(sys.now).toBe(msToNs(2));
    expect(sys.invariants!.findings[0]).toMatchObject({
      rule: "time-monotonic",
      before: "2000000ns",
      after: "1000000ns",
    });
  });

  it("throw mode stops at the first violation", () => {
    const sys = new System({ machine: preset("x86-server")!, checkInvariants: "throw" });
    expect(() => sys.clock.advance(-1 as Ns)).toThrow(/time-monotonic/);
  });

  it("finds nothing in the examples", () => {
    const sc = loadScenario(
      "name: t\nmachine: x86-server\ntasks: [{name: w, workload: compute, affinity: '2'}]\nperf:\n  - {name: s, cpus: '2', events: 'cycles,instructions,branches,r00c4,r00c5,r01c4,r81d0,r82d0,bus-cycles,ref-cycles,cache-misses,cache-references'}\n",
    );
    const r = runScenario(sc, { checkInvariants: true });
    expect(r.findings).toEqual([]);
    expect(r.summary.failed).toBe(0);
  });

  it("a finding the scenario does not declare fails the run; a declared one passes", () => {
    const text = "name: t\nmachine: rk3399\nexpected_findings: [legal-transition]\n";
    const r = runScenario(loadScenario(text), { checkInvariants: true });
    // Declared but absent: the declaration itself fails.
    expect(r.expectations.at(-1)).toMatchObject({
      label: "invariant finding legal-transition (expected)",
      ok: false,
    });
    expect(r.summary.failed).toBe(1);
  });
});

describe("invariant checker: guest counters", () => {
  it("flags a guest counter that goes backwards without a write or a wrap", async () => {
    const { Kvm } = await import("../src/kvm/kvm.js");
    const sys = new System({ machine: preset("x86-server")!, checkInvariants: "record" });
    const kvm = new Kvm(sys, { enableMediatedPmu: true });
    const v = kvm
      .createVm("vm0")
      .createVcpu(0, { workload: BUILTIN_WORKLOADS.compute!, affinity: [2] }, sys.now);
    if (typeof v === "number") throw new Error(String(v));
    const pmu = v.pmu!;
    pmu.wrmsr(0x186, (1n << 22n) | (3n << 16n) | 0xc4n, sys.now);
    sys.run(msToNs(1));
    const a = pmu.rdpmc(0, sys.now);
    sys.run(msToNs(2));
    const b = pmu.rdpmc(0, sys.now);
    expect(typeof a === "bigint" && typeof b === "bigint" && b > a).toBe(true);
    expect(sys.invariants!.findings).toEqual([]);
    // Corrupt the guest's counter register behind its back (not a guest write).
    v.mediated!.state.gp[0]!.write(5, sys.now);
    pmu.rdpmc(0, sys.now);
    expect(sys.invariants!.findings.map((f) => f.rule)).toEqual(["guest-counter-backwards"]);
  });
});
