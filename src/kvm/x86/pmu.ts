import { isAmdPmu, type PmuHwDesc } from "../../hw/pmu-desc.js";
import type { Ns } from "../../sim/time.js";
import { archEventsVector } from "./cpuid.js";
import {
  EVENTSEL,
  EVENTSEL_RESERVED,
  FIXED_OS,
  FIXED_PMC_EVENTS,
  FIXED_PMI,
  FIXED_USR,
  GP_FAULT,
  KVM_EMULATED_PMU_VERSION_MAX,
  KVM_MAX_NR_FIXED_COUNTERS,
  KVM_MAX_NR_INTEL_GP_COUNTERS,
  MSR,
  type MsrResult,
  PERF_CAP_FW_WRITES,
  PERF_CAP_LBR_FMT,
  PERF_CAP_PEBS_FORMAT,
  PERF_CAP_PEBS_MASK,
  RDPMC_FAST,
  RDPMC_FIXED,
} from "./msr.js";

/** One virtual counter (struct kvm_pmc). */
export interface KvmPmc {
  /** Architectural index: GP i, or 32 + j for fixed counter j. */
  idx: number;
  fixed: boolean;
  /** GP: IA32_PERFEVTSELx. Fixed: synthesised from FIXED_CTR_CTRL. */
  eventsel: number;
  /** The counter value while not live in a backend (masked to the width). */
  counter: number;
  /** 2^width. */
  modulus: number;
  /** Backend state (a perf event, or the hardware counter while loaded). */
  backend: unknown;
}

/** Guest CPUID leaf 0xA as userspace sets it (KVM_SET_CPUID2). */
export interface CpuidLeafA {
  version: number;
  nrGp: number;
  gpWidth: number;
  nrFixed: number;
  fixedWidth: number;
  /** EAX[31:24]: length of the EBX event bit vector (default: the host's). */
  eventsLength?: number;
  /** EBX: bit i set = architectural event i is NOT available (default 0). */
  unavailableEvents?: number;
  /** ECX (version 5+): bitmap of supported fixed counters (default 0). */
  fixedBitmask?: number;
}

/** What the vPMU's backend provides: the emulated (perf events) or mediated (hardware) model. */
export interface VpmuBackend {
  /** Guest-visible value of a counter now. */
  read(pmc: KvmPmc, now: Ns): number;
  /** A guest (or host) write of a counter value. */
  write(pmc: KvmPmc, value: number, now: Ns): void;
  /** Counter configuration changed (eventsel, FIXED_CTR_CTRL, GLOBAL_CTRL, filter). */
  reprogram(pmc: KvmPmc, now: Ns): void;
  /** MSR accesses the backend lets through without a VM exit. */
  passthrough(msr: number): boolean;
}

/**
 * The guest-visible Intel architectural PMU of one vCPU (struct kvm_pmu and
 * pmu_intel.c): CPUID 0xA clamped as KVM does, the PMU MSRs with KVM's #GP rules, RDPMC,
 * and GLOBAL_STATUS/PMI on overflow. Counting is delegated to a backend.
 */
/** INST_RETIRED.ANY_P and BR_INST_RETIRED.ALL_BRANCHES (the architectural encodings). */
const INST_RETIRED_ENCODING = 0x00c0;
/** X86_RAW_EVENT_MASK: event, umask, edge, inv, cmask. */
const X86_RAW_EVENT_MASK = 0xff84ffff;
const BR_INST_RETIRED_ENCODING = 0x00c4;

