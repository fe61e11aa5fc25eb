import type { PmuHwDesc } from "../../hw/pmu-desc.js";
import { isAmdPmu } from "../../hw/pmu-desc.js";
import type { AmdPmuCpuid } from "./amd.js";
import type { CpuidLeafA } from "./pmu.js";

/**
 * The Intel architectural events in CPUID.0AH:EBX bit order (SDM vol. 3, "Pre-defined
 * Architectural Performance Events"; KVM's intel_arch_events[]): index i is available when
 * EBX bit i is clear and i is below the EAX[31:24] vector length.
 */
export const INTEL_ARCH_EVENT_ENCODINGS = [
  0x003c, 0x00c0, 0x013c, 0x4f2e, 0x412e, 0x00c4, 0x00c5, 0x01a4,
] as const;

/** CPUID feature bits the PMU code of guests and KVM looks at. */
export interface X86CpuFeatures {
  /** CPUID.1:ECX[15] PDCM: IA32_PERF_CAPABILITIES exists. */
  pdcm: boolean;
  /** CPUID.1:EDX[19] CLFLUSH and CPUID.7:EBX[23] CLFLUSHOPT. */
  clflush: boolean;
  clflushopt: boolean;
  /** CPUID.7:EDX[26] SPEC_CTRL (IBRS/IBPB), or AMD's 0x80000008:EBX[12] IBPB. */
  ibpb: boolean;
  /** CPUID.7:EBX[11] RTM. */
  rtm: boolean;
  /** CPUID.1:EDX[21] DS and CPUID.1:ECX[2] DTES64 (PEBS needs both). */
  ds: boolean;
  /** CPUID.1:EAX family and model (display values). */
  family: number;
  model: number;
}

/** One vCPU's CPUID as userspace set it (KVM_SET_CPUID2): what the guest reads. */
export interface X86VcpuCpuid {
  /** Leaf 0xA; null when userspace left the leaf out (no architectural PMU). */
  leafA: CpuidLeafA | null;
  /** AMD's PMU leaves (0x80000001 ECX[23], 0x80000022). */
  amd: AmdPmuCpuid;
  features: X86CpuFeatures;
}

/**
 * The signature vpmu gives its x86 presets' CPUs in CPUID leaf 1 (model parameters): the
 * Intel server is a Sapphire Rapids-like part (family 6, model 0x8F), the AMD one a Zen 4
 * EPYC (family 0x19, model 0x11). Guests use these only to pick model-specific events.
 */
export function cpuSignature(host: PmuHwDesc): { family: number; model: number } {
  return isAmdPmu(host) ? { family: 0x19, model: 0x11 } : { family: 6, model: 0x8f };
}

/**
 * kernel: the 0xA leaf of KVM_GET_SUPPORTED_CPUID: the length of the event bit vector and
 * EBX are the host's, limited to the architectural events the host really counts (vpmu's
 * presets have no top-down slots counter, so the vector stops at seven events).
 */
export function archEventsVector(host: PmuHwDesc): { length: number; unavailable: number } {
  let length = 0;
  while (length < INTEL_ARCH_EVENT_ENCODINGS.length) {
    const q = host.events.get(INTEL_ARCH_EVENT_ENCODINGS[length]!);
    if (q === undefined || q < 0) break;
    length++;
  }
  return { length, unavailable: 0 };
}

/**
 * The CPUID feature bits KVM_GET_SUPPORTED_CPUID reports for a host (what QEMU's
 * `-cpu max` passes on). PDCM exists on Intel only; vpmu's hosts have no PEBS, so DS is off.
 */
export function supportedFeatures(host: PmuHwDesc): X86CpuFeatures {
  const amd = isAmdPmu(host);
  return {
    pdcm: !amd,
    clflush: true,
    clflushopt: true,
    ibpb: true,
    rtm: false,
    ds: false,
    ...cpuSignature(host),
  };
}
