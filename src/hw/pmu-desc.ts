import { Q, Q_NONE, type Quantity } from "./quantity.js";

/** A hardware counter index as the architecture numbers it (x86 fixed counters from 32, arm64 PMCCNTR = 31). */
export type CounterIdx = number & { readonly __unit: "counter-index" };

/** x86: first fixed-counter index, like the kernel's INTEL_PMC_IDX_FIXED. */
export const X86_FIXED_BASE = 32;
/** arm64: the cycle counter's index (PMCCNTR_EL0 is bit 31 in the PMU bitmaps). */
export const ARMV8_IDX_CYCLE_COUNTER = 31;

/** Generic hardware event ids of PERF_TYPE_HARDWARE (include/uapi/linux/perf_event.h). */
export const PERF_COUNT_HW = {
  CPU_CYCLES: 0,
  INSTRUCTIONS: 1,
  CACHE_REFERENCES: 2,
  CACHE_MISSES: 3,
  BRANCH_INSTRUCTIONS: 4,
  BRANCH_MISSES: 5,
  BUS_CYCLES: 6,
  STALLED_CYCLES_FRONTEND: 7,
  STALLED_CYCLES_BACKEND: 8,
  REF_CPU_CYCLES: 9,
} as const;

/** Number of generic hardware events (PERF_COUNT_HW_MAX). */
export const PERF_COUNT_HW_MAX = 10;

/** One fixed-function counter. */
export interface FixedCounterDesc {
  idx: CounterIdx;
  /** The event encoding it counts. */
  encoding: number;
  name: string;
}

/**
 * A core type's PMU hardware, as the perf driver and KVM see it. Encodings are x86
 * `event | umask << 8` or arm64 PMUv3 event numbers.
 */
export interface PmuHwDesc {
  /** The PMU name Linux shows in /sys/bus/event_source/devices. */
  name: string;
  arch: "x86" | "arm64";
  /** Core type this PMU belongs to. */
  coreType: string;
  /** General-purpose (x86) or event (arm64) counters. */
  nrGp: number;
  gpWidth: number;
  /** Fixed counters: x86 instructions/cycles/ref-cycles; arm64 the cycle counter. */
  fixed: FixedCounterDesc[];
  fixedWidth: number;
  /** x86: architectural perfmon version (CPUID.0AH:EAX[7:0]); arm64: PMUVer (ID_AA64DFR0_EL1). */
  version: number;
  /** arm64 PMUv3p5: 64-bit event counters available (PMCR_EL0.LP). */
  pmuv3p5: boolean;
  /** Supported encodings and what they count. */
  events: ReadonlyMap<number, Quantity | typeof Q_NONE>;
  /** PERF_TYPE_HARDWARE id → encoding; -1 when unsupported. */
  genericMap: readonly number[];
  /**
   * x86 only: the CPU vendor, "amd" for an AMD core PMU (PerfCtr MSRs, no fixed counters,
   * PerfMonV2 as version 2). Absent means Intel.
   */
  vendor?: "amd";
}

/** True for an AMD x86 core PMU. */
export function isAmdPmu(desc: PmuHwDesc): boolean {
  return desc.vendor === "amd";
}

/**
 * AMD's EventSelect[11:8] sits at bits 35:32 of PerfEvtSel and of a raw perf config. vpmu's
 * encodings keep it at bits 19:16 (event | umask << 8 | EventSelect[11:8] << 16), so an
 * encoding stays a small integer and 0x1C0 is never 0xC0.
 */
export const AMD_EVENT_HI_SHIFT = 16;

/** EventSelect[11:8] of an AMD select or raw config (bits 35:32), as 0-15. */
export function amdEventSelectHi(v: number | bigint): number {
  if (typeof v === "bigint") return Number((v >> 32n) & 0xfn);
  return Math.floor(v / 2 ** 32) & 0xf;
}

/** Bitmask of counter indices (a plain number: indices go up to 34). */
export type CounterMask = number;

/** The counters an encoding may be placed on (the scheduling constraint). */
export function counterMaskFor(desc: PmuHwDesc, encoding: number): CounterMask {
  let mask = 0;
  for (const f of desc.fixed) if (f.encoding === encoding) mask += 2 ** f.idx;
  // x86 ref-cycles (pseudo-encoding 0x0300) only exists on fixed counter 2.
  if (desc.arch === "x86" && encoding === 0x0300) return mask;
  // arm64 CHAIN (0x1e) must sit on an odd counter.
  const chain = desc.arch === "arm64" && encoding === 0x1e;
  for (let i = 0; i < desc.nrGp; i++) if (!chain || i % 2 === 1) mask += 2 ** i;
  return mask;
}

/** The quantity an encoding counts (Q_NONE if it counts nothing), or undefined if unsupported. */
export function quantityOf(
  desc: PmuHwDesc,
  encoding: number,
): Quantity | typeof Q_NONE | undefined {
  return desc.events.get(encoding);
}