export class KvmX86Pmu {
  version = 0;
  nrGp = 0;
  nrFixed = 0;
  gpMask = 0;
  fixedMask = 0;
  gp: KvmPmc[] = [];
  fixed: KvmPmc[] = [];
  fixedCtrCtrl = 0;
  globalCtrl = 0n;
  globalStatus = 0n;
  /**
   * vcpu->arch.perf_capabilities: IA32_PERF_CAPABILITIES as userspace set it (initially
   * what KVM supports). The guest sees it, and full-width writes exist, only with PDCM.
   */
  perfCapabilities: bigint;
  /** Guest CPUID.1:ECX.PDCM (KVM_SET_CPUID2). */
  pdcm = true;
  backend: VpmuBackend | null = null;
  /**
   * kernel: pmc_is_event_allowed()'s filter part for KVM's own increments (emulated
   * instructions): the VM's PMU event filter, installed by the VM.
   */
  eventAllowed: (pmc: KvmPmc) => boolean = () => true;
  /** A PMI is pending for the guest (KVM_REQ_PMI). */
  pmiPending = false;
  /**
   * kernel: kvm_apic_local_deliver() masks LVTPC when it delivers a PMI to a guest that is
   * not AMD-compatible (Intel CPUs do so); a PMI that comes before the guest's handler
   * unmasks it is lost. An AMD guest's LVTPC stays unmasked.
   */
  readonly masksLvtpcOnPmi: boolean = true;
  /** Called when a PMI must be injected. */
  onPmi: (() => void) | null = null;
  /**
   * Called with every guest-visible counter read and the previous one since the last guest
   * write or wrap (the invariant checker: a guest counter never goes backwards otherwise).
   */
  onCounterRead: ((pmc: KvmPmc, prev: number, value: number, now: Ns) => void) | null = null;
  /**
   * Last value the guest read per counter index (its GLOBAL_CTRL bit, below 64), NaN when
   * none: cleared by a write or a wrap. An array, as a Map reallocates on set/delete churn.
   */
  private readonly lastRead = new Float64Array(64).fill(Number.NaN);

  protected observe(pmc: KvmPmc, value: number, now: Ns): number {
    const prev = this.lastRead[pmc.idx]!;
    if (!Number.isNaN(prev) && this.onCounterRead) this.onCounterRead(pmc, prev, value, now);
    this.lastRead[pmc.idx] = value;
    return value;
  }

  /** The guest's last read of counter `idx` no longer counts (a write or a wrap). */
  protected forgetRead(idx: number): void {
    this.lastRead[idx] = Number.NaN;
  }

  constructor(
    readonly host: PmuHwDesc,
    /** The emulated vPMU reports at most version 2 (kvm_pmu_cap.version). */
    readonly maxVersion: number,
  ) {
    // kernel: intel_pmu_init(): vcpu->arch.perf_capabilities = kvm_caps.supported_perf_cap.
    this.perfCapabilities = KvmX86Pmu.supportedPerfCapabilities(host);
  }

  /**
   * kernel: kvm_caps.supported_perf_cap (vmx_get_perf_capabilities()): full-width writes on
   * Intel. vpmu's hosts have no LBR and no PEBS, so no LBR or PEBS format bits; AMD has no
   * PERF_CAPABILITIES at all.
   */
  static supportedPerfCapabilities(host: PmuHwDesc): bigint {
    return isAmdPmu(host) ? 0n : PERF_CAP_FW_WRITES;
  }

  /** kernel: vcpu_get_perf_capabilities(): 0 unless the guest has PDCM. */
  guestPerfCapabilities(): bigint {
    return this.pdcm ? this.perfCapabilities : 0n;
  }

  /**
   * A host-initiated write of IA32_PERF_CAPABILITIES (KVM_SET_MSRS), with the checks of
   * vmx_set_msr() and kvm_set_msr_common() in their order: a non-zero value needs a vPMU;
   * LBR and PEBS formats must be the host's (vpmu's hosts have none); without PDCM only 0 is
   * accepted (an advertised MSR); bits KVM does not support fail. Returns true when taken;
   * the caller refreshes the PMU on a change.
   */
  hostSetPerfCapabilities(data: bigint): boolean {
    const v = BigInt.asUintN(64, data);
    if (v !== 0n && this.version === 0) return false;
    const supported = KvmX86Pmu.supportedPerfCapabilities(this.host);
    if (v & PERF_CAP_LBR_FMT && (v & PERF_CAP_LBR_FMT) !== (supported & PERF_CAP_LBR_FMT))
      return false;
    if (v & PERF_CAP_PEBS_FORMAT && (v & PERF_CAP_PEBS_MASK) !== (supported & PERF_CAP_PEBS_MASK))
      return false;
    if (!this.pdcm) return v === 0n;
    if (v & ~supported) return false;
    this.perfCapabilities = v;
    return true;
  }

