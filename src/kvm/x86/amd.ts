import { AMD_EVENT_HI_SHIFT, amdEventSelectHi, type PmuHwDesc } from "../../hw/pmu-desc.js";
import type { Ns } from "../../sim/time.js";
import {
  AMD_EVENTSEL_RESERVED,
  AMD_MSR,
  AMD64_NUM_COUNTERS,
  AMD64_NUM_COUNTERS_CORE,
  GP_FAULT,
  KVM_MAX_NR_AMD_GP_COUNTERS,
  type MsrResult,
} from "./msr.js";
import { type KvmPmc, KvmX86Pmu } from "./pmu.js";

/** The guest CPUID bits that shape an AMD vPMU (KVM_SET_CPUID2). */
export interface AmdPmuCpuid {
  /** CPUID 0x80000001 ECX[23] PerfCtrExtCore: six counters at the PERF_CTL/PERF_CTR MSRs. */
  perfCtrCore: boolean;
  /** CPUID 0x80000022 EAX[0] PerfMonV2: the global control and status MSRs (version 2). */
  perfMonV2: boolean;
  /** CPUID 0x80000022 EBX[3:0] NumCorePmc: the counter count when PerfMonV2 is set. */
  numCorePmc: number;
}

/** AMD's "retired branch instructions" (Ex_Ret_Brn, PMCx0C2). */
const AMD_BRANCHES_RETIRED = 0x00c2;

const W48_MASK = 2 ** 48 - 1;

/** Which counter an AMD PMU MSR addresses, and whether it is the select or the count. */
interface AmdMsrTarget {
  pmc: KvmPmc;
  kind: "evtsel" | "ctr";
}

/**
 * The guest-visible AMD PMU of one vCPU (arch/x86/kvm/svm/pmu.c with the common code in
 * arch/x86/kvm/pmu.c): the legacy K7 PerfEvtSel/PerfCtr MSRs for counters 0-3, the
 * PerfCtrExtCore MSRs (stride 2) for up to six counters, and with PerfMonV2 the global
 * control/status MSRs. Unlike Intel, reserved event-select bits and writes to the read-only
 * GLOBAL_STATUS are silently dropped instead of raising #GP. There are no fixed counters
 * and every counter is 48 bits wide. Counting is delegated to the same backends as Intel.
 */
export class KvmAmdPmu extends KvmX86Pmu {
  /** The guest has PerfCtrExtCore (guest CPUID and KVM both). */
  perfCtrCore = false;
  override readonly masksLvtpcOnPmi = false;
  protected override readonly branchesRetiredEncoding = AMD_BRANCHES_RETIRED;

  /** The encoding a counter counts: AMD64_EVENTSEL_EVENT adds EventSelect[11:8] (bits 35:32). */
  override encoding(pmc: KvmPmc): number {
    return (pmc.eventsel & 0xffff) | (amdEventSelectHi(pmc.eventsel) << AMD_EVENT_HI_SHIFT);
  }

  /** AMD64_RAW_EVENT_MASK: X86_RAW_EVENT_MASK and EventSelect[11:8] at bits 35:32. */
  override rawEventConfig(pmc: KvmPmc): number {
    return super.rawEventConfig(pmc) + amdEventSelectHi(pmc.eventsel) * 2 ** 32;
  }

  /** What KVM_GET_SUPPORTED_CPUID reports for an AMD host (kvm_set_cpu_caps()). */
  static supportedAmdCpuid(host: PmuHwDesc, maxVersion: number): AmdPmuCpuid {
    return {
      perfCtrCore: true,
      perfMonV2: Math.min(host.version, maxVersion) >= 2,
      numCorePmc: Math.min(host.nrGp, KVM_MAX_NR_AMD_GP_COUNTERS),
    };
  }

