import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { ALL_MODES, Mode, Q } from "../src/hw/quantity.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { KernelError } from "../src/sim/errno.js";
import { msToNs } from "../src/sim/time.js";
import { System } from "../src/system.js";

const compute = BUILTIN_WORKLOADS.compute!;

function rk(): System {
  return new System({ machine: preset("rk3399")! });
}

describe("scheduler", () => {
  it("runs a pinned task for the whole run and accrues its ground truth", () => {
    const sys = rk();
    const t = sys.spawn({ comm: "w", workload: compute, affinity: [4] });
    sys.run(msToNs(100));
    sys.sync();
    expect(t.runtime).toBe(100_000_000);
    const acct = t.truth.get(4)!;
    // A72: 1800 MHz, IPC 2.0 * 1.0
    expect(acct.count(Q.CYCLES, ALL_MODES)).toBeCloseTo(180_000_000, 0);
    expect(acct.count(Q.INSTRUCTIONS, ALL_MODES)).toBeCloseTo(360_000_000, 0);
    expect(acct.count(Q.CYCLES, 1 << Mode.HOST_USER)).toBeCloseTo(180_000_000 * 0.98, 0);
  });

  it("counts the same task differently on big and little cores", () => {
    const sys = rk();
    const t = sys.spawn({ comm: "w", workload: compute, affinity: [0] });
    sys.run(msToNs(50));
    sys.schedSetaffinity(t.pid, [5]);
    sys.run(msToNs(100));
    sys.sync();
    const little = t.truth.get(0)!.count(Q.INSTRUCTIONS, ALL_MODES);
    const big = t.truth.get(5)!.count(Q.INSTRUCTIONS, ALL_MODES);
    expect(little).toBeCloseTo(50e6 * 1.416 * 2 * 0.55, -1);
    expect(big).toBeCloseTo(50e6 * 1.8 * 2, -1);
    expect(t.nrMigrations).toBe(1);
  });

  it("shares a CPU between two tasks with time slices", () => {
    const sys = rk();
    const a = sys.spawn({ comm: "a", workload: compute, affinity: [1] });
    const b = sys.spawn({ comm: "b", workload: compute, affinity: [1] });
    sys.run(msToNs(120));
    sys.sync();
    expect(a.runtime + b.runtime).toBe(120_000_000);
    expect(Math.abs(a.runtime - b.runtime)).toBeLessThanOrEqual(2 * sys.sched.tickNs);
    expect(sys.sched.switchesOn(1)).toBeGreaterThan(10);
  });

  it("balances load across allowed CPUs", () => {
    const sys = rk();
    const ts = [0, 1, 2, 3].map((i) => sys.spawn({ comm: `t${i}`, workload: compute }));
    sys.run(msToNs(10));
    sys.sync();
    const cpus = new Set(ts.map((t) => t.cpu));
    expect(cpus.size).toBe(4);
  });

  it("fails sched_setaffinity like the kernel", () => {
    const sys = rk();
    const t = sys.spawn({ comm: "w", workload: compute });
    expect(() => sys.schedSetaffinity(t.pid, [99])).toThrow(KernelError);
    try {
      sys.schedSetaffinity(9999, [0]);
    } catch (e) {
      expect((e as KernelError).code).toBe("ESRCH");
      expect((e as KernelError).errno).toBe(-3);
    }
    expect(() => sys.schedSetaffinity(9999, [0])).toThrow(/ESRCH/);
  });

  it("runs duty cycles and exits after its CPU budget", () => {
    const sys = rk();
    const t = sys.spawn({
      comm: "d",
      workload: compute,
      affinity: [2],
      duty: { run: msToNs(2), sleep: msToNs(3) },
      exitAfter: msToNs(10),
    });
    sys.run(msToNs(100));
    sys.sync();
    expect(t.state).toBe("dead");
    expect(t.runtime).toBe(10_000_000);
    expect(t.exitedAt).toBe(msToNs(22));
  });
});