  /**
   * kernel: intel_pmu_refresh(): the guest PMU from guest CPUID 0xA, clamped to what KVM
   * and the host support. Version 0 means no vPMU (every PMU MSR and RDPMC #GP).
   */
  refresh(cpuid: CpuidLeafA | null, enablePmu: boolean): void {
    const v = enablePmu && cpuid ? Math.min(cpuid.version, this.maxVersion, this.host.version) : 0;
    this.version = v;
    this.nrGp = v ? Math.min(cpuid!.nrGp, this.host.nrGp, KVM_MAX_NR_INTEL_GP_COUNTERS) : 0;
    this.nrFixed =
      v > 1 ? Math.min(cpuid!.nrFixed, this.host.fixed.length, KVM_MAX_NR_FIXED_COUNTERS) : 0;
    const gw = v ? Math.min(cpuid!.gpWidth, this.host.gpWidth) : 0;
    const fw = v > 1 ? Math.min(cpuid!.fixedWidth, this.host.fixedWidth) : 0;
    this.gpMask = gw ? 2 ** gw - 1 : 0;
    this.fixedMask = fw ? 2 ** fw - 1 : 0;
    this.gp = Array.from({ length: this.nrGp }, (_, i) => mkPmc(i, false, gw));
    this.fixed = Array.from({ length: this.nrFixed }, (_, j) => mkPmc(32 + j, true, fw));
    this.allPmcs = [...this.gp, ...this.fixed];
    this.reset();
  }

  /** kernel: kvm_pmu_reset() + the architectural RESET value of GLOBAL_CTRL for v2+. */
  reset(): void {
    for (const p of [...this.gp, ...this.fixed]) {
      p.counter = 0;
      p.eventsel = p.fixed ? FIXED_PMC_EVENTS[p.idx - 32]! : 0;
    }
    this.fixedCtrCtrl = 0;
    this.globalStatus = 0n;
    this.globalCtrl = this.version > 1 ? BigInt(2 ** this.nrGp - 1) : 0n;
  }

  /** CPUID 0xA as KVM_GET_SUPPORTED_CPUID reports it. */
  static supportedCpuid(host: PmuHwDesc, maxVersion: number): CpuidLeafA {
    const events = archEventsVector(host);
    return {
      version: Math.min(host.version, maxVersion),
      nrGp: Math.min(host.nrGp, KVM_MAX_NR_INTEL_GP_COUNTERS),
      gpWidth: host.gpWidth,
      nrFixed: Math.min(host.fixed.length, KVM_MAX_NR_FIXED_COUNTERS),
      fixedWidth: host.fixedWidth,
      eventsLength: events.length,
      unavailableEvents: events.unavailable,
      fixedBitmask: 0,
    };
  }

  protected allPmcs: KvmPmc[] = [];

  /** All counters (GP then fixed; the same array until the next refresh). */
  all(): KvmPmc[] {
    return this.allPmcs;
  }

  /** The FIXED_CTR_CTRL nibble of fixed counter j. */
  fixedNibble(j: number): number {
    return (this.fixedCtrCtrl >> (4 * j)) & 0xf;
  }

  /** kernel: pmc_is_globally_enabled(). */
  globallyEnabled(pmc: KvmPmc): boolean {
    if (this.version < 2) return true;
    // Bits as numbers, recomputed only when GLOBAL_CTRL changes: this runs for every
    // counter at every mediated load, and BigInt shifts allocate.
    if (this.globalCtrl !== this.globalCtrlSeen) {
      this.globalCtrlSeen = this.globalCtrl;
      this.globalCtrlLo = Number(BigInt.asUintN(32, this.globalCtrl));
      this.globalCtrlHi = Number(BigInt.asUintN(32, this.globalCtrl >> 32n));
    }
    const i = pmc.idx;
    const word = i < 32 ? this.globalCtrlLo : this.globalCtrlHi;
    return ((word >>> (i & 31)) & 1) === 1;
  }

