import type { Cpu } from "../hw/cpu.js";
import type { Machine } from "../hw/machine.js";
import { ERRNO } from "../sim/errno.js";
import { type EventQueue, TIMER_SCOPE_SELF, Timer } from "../sim/queue.js";
import { NS_PER_SEC, type Ns } from "../sim/time.js";
import type { TraceBus } from "../sim/trace.js";
import { type DutyCycle, type ExecProvider, Task } from "./task.js";

declare module "../sim/trace.js" {
  interface TraceRecordMap {
    sched_switch: { cpu: number; prev: number; prevComm: string; next: number; nextComm: string };
    sched_migrate: { pid: number; comm: string; from: number; to: number };
    sched_wakeup: { pid: number; comm: string; cpu: number };
    sched_exit: { pid: number; comm: string };
  }
}

/**
 * The single hook point of a context switch, used by the perf core (task contexts) and KVM
 * (vcpu_load/vcpu_put through preempt notifiers). `schedOut` runs while the CPU still
 * executes `prev`; `schedIn` runs once it executes `next`.
 */
export interface SchedHook {
  /** kernel: perf_event_task_sched_out() / kvm_sched_out(). */
  schedOut?(cpu: Cpu, prev: Task, next: Task | null, now: Ns): void;
  /** kernel: perf_event_task_sched_in() / kvm_sched_in(). */
  schedIn?(cpu: Cpu, prev: Task | null, next: Task, now: Ns): void;
  /** Scheduler tick on a busy CPU (kernel: scheduler_tick()). */
  tick?(cpu: Cpu, now: Ns): void;
  /** A task changed CPU (kernel: set_task_cpu()). */
  migrate?(task: Task, from: number, to: number, now: Ns): void;
  /** A task exited. */
  exit?(task: Task, now: Ns): void;
  /** A CPU went offline (after its tasks left) or came online (kernel: cpuhp callbacks). */
  hotplug?(cpu: Cpu, online: boolean, now: Ns): void;
}

/** Scheduler tunables (model parameters with CFS-like defaults). */
export interface SchedOptions {
  /** Tick rate (CONFIG_HZ). */
  hz: number;
  /** Target latency: every runnable task runs once per period (sysctl_sched_latency, 6 ms). */
  latency: Ns;
  /** Minimum slice (sysctl_sched_min_granularity, 0.75 ms). */
  minGranularity: Ns;
}

/** Default scheduler options. */
export const DEFAULT_SCHED: SchedOptions = {
  hz: 250,
  latency: 6_000_000 as Ns,
  minGranularity: 750_000 as Ns,
};

/** What to spawn. */
export interface TaskSpec {
  comm: string;
  exec: ExecProvider;
  /** Allowed CPUs; all CPUs when omitted. */
  affinity?: number[];
  isVcpu?: boolean;
  duty?: DutyCycle | null;
  /** Exit after consuming this much CPU time. */
  exitAfter?: Ns | null;
}

/** One CPU's run queue. */
class RunQueue {
  curr: Task | null = null;
  readonly queue: Task[] = [];
  sliceEnd: Ns = 0 as Ns;
  /** Context switches on this CPU. */
  nrSwitches = 0;
  readonly tickTimer: Timer;

  constructor(
    readonly cpu: Cpu,
    onTick: (rq: RunQueue, now: Ns) => void,
  ) {
    this.tickTimer = new Timer(`tick${cpu.id}`, (now) => onTick(this, now));
    // The tick looks at other state only through the scheduler hooks, which complete deferred
    // work where they look (perf's complete lazy guest loads; a vCPU's exit at the tick puts
    // its guest the lazy way first).
    this.tickTimer.scope = TIMER_SCOPE_SELF;
  }

  get nrRunning(): number {
    return this.queue.length + (this.curr ? 1 : 0);
  }
}

/**
 * The host scheduler: per-CPU run queues with round-robin time slices in the spirit of CFS
 * (slice = max(latency / nr_running, min_granularity)), a periodic tick that only runs on
 * busy CPUs (NOHZ idle), wake-up placement, idle pulling and tick-time load balancing.
 */
export class Scheduler {
  readonly rqs: RunQueue[];
  readonly tasks = new Map<number, Task>();
  readonly hooks: SchedHook[] = [];
  readonly tickNs: Ns;
  private nextPid = 1000;

  constructor(
    readonly machine: Machine,
    private readonly events: EventQueue,
    readonly opts: SchedOptions,
    private readonly trace: TraceBus,
  ) {
    this.tickNs = Math.round(NS_PER_SEC / opts.hz) as Ns;
    this.rqs = machine.cpus.map((c) => new RunQueue(c, (rq, now) => this.onTick(rq, now)));
  }

