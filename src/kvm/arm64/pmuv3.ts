/** Arm PMUv3 register fields (include/linux/perf/arm_pmuv3.h, Arm ARM D13). */
export const PMCR = {
  E: 1 << 0,
  P: 1 << 1,
  C: 1 << 2,
  D: 1 << 3,
  X: 1 << 4,
  DP: 1 << 5,
  LC: 1 << 6,
  LP: 1 << 7,
  N_SHIFT: 11,
  N_MASK: 0x1f,
} as const;

/** Writable PMCR bits (ARMV8_PMU_PMCR_MASK). */
export const PMCR_MASK = 0xff;

/** The cycle counter's index in every counter bitmap. */
export const CYCLE_IDX = 31;

/** PMEVTYPER / PMCCFILTR bits. */
export const EVTYPE = {
  EXCLUDE_EL1: 1 << 31,
  EXCLUDE_EL0: 1 << 30,
  EXCLUDE_NS_EL1: 1 << 29,
  EXCLUDE_NS_EL0: 1 << 28,
  INCLUDE_EL2: 1 << 27,
} as const;

/** PMUv3 common event numbers vpmu's guests use. */
export const ARMV8_EVENT = {
  SW_INCR: 0x00,
  INST_RETIRED: 0x08,
  CPU_CYCLES: 0x11,
  MEM_ACCESS: 0x13,
  INST_SPEC: 0x1b,
  CHAIN: 0x1e,
  STALL_FRONTEND: 0x23,
  STALL_BACKEND: 0x24,
  STALL_SLOT_BACKEND: 0x3d,
  STALL_SLOT_FRONTEND: 0x3e,
  STALL_SLOT: 0x3f,
} as const;

/** ID_AA64DFR0_EL1.PMUVer values (0 is "no PMU"). */
export const PMUVER = { IMP: 1, V3P1: 4, V3P4: 5, V3P5: 6, V3P7: 7, IMP_DEF: 0xf } as const;

/** The guest-visible PMU registers an access names. */
export type PmuReg =
  | "PMCR_EL0"
  | "PMCNTENSET_EL0"
  | "PMCNTENCLR_EL0"
  | "PMINTENSET_EL1"
  | "PMINTENCLR_EL1"
  | "PMOVSSET_EL0"
  | "PMOVSCLR_EL0"
  | "PMSWINC_EL0"
  | "PMSELR_EL0"
  | "PMXEVTYPER_EL0"
  | "PMXEVCNTR_EL0"
  | "PMEVTYPER_EL0"
  | "PMEVCNTR_EL0"
  | "PMCCNTR_EL0"
  | "PMCCFILTR_EL0"
  | "PMCEID0_EL0"
  | "PMCEID1_EL0"
  | "PMUSERENR_EL0";

/** An access that traps to EL1 as an undefined instruction. */
export const UNDEF = Symbol("UNDEF");