  private globalCtrlSeen = 0n;
  private globalCtrlLo = 0;
  private globalCtrlHi = 0;

  /** kernel: pmc_speculative_in_use() plus the global enable: is the counter counting? */
  counting(pmc: KvmPmc): boolean {
    const local = pmc.fixed
      ? (this.fixedNibble(pmc.idx - 32) & (FIXED_OS | FIXED_USR)) !== 0
      : (pmc.eventsel & EVENTSEL.ENABLE) !== 0;
    return local && this.globallyEnabled(pmc);
  }

  /**
   * kernel: kvm_pmu_instruction_retired() / kvm_pmu_branch_retired(): an instruction KVM
   * emulated (a forced-emulation prefix, an MMIO access) counts exactly once on every
   * counting counter that selects instructions retired, and on those selecting branches
   * retired when it is a branch, if the counter's USR/OS filter matches the guest's CPL.
   * A counter that wraps sets its GLOBAL_STATUS bit (and a PMI with INT).
   */
  emulatedInstructionRetired(branch: boolean, cpl: 0 | 3, now: Ns): void {
    for (const pmc of this.all()) {
      if (!this.counting(pmc) || !this.eventAllowed(pmc)) continue;
      const enc = this.encoding(pmc);
      if (enc !== INST_RETIRED_ENCODING && !(branch && enc === this.branchesRetiredEncoding))
        continue;
      if (!(this.controlBits(pmc) & (cpl === 0 ? 2 : 1))) continue;
      const mask = pmc.fixed ? this.fixedMask : this.gpMask;
      const next = (this.backend ? this.backend.read(pmc, now) : pmc.counter) + 1;
      const wrapped = next > mask;
      if (this.backend) this.backend.write(pmc, wrapped ? 0 : next, now);
      else pmc.counter = wrapped ? 0 : next;
      if (wrapped) this.overflow(pmc);
    }
  }

  /**
   * kernel: kvm_skip_emulated_instruction() -> kvm_pmu_instruction_retired(): an exiting
   * instruction KVM completed (WRMSR, RDMSR, RDPMC, CPUID, port I/O) retires once on the
   * counters counting instructions retired. Which counters those are is decided after the
   * instruction's own effect (KVM recomputes them at the WRMSR, 6.17+), so a WRMSR that
   * enables a counter counts on it and one that disables it does not.
   */
  instructionSkipped(cpl: 0 | 3, now: Ns): void {
    this.emulatedInstructionRetired(false, cpl, now);
  }

  /** The encoding of "branch instructions retired" KVM matches emulated branches against. */
  protected readonly branchesRetiredEncoding: number = BR_INST_RETIRED_ENCODING;

  /** USR (1), OS (2) and INT (4) of a counter as bits, without allocating. */
  controlBits(pmc: KvmPmc): number {
    if (pmc.fixed) {
      const n = this.fixedNibble(pmc.idx - 32);
      return (n & FIXED_USR ? 1 : 0) | (n & FIXED_OS ? 2 : 0) | (n & FIXED_PMI ? 4 : 0);
    }
    const e = pmc.eventsel;
    return (e & EVENTSEL.USR ? 1 : 0) | (e & EVENTSEL.OS ? 2 : 0) | (e & EVENTSEL.INT ? 4 : 0);
  }

