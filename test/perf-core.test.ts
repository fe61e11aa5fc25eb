import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { PERF_EVENT_STATE, type PerfEvent } from "../src/perf/event.js";
import {
  PERF_COUNT_SW_CPU_CLOCK,
  PERF_FORMAT_TOTAL_TIME_ENABLED,
  PERF_FORMAT_TOTAL_TIME_RUNNING,
  PERF_TYPE_HARDWARE,
  PERF_TYPE_RAW,
  PERF_TYPE_SOFTWARE,
  type PerfEventAttr,
} from "../src/perf/uapi.js";
import type { Task } from "../src/sched/task.js";
import { msToNs, ns } from "../src/sim/time.js";
import { System } from "../src/system.js";
import { errOf } from "./kernel-errors.js";

const compute = BUILTIN_WORKLOADS.compute!;
const { OFF, INACTIVE, ACTIVE, ERROR } = PERF_EVENT_STATE;
const RF_TIMES = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
const MS = msToNs(1);

/** x86 branch-instructions (0x00c4): general-purpose counters only. */
const GP: PerfEventAttr = { type: PERF_TYPE_RAW, config: 0xc4, read_format: RF_TIMES };
const SW_CLOCK: PerfEventAttr = { type: PERF_TYPE_SOFTWARE, config: PERF_COUNT_SW_CPU_CLOCK };

function x86(paranoid?: number): System {
  return new System({
    machine: preset("x86-server")!,
    ...(paranoid === undefined ? {} : { perf: { paranoid } }),
  });
}

function ev(sys: System, fd: number): PerfEvent {
  return sys.perf.fds.get(fd)!;
}

/** Opens a group of `n` events of `attr` (leader gets `leader` on top); returns the fds. */
function openGroup(
  sys: System,
  n: number,
  pid: number,
  cpu: number,
  leader: Partial<PerfEventAttr> = {},
  attr: PerfEventAttr = GP,
): number[] {
  const lfd = sys.perfEventOpen({ ...attr, ...leader }, pid, cpu);
  const fds = [lfd];
  for (let i = 1; i < n; i++) fds.push(sys.perfEventOpen(attr, pid, cpu, lfd));
  return fds;
}

function uncoreType(sys: System): number {
  return sys.perf.registry.byName("uncore_imc_0")!.type;
}

/** Records every state transition as [event id, from, to]. */
function recordStates(sys: System): Array<[number, number, number]> {
  const log: Array<[number, number, number]> = [];
  sys.perf.stateListeners.push((e, from, to) => log.push([e.id, from, to]));
  return log;
}

function isRunning(t: Task): boolean {
  return t.state === "running";
}

/** Runs the system 1 ms further. */
function step(sys: System): void {
  sys.run(ns(sys.now + MS));
}

/** Two tasks sharing CPU 1; runs until `a` is off the CPU. */
function twoTasksOnCpu1(sys: System): { a: Task; b: Task } {
  const a = sys.spawn({ comm: "a", workload: compute, affinity: [1] });
  const b = sys.spawn({ comm: "b", workload: compute, affinity: [1] });
  do step(sys);
  while (isRunning(a));
  return { a, b };
}

