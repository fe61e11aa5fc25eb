import { InvariantChecker } from "./check/invariants.js";
import { Machine, type MachineDesc } from "./hw/machine.js";
import type { Workload } from "./hw/workload.js";
import { checkWorkload } from "./hw/workload-check.js";
import { WorkloadExec } from "./hw/workload-exec.js";
import type { PerfCore, PerfOptions } from "./perf/core.js";
import { perfGuestSync, VPMU_PROFILES, type VpmuProfile } from "./perf/guest.js";
import { perfInit } from "./perf/init.js";
import { sysClose, sysIoctl } from "./perf/ioctl.js";
import { type Credentials, ROOT, sysPerfEventOpen } from "./perf/open.js";
import { type PerfReadResult, sysRead } from "./perf/read.js";
import type { PerfEventAttr, PerfIoctl } from "./perf/uapi.js";
import { cpusFromUserMask } from "./sched/affinity.js";
import { DEFAULT_SCHED, type SchedOptions, Scheduler } from "./sched/scheduler.js";
import type { DutyCycle, Task } from "./sched/task.js";
import { abiS32 } from "./sim/abi.js";
import {
  ArgumentError,
  checkBool,
  checkCpuList,
  checkFunction,
  checkInt,
  checkNat,
  checkObject,
  checkOneOf,
  checkString,
  checkTime,
} from "./sim/argument.js";
import { Clock } from "./sim/clock.js";
import { check, ERRNO } from "./sim/errno.js";
import { EventQueue, TIMER_SCOPE_SELF, Timer } from "./sim/queue.js";
import { Rng } from "./sim/rng.js";
import type { Ns } from "./sim/time.js";
import { TraceBus } from "./sim/trace.js";

/** Options of a simulated system. */
export interface SystemOptions {
  machine: MachineDesc;
  seed?: number;
  sched?: Partial<SchedOptions>;
  perf?: Partial<PerfOptions>;
  /** Kernel profile: "7.0" (default, mediated vPMU), "rfc-v1" (2024 passthrough RFC) or "5.18". */
  profile?: VpmuProfile;
  /** rfc-v1 only: apply the evident fix to the RFC's sibling loop. */
  fixSiblingLoop?: boolean;
  /**
   * Invariant checking: "record" keeps findings, "throw" stops at the first one, false is
   * off. Defaults to System.defaultInvariantMode (off; the test suite sets "throw").
   */
  checkInvariants?: "record" | "throw" | false;
}

/**
 * A simulated host: the clock, the event queue, the machine, the scheduler, and (as later
 * layers attach) the perf core and KVM. Everything advances only through `run`.
 */
export class System {
  readonly clock = new Clock();
  readonly queue = new EventQueue();
  readonly trace = new TraceBus();
  readonly rng: Rng;
  readonly machine: Machine;
  readonly sched: Scheduler;
  /** The host perf_events core. */
  readonly perf: PerfCore;
  /** Default of SystemOptions.checkInvariants. */
  static defaultInvariantMode: "record" | "throw" | false = false;
  /** The invariant checker, when enabled. */
  readonly invariants: InvariantChecker | null;
  /** Timer events processed so far. */
  eventsProcessed = 0;
  /** Called after each timer callback and each API call (the invariant checker's structural rules). */
  readonly afterStep: Array<() => void> = [];

  constructor(opts: SystemOptions) {
    checkSystemOptions(opts);
    this.rng = new Rng(opts.seed ?? 1);
    this.machine = new Machine(opts.machine, this.queue);
    this.sched = new Scheduler(
      this.machine,
      this.queue,
      { ...DEFAULT_SCHED, ...opts.sched },
      this.trace,
    );
    this.perf = perfInit(
      this,
      opts.machine,
      opts.perf,
      opts.profile ?? "7.0",
      opts.fixSiblingLoop ?? false,
    );
    const mode = opts.checkInvariants ?? System.defaultInvariantMode;
    this.invariants = mode ? new InvariantChecker(this, mode) : null;
  }

  /** Current simulated time. */
  get now(): Ns {
    return this.clock.now;
  }