  /** The task running on a CPU, or null when idle. */
  current(cpu: number): Task | null {
    return this.rqs[cpu]?.curr ?? null;
  }

  /** Context switches on a CPU so far. */
  switchesOn(cpu: number): number {
    return this.rqs[cpu]?.nrSwitches ?? 0;
  }

  /** Creates a task (not yet runnable; call `wake`). */
  spawn(spec: TaskSpec): Task {
    const all = this.machine.cpus.map((c) => c.id);
    const pid = this.nextPid++;
    const t = new Task(
      pid,
      spec.comm,
      spec.exec,
      spec.affinity ? [...spec.affinity].sort((a, b) => a - b) : all,
      spec.isVcpu ?? false,
      spec.duty ?? null,
      spec.exitAfter ?? null,
      (task, now) => this.onTaskTimer(task, now),
    );
    if (t.duty) t.burstLeft = t.duty.run;
    this.tasks.set(pid, t);
    return t;
  }

  /** Makes a new or sleeping task runnable (kernel: try_to_wake_up()). */
  wake(t: Task, now: Ns): void {
    if (t.state !== "new" && t.state !== "sleeping") return;
    if (t.duty && t.state === "sleeping") t.burstLeft = t.duty.run;
    const cpu = this.selectCpu(t);
    if (cpu < 0) {
      // No online CPU in the mask: the kernel falls back to any online CPU.
      t.affinity = this.onlineCpus();
      this.wake(t, now);
      return;
    }
    t.state = "runnable";
    if (this.trace.enabled) {
      this.trace.emit({ kind: "sched_wakeup", t: now, pid: t.pid, comm: t.comm, cpu });
    }
    this.enqueue(t, cpu, now);
    const rq = this.rqs[cpu]!;
    if (rq.curr === null) this.schedule(rq, now);
  }

  /** kernel: sched_setaffinity(). Returns 0, -ESRCH or -EINVAL. */
  setAffinity(pid: number, cpus: readonly number[], now: Ns): number {
    const t = this.tasks.get(pid);
    if (!t || t.state === "dead") return -ERRNO.ESRCH;
    if (!Array.isArray(cpus)) return -ERRNO.EFAULT;
    const valid = [...new Set(cpus)].filter(
      (c) => Number.isInteger(c) && c >= 0 && c < this.machine.nrCpus,
    );
    if (!valid.some((c) => this.machine.cpus[c]!.online)) return -ERRNO.EINVAL;
    t.affinity = valid.sort((a, b) => a - b);
    if (t.state === "running" && !t.allowed(t.cpu)) {
      // Push the running task off the CPU it may no longer use (kernel: migration stopper).
      const rq = this.rqs[t.cpu]!;
      this.switchTo(rq, null, now, t);
      this.pickOrIdle(rq, now);
      t.state = "runnable";
      this.enqueueAndKick(t, now);
    } else if (t.state === "runnable" && !t.allowed(t.cpu)) {
      const rq = this.rqs[t.cpu]!;
      rq.queue.splice(rq.queue.indexOf(t), 1);
      this.enqueueAndKick(t, now);
    }
    return 0;
  }

  /** The running task blocks (goes to sleep until `wake`), e.g. a vCPU thread back in userspace. */
  block(t: Task, now: Ns): void {
    if (t.state !== "running" && t.state !== "runnable") return;
    if (t.state === "running") {
      const rq = this.rqs[t.cpu]!;
      this.switchTo(rq, null, now, t);
      t.state = "sleeping";
      this.pickOrIdle(rq, now);
    } else {
      const rq = this.rqs[t.cpu]!;
      rq.queue.splice(rq.queue.indexOf(t), 1);
      t.state = "sleeping";
    }
    if (t.timer.armed) this.events.cancel(t.timer);
  }

  /** Ends a task (kill -9). Returns 0 or -ESRCH. */
  kill(pid: number, now: Ns): number {
    const t = this.tasks.get(pid);
    if (!t || t.state === "dead") return -ERRNO.ESRCH;
    this.exit(t, now);
    return 0;
  }

  /** CPU hotplug. Returns 0, -EBUSY (last online CPU) or -EINVAL. */
  setOnline(cpu: number, online: boolean, now: Ns): number {
    const c = Number.isInteger(cpu) ? this.machine.cpus[cpu] : undefined;
    if (!c) return -ERRNO.EINVAL;
    if (c.online === online) return 0;
    if (!online && this.onlineCpus().length === 1) return -ERRNO.EBUSY;
    c.online = online;
    if (!online) {
      const rq = this.rqs[cpu]!;
      const movers = [...rq.queue];
      rq.queue.length = 0;
      const curr = rq.curr;
      if (curr) {
        this.switchTo(rq, null, now, curr);
        curr.state = "runnable";
        movers.unshift(curr);
      }
      for (const t of movers) this.enqueueAndKick(t, now);
    }
    for (const h of this.hooks) h.hotplug?.(c, online, now);
    return 0;
  }