/** x86 architectural events (Intel SDM vol. 3, "Pre-defined Architectural Performance Events"). */
export const X86_ARCH_EVENTS: ReadonlyArray<[number, Quantity | typeof Q_NONE, string]> = [
  [0x003c, Q.CYCLES, "cpu-cycles"],
  [0x00c0, Q.INSTRUCTIONS, "instructions"],
  [0x013c, Q.BUS_CYCLES, "bus-cycles"],
  [0x4f2e, Q.CACHE_REFERENCES, "cache-references"],
  [0x412e, Q.CACHE_MISSES, "cache-misses"],
  [0x00c4, Q.BRANCHES, "branch-instructions"],
  [0x00c5, Q.BRANCH_MISSES, "branch-misses"],
  [0x01a4, Q_NONE, "topdown-slots"],
  // Model-specific events vpmu also models.
  [0x01c4, Q.BRANCHES, "br_inst_retired.conditional"],
  [0x81d0, Q.LD_RETIRED, "mem_inst_retired.all_loads"],
  [0x82d0, Q.ST_RETIRED, "mem_inst_retired.all_stores"],
  [0x83d0, Q.MEM_ACCESS, "mem_inst_retired.any"],
  [0x0300, Q.REF_CYCLES, "ref-cycles"],
];

/** Builds the x86 core PMU description for one core type. */
export function x86PmuDesc(opts: {
  name: string;
  coreType: string;
  nrGp?: number;
  nrFixed?: number;
  width?: number;
  version?: number;
}): PmuHwDesc {
  const nrFixed = opts.nrFixed ?? 3;
  const fixedEnc = [0x00c0, 0x003c, 0x0300];
  const fixedNames = ["instructions", "cycles", "ref-cycles"];
  const fixed: FixedCounterDesc[] = [];
  for (let i = 0; i < nrFixed && i < 3; i++) {
    fixed.push({
      idx: (X86_FIXED_BASE + i) as CounterIdx,
      encoding: fixedEnc[i]!,
      name: fixedNames[i]!,
    });
  }
  // kernel: intel_perfmon_event_map[]
  const genericMap = [0x003c, 0x00c0, 0x4f2e, 0x412e, 0x00c4, 0x00c5, 0x013c, -1, -1, 0x0300];
  return {
    name: opts.name,
    arch: "x86",
    coreType: opts.coreType,
    nrGp: opts.nrGp ?? 8,
    gpWidth: opts.width ?? 48,
    fixed,
    fixedWidth: opts.width ?? 48,
    version: opts.version ?? 5,
    pmuv3p5: false,
    events: new Map(X86_ARCH_EVENTS.map(([e, q]) => [e, q])),
    genericMap,
  };
}

/**
 * AMD Zen 4 core events vpmu models (AMD PPR for family 19h; the encodings of Linux's
 * amd_zen4_perfmon_event_map[] plus the LS_DISPATCH load/store unit masks).
 */
export const AMD_ZEN4_EVENTS: ReadonlyArray<[number, Quantity | typeof Q_NONE, string]> = [
  [0x0076, Q.CYCLES, "cpu-cycles"],
  [0x00c0, Q.INSTRUCTIONS, "instructions"],
  [0xff60, Q.CACHE_REFERENCES, "cache-references"],
  [0x0964, Q.CACHE_MISSES, "cache-misses"],
  [0x00c2, Q.BRANCHES, "branch-instructions"],
  [0x00c3, Q.BRANCH_MISSES, "branch-misses"],
  [0x00a9, Q.STALL_FRONTEND, "stalled-cycles-frontend"],
  [0x0129, Q.LD_RETIRED, "ls_dispatch.ld_dispatch"],
  [0x0229, Q.ST_RETIRED, "ls_dispatch.store_dispatch"],
  [0x0429, Q.LD_ST_OPS, "ls_dispatch.ld_st_dispatch"],
];

/**
 * Builds an AMD core PMU description (arch/x86/events/amd/core.c): `nrGp` PerfCtr
 * counters of 48 bits and no fixed counters. With PerfMonV2 (CPUID 0x80000022) the PMU has
 * the global control/status MSRs and perf reports version 2, otherwise version 1.
 */
export function amdPmuDesc(opts: {
  name: string;
  coreType: string;
  nrGp?: number;
  perfMonV2?: boolean;
}): PmuHwDesc {
  // kernel: amd_zen4_perfmon_event_map[] (ref-cycles, event 0x120 with bits 35:32 set,
  // is beyond the 16-bit encodings vpmu models and left unsupported).
  const genericMap = [0x0076, 0x00c0, 0xff60, 0x0964, 0x00c2, 0x00c3, -1, 0x00a9, -1, -1];
  return {
    name: opts.name,
    arch: "x86",
    coreType: opts.coreType,
    nrGp: opts.nrGp ?? 6,
    gpWidth: 48,
    fixed: [],
    fixedWidth: 0,
    version: (opts.perfMonV2 ?? true) ? 2 : 1,
    pmuv3p5: false,
    events: new Map(AMD_ZEN4_EVENTS.map(([e, q]) => [e, q])),
    genericMap,
    vendor: "amd",
  };
}

