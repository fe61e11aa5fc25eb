import type { Cpu } from "../hw/cpu.js";
import type { SchedHook } from "../sched/scheduler.js";
import type { Task } from "../sched/task.js";
import type { Ns } from "../sim/time.js";
import { PerfCpuContext, PerfEventContext } from "./context.js";
import { type PerfEvent, stateName } from "./event.js";
import { FdTable } from "./fdtable.js";
import { perfGuestSync } from "./guest.js";
import type { PerfHost } from "./host.js";
import type { Pmu } from "./pmu.js";
import { PerfCpuPmuContext, PerfEventPmuContext } from "./pmu-context.js";
import { PmuRegistry } from "./registry.js";
import { perfRotateContext } from "./rotate.js";
import {
  perfEventExitTask,
  perfEventHotplug,
  perfEventTaskSchedIn,
  perfEventTaskSchedOut,
} from "./task-switch.js";

declare module "../sim/trace.js" {
  interface TraceRecordMap {
    perf_state: { id: number; name: string; cpu: number; from: string; to: string };
    perf_rotate: { cpu: number; pmu: string };
    perf_sample: { id: number; name: string; cpu: number; pid: number; period: number };
    perf_counter: { cpu: number; pmu: string; idx: number; owner: string | null };
  }
}

/** Kernel settings of the perf core (sysctls and boot options). */
export interface PerfOptions {
  /** kernel.perf_event_paranoid (default 2). */
  paranoid: number;
  /** kernel.perf_event_max_sample_rate (default 100000). */
  maxSampleRate: number;
  /** RLIMIT_NOFILE of the calling process (EMFILE beyond it). */
  nrOpen: number;
  /** Samples kept per event (the rest are counted, not stored). */
  sampleLimit: number;
}

/** Default perf options. */
export const DEFAULT_PERF: PerfOptions = {
  paranoid: 2,
  maxSampleRate: 100_000,
  nrOpen: 1024,
  sampleLimit: 10_000,
};

/** Operation counters for benchmarks. */
export interface PerfStats {
  schedOps: number;
  passes: number;
  rotations: number;
}

/** Listener of event state changes (the invariant checker, traces). */
export type StateListener = (e: PerfEvent, from: number, to: number, now: Ns) => void;

/**
 * The host perf_events core: PMU registry, per-CPU and per-task contexts, the fd table of
 * the monitoring process, and the hooks that tie it to the scheduler. The logic lives in
 * files named after the kernel code they model (schedule.ts, rotate.ts, open.ts, ...).
 */
export class PerfCore {
  readonly registry = new PmuRegistry();
  readonly cpuctx: PerfCpuContext[];
  readonly taskCtxs = new Map<Task, PerfEventContext>();
  readonly fds = new FdTable();
  readonly stats: PerfStats = { schedOps: 0, passes: 0, rotations: 0 };
  readonly stateListeners: StateListener[] = [];
  /** Every event ever created (for reports and invariants), by id. */
  readonly events = new Map<number, PerfEvent>();
  nextEventId = 1;
  /** The monitoring process (pid 0 = "current" for perf_event_open): never runs. */
  readonly monitor: Task;
  /** Scratch state of the scheduling pass in progress (kernel: the can_add_hw argument). */
  passCanAddHw = true;
  passEventType = 0;
  /** Groups a scheduling pass could not put on (pinned to ERROR, flexible waiting to rotate). */
  schedInFailures = 0;
  /** The first group the scheduling pass in progress could not put on, or null. */
  passFirstFailure: PerfEvent | null = null;
  /**
   * Flexible passes visit every group, as the kernel's do (false: they stop at the first
   * group that does not go on, with the same outcome; schedule.ts; tests compare the two).
   */
  walkAllGroups = false;
  /** Multiplexing hrtimers active per CPU (kernel: cpc->hrtimer_active, counted). */
  readonly muxActive: Int32Array;
  /** Tasks migrated since they last ran (kernel: task->sched_migrated). */
  readonly migrated = new Set<Task>();
  /**
   * vPMU profiles install these: does the guest own `pmu` on `cpu` for a pass of this
   * type (merge_sched_in skips it), and should a pass skip an epc.
   */
  guestOwns: ((core: PerfCore, pmu: Pmu, cpu: number, eventType: number) => boolean) | null = null;
  epcFilter: ((epc: PerfEventPmuContext, eventType: number) => boolean) | null = null;
  /** Extra checks at event allocation (RFC EBUSY, mediated EOPNOTSUPP). */
  readonly allocChecks: Array<(e: PerfEvent) => number> = [];
  /** State of the vPMU kernel profile (guest enter/exit, mediated PMU), once installed. */
  guest: import("./guest.js").GuestPmuState | null = null;
  /** Called after each guest PMU switch on a CPU (enter/exit: RFC; load/put: mediated). */
  readonly guestListeners: Array<
    (cpu: number, what: "enter" | "exit" | "load" | "put", now: Ns) => void
  > = [];
  /** The overflow of a sampling event writes a sample to its ring buffer (ring-buffer.ts). */
  sampleOutput: ((e: PerfEvent, now: Ns, period: number) => void) | null = null;
  /** Called when an event is freed. */
  readonly freeHooks: Array<(e: PerfEvent) => void> = [];
  /**
   * Called as a host interrupt handler of the perf core (the multiplexing hrtimer) starts on
   * `cpu`, before it looks at anything: KVM's run loop makes a vCPU in guest mode there exit
   * first, as an interrupt in guest mode is a VM-exit.
   */
  readonly irqHooks: Array<(cpu: number, now: Ns) => void> = [];