  /** Online CPU ids. */
  onlineCpus(): number[] {
    return this.machine.cpus.filter((c) => c.online).map((c) => c.id);
  }

  /**
   * Re-reads what a running task executes (KVM calls this on guest entry and exit).
   */
  refreshExec(t: Task, now: Ns): void {
    if (t.state !== "running") return;
    const cpu = this.machine.cpus[t.cpu]!;
    cpu.setExec(now, t.exec.execOn(cpu), t.accountOn(cpu.id));
  }

  /** Brings runtimes and ledgers up to `now` (end of run, or before reading them). */
  sync(now: Ns): void {
    for (const rq of this.rqs) {
      rq.cpu.foldTruth(now);
      const t = rq.curr;
      if (t) {
        t.runtime += now - t.lastRanAt;
        t.lastRanAt = now;
      }
    }
  }

  /** Time a task has run, including the current stint. */
  runtimeOf(t: Task, now: Ns): number {
    return t.runtime + (t.state === "running" ? now - t.lastRanAt : 0);
  }

  // --- internals -------------------------------------------------------------------

  private slice(rq: RunQueue): number {
    const n = Math.max(1, rq.nrRunning);
    return Math.max(this.opts.latency / n, this.opts.minGranularity);
  }

  /** kernel: select_task_rq(): previous CPU if idle, else an idle allowed CPU, else the least loaded. */
  private selectCpu(t: Task): number {
    const allowed = t.affinity.filter((c) => this.machine.cpus[c]?.online);
    if (allowed.length === 0) return -1;
    const idle = (c: number) => this.rqs[c]!.nrRunning === 0;
    if (t.cpu >= 0 && allowed.includes(t.cpu) && idle(t.cpu)) return t.cpu;
    const firstIdle = allowed.find(idle);
    if (firstIdle !== undefined) return firstIdle;
    let best = allowed.includes(t.cpu) ? t.cpu : allowed[0]!;
    for (const c of allowed) if (this.rqs[c]!.nrRunning < this.rqs[best]!.nrRunning) best = c;
    return best;
  }

  private enqueue(t: Task, cpu: number, now: Ns): void {
    if (t.cpu !== cpu) {
      const from = t.cpu;
      if (from >= 0) {
        t.nrMigrations++;
        for (const h of this.hooks) h.migrate?.(t, from, cpu, now);
        if (this.trace.enabled) {
          this.trace.emit({
            kind: "sched_migrate",
            t: now,
            pid: t.pid,
            comm: t.comm,
            from,
            to: cpu,
          });
        }
      }
      t.cpu = cpu;
    }
    this.rqs[cpu]!.queue.push(t);
  }

  private enqueueAndKick(t: Task, now: Ns): void {
    const cpu = this.selectCpu(t);
    if (cpu < 0) {
      t.affinity = this.onlineCpus();
      this.enqueueAndKick(t, now);
      return;
    }
    this.enqueue(t, cpu, now);
    const rq = this.rqs[cpu]!;
    if (rq.curr === null) this.schedule(rq, now);
  }

  /** Picks the next task on an idle CPU, pulling one from a busy CPU if its queue is empty. */
  private pickOrIdle(rq: RunQueue, now: Ns): void {
    if (rq.queue.length === 0) this.idlePull(rq, now);
    if (rq.queue.length > 0) this.schedule(rq, now);
  }

  /** kernel: idle_balance(): take a waiting task another CPU could not run yet. */
  private idlePull(rq: RunQueue, now: Ns): void {
    if (!rq.cpu.online) return;
    let src: RunQueue | null = null;
    for (const other of this.rqs) {
      if (other === rq || other.queue.length === 0) continue;
      if (!other.queue.some((t) => t.allowed(rq.cpu.id))) continue;
      if (!src || other.queue.length > src.queue.length) src = other;
    }
    if (!src) return;
    const i = src.queue.findIndex((t) => t.allowed(rq.cpu.id));
    const [t] = src.queue.splice(i, 1);
    this.enqueue(t!, rq.cpu.id, now);
  }

  /** Switches `rq` to the head of its queue (or idle), re-queueing the current task. */
  private schedule(rq: RunQueue, now: Ns): void {
    const prev = rq.curr;
    const next = rq.queue.shift() ?? null;
    if (next === null && prev !== null) return;
    if (prev) {
      prev.state = "runnable";
      rq.queue.push(prev);
    }
    this.switchTo(rq, next, now, prev);
  }

