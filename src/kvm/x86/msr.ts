/** Intel architectural PMU MSRs (SDM vol. 4) and their bit fields. */
export const MSR = {
  IA32_PMC0: 0xc1,
  IA32_PERFEVTSEL0: 0x186,
  IA32_PERF_CAPABILITIES: 0x345,
  IA32_FIXED_CTR0: 0x309,
  IA32_FIXED_CTR_CTRL: 0x38d,
  IA32_PERF_GLOBAL_STATUS: 0x38e,
  IA32_PERF_GLOBAL_CTRL: 0x38f,
  IA32_PERF_GLOBAL_OVF_CTRL: 0x390,
  IA32_PERF_GLOBAL_STATUS_SET: 0x391,
  IA32_A_PMC0: 0x4c1,
} as const;

/** IA32_PERFEVTSELx bits (ARCH_PERFMON_EVENTSEL_*). */
export const EVENTSEL = {
  EVENT: 0xff,
  UMASK: 0xff00,
  USR: 1 << 16,
  OS: 1 << 17,
  EDGE: 1 << 18,
  PIN_CONTROL: 1 << 19,
  INT: 1 << 20,
  ANY: 1 << 21,
  ENABLE: 1 << 22,
  INV: 1 << 23,
  CMASK: 0xff000000,
} as const;

/** IA32_PERF_CAPABILITIES.FW_WRITE (bit 13): full-width counter writes through IA32_A_PMCx. */
export const PERF_CAP_FW_WRITES = 1n << 13n;
/** IA32_PERF_CAPABILITIES LBR format (bits 5:0), PEBS format (11:8) and the PEBS fields KVM checks together. */
export const PERF_CAP_LBR_FMT = 0x3fn;
export const PERF_CAP_PEBS_FORMAT = 0xf00n;
/** PEBS trap (6), arch reg (7), format, baseline (14) and timing info (17): PERF_CAP_PEBS_MASK. */
export const PERF_CAP_PEBS_MASK = 0xf00n | (1n << 6n) | (1n << 7n) | (1n << 14n) | (1n << 17n);

/** Reserved bits of PERFEVTSELx on Intel (KVM: 0xffffffff00200000: AnyThread and 63:32). */
export const EVENTSEL_RESERVED = 0xffffffff00200000n;

/** RDPMC index bits: 30 selects fixed counters, 31 is "fast" mode. */
export const RDPMC_FIXED = 1 << 30;
export const RDPMC_FAST = 1 << 31;

/** The pseudo-encodings of the fixed counters (KVM: fixed_pmc_events[]). */
export const FIXED_PMC_EVENTS = [0x00c0, 0x003c, 0x0300] as const;

/** FIXED_CTR_CTRL nibble bits for counter i (at bit 4i). */
export const FIXED_OS = 0x1;
export const FIXED_USR = 0x2;
export const FIXED_ANY = 0x4;
export const FIXED_PMI = 0x8;

/** KVM's limits (arch/x86/include/asm/kvm_host.h) and the emulated vPMU's version cap. */
export const KVM_MAX_NR_INTEL_GP_COUNTERS = 8;
export const KVM_MAX_NR_FIXED_COUNTERS = 3;
export const KVM_EMULATED_PMU_VERSION_MAX = 2;

/** A guest MSR access that faults: the guest takes #GP. */
export const GP_FAULT = Symbol("#GP");
export type MsrResult = bigint | typeof GP_FAULT;

/** AMD core PMU MSRs (arch/x86/include/asm/msr-index.h). */
export const AMD_MSR = {
  /** Legacy PerfEvtSel0-3 (MSR_K7_EVNTSEL0..3). */
  K7_EVNTSEL0: 0xc0010000,
  /** Legacy PerfCtr0-3 (MSR_K7_PERFCTR0..3). */
  K7_PERFCTR0: 0xc0010004,
  /** PerfCtrExtCore PERF_CTL0 (MSR_F15H_PERF_CTL0); PERF_CTLn at +2n. */
  F15H_PERF_CTL0: 0xc0010200,
  /** PerfCtrExtCore PERF_CTR0 (MSR_F15H_PERF_CTR0); PERF_CTRn at +2n. */
  F15H_PERF_CTR0: 0xc0010201,
  /** PerfMonV2 PerfCntrGlobalStatus (read-only). */
  GLOBAL_STATUS: 0xc0000300,
  /** PerfMonV2 PerfCntrGlobalCtl. */
  GLOBAL_CTL: 0xc0000301,
  /** PerfMonV2 PerfCntrGlobalStatusClr (write 1s to clear status bits). */
  GLOBAL_STATUS_CLR: 0xc0000302,
  /** PerfMonV2 PerfCntrGlobalStatusSet (write 1s to set status bits). */
  GLOBAL_STATUS_SET: 0xc0000303,
} as const;

/** Legacy AMD counters (AMD64_NUM_COUNTERS) and with PerfCtrExtCore (AMD64_NUM_COUNTERS_CORE). */
export const AMD64_NUM_COUNTERS = 4;
export const AMD64_NUM_COUNTERS_CORE = 6;
/** KVM's limit on AMD general-purpose counters (KVM_MAX_NR_AMD_GP_COUNTERS). */
export const KVM_MAX_NR_AMD_GP_COUNTERS = 6;
/**
 * Reserved PerfEvtSel bits KVM drops on AMD (amd_pmu_refresh(): 0xfffffff000280000, i.e.
 * bit 19, bit 21 and bits 63:36, which include HostOnly/GuestOnly).
 */
export const AMD_EVENTSEL_RESERVED = 0xfffffff000280000n;