  /**
   * Runs every timer due up to and including `until`, then leaves the clock at `until`.
   * A time that is not after now does nothing. With `stop`, it returns after the first timer
   * at which stop() holds, the clock at that timer's time.
   */
  run(until: Ns, stop?: () => boolean): void {
    checkNat("System.run(until)", until);
    if (!(until > this.clock.now)) return;
    const q = this.queue;
    const guest = this.perf.guest;
    while (q.peekTime() <= until) {
      const timer = q.pop()!;
      this.clock.advance(timer.when);
      this.eventsProcessed++;
      // Lazy guest loads (perf/guest-switch.ts) are completed before anything looks.
      if (guest !== null && guest.plans.nrLazy !== 0 && timer.scope !== TIMER_SCOPE_SELF)
        perfGuestSync(this.perf, timer.scope);
      timer.fire(timer.when);
      const after = this.afterStep;
      if (after.length > 0) {
        perfGuestSync(this.perf, -1);
        for (let i = 0; i < after.length; i++) after[i]!();
      }
      if (stop?.()) {
        perfGuestSync(this.perf, -1);
        return;
      }
    }
    perfGuestSync(this.perf, -1);
    this.clock.advance(until);
  }

  /** Schedules a one-shot callback at an absolute time. */
  at(t: Ns, name: string, fn: (now: Ns) => void): Timer {
    // A timer in the past would run the clock backwards.
    checkTime("System.at(t)", t, this.now);
    checkString("System.at(name)", name);
    checkFunction("System.at(fn)", fn);
    const timer = new Timer(name, fn);
    this.queue.arm(timer, t);
    return timer;
  }

  /** Creates a task running `workload` and makes it runnable now. */
  spawn(spec: {
    comm: string;
    workload: Workload;
    affinity?: number[];
    duty?: DutyCycle | null;
    exitAfter?: Ns | null;
  }): Task {
    const s = checkObject("System.spawn(spec)", spec);
    const comm = checkString("System.spawn(spec.comm)", s.comm);
    const workload = checkWorkload("System.spawn(spec.workload)", s.workload);
    const nrCpus = this.machine.cpus.length;
    const affinity =
      s.affinity === undefined
        ? undefined
        : checkCpuList("System.spawn(spec.affinity)", s.affinity, nrCpus);
    const duty = s.duty === undefined || s.duty === null ? null : checkDuty(s.duty);
    const exitAfter =
      s.exitAfter === undefined || s.exitAfter === null
        ? null
        : (checkNat("System.spawn(spec.exitAfter)", s.exitAfter) as Ns);
    const t = this.sched.spawn({
      comm,
      exec: new WorkloadExec(workload, comm),
      affinity,
      duty,
      exitAfter,
    });
    this.sched.wake(t, this.now);
    return t;
  }

  /** Runs one API call, then the after-step checks (also when the call throws). */
  private step<T>(fn: () => T): T {
    // An API call starts no guest run, so one completion of lazy loads before it suffices.
    perfGuestSync(this.perf, -1);
    try {
      return fn();
    } finally {
      for (const f of this.afterStep) f();
    }
  }

  /** sched_setaffinity(2): throws KernelError (ESRCH, EINVAL) like the syscall. */
  schedSetaffinity(pid: number, cpus: readonly number[]): void {
    this.step(() => check(this.sched.setAffinity(pid, cpus, this.now), "sched_setaffinity"));
  }

  /**
   * sched_setaffinity(pid, len, mask) with the C ABI's arguments: `mask` is the user's
   * cpu_set_t bytes (CPU n is bit n % 8 of byte n / 8), read as the kernel does
   * (sched/affinity.ts). Throws KernelError: EFAULT for a mask shorter than the bytes read,
   * ESRCH for no such task (pid 0, the caller, is no model task), EINVAL when no online CPU
   * is in the mask.
   */
  schedSetaffinityMask(pid: unknown, len: unknown, mask: unknown): void {
    // kernel: the mask is copied in before the task is looked up.
    const cpus = cpusFromUserMask(len, mask, this.machine.nrCpus);
    if (typeof cpus === "number") check(cpus, "sched_setaffinity");
    const p = abiS32(pid);
    if (p === null) check(-ERRNO.EINVAL, "sched_setaffinity");
    this.schedSetaffinity(p!, cpus as number[]);
  }