describe("perf core: perf_event_open validation", () => {
  it("B1: disabled=1 starts OFF; disabled=0 starts INACTIVE until first scheduled", () => {
    const sys = x86();
    const log = recordStates(sys);
    const off = ev(sys, sys.perfEventOpen({ ...GP, disabled: true }, -1, 1));
    expect(off.state).toBe(OFF);
    // perf_event__state_init(): a CPU event goes INACTIVE → ACTIVE when installed.
    const on = ev(sys, sys.perfEventOpen(GP, -1, 1));
    expect(on.state).toBe(ACTIVE);
    expect(log.filter(([id]) => id === on.id)).toEqual([[on.id, INACTIVE, ACTIVE]]);
    expect(log.some(([id]) => id === off.id)).toBe(false);
    // A task event on a task that is not running stays INACTIVE until it runs.
    const { a } = twoTasksOnCpu1(sys);
    const te = ev(sys, sys.perfEventOpen(GP, a.pid, -1));
    expect(te.state).toBe(INACTIVE);
    while (!isRunning(a)) step(sys);
    expect(te.state).toBe(ACTIVE);
  });

  it("B2: flags outside PERF_FLAG_ALL give EINVAL", () => {
    const sys = x86();
    expect(errOf(() => sys.perfEventOpen(GP, -1, 0, -1, 1 << 4))).toBe("EINVAL");
    expect(errOf(() => sys.perfEventOpen(GP, -1, 0, -1, 0x80000000))).toBe("EINVAL");
    expect(errOf(() => sys.perfEventOpen(GP, -1, 0, -1, 1 << 3))).toBe("OK"); // FD_CLOEXEC
  });

  it("B3: attr.size above PAGE_SIZE or a non-zero unknown tail gives E2BIG (perf_copy_attr)", () => {
    const sys = x86();
    expect(errOf(() => sys.perfEventOpen({ ...GP, size: 4097 }, -1, 0))).toBe("E2BIG");
    expect(errOf(() => sys.perfEventOpen({ ...GP, size: 32 }, -1, 0))).toBe("E2BIG");
    expect(errOf(() => sys.perfEventOpen({ ...GP, size: 160, tail: [0, 0, 1] }, -1, 0))).toBe(
      "E2BIG",
    );
    expect(errOf(() => sys.perfEventOpen({ ...GP, size: 160, tail: [0, 0, 0] }, -1, 0))).toBe("OK");
    expect(errOf(() => sys.perfEventOpen({ ...GP, size: 4096 }, -1, 0))).toBe("OK");
  });

  it("B4: cpu out of range is EINVAL, an offline cpu ENODEV, an unknown pid ESRCH", () => {
    const sys = x86();
    // perf_event_alloc(): (unsigned)cpu >= nr_cpu_ids, or pid == cpu == -1.
    expect(errOf(() => sys.perfEventOpen(GP, -1, 8))).toBe("EINVAL");
    expect(errOf(() => sys.perfEventOpen(GP, -1, -2))).toBe("EINVAL");
    expect(errOf(() => sys.perfEventOpen(GP, -1, -1))).toBe("EINVAL");
    // sys_perf_event_open(): !cpuctx->online.
    expect(sys.sched.setOnline(3, false, sys.now)).toBe(0);
    sys.perf.cpuctx[3]!.online = false;
    expect(errOf(() => sys.perfEventOpen(GP, -1, 3))).toBe("ENODEV");
    // find_lively_task_by_vpid().
    expect(errOf(() => sys.perfEventOpen(GP, 99999, -1))).toBe("ESRCH");
    const t = sys.spawn({ comm: "t", workload: compute, affinity: [1] });
    sys.kill(t.pid);
    expect(errOf(() => sys.perfEventOpen(GP, t.pid, -1))).toBe("ESRCH");
    // Order: perf_allow_kernel() (syscall) < cpu range (alloc) < perf_allow_cpu() < offline.
    const user = { perfmon: false };
    expect(errOf(() => sys.perfEventOpen(GP, -1, 8, -1, 0, user))).toBe("EACCES");
    const userGp = { ...GP, exclude_kernel: true };
    expect(errOf(() => sys.perfEventOpen(userGp, -1, 8, -1, 0, user))).toBe("EINVAL");
    expect(errOf(() => sys.perfEventOpen(userGp, -1, 3, -1, 0, user))).toBe("EACCES");
    const sys0 = x86(0);
    expect(sys0.sched.setOnline(3, false, sys0.now)).toBe(0);
    sys0.perf.cpuctx[3]!.online = false;
    expect(errOf(() => sys0.perfEventOpen(userGp, -1, 3, -1, 0, user))).toBe("ENODEV");
  });
});

