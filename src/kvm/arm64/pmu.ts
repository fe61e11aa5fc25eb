import type { PerfCore } from "../../perf/core.js";
import { PERF_EVENT_STATE, type PerfEvent } from "../../perf/event.js";
import { perfEventRelease } from "../../perf/install.js";
import { perfEventDisable, perfEventEnable } from "../../perf/ioctl.js";
import { perfEventCreateKernelCounter } from "../../perf/open.js";
import { perfEventRead } from "../../perf/read.js";
import type { Task } from "../../sched/task.js";
import type { Ns } from "../../sim/time.js";
import { ARMV8_EVENT, CYCLE_IDX, EVTYPE, PMCR, PMCR_MASK, type PmuReg, UNDEF } from "./pmuv3.js";

const M32 = (1n << 32n) - 1n;
const M64 = (1n << 64n) - 1n;

/** What the emulated PMUv3 needs from its VM. */
export interface ArmPmuVm {
  /** perf type id of the VM's arm_pmu (KVM: kvm->arch.arm_pmu). */
  pmuType(): number;
  /** The VM has FEAT_PMUv3p5 (64-bit event counters). */
  pmuv3p5(): boolean;
  /** Event filter: is an event number allowed? */
  allowed(event: number): boolean;
  /** PMCEID0/1 as the guest reads them on `cpu`. */
  pmceid(cpu: number): [bigint, bigint];
  /** Event number mask (10 bits on PMUv3 v8.0, 16 bits from v8.1). */
  eventMask(): number;
  /** 5.18: the overflow line also requires the counter enabled in PMCNTENSET. */
  overflowNeedsEnable(): boolean;
}

/**
 * The emulated PMUv3 of one vCPU (arch/arm64/kvm/pmu-emul.c): guest registers, counters
 * backed by host perf events of the VM's arm_pmu (task-bound to the vCPU thread, pinned,
 * exclude_host, exclude_hv), SW_INCR and CHAIN in software, overflow into PMOVSSET and an
 * interrupt line that is injected when its level changes.
 */
export class ArmVcpuPmu {
  pmcr = 0;
  cnten = 0;
  inten = 0;
  ovs = 0;
  selr = 0;
  userenr = 0;
  readonly evtyper = new Array<number>(32).fill(0);
  /** Shadow counter values (kernel: the vCPU's PMEVCNTR/PMCCNTR copies). */
  readonly shadow = new Array<bigint>(32).fill(0n);
  readonly events = new Array<PerfEvent | null>(32).fill(null);
  /** PMCR_EL0.N. */
  n = 0;
  /** Current level of the overflow interrupt line, and how often it was raised. */
  irqLevel = false;
  irqRaised = 0;

  constructor(
    private readonly core: PerfCore,
    private readonly vm: ArmPmuVm,
    private readonly task: Task,
    private readonly label: string,
  ) {}

  private is64(idx: number): boolean {
    return idx === CYCLE_IDX || this.vm.pmuv3p5();
  }

  /** kernel: kvm_pmu_counter_is_64bit() overflow: PMCR.LC for the cycle counter, LP for event counters. */
  private overflow64(idx: number): boolean {
    return idx === CYCLE_IDX
      ? (this.pmcr & PMCR.LC) !== 0
      : this.vm.pmuv3p5() && (this.pmcr & PMCR.LP) !== 0;
  }

  /** Implemented counter bits: event counters below N, and the cycle counter. */
  validMask(): number {
    return ((2 ** this.n - 1) | (1 << CYCLE_IDX)) >>> 0;
  }

  private idxValid(idx: number): boolean {
    return idx === CYCLE_IDX || (idx >= 0 && idx < this.n);
  }

  private enabled(idx: number): boolean {
    return (this.pmcr & PMCR.E) !== 0 && ((this.cnten >>> idx) & 1) === 1;
  }