/** arm64 PMUv3 common architectural and microarchitectural events (Arm ARM, D13/D17). */
export const ARMV8_COMMON_EVENTS: ReadonlyArray<[number, Quantity | typeof Q_NONE, string]> = [
  [0x00, Q_NONE, "sw_incr"],
  [0x01, Q.L1I_CACHE_REFILL, "l1i_cache_refill"],
  [0x02, Q_NONE, "l1i_tlb_refill"],
  [0x03, Q.L1D_CACHE_REFILL, "l1d_cache_refill"],
  [0x04, Q.L1D_CACHE, "l1d_cache"],
  [0x05, Q_NONE, "l1d_tlb_refill"],
  [0x06, Q.LD_RETIRED, "ld_retired"],
  [0x07, Q.ST_RETIRED, "st_retired"],
  [0x08, Q.INSTRUCTIONS, "inst_retired"],
  [0x09, Q.EXC_TAKEN, "exc_taken"],
  [0x0a, Q.EXC_TAKEN, "exc_return"],
  [0x0b, Q_NONE, "cid_write_retired"],
  [0x0c, Q.BRANCHES, "pc_write_retired"],
  [0x0d, Q.BRANCHES, "br_immed_retired"],
  [0x0e, Q_NONE, "br_return_retired"],
  [0x0f, Q_NONE, "unaligned_ldst_retired"],
  [0x10, Q.BRANCH_MISSES, "br_mis_pred"],
  [0x11, Q.CYCLES, "cpu_cycles"],
  [0x12, Q.BRANCHES, "br_pred"],
  [0x13, Q.MEM_ACCESS, "mem_access"],
  [0x14, Q.L1I_CACHE, "l1i_cache"],
  [0x15, Q_NONE, "l1d_cache_wb"],
  [0x16, Q.CACHE_REFERENCES, "l2d_cache"],
  [0x17, Q.CACHE_MISSES, "l2d_cache_refill"],
  [0x18, Q_NONE, "l2d_cache_wb"],
  [0x19, Q.MEM_ACCESS, "bus_access"],
  [0x1a, Q_NONE, "memory_error"],
  [0x1b, Q.INSTRUCTIONS, "inst_spec"],
  [0x1c, Q_NONE, "ttbr_write_retired"],
  [0x1d, Q.BUS_CYCLES, "bus_cycles"],
  [0x1e, Q_NONE, "chain"],
  [0x23, Q.STALL_FRONTEND, "stall_frontend"],
  [0x24, Q.STALL_BACKEND, "stall_backend"],
];

/** Builds an arm64 PMUv3 description. `events` lists the supported common event numbers. */
export function armv8PmuDesc(opts: {
  name: string;
  coreType: string;
  nrCounters?: number;
  version?: number;
  pmuv3p5?: boolean;
  events: readonly number[];
}): PmuHwDesc {
  const supported = new Set(opts.events);
  const events = new Map<number, Quantity | typeof Q_NONE>();
  for (const [e, q] of ARMV8_COMMON_EVENTS) if (supported.has(e)) events.set(e, q);
  // kernel: armv8_pmuv3_perf_map[] (drivers/perf/arm_pmuv3.c)
  const g = (e: number) => (supported.has(e) ? e : -1);
  const genericMap = [
    g(0x11),
    g(0x08),
    g(0x04),
    g(0x03),
    g(0x0c),
    g(0x10),
    g(0x1d),
    g(0x23),
    g(0x24),
    -1,
  ];
  return {
    name: opts.name,
    arch: "arm64",
    coreType: opts.coreType,
    nrGp: opts.nrCounters ?? 6,
    gpWidth: opts.pmuv3p5 ? 64 : 32,
    fixed: [{ idx: ARMV8_IDX_CYCLE_COUNTER as CounterIdx, encoding: 0x11, name: "cpu_cycles" }],
    fixedWidth: 64,
    version: opts.version ?? 1,
    pmuv3p5: opts.pmuv3p5 ?? false,
    events,
    genericMap,
  };
}

/** Event names by encoding for a PMU, as its sysfs `events/` directory lists them. */
export function eventNames(desc: PmuHwDesc): Array<[string, number]> {
  const table = isAmdPmu(desc)
    ? AMD_ZEN4_EVENTS
    : desc.arch === "x86"
      ? X86_ARCH_EVENTS
      : ARMV8_COMMON_EVENTS;
  return table.filter(([e]) => desc.events.has(e)).map(([e, , n]) => [n, e]);
}