  /**
   * kernel: kvm_pmu_refresh() + amd_pmu_refresh(). With the VM's PMU enabled the guest
   * always gets at least version 1 (CPUID cannot turn the AMD vPMU off); PerfMonV2 makes it
   * version 2 with NumCorePmc counters, PerfCtrExtCore gives 6 and otherwise there are the
   * 4 legacy counters, all capped at what KVM supports (at most 6). The CPUID features
   * count only where KVM supports them too (guest_cpu_cap_has()).
   */
  refreshAmd(cpuid: AmdPmuCpuid, enablePmu: boolean): void {
    const kvmGp = Math.min(this.host.nrGp, KVM_MAX_NR_AMD_GP_COUNTERS);
    const v2Supported = Math.min(this.host.version, this.maxVersion) >= 2;
    this.perfCtrCore = cpuid.perfCtrCore;
    let v = 0;
    let n = 0;
    if (enablePmu) {
      v = cpuid.perfMonV2 && v2Supported ? 2 : 1;
      if (v === 2) n = cpuid.numCorePmc;
      else n = cpuid.perfCtrCore ? AMD64_NUM_COUNTERS_CORE : AMD64_NUM_COUNTERS;
      n = Math.max(0, Math.min(n, kvmGp));
    }
    this.version = v;
    this.nrGp = n;
    this.nrFixed = 0;
    this.gpMask = v ? W48_MASK : 0;
    this.fixedMask = 0;
    this.gp = Array.from({ length: n }, (_, i) => ({
      idx: i,
      fixed: false,
      eventsel: 0,
      counter: 0,
      modulus: 2 ** 48,
      backend: null,
    }));
    this.fixed = [];
    this.allPmcs = [...this.gp];
    this.reset();
  }

  /** A counter overflowed: as on Intel, and the loaded hardware status follows. */
  override overflow(pmc: KvmPmc): void {
    super.overflow(pmc);
    this.statusChanged();
  }

  /** GLOBAL_STATUS changed: a mediated backend with the context loaded mirrors it in hardware. */
  private statusChanged(): void {
    (this.backend as { syncStatus?: () => void } | null)?.syncStatus?.();
  }

  /** Intel's CPUID 0xA does not apply: refresh from the supported AMD CPUID instead. */
  override refresh(_cpuid: unknown, enablePmu: boolean): void {
    this.refreshAmd(KvmAmdPmu.supportedAmdCpuid(this.host, this.maxVersion), enablePmu);
  }

  /** Bits of GLOBAL_CTL/GLOBAL_STATUS that exist (amd_pmu_refresh(): one per counter). */
  private validGlobalBits(): bigint {
    return BigInt(2 ** this.nrGp - 1);
  }

  /**
   * kernel: get_gp_pmc_amd(): the counter behind a K7 or PerfCtrExtCore MSR. Returns null
   * for an MSR that is not a counter MSR at all, "gp" for one the vCPU cannot use (#GP), and
   * "legacy-off" for a K7 MSR without a vPMU (kvm_get_msr_common() reads 0, drops writes).
   */
  private pmcByAmdMsr(msr: number): AmdMsrTarget | "gp" | "legacy-off" | null {
    if (msr >= AMD_MSR.K7_EVNTSEL0 && msr < AMD_MSR.K7_PERFCTR0 + AMD64_NUM_COUNTERS) {
      if (this.version === 0) return "legacy-off";
      const ctr = msr >= AMD_MSR.K7_PERFCTR0;
      const i = ctr ? msr - AMD_MSR.K7_PERFCTR0 : msr - AMD_MSR.K7_EVNTSEL0;
      const pmc = this.gp[i];
      return pmc ? { pmc, kind: ctr ? "ctr" : "evtsel" } : "gp";
    }
    if (
      msr >= AMD_MSR.F15H_PERF_CTL0 &&
      msr < AMD_MSR.F15H_PERF_CTL0 + 2 * AMD64_NUM_COUNTERS_CORE
    ) {
      if (!this.perfCtrCore || this.version === 0) return "gp";
      const off = msr - AMD_MSR.F15H_PERF_CTL0;
      const pmc = this.gp[off >> 1];
      return pmc ? { pmc, kind: off & 1 ? "ctr" : "evtsel" } : "gp";
    }
    return null;
  }

  /** The P6 MSRs (0xC1, 0xC2, 0x186, 0x187) are never PMU MSRs on AMD: read 0, writes dropped. */
  private static isP6(msr: number): boolean {
    return msr === 0xc1 || msr === 0xc2 || msr === 0x186 || msr === 0x187;
  }

  private static isGlobal(msr: number): boolean {
    return msr >= AMD_MSR.GLOBAL_STATUS && msr <= AMD_MSR.GLOBAL_STATUS_SET;
  }

  private readCounter(pmc: KvmPmc, now: Ns): number {
    const v = this.backend ? this.backend.read(pmc, now) % (this.gpMask + 1) : pmc.counter;
    return this.observe(pmc, v, now);
  }

