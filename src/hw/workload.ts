import { NQ, Q } from "./quantity.js";

/**
 * A workload's behaviour on one core type: a rate profile. All ratios are per instruction
 * unless named otherwise. These are model parameters, not measurements.
 */
export interface WorkloadProfile {
  /** Core clock while running, in MHz (cycles per microsecond). */
  freqMHz: number;
  /** Instructions per cycle. */
  ipc: number;
  /** Branch instructions per instruction. */
  branchRatio: number;
  /** Mispredicted fraction of branches. */
  branchMissRatio: number;
  /** Memory accesses (loads + stores) per instruction. */
  memRatio: number;
  /** Fraction of memory accesses that are loads. */
  loadFraction: number;
  /** L1D refills per memory access. */
  l1dMissRatio: number;
  /** Last-level cache references per instruction. */
  llcRefRatio: number;
  /** Fraction of last-level references that miss. */
  llcMissRatio: number;
  /** Fraction of cycles stalled in the front end. */
  stallFrontend: number;
  /** Fraction of cycles stalled in the back end. */
  stallBackend: number;
  /** Fraction of run time spent in user mode (the rest is kernel mode). */
  userFraction: number;
}

/**
 * The intrinsic characteristics of a core type that scale every workload: a big core runs
 * the same task at a higher clock and IPC than a little core.
 */
export interface CoreTypeScaling {
  /** Default clock in MHz. */
  freqMHz: number;
  /** Multiplier applied to a workload's IPC. */
  ipcScale: number;
  /** Reference (TSC-like) clock in MHz for ref-cycles and bus-cycles. */
  refMHz: number;
}

/** A named workload: a base profile and optional per-core-type overrides. */
export interface Workload {
  name: string;
  /** Profile used on any core type without an override; freqMHz is optional here. */
  base: Omit<WorkloadProfile, "freqMHz"> & { freqMHz?: number };
  /** Per core-type name: fields that replace the scaled base values. */
  overrides: Record<string, Partial<WorkloadProfile>>;
}

/** The built-in workloads scenarios can name without defining them. */
export const BUILTIN_WORKLOADS: Record<string, Workload> = {
  compute: {
    name: "compute",
    base: {
      ipc: 2.0,
      branchRatio: 0.15,
      branchMissRatio: 0.01,
      memRatio: 0.3,
      loadFraction: 0.7,
      l1dMissRatio: 0.01,
      llcRefRatio: 0.002,
      llcMissRatio: 0.1,
      stallFrontend: 0.05,
      stallBackend: 0.1,
      userFraction: 0.98,
    },
    overrides: {},
  },
  memory: {
    name: "memory",
    base: {
      ipc: 0.5,
      branchRatio: 0.1,
      branchMissRatio: 0.02,
      memRatio: 0.5,
      loadFraction: 0.8,
      l1dMissRatio: 0.15,
      llcRefRatio: 0.05,
      llcMissRatio: 0.4,
      stallFrontend: 0.05,
      stallBackend: 0.6,
      userFraction: 0.95,
    },
    overrides: {},
  },
  branchy: {
    name: "branchy",
    base: {
      ipc: 1.2,
      branchRatio: 0.25,
      branchMissRatio: 0.08,
      memRatio: 0.3,
      loadFraction: 0.7,
      l1dMissRatio: 0.03,
      llcRefRatio: 0.005,
      llcMissRatio: 0.2,
      stallFrontend: 0.3,
      stallBackend: 0.1,
      userFraction: 0.97,
    },
    overrides: {},
  },
  syscall: {
    name: "syscall",
    base: {
      ipc: 1.0,
      branchRatio: 0.2,
      branchMissRatio: 0.03,
      memRatio: 0.35,
      loadFraction: 0.65,
      l1dMissRatio: 0.05,
      llcRefRatio: 0.01,
      llcMissRatio: 0.2,
      stallFrontend: 0.2,
      stallBackend: 0.2,
      userFraction: 0.4,
    },
    overrides: {},
  },
};

/**
 * Resolves a workload on a core type to its effective profile: the base scaled by the core
 * type, then the core type's explicit overrides.
 */
export function effectiveProfile(
  w: Workload,
  coreType: string,
  scaling: CoreTypeScaling,
): WorkloadProfile {
  const p: WorkloadProfile = {
    ...w.base,
    freqMHz: w.base.freqMHz ?? scaling.freqMHz,
    ipc: w.base.ipc * scaling.ipcScale,
  };
  const o = w.overrides[coreType];
  return o ? { ...p, ...o } : p;
}

/**
 * Rates per nanosecond of every quantity for a profile, and the mode split. The result is
 * what a CPU accrues per nanosecond while running this workload.
 */
export function ratesFor(p: WorkloadProfile, scaling: CoreTypeScaling): Float64Array {
  const r = new Float64Array(NQ);
  const cycles = p.freqMHz / 1000;
  const inst = cycles * p.ipc;
  const mem = inst * p.memRatio;
  const branches = inst * p.branchRatio;
  const llcRefs = inst * p.llcRefRatio;
  const l1i = inst / 4;
  r[Q.CYCLES] = cycles;
  r[Q.INSTRUCTIONS] = inst;
  r[Q.REF_CYCLES] = scaling.refMHz / 1000;
  r[Q.BRANCHES] = branches;
  r[Q.BRANCH_MISSES] = branches * p.branchMissRatio;
  r[Q.CACHE_REFERENCES] = llcRefs;
  r[Q.CACHE_MISSES] = llcRefs * p.llcMissRatio;
  r[Q.BUS_CYCLES] = scaling.refMHz / 1000 / 4;
  r[Q.MEM_ACCESS] = mem;
  r[Q.L1D_CACHE] = mem;
  r[Q.L1D_CACHE_REFILL] = mem * p.l1dMissRatio;
  r[Q.L1I_CACHE] = l1i;
  r[Q.L1I_CACHE_REFILL] = l1i * 0.005;
  r[Q.STALL_FRONTEND] = cycles * p.stallFrontend;
  r[Q.STALL_BACKEND] = cycles * p.stallBackend;
  r[Q.LD_RETIRED] = mem * p.loadFraction;
  r[Q.ST_RETIRED] = mem * (1 - p.loadFraction);
  r[Q.EXC_TAKEN] = inst * 1e-5;
  // Workload profiles do not describe read-modify-write ops: none are counted.
  r[Q.LD_ST_OPS] = 0;
  return r;
}
