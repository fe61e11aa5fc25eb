import type { EventQueue } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import type { ExecState } from "./exec.js";
import { TruthAccount } from "./ledger.js";
import type { CoreType } from "./machine.js";
import { CpuPmuHw } from "./pmu-hw.js";

/**
 * A simulated CPU: its core type and cluster, its PMU registers, what it executes now, and
 * its ground-truth ledger.
 */
export class Cpu {
  online = true;
  /** What the CPU executes; null when idle. */
  exec: ExecState | null = null;
  /** Since when `exec` has been executing (last fold). */
  execSince: Ns = 0 as Ns;
  /** The account (a task on this CPU) charged with what executes. */
  account: TruthAccount | null = null;
  /** Everything this CPU executed. */
  readonly truth = new TruthAccount();
  /** Nanoseconds spent idle. */
  idleTime = 0;
  readonly pmu: CpuPmuHw;

  constructor(
    readonly id: number,
    readonly coreType: CoreType,
    readonly cluster: number,
    queue: EventQueue,
  ) {
    this.pmu = new CpuPmuHw(coreType.pmu, queue);
  }

  /** Charges what executed since the last change to the ledgers. */
  foldTruth(now: Ns): void {
    const dt = now - this.execSince;
    if (dt > 0) {
      if (this.exec) {
        this.truth.add(this.exec, dt);
        this.account?.add(this.exec, dt);
      } else {
        this.idleTime += dt;
      }
    }
    this.execSince = now;
  }

  /**
   * Changes what the CPU executes: folds the ground truth and every running counter at the
   * old rate, then switches rates. This is the only way execution changes.
   */
  setExec(now: Ns, exec: ExecState | null, account: TruthAccount | null): void {
    this.foldTruth(now);
    this.exec = exec;
    this.account = account;
    this.pmu.retarget(now, exec);
  }
}
