import { AMD_MSR, MSR } from "../../kvm/x86/msr.js";
import { GuestAbort, rdmsr, wrmsr, type X86Guest, type X86GuestEnv } from "../x86/program.js";

/**
 * The kvm-unit-tests x86 PMU library (lib/x86/pmu.h, lib/x86/pmu.c) as the guest sees it:
 * what pmu_init() reads from CPUID and PERF_CAPABILITIES, and the MSR helpers.
 */

export const MSR_K7_EVNTSEL0 = AMD_MSR.K7_EVNTSEL0;
export const MSR_K7_PERFCTR0 = AMD_MSR.K7_PERFCTR0;
export const MSR_F15H_PERF_CTL0 = AMD_MSR.F15H_PERF_CTL0;
export const MSR_F15H_PERF_CTR0 = AMD_MSR.F15H_PERF_CTR0;
export const MSR_IA32_PERFCTR0 = MSR.IA32_PMC0;
export const MSR_IA32_PMC0 = MSR.IA32_A_PMC0;
export const MSR_P6_EVNTSEL0 = MSR.IA32_PERFEVTSEL0;
export const MSR_CORE_PERF_FIXED_CTR0 = MSR.IA32_FIXED_CTR0;
export const MSR_CORE_PERF_FIXED_CTR_CTRL = MSR.IA32_FIXED_CTR_CTRL;
export const FIXED_CNT_INDEX = 32;
export const AMD64_NUM_COUNTERS = 4;
export const AMD64_NUM_COUNTERS_CORE = 6;
export const PMC_DEFAULT_WIDTH = 48;

export const EVNTSEL_USR = 1 << 16;
export const EVNTSEL_OS = 1 << 17;
export const EVNTSEL_INT = 1 << 20;
export const EVNTSEL_EN = 1 << 22;
export const EVNTSEL_CMASK_SHIFT = 24;

export const PMU_CAP_LBR_FMT = 0x3fn;
export const PMU_CAP_FW_WRITES = 1n << 13n;
export const PMU_CAP_PEBS_BASELINE = 1n << 14n;
export const PERF_CAP_PEBS_FORMAT = 0xf00n;

/** struct pmu_caps. */
export interface PmuCaps {
  isIntel: boolean;
  version: number;
  nrFixedCounters: number;
  fixedCounterWidth: number;
  nrGpCounters: number;
  gpCounterWidth: number;
  archEventMaskLength: number;
  archEventAvailable: number;
  msrGpCounterBase: number;
  msrGpEventSelectBase: number;
  msrGlobalStatus: number;
  msrGlobalCtl: number;
  msrGlobalStatusClr: number;
  perfCap: bigint;
  errata: { instructionsRetiredOvercount: boolean; branchesRetiredOvercount: boolean };
}

export const MSR_GP_COUNTERx = (p: PmuCaps, i: number): number =>
  p.msrGpCounterBase === MSR_F15H_PERF_CTR0 ? p.msrGpCounterBase + 2 * i : p.msrGpCounterBase + i;

export const MSR_GP_EVENT_SELECTx = (p: PmuCaps, i: number): number =>
  p.msrGpEventSelectBase === MSR_F15H_PERF_CTL0
    ? p.msrGpEventSelectBase + 2 * i
    : p.msrGpEventSelectBase + i;

export const thisCpuHasPmu = (p: PmuCaps): boolean => !p.isIntel || p.version !== 0;
export const hasPerfGlobalCtrl = (p: PmuCaps): boolean => p.version > 1;
export const hasPerfGlobalStatus = (p: PmuCaps): boolean => p.version > 1;
export const archEventIsAvailable = (p: PmuCaps, i: number): boolean =>
  i < 32 && ((p.archEventAvailable >>> i) & 1) === 1;
export const pmuLbrVersion = (p: PmuCaps): bigint => p.perfCap & PMU_CAP_LBR_FMT;
export const pmuHasFullWrites = (p: PmuCaps): boolean => (p.perfCap & PMU_CAP_FW_WRITES) !== 0n;
export const pmuUseFullWrites = (p: PmuCaps): boolean => p.msrGpCounterBase === MSR_IA32_PMC0;
export const pmuHasPebs = (p: PmuCaps): boolean => p.version > 1;
export const pmuPebsFormat = (p: PmuCaps): number =>
  Number((p.perfCap & PERF_CAP_PEBS_FORMAT) >> 8n);
export const pmuHasPebsBaseline = (p: PmuCaps): boolean =>
  (p.perfCap & PMU_CAP_PEBS_BASELINE) !== 0n;

/**
 * The Atom parts whose instructions (and branches) retired events overcount on VM-exits and
 * other flows (pmu_detect_intel_overcount_errata(), from Intel's errata SRF7).
 */