describe("perf core: group rules at open", () => {
  it("B5: a group member with pinned=1 or exclusive=1 gives EINVAL", () => {
    const sys = x86();
    const leader = sys.perfEventOpen({ ...GP, pinned: true }, -1, 1);
    expect(errOf(() => sys.perfEventOpen({ ...GP, pinned: true }, -1, 1, leader))).toBe("EINVAL");
    expect(errOf(() => sys.perfEventOpen({ ...GP, exclusive: true }, -1, 1, leader))).toBe(
      "EINVAL",
    );
    expect(errOf(() => sys.perfEventOpen(GP, -1, 1, leader))).toBe("OK");
    expect(ev(sys, leader).siblings.length).toBe(1);
  });

  it("B6: a member on another cpu or in another context than its leader gives EINVAL", () => {
    const sys = x86();
    const a = sys.spawn({ comm: "a", workload: compute, affinity: [1] });
    const b = sys.spawn({ comm: "b", workload: compute, affinity: [2] });
    const cpuLeader = sys.perfEventOpen(GP, -1, 1);
    expect(errOf(() => sys.perfEventOpen(GP, -1, 2, cpuLeader))).toBe("EINVAL"); // cpu differs
    expect(errOf(() => sys.perfEventOpen(GP, a.pid, 1, cpuLeader))).toBe("EINVAL"); // ctx differs
    const taskLeader = sys.perfEventOpen(GP, a.pid, -1);
    expect(errOf(() => sys.perfEventOpen(GP, b.pid, -1, taskLeader))).toBe("EINVAL");
    const sibling = sys.perfEventOpen(GP, a.pid, -1, taskLeader);
    // group_fd must be a perf fd (EBADF) naming a group leader (EINVAL).
    expect(errOf(() => sys.perfEventOpen(GP, a.pid, -1, 999))).toBe("EBADF");
    expect(errOf(() => sys.perfEventOpen(GP, a.pid, -1, sibling))).toBe("EINVAL");
    expect(ev(sys, cpuLeader).siblings.length).toBe(0);
    expect(ev(sys, taskLeader).siblings.length).toBe(1);
  });

  it("B7: a hardware event of another PMU cannot join a hardware group; a software one can", () => {
    const sys = x86();
    sys.spawn({ comm: "w", workload: compute, affinity: [0] });
    const leader = sys.perfEventOpen(GP, -1, 0);
    const imc = { type: uncoreType(sys), config: 0xff };
    expect(errOf(() => sys.perfEventOpen(imc, -1, 0, leader))).toBe("EINVAL");
    const swFd = sys.perfEventOpen(SW_CLOCK, -1, 0, leader);
    const sw = ev(sys, swFd);
    // The software sibling lives in the leader's PMU context and runs with the group.
    expect(sw.pmu.name).toBe("software");
    expect(sw.pmuCtx!.pmu).toBe(ev(sys, leader).pmu);
    expect(sw.state).toBe(ACTIVE);
    sys.run(msToNs(10));
    expect(sys.read(swFd).value).toBe(10_000_000);
  });

  it("B7 (arm64): an armv8_cortex_a72 event cannot join an armv8_cortex_a53 group", () => {
    const sys = new System({ machine: preset("rk3399")! });
    const t = sys.spawn({ comm: "w", workload: compute, affinity: [0] });
    const a53 = sys.perf.registry.byName("armv8_cortex_a53")!.type;
    const a72 = sys.perf.registry.byName("armv8_cortex_a72")!.type;
    const leader = sys.perfEventOpen({ type: a53, config: 0x08 }, t.pid, -1);
    expect(errOf(() => sys.perfEventOpen({ type: a72, config: 0x08 }, t.pid, -1, leader))).toBe(
      "EINVAL",
    );
    expect(errOf(() => sys.perfEventOpen(SW_CLOCK, t.pid, -1, leader))).toBe("OK");
  });

  it("B8: an x86 group needing more counters than exist fails at open with EINVAL", () => {
    const sys = x86();
    // 8 GP events fill the general-purpose counters (validate_group on a fake cpuc).
    const fds = openGroup(sys, 8, -1, 1);
    expect(errOf(() => sys.perfEventOpen(GP, -1, 1, fds[0]))).toBe("EINVAL");
    // Fixed-counter events and software events still fit.
    for (const config of [0x00c0, 0x003c, 0x0300])
      expect(errOf(() => sys.perfEventOpen({ type: PERF_TYPE_RAW, config }, -1, 1, fds[0]))).toBe(
        "OK",
      );
    expect(errOf(() => sys.perfEventOpen(SW_CLOCK, -1, 1, fds[0]))).toBe("OK");
    // A second instructions event needs a GP counter: none left.
    expect(
      errOf(() => sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0x00c0 }, -1, 1, fds[0])),
    ).toBe("EINVAL");
    expect(ev(sys, fds[0]!).siblings.length).toBe(11);
  });
});