  /** kernel: kvm_pmu_get_pmc_value(): shadow + the live perf count. */
  value(idx: number): bigint {
    let v = this.shadow[idx]!;
    const e = this.events[idx];
    if (e) {
      perfEventRead(this.core, e, false);
      v += BigInt(Math.floor(e.count + 1e-6));
    }
    return v & (this.is64(idx) ? M64 : M32);
  }

  /** kernel: kvm_pmu_stop_counter(): fold the perf count into the shadow and release the event. */
  private stop(idx: number, now: Ns): void {
    const e = this.events[idx];
    if (!e) return;
    this.shadow[idx] = this.value(idx);
    perfEventRelease(this.core, e, now);
    this.events[idx] = null;
  }

  /** kernel: kvm_pmu_create_perf_event(). */
  private create(idx: number, now: Ns): void {
    this.stop(idx, now);
    const evtreg = idx === CYCLE_IDX ? (this.evtyper[CYCLE_IDX] ?? 0) : this.evtyper[idx]!;
    const eventsel = idx === CYCLE_IDX ? ARMV8_EVENT.CPU_CYCLES : evtreg & this.vm.eventMask();
    if (eventsel === ARMV8_EVENT.SW_INCR || eventsel === ARMV8_EVENT.CHAIN) return;
    if (!this.vm.allowed(eventsel)) return;
    const cur = this.shadow[idx]!;
    const width = this.overflow64(idx) ? M64 : M32;
    let period = (-cur & width) as bigint;
    if (period === 0n) period = width + 1n;
    const e = perfEventCreateKernelCounter(
      this.core,
      {
        type: this.vm.pmuType(),
        config: eventsel,
        pinned: true,
        disabled: !this.enabled(idx),
        exclude_user: (evtreg & EVTYPE.EXCLUDE_EL0) !== 0,
        exclude_kernel: (evtreg & EVTYPE.EXCLUDE_EL1) !== 0,
        exclude_hv: true,
        exclude_host: true,
        config1: this.is64(idx) ? 1 : 0,
        sample_period: Number(
          period > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : period,
        ),
      },
      -1,
      this.task,
      `${this.label}:pmc${idx}`,
      (_e, t) => this.perfOverflow(idx, t),
    );
    // kernel: "pr_err_once"; the counter just stays still.
    if (typeof e !== "number") this.events[idx] = e;
  }

  /** kernel: kvm_pmu_perf_overflow(). */
  private perfOverflow(idx: number, now: Ns): void {
    this.ovs |= 1 << idx;
    const e = this.events[idx];
    if (e) {
      const full = this.overflow64(idx) ? 2 ** 53 : 2 ** 32;
      e.hw.samplePeriod = full;
      e.attr.sample_period = full;
    }
    if (this.canChain(idx)) this.increment(1 << (idx + 1), ARMV8_EVENT.CHAIN, now);
    this.updateIrq();
  }

  private canChain(idx: number): boolean {
    return (idx & 1) === 0 && idx + 1 < CYCLE_IDX && !this.overflow64(idx);
  }

  /** kernel: kvm_pmu_counter_increment(): SW_INCR and CHAIN, in software. */
  private increment(mask: number, event: number, now: Ns): void {
    if (!(this.pmcr & PMCR.E)) return;
    const m = mask & this.cnten;
    for (let i = 0; i < CYCLE_IDX; i++) {
      if (!((m >>> i) & 1)) continue;
      if ((this.evtyper[i]! & this.vm.eventMask()) !== event) continue;
      const w = this.is64(i) ? M64 : M32;
      const v = (this.value(i) + 1n) & w;
      this.setValue(i, v, now);
      const wrapped = this.overflow64(i) ? v === 0n : (v & M32) === 0n;
      if (wrapped) {
        this.ovs |= 1 << i;
        if (this.canChain(i)) this.increment(1 << (i + 1), ARMV8_EVENT.CHAIN, now);
      }
    }
    this.updateIrq();
  }

  private setValue(idx: number, v: bigint, now: Ns): void {
    const had = this.events[idx] !== null;
    this.stop(idx, now);
    this.shadow[idx] = v & (this.is64(idx) ? M64 : M32);
    if (had || this.wants(idx)) this.create(idx, now);
  }