  constructor(
    readonly sys: PerfHost,
    readonly opts: PerfOptions = { ...DEFAULT_PERF },
  ) {
    this.muxActive = new Int32Array(sys.machine.cpus.length);
    this.cpuctx = sys.machine.cpus.map((c) => {
      const cc = new PerfCpuContext(c.id);
      cc.online = c.online;
      return cc;
    });
    this.monitor = sys.sched.spawn({
      comm: "perf",
      exec: {
        execOn: () => ({ rates: new Float64Array(18), fracs: new Float64Array(4), label: "perf" }),
      },
    });
    this.monitor.state = "sleeping";
    const hook: SchedHook = {
      // Each first completes lazy guest loads (guest-switch.ts) where it looks.
      schedOut: (cpu, prev, next, now) => {
        perfGuestSync(this, cpu.id);
        // kernel: a switch an interrupt asks for (the tick) happens as the interrupt returns,
        // after every hrtimer due then: a multiplexing hrtimer due now sees the outgoing task.
        if (this.muxActive[cpu.id] !== 0) this.runDueHrtimers(cpu.id, now);
        perfEventTaskSchedOut(this, cpu.id, prev, next, now);
      },
      schedIn: (cpu, prev, next, now) => {
        perfGuestSync(this, cpu.id);
        perfEventTaskSchedIn(this, cpu.id, prev, next, now);
      },
      // The tick timer leaves lazy loads to the hooks: a vCPU's exit at the tick (before this
      // hook) puts its guest; anything still lazy is completed here.
      tick: (cpu) => perfGuestSync(this, cpu.id),
      migrate: (task) => {
        this.migrated.add(task);
      },
      exit: (task, now) => {
        perfGuestSync(this, -1);
        perfEventExitTask(this, task, now);
      },
      hotplug: (cpu, online, now) => {
        perfGuestSync(this, cpu.id);
        perfEventHotplug(this, cpu.id, online, now);
      },
    };
    sys.sched.hooks.push(hook);
  }

  /** Current simulated time. */
  now(): Ns {
    return this.sys.now;
  }

  /** The simulated CPU `id`. */
  cpu(id: number): Cpu {
    return this.sys.machine.cpus[id]!;
  }

  /** Registers a PMU (kernel: perf_pmu_register()) and builds its per-CPU contexts. */
  registerPmu(pmu: Pmu, type: number): number {
    const ret = this.registry.register(pmu, type);
    if (ret < 0) return ret;
    pmu.core = this;
    pmu.simCpus = this.sys.machine.cpus;
    pmu.trace = this.sys.trace;
    const onTimer = (cpc: PerfCpuPmuContext, now: Ns) => this.muxHrtimerHandler(cpc, now);
    pmu.cpcs = this.cpuctx.map(
      (cc) => new PerfCpuPmuContext(pmu, cc.cpu, new PerfEventPmuContext(pmu, cc.ctx), onTimer),
    );
    pmu.hrtimerOn = new Uint8Array(this.cpuctx.length);
    return 0;
  }

  /** The per-(PMU, CPU) context (kernel: this_cpc()). */
  cpc(pmu: Pmu, cpu: number): PerfCpuPmuContext {
    return pmu.cpcs[cpu]!;
  }

  /** A task's perf context, if it has one. */
  taskCtx(task: Task): PerfEventContext | undefined {
    return this.taskCtxs.get(task);
  }

  /** True if the guest owns `pmu` on `cpu` for a pass of this type. */
  pmuOwnedByGuest(pmu: Pmu, cpu: number, eventType: number): boolean {
    return this.guestOwns?.(this, pmu, cpu, eventType) ?? false;
  }

  /** True if a pass of this type must skip the epc (kernel: perf_skip_pmu_ctx()). */
  skipEpc(epc: PerfEventPmuContext, eventType: number): boolean {
    return this.epcFilter?.(epc, eventType) ?? false;
  }

  /** Called by perfEventSetState on every transition. */
  stateChanged(e: PerfEvent, from: number, to: number): void {
    const listeners = this.stateListeners;
    const trace = this.sys.trace.enabled;
    if (!trace && listeners.length === 0) return;
    const now = this.sys.clock.now;
    if (trace) this.traceState(e, from, to, now);
    for (let i = 0; i < listeners.length; i++) listeners[i]!(e, from, to, now);
  }

