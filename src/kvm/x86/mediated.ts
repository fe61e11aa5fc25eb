import type { HwCounter } from "../../hw/counter.js";
import type { Cpu } from "../../hw/cpu.js";
import { isAmdPmu, quantityOf } from "../../hw/pmu-desc.js";
import { CpuPmuHw } from "../../hw/pmu-hw.js";
import { Mode } from "../../hw/quantity.js";
import type { EventQueue } from "../../sim/queue.js";
import type { Ns } from "../../sim/time.js";
import type { KvmAmdPmu } from "./amd.js";
import { AMD_MSR, AMD64_NUM_COUNTERS, MSR, PERF_CAP_FW_WRITES } from "./msr.js";
import type { KvmPmc, KvmX86Pmu, VpmuBackend } from "./pmu.js";

/** `v % modulus` without the floating-point remainder when `v` is already in range. */
function wrapTo(v: number, modulus: number): number {
  return v >= 0 && v < modulus ? v : v % modulus;
}

/** The holder of a hardware counter while a guest context is loaded. */
export class GuestOwner {
  constructor(readonly name: string) {}
}

/** What the mediated backend asks of its vCPU. */
export interface MediatedHooks {
  allowed(pmc: KvmPmc): boolean;
  /** A guest counter overflowed in hardware: the mediated PMI vector fires (a VM exit). */
  pmi(pmc: KvmPmc, now: Ns): void;
}

/**
 * The guest owns the PMU hardware while its context is loaded (the 2024 passthrough RFC
 * and the Linux 7.0 mediated vPMU): guest counters and event selects are written to the
 * real counters at load and read back and zeroed at put (kvm_mediated_pmu_load/put()).
 * Counter accesses do not exit; event selects and FIXED_CTR_CTRL always do, so KVM can
 * apply the event filter (a disallowed event is written with EN clear).
 */
export class MediatedBackend implements VpmuBackend {
  /** The CPU whose counters hold the guest state, or null when put. */
  private cpu: Cpu | null = null;
  readonly owner: GuestOwner;
  /** Host counter count: GLOBAL_* and RDPMC pass through only when the guest has them all. */
  private readonly globalsPassthrough: boolean;
  /**
   * The guest's counter registers: what kvm_mediated_pmu_load() writes into the hardware
   * and kvm_mediated_pmu_put() saves. They are swapped into the CPU at load and out at put
   * (Cpu.loadPmuState), and count only while loaded (guest modes only, so not while the
   * CPU runs host code).
   */
  readonly state: CpuPmuHw;
  /** Some guest counter is narrower than the hardware one: put folds the value to its width. */
  private readonly narrow: boolean;
  /** An AMD host: PerfMonV2 status/control switched by amd_mediated_pmu_load()/put(). */
  private readonly amd: boolean;

  constructor(
    private readonly pmu: KvmX86Pmu,
    label: string,
    private readonly hooks: MediatedHooks,
    queue: EventQueue,
  ) {
    this.owner = new GuestOwner(`guest ${label}`);
    this.globalsPassthrough =
      pmu.version >= 2 && pmu.nrGp === pmu.host.nrGp && pmu.nrFixed === pmu.host.fixed.length;
    this.state = new CpuPmuHw(pmu.host, queue);
    let narrow = false;
    for (const pmc of pmu.all()) {
      const c = this.state.slot[pmc.idx]!;
      c.setOwner(this.owner);
      c.write(pmc.counter, 0 as Ns);
      c.onOverflow = this.makeOverflowHandler(pmc);
      if (pmc.modulus < c.modulus) narrow = true;
    }
    this.narrow = narrow;
    this.amd = isAmdPmu(pmu.host);
  }

  /** True while the guest PMU context is loaded on a CPU. */
  get loaded(): boolean {
    return this.cpu !== null;
  }

  /** kernel: the mediated MSR interception rules (vmx_recalc_pmu_msr_intercepts()). */
  passthrough(msr: number): boolean {
    if (this.amd) return this.amdPassthrough(msr);
    const p = this.pmu;
    if (msr >= MSR.IA32_PMC0 && msr < MSR.IA32_PMC0 + p.nrGp) return true;
    if (msr >= MSR.IA32_A_PMC0 && msr < MSR.IA32_A_PMC0 + p.nrGp)
      return (p.guestPerfCapabilities() & PERF_CAP_FW_WRITES) !== 0n;
    if (msr >= MSR.IA32_FIXED_CTR0 && msr < MSR.IA32_FIXED_CTR0 + p.nrFixed) return true;
    if (
      msr === MSR.IA32_PERF_GLOBAL_CTRL ||
      msr === MSR.IA32_PERF_GLOBAL_STATUS ||
      msr === MSR.IA32_PERF_GLOBAL_OVF_CTRL
    ) {
      return this.globalsPassthrough;
    }
    return false;
  }