  /** USR/OS/INT of a counter, from its eventsel or fixed nibble. */
  controls(pmc: KvmPmc): { usr: boolean; os: boolean; int: boolean } {
    if (pmc.fixed) {
      const n = this.fixedNibble(pmc.idx - 32);
      return { usr: (n & FIXED_USR) !== 0, os: (n & FIXED_OS) !== 0, int: (n & FIXED_PMI) !== 0 };
    }
    return {
      usr: (pmc.eventsel & EVENTSEL.USR) !== 0,
      os: (pmc.eventsel & EVENTSEL.OS) !== 0,
      int: (pmc.eventsel & EVENTSEL.INT) !== 0,
    };
  }

  /** The encoding a counter counts (event | umask << 8; fixed counters their pseudo-event). */
  encoding(pmc: KvmPmc): number {
    return pmc.fixed ? FIXED_PMC_EVENTS[pmc.idx - 32]! : pmc.eventsel & 0xffff;
  }

  /**
   * The raw perf config a general-purpose counter's select asks for (kernel:
   * reprogram_counter() masks eventsel with X86_RAW_EVENT_MASK: event, umask, edge, inv,
   * cmask), without USR/OS/INT.
   */
  rawEventConfig(pmc: KvmPmc): number {
    return (pmc.eventsel & X86_RAW_EVENT_MASK) >>> 0;
  }

  /** A counter overflowed: GLOBAL_STATUS bit, and a PMI if the counter asks for one. */
  overflow(pmc: KvmPmc): void {
    this.forgetRead(pmc.idx);
    this.globalStatus |= 1n << BigInt(pmc.idx);
    if (this.controls(pmc).int) {
      this.pmiPending = true;
      this.onPmi?.();
    }
  }

  private pmcByMsr(msr: number): { pmc: KvmPmc; kind: "evtsel" | "pmc" | "apmc" | "fixed" } | null {
    if (msr >= MSR.IA32_PERFEVTSEL0 && msr < MSR.IA32_PERFEVTSEL0 + KVM_MAX_NR_INTEL_GP_COUNTERS) {
      const p = this.gp[msr - MSR.IA32_PERFEVTSEL0];
      return p ? { pmc: p, kind: "evtsel" } : null;
    }
    if (msr >= MSR.IA32_PMC0 && msr < MSR.IA32_PMC0 + KVM_MAX_NR_INTEL_GP_COUNTERS) {
      const p = this.gp[msr - MSR.IA32_PMC0];
      return p ? { pmc: p, kind: "pmc" } : null;
    }
    if (msr >= MSR.IA32_A_PMC0 && msr < MSR.IA32_A_PMC0 + KVM_MAX_NR_INTEL_GP_COUNTERS) {
      if (!(this.guestPerfCapabilities() & PERF_CAP_FW_WRITES)) return null;
      const p = this.gp[msr - MSR.IA32_A_PMC0];
      return p ? { pmc: p, kind: "apmc" } : null;
    }
    if (msr >= MSR.IA32_FIXED_CTR0 && msr < MSR.IA32_FIXED_CTR0 + KVM_MAX_NR_FIXED_COUNTERS) {
      const p = this.fixed[msr - MSR.IA32_FIXED_CTR0];
      return p ? { pmc: p, kind: "fixed" } : null;
    }
    return null;
  }

  /** True if the MSR belongs to the PMU and the backend intercepts it (a VM exit). */
  intercepts(msr: number): boolean {
    return !(this.backend?.passthrough(msr) ?? false);
  }

  /**
   * kernel: kvm_get_msr_common(): the P6 counter and event-select MSRs (0xC1, 0xC2, 0x186,
   * 0x187) read 0 and drop writes when they are not valid PMU MSRs for this vCPU.
   */
  private p6Quirk(msr: number): boolean {
    if (msr !== 0xc1 && msr !== 0xc2 && msr !== 0x186 && msr !== 0x187) return false;
    const i = msr >= 0x186 ? msr - 0x186 : msr - 0xc1;
    return this.version === 0 || i >= this.nrGp;
  }