describe("perf core: PMU capabilities", () => {
  it("B9: a sampling event on a NO_INTERRUPT PMU (uncore_imc_0) gives EOPNOTSUPP", () => {
    const sys = x86();
    const type = uncoreType(sys);
    expect(errOf(() => sys.perfEventOpen({ type, config: 0xff, sample_period: 1000 }, -1, 0))).toBe(
      "EOPNOTSUPP",
    );
    expect(
      errOf(() => sys.perfEventOpen({ type, config: 0xff, freq: true, sample_freq: 100 }, -1, 0)),
    ).toBe("EOPNOTSUPP");
    expect(errOf(() => sys.perfEventOpen({ type, config: 0xff }, -1, 0))).toBe("OK");
  });

  it("B10: any exclude_* bit on a NO_EXCLUDE PMU gives EINVAL (perf_try_init_event)", () => {
    const sys = x86();
    const type = uncoreType(sys);
    for (const bit of [
      "exclude_user",
      "exclude_kernel",
      "exclude_hv",
      "exclude_idle",
      "exclude_host",
      "exclude_guest",
    ] as const) {
      expect(errOf(() => sys.perfEventOpen({ type, config: 0xff, [bit]: true }, -1, 0))).toBe(
        "EINVAL",
      );
    }
    // The core PMU takes exclude bits.
    expect(errOf(() => sys.perfEventOpen({ ...GP, exclude_kernel: true }, -1, 0))).toBe("OK");
    // arm64 PMUs have set_event_filter (no NO_EXCLUDE); only exclude_idle is refused there,
    // as EOPNOTSUPP (armv8pmu_set_event_filter via __hw_perf_event_init).
    const rk = new System({ machine: preset("rk3399")! });
    const a53 = rk.perf.registry.byName("armv8_cortex_a53")!.type;
    expect(
      errOf(() => rk.perfEventOpen({ type: a53, config: 0x11, exclude_idle: true }, -1, 0)),
    ).toBe("EOPNOTSUPP");
    expect(
      errOf(() =>
        rk.perfEventOpen(
          { type: a53, config: 0x11, exclude_kernel: true, exclude_hv: true },
          -1,
          0,
        ),
      ),
    ).toBe("OK");
  });

  it("B11: a task event on an uncore PMU (perf_invalid_context) gives EINVAL", () => {
    const sys = x86();
    const t = sys.spawn({ comm: "w", workload: compute, affinity: [0] });
    const type = uncoreType(sys);
    expect(errOf(() => sys.perfEventOpen({ type, config: 0xff }, t.pid, -1))).toBe("EINVAL");
    // Even with a cpu, the perf_event_alloc() check refuses a task.
    expect(errOf(() => sys.perfEventOpen({ type, config: 0xff }, t.pid, 0))).toBe("EINVAL");
    expect(errOf(() => sys.perfEventOpen({ type, config: 0xff }, -1, 0))).toBe("OK");
  });
});