function overcountErrata(family: number, model: number): PmuCaps["errata"] {
  const none = { instructionsRetiredOvercount: false, branchesRetiredOvercount: false };
  if (family !== 6) return none;
  if (model === 0xdd)
    return { instructionsRetiredOvercount: true, branchesRetiredOvercount: false };
  if ([0xaf, 0x4d, 0x5f, 0x86].includes(model))
    return { instructionsRetiredOvercount: true, branchesRetiredOvercount: true };
  return none;
}

/** pmu_init(): the PMU as CPUID describes it (the guest's CPUID, not what KVM clamps). */
export function* pmuInit(env: X86GuestEnv): X86Guest<PmuCaps> {
  const c = env.cpuid;
  const p: PmuCaps = {
    isIntel: env.vendor === "intel",
    version: 0,
    nrFixedCounters: 0,
    fixedCounterWidth: 0,
    nrGpCounters: 0,
    gpCounterWidth: 0,
    archEventMaskLength: 0,
    archEventAvailable: 0,
    msrGpCounterBase: 0,
    msrGpEventSelectBase: 0,
    msrGlobalStatus: 0,
    msrGlobalCtl: 0,
    msrGlobalStatusClr: 0,
    perfCap: 0n,
    errata: overcountErrata(c.features.family, c.features.model),
  };
  if (p.isIntel) {
    const a = c.leafA;
    p.version = a?.version ?? 0;
    if (a && p.version > 1) {
      p.nrFixedCounters = a.nrFixed;
      p.fixedCounterWidth = a.fixedWidth;
    }
    p.nrGpCounters = a?.nrGp ?? 0;
    p.gpCounterWidth = a?.gpWidth ?? 0;
    p.archEventMaskLength = a?.eventsLength ?? 0;
    // CPUID.0xA.EBX bit i is set when architectural event i is NOT available.
    const len = p.archEventMaskLength;
    const lenMask = len >= 32 ? 0xffffffff : 2 ** len - 1;
    p.archEventAvailable = (~(a?.unavailableEvents ?? 0) & lenMask) >>> 0;
    if (c.features.pdcm) p.perfCap = yield* rdmsr(MSR.IA32_PERF_CAPABILITIES);
    p.msrGpCounterBase = MSR_IA32_PERFCTR0;
    p.msrGpEventSelectBase = MSR_P6_EVNTSEL0;
    if (hasPerfGlobalStatus(p)) {
      p.msrGlobalStatus = MSR.IA32_PERF_GLOBAL_STATUS;
      p.msrGlobalCtl = MSR.IA32_PERF_GLOBAL_CTRL;
      p.msrGlobalStatusClr = MSR.IA32_PERF_GLOBAL_OVF_CTRL;
    }
  } else {
    if (c.amd.perfCtrCore) {
      if (c.amd.perfMonV2) {
        p.version = 2;
        p.nrGpCounters = c.amd.numCorePmc;
      } else {
        p.nrGpCounters = AMD64_NUM_COUNTERS_CORE;
      }
      p.msrGpCounterBase = MSR_F15H_PERF_CTR0;
      p.msrGpEventSelectBase = MSR_F15H_PERF_CTL0;
    } else {
      p.nrGpCounters = AMD64_NUM_COUNTERS;
      p.msrGpCounterBase = MSR_K7_PERFCTR0;
      p.msrGpEventSelectBase = MSR_K7_EVNTSEL0;
    }
    p.gpCounterWidth = PMC_DEFAULT_WIDTH;
    p.archEventMaskLength = 32;
    p.archEventAvailable = 0xffffffff;
    if (hasPerfGlobalStatus(p)) {
      p.msrGlobalStatus = AMD_MSR.GLOBAL_STATUS;
      p.msrGlobalCtl = AMD_MSR.GLOBAL_CTL;
      p.msrGlobalStatusClr = AMD_MSR.GLOBAL_STATUS_CLR;
    }
  }
  yield* pmuResetAllCounters(p);
  return p;
}

/** pmu_reset_all_gp_counters() and pmu_reset_all_fixed_counters(). */
export function* pmuResetAllCounters(p: PmuCaps): X86Guest {
  for (let i = 0; i < p.nrGpCounters; i++) {
    yield* wrmsr(MSR_GP_EVENT_SELECTx(p, i), 0);
    yield* wrmsr(MSR_GP_COUNTERx(p, i), 0);
  }
  if (!p.nrFixedCounters) return;
  yield* wrmsr(MSR_CORE_PERF_FIXED_CTR_CTRL, 0);
  for (let i = 0; i < p.nrFixedCounters; i++) yield* wrmsr(MSR_CORE_PERF_FIXED_CTR0 + i, 0);
}

/** pmu_clear_global_status(). */
export function* pmuClearGlobalStatus(p: PmuCaps): X86Guest {
  yield* wrmsr(p.msrGlobalStatusClr, yield* rdmsr(p.msrGlobalStatus));
}

/** assert(): a failed one stops the test (abort()). */
export function kutAssert(cond: boolean, expr: string): void {
  if (!cond) throw new GuestAbort(`assert failed: ${expr}`);
}
