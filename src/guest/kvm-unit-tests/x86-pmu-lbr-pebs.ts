import { MISC_ENABLE_PEBS_UNAVAIL, MSR_IA32_MISC_ENABLE } from "../../kvm/x86/guest-msr.js";
import { rdmsr, wrmsrSafe, type X86Guest, type X86GuestEnv } from "../x86/program.js";
import type { KutReport } from "./libcflat.js";
import {
  pmuHasFullWrites,
  pmuHasPebs,
  pmuInit,
  pmuLbrVersion,
  pmuPebsFormat,
  thisCpuHasPmu,
} from "./x86-pmu-lib.js";

/** The LBR MSRs pmu_lbr.c probes: Core (0x40/0x60) and Nehalem+ (0x680/0x6c0). */
const MSR_LBR_CORE_FROM = 0x40;
const MSR_LBR_NHM_FROM = 0x680;

/**
 * kvm-unit-tests `x86/pmu_lbr.c` up to its checks of the LBR records. vpmu's hosts have no
 * LBR, so KVM offers no LBR format in PERF_CAPABILITIES and the test stops at its SKIP; the
 * record checks themselves are not ported (see docs/upstream-tests.md).
 */
export function* x86PmuLbrMain(t: KutReport, env: X86GuestEnv): X86Guest {
  const pmu = yield* pmuInit(env);
  if (!pmu.isIntel) return t.skip("PMU_LBR test is for intel CPU's only");
  if (!thisCpuHasPmu(pmu)) return t.skip("No pmu is detected!");
  if (!env.cpuid.features.pdcm) return t.skip("Perfmon/Debug Capabilities MSR isn't supported.");
  if (!pmuLbrVersion(pmu)) return t.skip("(Architectural) LBR is not supported.");
  t.print(`PMU version:\t\t ${pmu.version}`);
  t.print(`LBR version:\t\t ${pmuLbrVersion(pmu)}`);
  // Look for the LBR FROM MSRs; a host without LBR faults on both.
  const core = yield* wrmsrSafe(MSR_LBR_CORE_FROM, 0);
  const nhm = core || (yield* wrmsrSafe(MSR_LBR_NHM_FROM, 0));
  if (!nhm) return t.skip("LBR on this platform is not supported!");
  t.abort("LBR records are not modelled by vpmu");
}

/**
 * kvm-unit-tests `x86/pmu_pebs.c` up to its PEBS record checks: the same four SKIP reasons
 * in the same order. vpmu's hosts have no PEBS (PERF_CAPABILITIES has no PEBS format, and
 * IA32_MISC_ENABLE says PEBS is unavailable), so every configuration ends in one of them.
 */
export function* x86PmuPebsMain(t: KutReport, env: X86GuestEnv): X86Guest {
  const pmu = yield* pmuInit(env);
  t.print(`PMU version: ${pmu.version}`);
  if (pmuHasFullWrites(pmu)) pmu.msrGpCounterBase = 0x4c1;
  if (!pmu.isIntel) return t.skip("PEBS requires Intel ICX or later, non-Intel detected");
  if (!pmuHasPebs(pmu))
    return t.skip(`PEBS required PMU version 2, reported version is ${pmu.version}`);
  if (pmuPebsFormat(pmu) < 4) return t.skip("This test supports PEBS_Record_Format >= 4 only");
  if ((yield* rdmsr(MSR_IA32_MISC_ENABLE)) & MISC_ENABLE_PEBS_UNAVAIL)
    return t.skip("PEBS unavailable according to MISC_ENABLE");
  t.abort("PEBS records are not modelled by vpmu");
}