describe("perf core: scheduling", () => {
  it("B12: sched-in order is CPU-pinned, task-pinned, CPU-flexible, task-flexible", () => {
    const sys = x86();
    const t = sys.spawn({ comm: "w", workload: compute, affinity: [1] });
    sys.run(MS);
    expect(t.state).toBe("running");
    const tFlex = ev(sys, sys.perfEventOpen(GP, t.pid, -1));
    const tPin = ev(sys, sys.perfEventOpen({ ...GP, pinned: true }, t.pid, -1));
    const cFlex = ev(sys, sys.perfEventOpen(GP, -1, 1));
    const log = recordStates(sys);
    // A new CPU-pinned event: ctx_resched() takes everything off, then perf_event_sched_in().
    const cPin = ev(sys, sys.perfEventOpen({ ...GP, pinned: true }, -1, 1));
    const order = log.filter(([, , to]) => to === ACTIVE).map(([id]) => id);
    expect(order).toEqual([cPin.id, tPin.id, cFlex.id, tFlex.id]);

    // Priority under contention: a task-pinned event beats an older CPU-flexible group.
    const sys2 = x86();
    const t2 = sys2.spawn({ comm: "w", workload: compute, affinity: [1] });
    sys2.run(MS);
    const flex = openGroup(sys2, 8, -1, 1).map((fd) => ev(sys2, fd));
    expect(flex[0]!.state).toBe(ACTIVE);
    const pin = ev(sys2, sys2.perfEventOpen({ ...GP, pinned: true }, t2.pid, -1));
    expect(pin.state).toBe(ACTIVE);
    expect(flex.map((e) => e.state)).toEqual(Array(8).fill(INACTIVE));
  });

  it("B13: a pinned group that cannot get counters goes to ERROR and stays there until IOC_ENABLE", () => {
    const sys = x86();
    sys.spawn({ comm: "w", workload: compute, affinity: [1] });
    const blocker = openGroup(sys, 8, -1, 1, { pinned: true });
    const victimFd = sys.perfEventOpen({ ...GP, pinned: true }, -1, 1);
    const victim = ev(sys, victimFd);
    expect(victim.state).toBe(ERROR);
    // Free the counters: nothing reschedules an ERROR event, not even a new resched pass.
    for (const fd of blocker) sys.close(fd);
    sys.run(msToNs(20));
    const other = ev(sys, sys.perfEventOpen({ ...GP, pinned: true }, -1, 1));
    expect(other.state).toBe(ACTIVE);
    sys.run(msToNs(40));
    expect(victim.state).toBe(ERROR);
    expect(victim.totalTimeEnabled).toBe(0);
    sys.ioctl(victimFd, "ENABLE");
    expect(victim.state).toBe(ACTIVE);
  });

  it("B14: after a pinned group fails, later pinned groups of the same pass go to ERROR too", () => {
    const sys = x86();
    const g1 = openGroup(sys, 6, -1, 1, { pinned: true }).map((fd) => ev(sys, fd));
    const g2fds = openGroup(sys, 4, -1, 1, { pinned: true, disabled: true });
    const g2 = ev(sys, g2fds[0]!);
    const g3 = ev(sys, sys.perfEventOpen({ ...GP, pinned: true }, -1, 1));
    expect(g2.state).toBe(OFF);
    expect(g3.state).toBe(ACTIVE); // 7 of 8 GP counters in use
    // Enabling g2 (4 counters, 2 free) makes a pass: g1 on, g2 fails, g3 can_add_hw = 0.
    sys.ioctl(g2fds[0]!, "ENABLE");
    expect(g1.map((e) => e.state)).toEqual(Array(6).fill(ACTIVE));
    expect(g2.state).toBe(ERROR);
    expect(g3.state).toBe(ERROR);
  });

  it("B15: a flexible group that cannot get counters stays INACTIVE, sets rotate_necessary and arms the mux hrtimer", () => {
    const sys = x86();
    const pmu = sys.perf.registry.byName("cpu")!;
    const cpc = sys.perf.cpc(pmu, 1);
    openGroup(sys, 8, -1, 1);
    expect(cpc.epc.rotateNecessary).toBe(false);
    expect(cpc.hrtimer.armed).toBe(false);
    sys.run(msToNs(1));
    const late = ev(sys, sys.perfEventOpen(GP, -1, 1));
    expect(late.state).toBe(INACTIVE);
    expect(late.pmuCtx).toBe(cpc.epc);
    expect(cpc.epc.rotateNecessary).toBe(true);
    expect(cpc.hrtimerActive).toBe(true);
    expect(cpc.hrtimer.armed).toBe(true);
    expect(cpc.hrtimer.when).toBe(msToNs(4)); // PERF_CPU_HRTIMER = 1000/HZ ms
    expect(sys.perf.muxIntervalNs(pmu)).toBe(msToNs(4));
  });

  it("B16: each rotation tick moves the first active flexible group to the tail", () => {
    const sys = x86();
    sys.spawn({ comm: "w", workload: compute, affinity: [1] });
    const groups = [0, 1, 2].map(() => openGroup(sys, 8, -1, 1));
    const leaders = groups.map((g) => ev(sys, g[0]!));
    const states = () => leaders.map((e) => e.state);
    expect(states()).toEqual([ACTIVE, INACTIVE, INACTIVE]);
    sys.run(msToNs(4));
    expect(states()).toEqual([INACTIVE, ACTIVE, INACTIVE]);
    sys.run(msToNs(8));
    expect(states()).toEqual([INACTIVE, INACTIVE, ACTIVE]);
    sys.run(msToNs(12));
    expect(states()).toEqual([ACTIVE, INACTIVE, INACTIVE]);
    sys.run(msToNs(48));
    for (const g of groups) {
      for (const fd of [g[0]!, g[7]!]) {
        const r = sys.read(fd);
        expect(r.time_enabled).toBe(48_000_000);
        expect(r.time_running).toBe(16_000_000);
      }
    }
    expect(sys.perf.stats.rotations).toBe(12);
  });
});