  /** kernel: intel_pmu_get_msr(). Returns the value or GP_FAULT. */
  rdmsr(msr: number, now: Ns): MsrResult {
    // kernel: kvm_get_msr_common(): the guest reads PERF_CAPABILITIES only with PDCM.
    if (msr === MSR.IA32_PERF_CAPABILITIES) return this.pdcm ? this.perfCapabilities : GP_FAULT;
    if (this.p6Quirk(msr)) return 0n;
    if (this.version === 0) return GP_FAULT;
    if (this.version > 1) {
      switch (msr) {
        case MSR.IA32_FIXED_CTR_CTRL:
          return BigInt(this.fixedCtrCtrl);
        case MSR.IA32_PERF_GLOBAL_STATUS:
          return this.globalStatus;
        case MSR.IA32_PERF_GLOBAL_CTRL:
          return this.globalCtrl;
        case MSR.IA32_PERF_GLOBAL_OVF_CTRL:
          return 0n;
      }
    }
    const m = this.pmcByMsr(msr);
    if (!m) return GP_FAULT;
    if (m.kind === "evtsel") return BigInt(m.pmc.eventsel);
    const mask = m.pmc.fixed ? this.fixedMask : this.gpMask;
    return BigInt(
      this.observe(
        m.pmc,
        this.backend ? this.backend.read(m.pmc, now) % (mask + 1) : m.pmc.counter,
        now,
      ),
    );
  }

  /** kernel: intel_pmu_set_msr(). Returns true, or GP_FAULT. */
  wrmsr(msr: number, value: bigint, now: Ns, hostInitiated = false): true | typeof GP_FAULT {
    // Read-only for the guest (kvm_set_msr_common(): host-initiated writes only).
    if (msr === MSR.IA32_PERF_CAPABILITIES)
      return hostInitiated && this.hostSetPerfCapabilities(value) ? true : GP_FAULT;
    if (this.p6Quirk(msr)) return true;
    if (this.version === 0) return GP_FAULT;
    const v = BigInt.asUintN(64, value);
    if (this.version > 1) {
      switch (msr) {
        case MSR.IA32_FIXED_CTR_CTRL: {
          if (v & ~this.bigMasks().fixedCtrl) return GP_FAULT;
          const old = this.fixedCtrCtrl;
          this.fixedCtrCtrl = Number(v);
          for (let j = 0; j < this.nrFixed; j++) {
            if (((old >> (4 * j)) & 0xf) !== this.fixedNibble(j))
              this.backend?.reprogram(this.fixed[j]!, now);
          }
          return true;
        }
        case MSR.IA32_PERF_GLOBAL_STATUS:
          // Read-only for the guest; userspace may restore it (no reserved bits).
          if (!hostInitiated || v & ~this.bigMasks().status) return GP_FAULT;
          this.globalStatus = v;
          return true;
        case MSR.IA32_PERF_GLOBAL_CTRL: {
          if (v & ~this.bigMasks().global) return GP_FAULT;
          const diff = this.globalCtrl ^ v;
          this.globalCtrl = v;
          if (diff === 0n) return true;
          // The changed bits as two numbers: a BigInt shift per counter would allocate.
          const lo = Number(BigInt.asUintN(32, diff));
          const hi = Number(diff >> 32n);
          for (const p of this.all()) {
            const i = p.idx;
            if (((i < 32 ? lo : hi) >>> (i & 31)) & 1) this.backend?.reprogram(p, now);
          }
          return true;
        }
        case MSR.IA32_PERF_GLOBAL_OVF_CTRL:
          if (v & ~this.bigMasks().status) return GP_FAULT;
          this.globalStatus &= ~v;
          return true;
      }
    }
    const m = this.pmcByMsr(msr);
    if (!m) return GP_FAULT;
    const pmc = m.pmc;
    if (m.kind === "evtsel") {
      if (v & EVENTSEL_RESERVED) return GP_FAULT;
      const nv = Number(v);
      if (nv !== pmc.eventsel) {
        pmc.eventsel = nv;
        this.backend?.reprogram(pmc, now);
      }
      return true;
    }
    const mask = pmc.fixed ? this.bigMasks().fixed : this.bigMasks().gp;
    let w = v;
    if (m.kind === "pmc" && !hostInitiated) {
      // Legacy IA32_PMCx: guest writes are sign-extended from bit 31.
      w = BigInt.asUintN(64, BigInt.asIntN(32, v));
    } else if (m.kind === "apmc" && v & ~mask) {
      return GP_FAULT;
    }
    const value64 = Number(w & mask);
    this.forgetRead(pmc.idx);
    if (this.backend) this.backend.write(pmc, value64, now);
    else pmc.counter = value64;
    return true;
  }