  /**
   * The context switch itself (kernel: context_switch()): hooks out, change what the CPU
   * executes, hooks in. `prev` is the task leaving (it may already be off `rq.curr`).
   */
  private switchTo(rq: RunQueue, next: Task | null, now: Ns, prev: Task | null = rq.curr): void {
    const cpu = rq.cpu;
    if (prev === next) return;
    if (prev) {
      prev.runtime += now - prev.lastRanAt;
      prev.nrSwitches++;
      if (Number.isFinite(prev.burstLeft)) prev.burstLeft -= now - prev.lastRanAt;
      if (prev.timer.armed) this.events.cancel(prev.timer);
      for (const h of this.hooks) h.schedOut?.(cpu, prev, next, now);
    }
    rq.nrSwitches++;
    rq.curr = next;
    if (this.trace.enabled) {
      this.trace.emit({
        kind: "sched_switch",
        t: now,
        cpu: cpu.id,
        prev: prev?.pid ?? 0,
        prevComm: prev?.comm ?? "swapper",
        next: next?.pid ?? 0,
        nextComm: next?.comm ?? "swapper",
      });
    }
    if (next) {
      cpu.setExec(now, next.exec.execOn(cpu), next.accountOn(cpu.id));
      next.state = "running";
      next.lastRanAt = now;
      rq.sliceEnd = (now + this.slice(rq)) as Ns;
      this.armTaskTimer(next, now);
      for (const h of this.hooks) h.schedIn?.(cpu, prev, next, now);
      if (!rq.tickTimer.armed) {
        const nextTick = (Math.floor(now / this.tickNs) + 1) * this.tickNs;
        this.events.arm(rq.tickTimer, nextTick as Ns);
      }
    } else {
      cpu.setExec(now, null, null);
      if (rq.tickTimer.armed) this.events.cancel(rq.tickTimer);
    }
  }

  private armTaskTimer(t: Task, now: Ns): void {
    let left = t.burstLeft;
    if (t.exitAfter !== null) left = Math.min(left, t.exitAfter - t.runtime);
    if (Number.isFinite(left)) this.events.arm(t.timer, (now + Math.max(0, left)) as Ns);
  }

  private onTaskTimer(t: Task, now: Ns): void {
    if (t.state === "sleeping") {
      this.wake(t, now);
      return;
    }
    if (t.state !== "running") return;
    const ran = t.runtime + (now - t.lastRanAt);
    if (t.exitAfter !== null && ran >= t.exitAfter) {
      this.exit(t, now);
      return;
    }
    // End of a burst: block, then wake after the sleep period.
    const rq = this.rqs[t.cpu]!;
    this.switchTo(rq, null, now, t);
    t.state = "sleeping";
    this.pickOrIdle(rq, now);
    this.events.arm(t.timer, (now + (t.duty?.sleep ?? 0)) as Ns);
  }

  private exit(t: Task, now: Ns): void {
    if (t.state === "running") {
      const rq = this.rqs[t.cpu]!;
      this.switchTo(rq, null, now, t);
      t.state = "dead";
      this.pickOrIdle(rq, now);
    } else if (t.state === "runnable") {
      const rq = this.rqs[t.cpu]!;
      rq.queue.splice(rq.queue.indexOf(t), 1);
    }
    if (t.timer.armed) this.events.cancel(t.timer);
    t.state = "dead";
    t.exitedAt = now;
    for (const h of this.hooks) h.exit?.(t, now);
    if (this.trace.enabled)
      this.trace.emit({ kind: "sched_exit", t: now, pid: t.pid, comm: t.comm });
  }

  private onTick(rq: RunQueue, now: Ns): void {
    if (rq.curr === null) return;
    this.events.arm(rq.tickTimer, (now + this.tickNs) as Ns);
    for (const h of this.hooks) h.tick?.(rq.cpu, now);
    this.balance(rq, now);
    if (rq.queue.length > 0 && now >= rq.sliceEnd) this.schedule(rq, now);
  }

  /** kernel: trigger_load_balance(), simplified: push a waiting task to a less loaded CPU. */
  private balance(rq: RunQueue, now: Ns): void {
    for (let i = 0; i < rq.queue.length; i++) {
      const t = rq.queue[i]!;
      let target: RunQueue | null = null;
      for (const c of t.affinity) {
        const other = this.rqs[c]!;
        if (other === rq || !other.cpu.online) continue;
        if (other.nrRunning + 2 > rq.nrRunning) continue;
        if (!target || other.nrRunning < target.nrRunning) target = other;
      }
      if (!target) continue;
      rq.queue.splice(i, 1);
      this.enqueue(t, target.cpu.id, now);
      if (target.curr === null) this.schedule(target, now);
      return;
    }
  }
}