describe("perf core: read, times and ioctls", () => {
  it("B17: read() of an ERROR event returns 0 bytes; IOC_ENABLE goes ERROR → OFF → INACTIVE", () => {
    const sys = x86();
    const blocker = openGroup(sys, 8, -1, 1, { pinned: true });
    const fd = sys.perfEventOpen({ ...GP, pinned: true }, -1, 1);
    const e = ev(sys, fd);
    expect(e.state).toBe(ERROR);
    sys.run(msToNs(5));
    const r = sys.read(fd);
    expect(r.bytes).toBe(0);
    expect(r.words).toEqual([]);
    // The ERROR check comes before the buffer-size check (__perf_read): no ENOSPC.
    expect(sys.read(fd, 1).bytes).toBe(0);
    for (const b of blocker) sys.close(b);
    const log = recordStates(sys);
    sys.ioctl(fd, "ENABLE");
    expect(log.map(([, from, to]) => [from, to])).toEqual([
      [ERROR, OFF],
      [OFF, INACTIVE],
      [INACTIVE, ACTIVE],
    ]);
    sys.run(msToNs(10));
    const r2 = sys.read(fd);
    expect(r2.bytes).toBe(24);
    expect(r2.time_enabled).toBe(5_000_000);
    expect(r2.time_running).toBe(5_000_000);
  });

  it("B17: IOC_ENABLE of an ERROR task event whose task is off-CPU leaves it INACTIVE", () => {
    const sys = x86();
    const blocker = openGroup(sys, 8, -1, 1, { pinned: true });
    const { a } = twoTasksOnCpu1(sys);
    const fd = sys.perfEventOpen({ ...GP, pinned: true }, a.pid, -1);
    const e = ev(sys, fd);
    while (e.state !== ERROR) step(sys);
    while (isRunning(a)) step(sys);
    expect(sys.read(fd).bytes).toBe(0);
    sys.ioctl(fd, "ENABLE");
    expect(e.state).toBe(INACTIVE);
    for (const b of blocker) sys.close(b);
    while (!isRunning(a)) step(sys);
    expect(e.state).toBe(ACTIVE);
  });

  it("B18: time_enabled grows while state >= INACTIVE, time_running only while ACTIVE", () => {
    const sys = x86();
    sys.spawn({ comm: "w", workload: compute, affinity: [1] });
    const fd = sys.perfEventOpen(GP, -1, 1);
    sys.run(msToNs(10));
    expect(sys.read(fd)).toMatchObject({ time_enabled: 10_000_000, time_running: 10_000_000 });
    // OFF: neither time grows.
    sys.ioctl(fd, "DISABLE");
    sys.run(msToNs(20));
    expect(sys.read(fd)).toMatchObject({ time_enabled: 10_000_000, time_running: 10_000_000 });
    // INACTIVE half of the time: multiplexed against an 8-counter group, 4 ms slices.
    sys.ioctl(fd, "ENABLE");
    const x = openGroup(sys, 8, -1, 1);
    expect(ev(sys, x[0]!).state).toBe(INACTIVE);
    sys.run(msToNs(40));
    // 20-24, 28-32, 36-40 on; 24-28, 32-36 off.
    expect(sys.read(fd)).toMatchObject({ time_enabled: 30_000_000, time_running: 22_000_000 });
    expect(sys.read(x[0]!)).toMatchObject({ time_enabled: 20_000_000, time_running: 8_000_000 });
  });

  it("B19: a task event gains no enabled time while its task is switched out", () => {
    const sys = x86();
    const a = sys.spawn({ comm: "a", workload: compute, affinity: [1] });
    sys.spawn({ comm: "b", workload: compute, affinity: [1] });
    const fd = sys.perfEventOpen(GP, a.pid, -1);
    const cpuFd = sys.perfEventOpen(GP, -1, 1);
    sys.run(msToNs(100));
    sys.sync();
    const r = sys.read(fd);
    expect(a.runtime).toBeGreaterThan(40_000_000);
    expect(a.runtime).toBeLessThan(60_000_000);
    expect(r.time_enabled).toBe(a.runtime);
    expect(r.time_running).toBe(a.runtime);
    expect(sys.read(cpuFd).time_enabled).toBe(100_000_000);
  });

  it("B20: siblings' times freeze while the leader is OFF or ERROR", () => {
    const sys = x86();
    const [lfd, sfd] = openGroup(sys, 2, -1, 1);
    sys.run(msToNs(10));
    sys.ioctl(lfd!, "DISABLE");
    const sib = ev(sys, sfd!);
    expect(ev(sys, lfd!).state).toBe(OFF);
    expect(sib.state).toBe(INACTIVE);
    sys.run(msToNs(30));
    expect(sys.read(sfd!)).toMatchObject({ time_enabled: 10_000_000, time_running: 10_000_000 });

    // A pinned leader in ERROR: its INACTIVE sibling accrues nothing.
    const sys2 = x86();
    openGroup(sys2, 8, -1, 1, { pinned: true });
    const g = openGroup(sys2, 2, -1, 1, { pinned: true });
    expect(ev(sys2, g[0]!).state).toBe(ERROR);
    expect(ev(sys2, g[1]!).state).toBe(INACTIVE);
    sys2.run(msToNs(20));
    expect(sys2.read(g[1]!)).toMatchObject({ time_enabled: 0, time_running: 0 });
  });

  it("B21: IOC_RESET zeroes the count and leaves enabled and running unchanged", () => {
    const sys = x86();
    sys.spawn({ comm: "w", workload: compute, affinity: [1] });
    const fd = sys.perfEventOpen(
      { type: PERF_TYPE_HARDWARE, config: 1, read_format: RF_TIMES },
      -1,
      1,
    );
    sys.run(msToNs(10));
    const before = sys.read(fd);
    expect(before.value).toBeGreaterThan(1_000_000);
    sys.ioctl(fd, "RESET");
    const after = sys.read(fd);
    expect(after).toMatchObject({ value: 0, time_enabled: 10_000_000, time_running: 10_000_000 });
    sys.run(msToNs(20));
    const later = sys.read(fd);
    expect(later.time_enabled).toBe(20_000_000);
    // The next 10 ms count about what the first 10 ms did.
    expect(later.value! / before.value!).toBeCloseTo(1, 2);
  });
});