  /**
   * kernel: svm_recalc_pmu_msr_intercepts(): the K7 PerfCtr0-3 and, with PerfCtrExtCore,
   * the PERF_CTRn of existing counters pass through; PerfEvtSel/PERF_CTL always exit; the
   * PerfMonV2 global MSRs pass through under the same rule as Intel's.
   */
  private amdPassthrough(msr: number): boolean {
    const p = this.pmu as KvmAmdPmu;
    const legacy = Math.min(p.nrGp, AMD64_NUM_COUNTERS);
    if (msr >= AMD_MSR.K7_PERFCTR0 && msr < AMD_MSR.K7_PERFCTR0 + legacy) return true;
    const off = msr - AMD_MSR.F15H_PERF_CTR0;
    if (off >= 0 && off < 2 * p.nrGp && off % 2 === 0) return p.perfCtrCore;
    if (msr >= AMD_MSR.GLOBAL_STATUS && msr <= AMD_MSR.GLOBAL_STATUS_SET)
      return this.globalsPassthrough;
    return false;
  }

  /**
   * kernel: amd_mediated_pmu_load(): clear whatever status the host left (STATUS_CLR),
   * restore the guest's through STATUS_SET, then GLOBAL_CTL = the guest's.
   */
  private amdLoad(cpu: Cpu): void {
    const hw = cpu.pmu;
    if (hw.globalStatus !== 0n) hw.globalStatus = 0n;
    hw.globalStatus |= this.pmu.globalStatus;
    hw.globalCtl = this.pmu.globalCtrl;
  }

  /**
   * kernel: amd_mediated_pmu_put(): GLOBAL_CTL = 0, read GLOBAL_STATUS into the guest's
   * software copy, and clear it through STATUS_CLR so the host never sees guest overflows.
   */
  private amdPut(cpu: Cpu): void {
    const hw = cpu.pmu;
    hw.globalCtl = 0n;
    this.pmu.globalStatus = hw.globalStatus;
    if (hw.globalStatus !== 0n) hw.globalStatus = 0n;
  }

  /**
   * Keeps the loaded hardware GLOBAL_STATUS/GLOBAL_CTL in step with a guest change made
   * while loaded (a passed-through global MSR write, or an overflow KVM recorded).
   */
  syncStatus(): void {
    if (!this.amd || !this.cpu) return;
    this.cpu.pmu.globalStatus = this.pmu.globalStatus;
    this.cpu.pmu.globalCtl = this.pmu.globalCtrl;
  }

  /** RDPMC exits unless the guest has every host counter at the host widths. */
  rdpmcPassthrough(): boolean {
    const p = this.pmu;
    return (
      this.globalsPassthrough &&
      p.gpMask === 2 ** p.host.gpWidth - 1 &&
      p.fixedMask === 2 ** p.host.fixedWidth - 1
    );
  }

  private hw(pmc: KvmPmc): HwCounter {
    return this.state.slot[pmc.idx]!;
  }

  read(pmc: KvmPmc, now: Ns): number {
    return this.hw(pmc).value(now) % pmc.modulus;
  }

  write(pmc: KvmPmc, value: number, now: Ns): void {
    this.hw(pmc).write(value, now);
  }

  reprogram(pmc: KvmPmc, now: Ns): void {
    this.program(pmc, this.hw(pmc), now);
  }

  /** Writes eventsel_hw: the guest's selection with EN cleared when it is not allowed. */
  private program(pmc: KvmPmc, c: HwCounter, now: Ns): void {
    const ctl = this.pmu.controlBits(pmc);
    const q = quantityOf(this.state.desc, this.pmu.encoding(pmc)) ?? -1;
    const mask = (ctl & 1 ? 1 << Mode.GUEST_USER : 0) | (ctl & 2 ? 1 << Mode.GUEST_KERNEL : 0);
    const on = this.pmu.counting(pmc) && this.hooks.allowed(pmc);
    // Not loaded: the selection is saved and takes effect at the next load.
    this.state.configure(c, q, mask, on, now, this.cpu ? this.cpu.exec : null);
  }

  /** Apart from the constructor: a closure there would keep the whole constructor scope. */
  private makeOverflowHandler(pmc: KvmPmc): (c: HwCounter, now: Ns) => void {
    return (_c, t) => {
      this.pmu.overflow(pmc);
      if (this.pmu.controls(pmc).int) this.hooks.pmi(pmc, t);
    };
  }

  /** kernel: kvm_mediated_pmu_load(): guest counters and selects into the hardware. */
  load(cpu: Cpu, now: Ns): void {
    this.cpu = cpu;
    cpu.loadPmuState(this.state, now);
    if (this.amd) this.amdLoad(cpu);
  }

  /**
   * kernel: kvm_mediated_pmu_put(): the guest's counters are saved (they stop: the CPU is
   * back in host mode) and the host's registers come back zeroed.
   */
  put(now: Ns): void {
    const cpu = this.cpu;
    if (!cpu) return;
    if (this.amd) this.amdPut(cpu);
    // The guest's counters stop (usually they already have: the exit switched the CPU to
    // host code, and they count guest modes only).
    this.state.retarget(now, null);
    if (this.narrow) {
      for (const pmc of this.pmu.all()) {
        const c = this.hw(pmc);
        const v = c.value(now);
        if (v >= pmc.modulus) c.write(wrapTo(v, pmc.modulus), now);
      }
    }
    cpu.loadPmuState(null, now);
    this.cpu = null;
  }
}
