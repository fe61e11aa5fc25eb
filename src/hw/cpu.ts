import type { EventQueue } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import type { ExecState } from "./exec.js";
import { TruthAccount } from "./ledger.js";
import type { CoreType } from "./machine-desc.js";
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
  /**
   * The counter registers the CPU runs now: the host's, or a guest's while a mediated
   * (or passthrough) vPMU context is loaded (see `loadPmuState`).
   */
  pmu: CpuPmuHw;
  /** The host's counter registers. */
  readonly hostPmu: CpuPmuHw;

  constructor(
    readonly id: number,
    readonly coreType: CoreType,
    readonly cluster: number,
    queue: EventQueue,
  ) {
    this.hostPmu = new CpuPmuHw(coreType.pmu, queue);
    this.pmu = this.hostPmu;
  }

  /**
   * Puts a guest's saved counter state into the registers (null: the host's back). The
   * kernel writes every counter and event select at a mediated load and reads and zeroes
   * them at put; the model keeps each side's registers as their own objects and swaps
   * them, so a switch costs nothing per idle counter. The host side is left as put leaves
   * it: every counter zero, stopped and free; after a lazy load (perf/guest-switch.ts) its
   * counters stay with their events, stopped, until the put or a sync.
   */
  loadPmuState(state: CpuPmuHw | null, now: Ns): void {
    if (state === null) {
      this.pmu = this.hostPmu;
      return;
    }
    this.hostPmu.clearFreed();
    this.pmu = state;
    state.retarget(now, this.exec);
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
