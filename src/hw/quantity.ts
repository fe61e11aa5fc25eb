/**
 * What a CPU really does, in countable quantities. Workloads produce each quantity at a
 * rate per nanosecond; hardware events (x86 event/umask, arm64 PMUv3 event numbers) map
 * onto one quantity each. An event that exists but that vpmu does not model counts zero.
 */
export const Q = {
  CYCLES: 0,
  INSTRUCTIONS: 1,
  REF_CYCLES: 2,
  BRANCHES: 3,
  BRANCH_MISSES: 4,
  CACHE_REFERENCES: 5,
  CACHE_MISSES: 6,
  BUS_CYCLES: 7,
  MEM_ACCESS: 8,
  L1D_CACHE: 9,
  L1D_CACHE_REFILL: 10,
  L1I_CACHE: 11,
  L1I_CACHE_REFILL: 12,
  STALL_FRONTEND: 13,
  STALL_BACKEND: 14,
  LD_RETIRED: 15,
  ST_RETIRED: 16,
  EXC_TAKEN: 17,
  /** Ops that load from and store to one address (AMD LS_DISPATCH.LD_ST_DISPATCH). */
  LD_ST_OPS: 18,
} as const;

/** A quantity index. */
export type Quantity = (typeof Q)[keyof typeof Q];

/** Number of quantities. */
export const NQ = 19;

/** Marker for an event that is supported but counts nothing in the model. */
export const Q_NONE = -1;

/** Quantity names as reports print them. */
export const QUANTITY_NAMES: readonly string[] = [
  "cycles",
  "instructions",
  "ref-cycles",
  "branches",
  "branch-misses",
  "cache-references",
  "cache-misses",
  "bus-cycles",
  "mem-access",
  "l1d-cache",
  "l1d-cache-refill",
  "l1i-cache",
  "l1i-cache-refill",
  "stall-frontend",
  "stall-backend",
  "ld-retired",
  "st-retired",
  "exc-taken",
  "ld-st-ops",
];

/** Looks a quantity up by its report name. */
export function quantityByName(name: string): Quantity | undefined {
  const i = QUANTITY_NAMES.indexOf(name);
  return i < 0 ? undefined : (i as Quantity);
}

/**
 * Execution modes the ground truth is kept in. Idle time is not a mode: an idle CPU
 * executes nothing (its cycle counters halt), and only time-based software events see it.
 */
export const Mode = {
  HOST_USER: 0,
  HOST_KERNEL: 1,
  GUEST_USER: 2,
  GUEST_KERNEL: 3,
} as const;

/** A mode index. */
export type Mode = (typeof Mode)[keyof typeof Mode];

/** Number of modes. */
export const NMODES = 4;

/** Mode names as scenarios and reports spell them. */
export const MODE_NAMES = ["host-user", "host-kernel", "guest-user", "guest-kernel"] as const;

/** A set of modes as a bitmask (bit i = mode i). */
export type ModeMask = number;

/** Every mode. */
export const ALL_MODES: ModeMask = 0b1111;

/**
 * The modes a counter counts, given perf-style exclude bits. This is the filter both the
 * perf core and KVM apply when they program a counter.
 */
export function modeMaskFromExcludes(x: {
  excludeUser?: boolean;
  excludeKernel?: boolean;
  excludeHost?: boolean;
  excludeGuest?: boolean;
}): ModeMask {
  let m = 0;
  if (!x.excludeHost) {
    if (!x.excludeUser) m |= 1 << Mode.HOST_USER;
    if (!x.excludeKernel) m |= 1 << Mode.HOST_KERNEL;
  }
  if (!x.excludeGuest) {
    if (!x.excludeUser) m |= 1 << Mode.GUEST_USER;
    if (!x.excludeKernel) m |= 1 << Mode.GUEST_KERNEL;
  }
  return m;
}