  /** The perf_state record; apart so that stateChanged() stays small enough to inline. */
  private traceState(e: PerfEvent, from: number, to: number, now: Ns): void {
    this.sys.trace.emit({
      kind: "perf_state",
      t: now,
      id: e.id,
      name: e.name,
      cpu: e.oncpu >= 0 ? e.oncpu : e.cpu,
      from: stateName(from),
      to: stateName(to),
    });
  }

  /** Multiplexing interval of a PMU (kernel: perf_event_mux_interval_ms, default 1000/HZ ms). */
  muxIntervalNs(pmu: Pmu): number {
    const ms =
      pmu.hrtimerIntervalMs >= 1
        ? pmu.hrtimerIntervalMs
        : Math.floor(1000 / this.sys.sched.opts.hz);
    return ms * 1_000_000;
  }

  /** kernel: perf_mux_hrtimer_restart(). */
  muxHrtimerRestart(cpc: PerfCpuPmuContext, now: Ns): void {
    if (cpc.hrtimerActive) return;
    cpc.hrtimerActive = true;
    cpc.pmu.hrtimerOn[cpc.cpu] = 1;
    this.muxActive[cpc.cpu]!++;
    const interval = this.muxIntervalNs(cpc.pmu);
    // hrtimer_forward_now(): keep the expiry on the timer's grid, the first one past now.
    let exp = cpc.lastExpires;
    if (exp <= now) exp += Math.ceil((now - exp + 1) / interval) * interval;
    cpc.lastExpires = exp;
    this.sys.queue.arm(cpc.hrtimer, exp as Ns);
  }

  /** kernel: perf_mux_hrtimer_handler(): rotate, and re-arm only while rotation is needed. */
  private muxHrtimerHandler(cpc: PerfCpuPmuContext, now: Ns): void {
    // kernel: perf_load/put_guest_context() (and the RFC's perf_guest_enter/exit()) run with
    // IRQs off around VM-entry and VM-exit, so the handler never finds the guest owning the
    // PMU: the interrupt first exits the guest, whose PMU is put back before IRQs are on.
    // The exit usually puts a lazily loaded guest (guest-switch.ts) the lazy way; whatever is
    // still lazy is completed before the rotation looks.
    const hooks = this.irqHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i]!(cpc.cpu, now);
    perfGuestSync(this, cpc.cpu);
    const rotated = perfRotateContext(this, cpc, now);
    if (rotated) {
      const interval = this.muxIntervalNs(cpc.pmu);
      cpc.lastExpires = now + interval;
      this.sys.queue.arm(cpc.hrtimer, cpc.lastExpires as Ns);
    } else {
      cpc.hrtimerActive = false;
      cpc.pmu.hrtimerOn[cpc.cpu] = 0;
      this.muxActive[cpc.cpu]!--;
    }
  }

  /** The multiplexing hrtimer of `cpu` due at `now` that the queue would fire first, if any. */
  private firstDueHrtimer(cpu: number, now: Ns): PerfCpuPmuContext | null {
    const pmus = this.registry.pmus;
    let first: PerfCpuPmuContext | null = null;
    for (let i = 0; i < pmus.length; i++) {
      const cpc = pmus[i]!.cpcs[cpu];
      if (!cpc?.hrtimerActive || !cpc.hrtimer.armed || cpc.hrtimer.when > now) continue;
      if (first === null || cpc.hrtimer.seq < first.hrtimer.seq) first = cpc;
    }
    return first;
  }

  /** Runs the multiplexing hrtimers of `cpu` due at `now` ahead of their turn, in queue order. */
  private runDueHrtimers(cpu: number, now: Ns): void {
    for (let cpc = this.firstDueHrtimer(cpu, now); cpc; cpc = this.firstDueHrtimer(cpu, now)) {
      this.sys.queue.cancel(cpc.hrtimer);
      cpc.hrtimer.fire(now);
    }
  }

  /** The software PMU (set at registration); software events count through it. */
  software: { countEvent(cpu: number, config: number, now: Ns): void } | null = null;

  /** kernel: perf_sw_event(): count a software event on the events active on `cpu`. */
  swEvent(cpu: number, config: number, now: Ns): void {
    this.software?.countEvent(cpu, config, now);
  }

  /** The lowest free fd (EMFILE past the limit); fds 0-2 are stdio. */
  allocFd(): number {
    const fd = this.fds.lowestFree();
    return fd < this.opts.nrOpen ? fd : -24; // -EMFILE
  }
}

/** Finds or creates the task context of `task`. */
export function findGetTaskCtx(core: PerfCore, task: Task): PerfEventContext {
  let ctx = core.taskCtxs.get(task);
  if (!ctx) {
    ctx = new PerfEventContext(task, -1);
    core.taskCtxs.set(task, ctx);
  }
  return ctx;
}
