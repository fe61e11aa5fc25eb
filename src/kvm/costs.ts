/**
 * The KVM cost model: how long exits, PMU switches and emulation take. These are model
 * parameters, not measurements; defaults are chosen to be consistent with published
 * figures where any exist, and every one can be changed per scenario.
 */
export interface KvmCosts {
  /** A VM exit and re-entry with nothing to emulate (ns). */
  exitBaseNs: number;
  /** Emulating one PMU MSR access or RDPMC (emulated vPMU, or an intercepted MSR) (ns). */
  pmuMsrNs: number;
  /** Creating (or re-creating) a host perf event for a guest counter (ns). */
  perfEventCreateNs: number;
  /** One PMU context switch, load or put, of the mediated/passthrough vPMU (ns). */
  pmuSwitchNs: number;
  /** Injecting a PMI into the guest (ns). */
  pmiInjectNs: number;
}

/**
 * Defaults. exitBaseNs: a CPUID exit round trip is ~3k cycles on Emerald Rapids with the
 * mediated PMU (~1 us at 3 GHz), of which the PMU switch is not separately published;
 * pmuSwitchNs is set so load + put add ~0.3 us per exit, in line with the ~25% saved by
 * eliding PMC writes (4k -> 3k cycles, kvm-x86 b0b6a8d3be16). perfEventCreateNs reflects
 * that re-creating a perf event is orders of magnitude slower than a register write
 * (Wei Wang's 2018 vPMU optimization cover letter).
 */
export const DEFAULT_KVM_COSTS: KvmCosts = {
  exitBaseNs: 800,
  pmuMsrNs: 400,
  perfEventCreateNs: 20_000,
  pmuSwitchNs: 150,
  pmiInjectNs: 500,
};