  /**
   * The valid bits of the 64-bit MSRs as BigInts, made once per refresh (a guest writes
   * GLOBAL_CTRL and the counters many times; building a mask allocates).
   */
  private bigMasks(): BigMasks {
    let m = this.masks;
    if (
      m === null ||
      m.version !== this.version ||
      m.nrGp !== this.nrGp ||
      m.nrFixed !== this.nrFixed ||
      m.gpMask !== this.gpMask ||
      m.fixedMask !== this.fixedMask
    ) {
      m = makeBigMasks(this.version, this.nrGp, this.nrFixed, this.gpMask, this.fixedMask);
      this.masks = m;
    }
    return m;
  }

  private masks: BigMasks | null = null;

  /** kernel: kvm_pmu_rdpmc(). Returns the value or GP_FAULT. */
  rdpmc(ecx: number, now: Ns): MsrResult {
    if (this.version === 0) return GP_FAULT;
    if (ecx & RDPMC_FAST) return GP_FAULT;
    const fixed = (ecx & RDPMC_FIXED) !== 0;
    const i = ecx & ~RDPMC_FIXED;
    const pmc = fixed ? this.fixed[i] : this.gp[i];
    if (!pmc) return GP_FAULT;
    const mask = fixed ? this.fixedMask : this.gpMask;
    return BigInt(
      this.observe(pmc, this.backend ? this.backend.read(pmc, now) % (mask + 1) : pmc.counter, now),
    );
  }
}

/** KvmX86Pmu's MSR masks for the configuration they record. */
interface BigMasks {
  version: number;
  nrGp: number;
  nrFixed: number;
  gpMask: number;
  fixedMask: number;
  /** GLOBAL_CTRL: one bit per counter. */
  global: bigint;
  /**
   * GLOBAL_STATUS/OVF_CTRL (kernel: global_status_rsvd): the counters, OvfBuf (62) and
   * CondChgd (63), and for version 5 also bits 58-61.
   */
  status: bigint;
  /** FIXED_CTR_CTRL: OS, USR and PMI of each fixed counter. */
  fixedCtrl: bigint;
  /** Counter widths. */
  gp: bigint;
  fixed: bigint;
}

function makeBigMasks(
  version: number,
  nrGp: number,
  nrFixed: number,
  gpMask: number,
  fixedMask: number,
): BigMasks {
  let global = BigInt(2 ** nrGp - 1);
  for (let j = 0; j < nrFixed; j++) global |= 1n << BigInt(32 + j);
  let status = global | (1n << 62n) | (1n << 63n);
  if (version >= 5) status |= 0xfn << 58n;
  let fixedCtrl = 0n;
  for (let j = 0; j < nrFixed; j++)
    fixedCtrl |= BigInt((FIXED_OS | FIXED_USR | FIXED_PMI) << (4 * j));
  const gp = BigInt(gpMask);
  const fixed = BigInt(fixedMask);
  return { version, nrGp, nrFixed, gpMask, fixedMask, global, status, fixedCtrl, gp, fixed };
}

function mkPmc(idx: number, fixed: boolean, width: number): KvmPmc {
  return { idx, fixed, eventsel: 0, counter: 0, modulus: width ? 2 ** width : 1, backend: null };
}

/** KVM's emulated vPMU version cap. */
export const EMULATED_MAX_VERSION = KVM_EMULATED_PMU_VERSION_MAX;