  /** kill(pid, SIGKILL): throws KernelError ESRCH for an unknown pid. */
  kill(pid: number): void {
    this.step(() => check(this.sched.kill(pid, this.now), "kill"));
  }

  /** CPU hotplug (echo 0|1 > /sys/devices/system/cpu/cpuN/online). Throws EINVAL or EBUSY. */
  setCpuOnline(cpu: number, online: boolean): void {
    this.step(() => check(this.sched.setOnline(cpu, online, this.now), "cpu_online"));
  }

  /**
   * perf_event_open(2). Returns the new fd; throws KernelError with the kernel's errno.
   * pid -1 with a cpu is CPU-wide; pid 0 is the calling (monitoring) process.
   */
  perfEventOpen(
    attr: PerfEventAttr,
    pid: number,
    cpu: number,
    groupFd = -1,
    flags = 0,
    cred: Credentials = ROOT,
  ): number {
    checkCredentials("System.perfEventOpen(cred)", cred);
    return check(
      sysPerfEventOpen(this.perf, attr, pid, cpu, groupFd, flags, cred),
      "perf_event_open",
    );
  }

  /** read(2) on a perf fd; `bytes` is 0 for an event in ERROR. Throws KernelError. */
  read(fd: number, count: number | bigint = 4096): PerfReadResult {
    const r = this.step(() => sysRead(this.perf, fd, count));
    if (typeof r === "number") {
      check(r, "read");
      throw new Error("unreachable");
    }
    return r;
  }

  /** ioctl(2) on a perf fd (PERF_EVENT_IOC_*). Returns the id for ID, else 0. */
  ioctl(fd: number, cmd: PerfIoctl, arg: number | bigint = 0): number {
    return this.step(() => check(sysIoctl(this.perf, fd, cmd, arg), "ioctl"));
  }

  /** close(2) of a perf fd. */
  close(fd: number): void {
    this.step(() => check(sysClose(this.perf, fd), "close"));
  }

  /** Brings ledgers and runtimes up to date (before reading results). */
  sync(): void {
    this.sched.sync(this.now);
  }
}

/** A duty cycle: run at least 1 ns, sleep 0 ns or more. */
function checkDuty(v: unknown): DutyCycle {
  const d = checkObject("System.spawn(spec.duty)", v);
  checkInt("System.spawn(spec.duty.run)", d.run, 1, Number.MAX_SAFE_INTEGER);
  checkNat("System.spawn(spec.duty.sleep)", d.sleep);
  return { run: d.run as Ns, sleep: d.sleep as Ns };
}

/** Credentials: an object with a boolean `perfmon`. */
export function checkCredentials(arg: string, v: unknown): Credentials {
  const c = checkObject(arg, v);
  checkBool(`${arg}.perfmon`, c.perfmon);
  return v as Credentials;
}

/** The options of a System, checked before anything is built. */
function checkSystemOptions(v: unknown): void {
  const o = checkObject("new System(opts)", v);
  const m = checkObject("new System(opts.machine)", o.machine);
  if (!Array.isArray(m.cpus) || m.cpus.length === 0 || !Array.isArray(m.coreTypes))
    throw new ArgumentError("new System(opts.machine)", "a machine description (see preset())", v);
  if (o.seed !== undefined) checkNat("new System(opts.seed)", o.seed);
  if (o.sched !== undefined) checkObject("new System(opts.sched)", o.sched);
  if (o.perf !== undefined) checkObject("new System(opts.perf)", o.perf);
  if (o.profile !== undefined) checkOneOf("new System(opts.profile)", o.profile, VPMU_PROFILES);
  if (o.fixSiblingLoop !== undefined)
    checkBool("new System(opts.fixSiblingLoop)", o.fixSiblingLoop);
  if (o.checkInvariants !== undefined)
    checkOneOf("new System(opts.checkInvariants)", o.checkInvariants, ["record", "throw", false]);
}
