import type { Cpu } from "../hw/cpu.js";
import type { ExecState } from "../hw/exec.js";
import { TruthAccount } from "../hw/ledger.js";
import { Timer } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";

/** Task flag: the task is a vCPU thread inside KVM_RUN (include/linux/sched.h PF_VCPU). */
export const PF_VCPU = 0x00000001;

/** Scheduler state of a task. */
export type TaskState = "new" | "runnable" | "running" | "sleeping" | "dead";

/** What a task executes on a given CPU. KVM replaces this for vCPU threads. */
export interface ExecProvider {
  execOn(cpu: Cpu): ExecState;
}

/** How a task alternates between running and sleeping. */
export interface DutyCycle {
  run: Ns;
  sleep: Ns;
}

/** A host task (a thread). A vCPU is an ordinary task with `isVcpu` set. */
export class Task {
  state: TaskState = "new";
  /** The CPU it runs on or last ran on (-1 before it first runs). */
  cpu = -1;
  /** Allowed CPUs (sorted). */
  affinity: number[];
  /** PF_* flags. */
  flags = 0;
  /** CPU time consumed (ns). */
  runtime = 0;
  /** Voluntary + involuntary context switches away from this task. */
  nrSwitches = 0;
  /** Times the task changed CPU. */
  nrMigrations = 0;
  /** When the current stint on a CPU started. */
  lastRanAt: Ns = 0 as Ns;
  /** Remaining run time of the current duty-cycle burst. */
  burstLeft = Number.POSITIVE_INFINITY;
  /** Ground truth per CPU this task ran on. */
  readonly truth = new Map<number, TruthAccount>();
  /** Fires at the end of a burst (block) or a sleep (wake). */
  readonly timer: Timer;
  /** Arbitrary owner data (KVM keeps its vCPU here). */
  owner: unknown = null;
  exitedAt: Ns | null = null;

  constructor(
    readonly pid: number,
    readonly comm: string,
    public exec: ExecProvider,
    affinity: number[],
    readonly isVcpu: boolean,
    readonly duty: DutyCycle | null,
    readonly exitAfter: Ns | null,
    onTimer: (t: Task, now: Ns) => void,
  ) {
    this.affinity = affinity;
    this.timer = new Timer(`task${pid}`, (now) => onTimer(this, now));
  }

  /** The truth account for this task on a CPU. */
  accountOn(cpu: number): TruthAccount {
    if (cpu === this.lastAccountCpu) return this.lastAccount!;
    let a = this.truth.get(cpu);
    if (!a) {
      a = new TruthAccount();
      this.truth.set(cpu, a);
    }
    this.lastAccountCpu = cpu;
    this.lastAccount = a;
    return a;
  }

  /** The last account looked up: a vCPU asks again on every guest entry and exit. */
  private lastAccountCpu = -1;
  private lastAccount: TruthAccount | null = null;

  /** True if the task may run on `cpu`. */
  allowed(cpu: number): boolean {
    return this.affinity.includes(cpu);
  }
}