describe("perf core: install, group validation and hotplug details", () => {
  it("opening a disabled event into a busy context does not reschedule it (perf_install_in_context)", () => {
    const sys = x86();
    const a = openGroup(sys, 8, -1, 1);
    const b = sys.perfEventOpen(GP, -1, 1);
    expect(ev(sys, b).state).toBe(INACTIVE);
    sys.run(MS);
    sys.close(a[0]!);
    for (const fd of a.slice(1)) sys.close(fd);
    sys.perfEventOpen({ ...GP, disabled: true }, -1, 1);
    // B only goes on at the next rotation (4 ms), not at the disabled open.
    expect(ev(sys, b).state).toBe(INACTIVE);
    sys.run(msToNs(10));
    expect(sys.read(b).time_running).toBe(6 * MS);
  });

  it("arm64 group validation skips OFF members without enable_on_exec (validate_event)", () => {
    const sys = new System({ machine: preset("rk3399")! });
    const inst: PerfEventAttr = { type: PERF_TYPE_RAW, config: 0x08 };
    const lfd = sys.perfEventOpen(inst, -1, 0);
    for (let i = 0; i < 5; i++) sys.perfEventOpen(inst, -1, 0, lfd);
    sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0x11 }, -1, 0, lfd);
    // Six event counters and the cycle counter are used; a seventh 0x08 does not fit...
    expect(errOf(() => sys.perfEventOpen(inst, -1, 0, lfd))).toBe("EINVAL");
    // ...unless it is disabled (then it does not count), but not with enable_on_exec.
    expect(errOf(() => sys.perfEventOpen({ ...inst, disabled: true }, -1, 0, lfd))).toBe("OK");
    expect(
      errOf(() => sys.perfEventOpen({ ...inst, disabled: true, enable_on_exec: true }, -1, 0, lfd)),
    ).toBe("EINVAL");
  });

  it("x86 group validation always counts the new event, even disabled (collect_events)", () => {
    const sys = x86();
    const fds = openGroup(sys, 8, -1, 2);
    expect(errOf(() => sys.perfEventOpen({ ...GP, disabled: true }, -1, 2, fds[0]))).toBe("EINVAL");
  });

  it("a CPU going offline takes its events off (OFF) and new CPU events get ENODEV", () => {
    const sys = x86();
    const fd = sys.perfEventOpen(GP, -1, 5);
    expect(ev(sys, fd).state).toBe(ACTIVE);
    expect(sys.sched.setOnline(5, false, sys.now)).toBe(0);
    expect(ev(sys, fd).state).toBe(OFF);
    expect(errOf(() => sys.perfEventOpen(GP, -1, 5))).toBe("ENODEV");
    sys.sched.setOnline(5, true, sys.now);
    expect(errOf(() => sys.perfEventOpen(GP, -1, 5))).toBe("OK");
    expect(ev(sys, fd).state).toBe(OFF);
  });
});

