import { quantityOf } from "../hw/pmu-desc.js";
import { Mode } from "../hw/quantity.js";
import type { KvmArmVcpu } from "../kvm/arm64/kvm.js";
import { CYCLE_IDX, PMCR, type PmuReg } from "../kvm/arm64/pmuv3.js";
import type { Ns } from "../sim/time.js";
import type { GuestCounterResult } from "./perf-stat.js";

/** PMUv3 events the arm64 guest perf stat knows by name. */
export const GUEST_ARM_EVENTS: Record<string, number> = {
  cycles: 0x11,
  cpu_cycles: 0x11,
  instructions: 0x08,
  inst_retired: 0x08,
  mem_access: 0x13,
  branch_misses: 0x10,
  br_mis_pred: 0x10,
  l1d_cache: 0x04,
  l1d_cache_refill: 0x03,
  stall_frontend: 0x23,
  stall_backend: 0x24,
};

/**
 * perf stat inside an arm64 guest: cycles on the cycle counter (PMCCNTR), other events on
 * event counters, programmed through PMCR/PMCNTENSET/PMEVTYPER. Every PMU system register
 * access traps to KVM (an exit). Counters of a vCPU running where the VM's PMU does not
 * reach simply stop: the guest reads what was counted before.
 */
export class ArmGuestPerfStat {
  private readonly slots: Array<{ name: string; event: number; idx: number }> = [];
  private startNs = 0;
  private stopNs = 0;
  private truth0: number[] = [];
  private truth1: number[] = [];
  private values: number[] = [];
  noPmu = false;

  constructor(
    readonly vcpu: KvmArmVcpu,
    events: string[],
  ) {
    let next = 0;
    for (const name of events) {
      const ev = GUEST_ARM_EVENTS[name] ?? Number.parseInt(name.replace(/^r/, ""), 16);
      const idx = ev === 0x11 && !this.slots.some((s) => s.idx === CYCLE_IDX) ? CYCLE_IDX : next++;
      this.slots.push({ name, event: ev, idx });
    }
  }

  private op(
    reg: PmuReg,
    idx: number,
    value: bigint | null,
    now: Ns,
    done?: (v: bigint | null) => void,
  ): void {
    const v = this.vcpu;
    v.run.guestOp(
      {
        intercepted: true,
        reason: "sysreg",
        costNs: v.vm.kvm.costs.pmuMsrNs,
        run: (t) => {
          const pmu = v.pmu;
          if (!pmu) {
            done?.(null);
            return;
          }
          if (value === null) {
            const r = pmu.read(reg, idx, v.run.task.cpu);
            done?.(typeof r === "bigint" ? r : null);
          } else {
            pmu.write(reg, idx, value, t);
            done?.(value);
          }
        },
      },
      now,
    );
  }

  /** Programs and enables the counters. */
  start(now: Ns): void {
    this.startNs = now;
    this.truth0 = this.slots.map((s) => this.truth(s.event));
    if (!this.vcpu.pmu) {
      this.noPmu = true;
      return;
    }
    let mask = 0n;
    for (const s of this.slots) {
      if (s.idx !== CYCLE_IDX) this.op("PMEVTYPER_EL0", s.idx, BigInt(s.event), now);
      this.op(s.idx === CYCLE_IDX ? "PMCCNTR_EL0" : "PMEVCNTR_EL0", s.idx, 0n, now);
      mask |= 1n << BigInt(s.idx);
    }
    this.op("PMCNTENSET_EL0", 0, mask, now);
    this.op("PMCR_EL0", 0, BigInt(PMCR.E | PMCR.LC), now);
  }

  /** Reads every counter. */
  stop(now: Ns): void {
    this.stopNs = now;
    this.truth1 = this.slots.map((s) => this.truth(s.event));
    if (this.noPmu) return;
    this.values = this.slots.map(() => 0);
    this.slots.forEach((s, k) => {
      this.op(s.idx === CYCLE_IDX ? "PMCCNTR_EL0" : "PMEVCNTR_EL0", s.idx, null, now, (v) => {
        this.values[k] = v === null ? 0 : Number(v);
      });
    });
  }

  private truth(event: number): number {
    const sys = this.vcpu.vm.kvm.sys;
    sys.sync();
    let s = 0;
    const mask = (1 << Mode.GUEST_USER) | (1 << Mode.GUEST_KERNEL);
    for (const [cpu, a] of this.vcpu.run.task.truth) {
      const q = quantityOf(sys.machine.cpus[cpu]!.coreType.pmu, event) ?? -1;
      s += a.count(q, mask);
    }
    return s;
  }

  /** The guest's report: counts as read, over the whole window (no multiplexing). */
  result(): GuestCounterResult[] {
    const enabled = this.stopNs - this.startNs;
    return this.slots.map((s, k) => ({
      event: s.name,
      count: this.values[k] ?? 0,
      enabled_ns: enabled,
      running_ns: this.noPmu ? 0 : enabled,
      scaled: this.noPmu ? null : (this.values[k] ?? 0),
      truth: Math.round((this.truth1[k] ?? 0) - (this.truth0[k] ?? 0)),
    }));
  }
}