  /** Does the counter need a perf event (configured with a countable event)? */
  private wants(idx: number): boolean {
    return this.idxValid(idx);
  }

  /** kernel: kvm_pmu_update_state(): the line is E && (PMOVSSET & PMINTENSET); inject on change. */
  updateIrq(): void {
    let pending = this.ovs & this.inten & this.validMask();
    if (this.vm.overflowNeedsEnable()) pending &= this.cnten;
    const level = (this.pmcr & PMCR.E) !== 0 && pending !== 0;
    if (level && !this.irqLevel) this.irqRaised++;
    this.irqLevel = level;
  }

  private recreateAll(now: Ns): void {
    for (let i = 0; i < 32; i++) if (this.idxValid(i)) this.create(i, now);
  }

  private reprogramAll(now: Ns): void {
    for (let i = 0; i < 32; i++) {
      if (!this.idxValid(i)) continue;
      const e = this.events[i];
      if (!e) {
        if (this.enabled(i)) this.create(i, now);
        continue;
      }
      if (this.enabled(i) && e.state <= PERF_EVENT_STATE.OFF) perfEventEnable(this.core, e, now);
      if (!this.enabled(i) && e.state >= PERF_EVENT_STATE.INACTIVE)
        perfEventDisable(this.core, e, now);
    }
  }

  /** A guest read of a PMU register. */
  read(reg: PmuReg, idx: number, cpu: number): bigint | typeof UNDEF {
    switch (reg) {
      case "PMCR_EL0":
        // P and C read as zero; N is the VM's (or, in 5.18, the reset CPU's).
        return BigInt(((this.pmcr & ~(PMCR.P | PMCR.C)) | (this.n << PMCR.N_SHIFT)) >>> 0);
      case "PMCNTENSET_EL0":
      case "PMCNTENCLR_EL0":
        return BigInt((this.cnten & this.validMask()) >>> 0);
      case "PMINTENSET_EL1":
      case "PMINTENCLR_EL1":
        return BigInt((this.inten & this.validMask()) >>> 0);
      case "PMOVSSET_EL0":
      case "PMOVSCLR_EL0":
        return BigInt((this.ovs & this.validMask()) >>> 0);
      case "PMSELR_EL0":
        return BigInt(this.selr);
      case "PMUSERENR_EL0":
        return BigInt(this.userenr);
      case "PMCEID0_EL0":
        return this.vm.pmceid(cpu)[0];
      case "PMCEID1_EL0":
        return this.vm.pmceid(cpu)[1];
      case "PMCCNTR_EL0":
        return this.value(CYCLE_IDX);
      case "PMCCFILTR_EL0":
        return BigInt(this.evtyper[CYCLE_IDX]! >>> 0);
      case "PMXEVTYPER_EL0":
        return this.read(
          this.selr === CYCLE_IDX ? "PMCCFILTR_EL0" : "PMEVTYPER_EL0",
          this.selr,
          cpu,
        );
      case "PMXEVCNTR_EL0":
        if (this.selr === CYCLE_IDX) return UNDEF;
        return this.read("PMEVCNTR_EL0", this.selr, cpu);
      case "PMEVTYPER_EL0":
        if (!this.idxValid(idx) || idx === CYCLE_IDX) return UNDEF;
        return BigInt(this.evtyper[idx]! >>> 0);
      case "PMEVCNTR_EL0":
        if (!this.idxValid(idx) || idx === CYCLE_IDX) return UNDEF;
        return this.value(idx);
      case "PMSWINC_EL0":
        return 0n;
    }
  }

