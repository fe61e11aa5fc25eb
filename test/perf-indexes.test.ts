import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { PERF_EVENT_STATE } from "../src/perf/event.js";
import { msToNs } from "../src/sim/time.js";
import { System } from "../src/system.js";
import { errOf } from "./kernel-errors.js";

/*
 * The counts and indexes that replace walks over a context's events or over every CPU
 * (the exclusive-PMU check of open, a task context's CPU at close and ioctl), against the
 * kernel's rules.
 */

describe("exclusive_event_installable() from per-epc counts", () => {
  it("a task's exclusive-PMU events clash on the same or any CPU, not on different ones", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const t = sys.spawn({ comm: "w", workload: BUILTIN_WORKLOADS.compute!, affinity: [3] });
    const pt = { type: sys.perf.registry.byName("intel_pt")!.type };
    const on2 = sys.perfEventOpen(pt, t.pid, 2);
    expect(errOf(() => sys.perfEventOpen(pt, t.pid, 3))).toBe("OK");
    expect(errOf(() => sys.perfEventOpen(pt, t.pid, 2))).toBe("EBUSY");
    expect(errOf(() => sys.perfEventOpen(pt, t.pid, -1))).toBe("EBUSY");
    sys.close(on2);
    expect(errOf(() => sys.perfEventOpen(pt, t.pid, 2))).toBe("OK");
    // An any-CPU event clashes with every later one.
    const u = sys.spawn({ comm: "u", workload: BUILTIN_WORKLOADS.compute!, affinity: [4] });
    sys.perfEventOpen(pt, u.pid, -1);
    expect(errOf(() => sys.perfEventOpen(pt, u.pid, 5))).toBe("EBUSY");
  });
});

describe("a task context knows the CPU it is scheduled in on", () => {
  it("closing a running task's last event takes its context off that CPU", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const t = sys.spawn({ comm: "w", workload: BUILTIN_WORKLOADS.compute!, affinity: [3] });
    const fd = sys.perfEventOpen({ type: 4, config: 0xc4 }, t.pid, -1);
    sys.run(msToNs(1));
    const ctx = sys.perf.taskCtx(t)!;
    expect(ctx.onCpu).toBe(3);
    expect(sys.perf.cpuctx[3]!.taskCtx).toBe(ctx);
    sys.close(fd);
    expect(ctx.onCpu).toBe(-1);
    expect(sys.perf.cpuctx[3]!.taskCtx).toBe(null);
    // A new event goes in when the task is scheduled in again, on the CPU it then runs on.
    sys.schedSetaffinity(t.pid, [5]);
    const fd2 = sys.perfEventOpen({ type: 4, config: 0xc4 }, t.pid, -1);
    sys.run(msToNs(10));
    expect(ctx.onCpu).toBe(5);
    expect(sys.perf.fds.get(fd2)!.state).toBe(PERF_EVENT_STATE.ACTIVE);
    // IOC_DISABLE reaches the event on that CPU.
    sys.ioctl(fd2, "DISABLE");
    expect(sys.perf.fds.get(fd2)!.state).toBe(PERF_EVENT_STATE.OFF);
    expect(sys.perf.cpuctx[5]!.taskCtx).toBe(ctx);
  });
});
