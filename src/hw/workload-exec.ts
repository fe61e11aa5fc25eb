import type { Cpu } from "./cpu.js";
import { type ExecState, makeExec } from "./exec.js";
import type { CoreType } from "./machine.js";
import { effectiveProfile, ratesFor, type Workload } from "./workload.js";

/**
 * Turns a workload into what a CPU executes, per core type, cached: the same task counts
 * differently on a big and a little core. `guest` puts the user/kernel split in the guest
 * modes (for code running inside a VM).
 */
export class WorkloadExec {
  private readonly cache = new Map<string, ExecState>();
  /** The last lookup: a task asks again on every guest entry and exit, on the same core type. */
  private lastCoreType: CoreType | null = null;
  private lastExec: ExecState | null = null;

  constructor(
    readonly workload: Workload,
    readonly label: string,
    readonly guest = false,
  ) {}

  /** The ExecState on `cpu`'s core type. */
  execOn(cpu: Cpu): ExecState {
    const ct = cpu.coreType;
    if (ct === this.lastCoreType) return this.lastExec!;
    let e = this.cache.get(ct.name);
    if (!e) {
      const p = effectiveProfile(this.workload, ct.name, ct.scaling);
      const u = p.userFraction;
      const fracs = this.guest ? [0, 0, u, 1 - u] : [u, 1 - u, 0, 0];
      e = makeExec(this.label, ratesFor(p, ct.scaling), fracs);
      this.cache.set(ct.name, e);
    }
    this.lastCoreType = ct;
    this.lastExec = e;
    return e;
  }
}
