import { Machine, type MachineDesc } from "./hw/machine.js";
import { WorkloadExec } from "./hw/workload-exec.js";
import type { Workload } from "./hw/workload.js";
import { DEFAULT_SCHED, type SchedOptions, Scheduler } from "./sched/scheduler.js";
import type { DutyCycle, Task } from "./sched/task.js";
import { Clock } from "./sim/clock.js";
import { check } from "./sim/errno.js";
import { EventQueue, Timer } from "./sim/queue.js";
import { Rng } from "./sim/rng.js";
import type { Ns } from "./sim/time.js";
import { TraceBus } from "./sim/trace.js";

/** Options of a simulated system. */
export interface SystemOptions {
  machine: MachineDesc;
  seed?: number;
  sched?: Partial<SchedOptions>;
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
  /** Timer events processed so far. */
  eventsProcessed = 0;

  constructor(opts: SystemOptions) {
    this.rng = new Rng(opts.seed ?? 1);
    this.machine = new Machine(opts.machine, this.queue);
    this.sched = new Scheduler(
      this.machine,
      this.queue,
      { ...DEFAULT_SCHED, ...opts.sched },
      this.trace,
    );
  }

  /** Current simulated time. */
  get now(): Ns {
    return this.clock.now;
  }

  /** Runs every timer due up to and including `until`, then leaves the clock at `until`. */
  run(until: Ns): void {
    const q = this.queue;
    while (q.peekTime() <= until) {
      const timer = q.pop()!;
      this.clock.advance(timer.when);
      this.eventsProcessed++;
      timer.fire(timer.when);
    }
    this.clock.advance(until);
  }

  /** Schedules a one-shot callback at an absolute time. */
  at(t: Ns, name: string, fn: (now: Ns) => void): Timer {
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
    const t = this.sched.spawn({
      comm: spec.comm,
      exec: new WorkloadExec(spec.workload, spec.comm),
      affinity: spec.affinity,
      duty: spec.duty ?? null,
      exitAfter: spec.exitAfter ?? null,
    });
    this.sched.wake(t, this.now);
    return t;
  }

  /** sched_setaffinity(2): throws KernelError (ESRCH, EINVAL) like the syscall. */
  schedSetaffinity(pid: number, cpus: readonly number[]): void {
    check(this.sched.setAffinity(pid, cpus, this.now), "sched_setaffinity");
  }

  /** kill(pid, SIGKILL): throws KernelError ESRCH for an unknown pid. */
  kill(pid: number): void {
    check(this.sched.kill(pid, this.now), "kill");
  }

  /** Brings ledgers and runtimes up to date (before reading results). */
  sync(): void {
    this.sched.sync(this.now);
  }
}