  /** A guest write of a PMU register. Returns UNDEF for an unimplemented counter. */
  write(reg: PmuReg, idx: number, value: bigint, now: Ns): true | typeof UNDEF {
    const v32 = Number(value & M32);
    switch (reg) {
      case "PMCR_EL0": {
        // kernel: kvm_pmu_handle_pmcr()
        let nv = v32 & PMCR_MASK;
        if (!this.vm.pmuv3p5()) nv &= ~PMCR.LP;
        if (nv & PMCR.C) this.setValue(CYCLE_IDX, 0n, now);
        if (nv & PMCR.P) for (let i = 0; i < this.n; i++) this.setValue(i, 0n, now);
        this.pmcr = nv & ~(PMCR.P | PMCR.C);
        // kernel: kvm_pmu_reprogram_counter_mask() on every PMCR write: each implemented
        // counter's event is recreated, so E, LC and LP take effect together.
        this.recreateAll(now);
        this.updateIrq();
        return true;
      }
      case "PMCNTENSET_EL0":
        this.cnten = (this.cnten | (v32 & this.validMask())) >>> 0;
        this.reprogramAll(now);
        this.updateIrq();
        return true;
      case "PMCNTENCLR_EL0":
        this.cnten = (this.cnten & ~v32) >>> 0;
        this.reprogramAll(now);
        this.updateIrq();
        return true;
      case "PMINTENSET_EL1":
        this.inten = (this.inten | (v32 & this.validMask())) >>> 0;
        this.updateIrq();
        return true;
      case "PMINTENCLR_EL1":
        this.inten = (this.inten & ~v32) >>> 0;
        this.updateIrq();
        return true;
      case "PMOVSSET_EL0":
        this.ovs = (this.ovs | (v32 & this.validMask())) >>> 0;
        this.updateIrq();
        return true;
      case "PMOVSCLR_EL0":
        this.ovs = (this.ovs & ~v32) >>> 0;
        this.updateIrq();
        return true;
      case "PMSWINC_EL0":
        this.increment(v32 & this.validMask() & ~(1 << CYCLE_IDX), ARMV8_EVENT.SW_INCR, now);
        return true;
      case "PMSELR_EL0":
        this.selr = v32 & 0x1f;
        return true;
      case "PMUSERENR_EL0":
        this.userenr = v32 & 0xf;
        return true;
      case "PMCCNTR_EL0":
        this.setValue(CYCLE_IDX, value, now);
        return true;
      case "PMCCFILTR_EL0":
        this.evtyper[CYCLE_IDX] =
          v32 &
          (EVTYPE.EXCLUDE_EL1 |
            EVTYPE.EXCLUDE_EL0 |
            EVTYPE.EXCLUDE_NS_EL1 |
            EVTYPE.EXCLUDE_NS_EL0 |
            EVTYPE.INCLUDE_EL2);
        this.create(CYCLE_IDX, now);
        return true;
      case "PMXEVTYPER_EL0":
        return this.write(
          this.selr === CYCLE_IDX ? "PMCCFILTR_EL0" : "PMEVTYPER_EL0",
          this.selr,
          value,
          now,
        );
      case "PMXEVCNTR_EL0":
        if (this.selr === CYCLE_IDX) return UNDEF;
        return this.write("PMEVCNTR_EL0", this.selr, value, now);
      case "PMEVTYPER_EL0":
        if (!this.idxValid(idx) || idx === CYCLE_IDX) return UNDEF;
        this.evtyper[idx] = v32 & (EVTYPE.EXCLUDE_EL1 | EVTYPE.EXCLUDE_EL0 | this.vm.eventMask());
        this.create(idx, now);
        return true;
      case "PMEVCNTR_EL0":
        if (!this.idxValid(idx) || idx === CYCLE_IDX) return UNDEF;
        this.setValue(idx, value, now);
        return true;
      default:
        return true;
    }
  }

  /**
   * A userspace write (KVM_SET_ONE_REG) of PMCNTEN, PMINTEN or PMOVS: the register takes the
   * value masked to the implemented counters, and the counters are reloaded.
   */
  userSetBitmap(which: "cnten" | "inten" | "ovs", value: number, now: Ns): void {
    this[which] = (value & this.validMask()) >>> 0;
    this.reprogramAll(now);
    this.updateIrq();
  }

  /** Releases every perf event (vCPU destruction). */
  destroy(now: Ns): void {
    for (let i = 0; i < 32; i++) this.stop(i, now);
  }
}