describe("perf core: more open paths", () => {
  it("a hardware event joining a software group moves the group to the hardware context (move_group)", () => {
    const sys = x86();
    sys.spawn({ comm: "w", workload: compute, affinity: [3] });
    const lfd = sys.perfEventOpen({ ...SW_CLOCK, read_format: RF_TIMES }, -1, 3);
    const cs = sys.perfEventOpen({ type: PERF_TYPE_SOFTWARE, config: 3 }, -1, 3, lfd);
    const hw = sys.perfEventOpen({ type: PERF_TYPE_HARDWARE, config: 0 }, -1, 3, lfd);
    const leader = ev(sys, lfd);
    expect(leader.pmuCtx!.pmu.name).toBe("cpu");
    expect(ev(sys, cs).pmuCtx).toBe(leader.pmuCtx);
    expect(leader.siblings.map((s) => s.id)).toEqual([ev(sys, cs).id, ev(sys, hw).id]);
    expect([leader.state, ev(sys, cs).state, ev(sys, hw).state]).toEqual([ACTIVE, ACTIVE, ACTIVE]);
    sys.run(msToNs(10));
    expect(sys.read(hw).value).toBe(30_000_000);
  });

  it("exclusive PMUs refuse CPU-wide and per-task users at once, and two matching events in a context (EBUSY)", () => {
    const sys = x86();
    const t = sys.spawn({ comm: "w", workload: compute, affinity: [3] });
    const pt = sys.perf.registry.byName("intel_pt")!.type;
    const a = sys.perfEventOpen({ type: pt }, -1, 0);
    expect(errOf(() => sys.perfEventOpen({ type: pt }, t.pid, -1))).toBe("EBUSY");
    expect(errOf(() => sys.perfEventOpen({ type: pt }, -1, 0))).toBe("EBUSY");
    expect(errOf(() => sys.perfEventOpen({ type: pt }, -1, 1))).toBe("OK");
    sys.close(a);
    expect(errOf(() => sys.perfEventOpen({ type: pt }, t.pid, -1))).toBe("EBUSY");
  });

  it("runs out of fds with EMFILE at RLIMIT_NOFILE", () => {
    const sys = new System({ machine: preset("x86-server")!, perf: { nrOpen: 8 } });
    const fds = [3, 4, 5, 6, 7].map(() => sys.perfEventOpen(SW_CLOCK, -1, 0));
    expect(fds).toEqual([3, 4, 5, 6, 7]);
    expect(errOf(() => sys.perfEventOpen(SW_CLOCK, -1, 0))).toBe("EMFILE");
    sys.close(5);
    expect(sys.perfEventOpen(SW_CLOCK, -1, 0)).toBe(5);
  });

  it("paranoid 2 refuses unprivileged kernel counting and CPU-wide events (EACCES); paranoid -1 allows both", () => {
    const user = { perfmon: false };
    const strict = x86(2);
    const t = strict.spawn({ comm: "w", workload: compute, affinity: [3] });
    expect(errOf(() => strict.perfEventOpen({ ...GP }, t.pid, -1, -1, 0, user))).toBe("EACCES");
    expect(
      errOf(() => strict.perfEventOpen({ ...GP, exclude_kernel: true }, t.pid, -1, -1, 0, user)),
    ).toBe("OK");
    expect(
      errOf(() => strict.perfEventOpen({ ...GP, exclude_kernel: true }, -1, 0, -1, 0, user)),
    ).toBe("EACCES");
    const open = x86(-1);
    expect(errOf(() => open.perfEventOpen({ ...GP }, -1, 0, -1, 0, user))).toBe("OK");
  });
});
