import type { Ns } from "../../sim/time.js";
import type { KvmVcpu } from "../vcpu.js";
import { GP_FAULT, type MsrResult } from "./msr.js";

/** IA32_MISC_ENABLE and its "PEBS unavailable" (12) and "BTS unavailable" (11) bits. */
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MISC_ENABLE_BTS_UNAVAIL = 1n << 11n;
export const MISC_ENABLE_PEBS_UNAVAIL = 1n << 12n;

/**
 * kernel: kvm_get_msr() for a guest RDMSR of a PMU-related MSR (kvm_pmu_get_msr() and the
 * common MSRs PMU code reads). IA32_MISC_ENABLE reads with BTS and PEBS unavailable, as
 * kvm_vcpu_reset() sets them and vpmu's hosts offer no PEBS. Returns the value or GP_FAULT.
 */
export function kvmGuestRdmsr(v: KvmVcpu, msr: number, now: Ns): MsrResult {
  if (msr === MSR_IA32_MISC_ENABLE) return MISC_ENABLE_BTS_UNAVAIL | MISC_ENABLE_PEBS_UNAVAIL;
  return v.pmu ? v.pmu.rdmsr(msr, now) : GP_FAULT;
}

/** kernel: kvm_set_msr() for a guest WRMSR (not host-initiated). Returns true or GP_FAULT. */
export function kvmGuestWrmsr(
  v: KvmVcpu,
  msr: number,
  value: bigint,
  now: Ns,
): true | typeof GP_FAULT {
  // IA32_MISC_ENABLE: the bits the guest may not change are checked by KVM; vpmu keeps the
  // register constant and takes writes of its current value only.
  if (msr === MSR_IA32_MISC_ENABLE)
    return value === (MISC_ENABLE_BTS_UNAVAIL | MISC_ENABLE_PEBS_UNAVAIL) ? true : GP_FAULT;
  return v.pmu ? v.pmu.wrmsr(msr, value, now) : GP_FAULT;
}