  /** kernel: kvm_pmu_get_msr() + amd_pmu_get_msr(). Returns the value or GP_FAULT. */
  override rdmsr(msr: number, now: Ns): MsrResult {
    if (KvmAmdPmu.isP6(msr)) return 0n;
    if (KvmAmdPmu.isGlobal(msr)) {
      // kernel: amd_is_valid_msr(): the PerfMonV2 MSRs exist only for version 2.
      if (this.version < 2) return GP_FAULT;
      switch (msr) {
        case AMD_MSR.GLOBAL_STATUS:
          return this.globalStatus;
        case AMD_MSR.GLOBAL_CTL:
          return this.globalCtrl;
        default:
          // STATUS_CLR and STATUS_SET read as 0.
          return 0n;
      }
    }
    const t = this.pmcByAmdMsr(msr);
    if (t === null || t === "gp") return GP_FAULT;
    if (t === "legacy-off") return 0n;
    if (t.kind === "evtsel") return BigInt(t.pmc.eventsel);
    return BigInt(this.readCounter(t.pmc, now));
  }

  /**
   * kernel: kvm_pmu_set_msr() + amd_pmu_set_msr(). "AMD ignores writes to reserved bits and
   * read-only PMU MSRs": reserved event-select and GLOBAL_CTL bits are dropped, a guest write
   * to GLOBAL_STATUS is ignored. A host-initiated GLOBAL_STATUS write sets it (#GP only for
   * bits of counters that do not exist); host-initiated STATUS_CLR/STATUS_SET do nothing.
   * Returns true, or GP_FAULT.
   */
  override wrmsr(
    msr: number,
    value: bigint,
    now: Ns,
    hostInitiated = false,
  ): true | typeof GP_FAULT {
    if (KvmAmdPmu.isP6(msr)) return true;
    const v = BigInt.asUintN(64, value);
    if (KvmAmdPmu.isGlobal(msr)) {
      if (this.version < 2) return GP_FAULT;
      const valid = this.validGlobalBits();
      switch (msr) {
        case AMD_MSR.GLOBAL_STATUS:
          if (!hostInitiated) return true;
          if (v & ~valid) return GP_FAULT;
          this.globalStatus = v;
          this.statusChanged();
          return true;
        case AMD_MSR.GLOBAL_CTL: {
          const nv = v & valid;
          const diff = this.globalCtrl ^ nv;
          if (diff === 0n) return true;
          this.globalCtrl = nv;
          this.statusChanged();
          for (const p of this.all())
            if ((diff >> BigInt(p.idx)) & 1n) this.backend?.reprogram(p, now);
          return true;
        }
        case AMD_MSR.GLOBAL_STATUS_CLR:
          if (!hostInitiated) this.globalStatus &= ~v;
          this.statusChanged();
          return true;
        default:
          // GLOBAL_STATUS_SET
          if (!hostInitiated) this.globalStatus |= v & valid;
          this.statusChanged();
          return true;
      }
    }
    const t = this.pmcByAmdMsr(msr);
    if (t === null || t === "gp") return GP_FAULT;
    if (t === "legacy-off") return true;
    const pmc = t.pmc;
    if (t.kind === "evtsel") {
      const nv = Number(v & ~AMD_EVENTSEL_RESERVED);
      if (nv !== pmc.eventsel) {
        pmc.eventsel = nv;
        this.backend?.reprogram(pmc, now);
      }
      return true;
    }
    // kernel: pmc_write_counter(): no sign extension and no #GP on AMD, masked to 48 bits.
    const value48 = Number(v & BigInt(this.gpMask));
    this.forgetRead(pmc.idx);
    if (this.backend) this.backend.write(pmc, value48, now);
    else pmc.counter = value48;
    return true;
  }

  /**
   * kernel: kvm_pmu_rdpmc() with amd_check_rdpmc_early(): RDPMC takes #GP without a vPMU
   * or when ECX is not below the number of counters (no fixed or fast-mode bits on AMD).
   */
  override rdpmc(ecx: number, now: Ns): MsrResult {
    if (this.version === 0) return GP_FAULT;
    const i = ecx >>> 0;
    const pmc = i < this.nrGp ? this.gp[i] : undefined;
    if (!pmc) return GP_FAULT;
    return BigInt(this.readCounter(pmc, now));
  }
}
