import type { Cpu } from "../hw/cpu.js";
import { isAmdPmu, type PmuHwDesc } from "../hw/pmu-desc.js";
import {
  perfGuestEnter,
  perfGuestExit,
  perfLoadGuestContext,
  perfPutGuestContext,
  type VpmuProfile,
} from "../perf/guest.js";
import type { Ns } from "../sim/time.js";
import type { System } from "../system.js";
import { DEFAULT_KVM_COSTS, type KvmCosts } from "./costs.js";
import { type KvmHost, type KvmVcpu, registerVcpuPreemptNotifiers } from "./vcpu.js";
import {
  KVM_CAP_PMU_CAPABILITY,
  KVM_CAP_PMU_EVENT_FILTER,
  KVM_CAP_PMU_EVENT_MASKED_EVENTS,
  KvmVm,
} from "./vm.js";
import { EMULATED_MAX_VERSION } from "./x86/pmu.js";

/** KVM module parameters. */
export interface KvmParams {
  /** kvm.enable_pmu (default true). */
  enablePmu: boolean;
  /**
   * kvm-intel.enable_mediated_pmu (7.0) or enable_passthrough_pmu (rfc-v1): the guest owns
   * the PMU hardware while it runs. Default false.
   */
  enableMediatedPmu: boolean;
  /**
   * kvm.force_emulation_prefix: the guest may force KVM to emulate an instruction with the
   * ud2 + "kvm" prefix (test suites use it to check that emulated instructions count).
   * Default false.
   */
  forceEmulationPrefix: boolean;
}

/** Default module parameters. */
export const DEFAULT_KVM_PARAMS: KvmParams = {
  enablePmu: true,
  enableMediatedPmu: false,
  forceEmulationPrefix: false,
};

/** Host PMU version the mediated vPMU needs on Intel (GLOBAL_STATUS_SET). */
const MEDIATED_MIN_HOST_VERSION = 4;
/** On AMD it needs PerfMonV2 (amd_pmu_is_mediated_pmu_supported(): version >= 2). */
const MEDIATED_MIN_HOST_VERSION_AMD = 2;

/**
 * /dev/kvm on an x86 host: module parameters (forced off where the hardware cannot
 * support them, as KVM does), the VMs, and the scheduler hooks that run vCPU threads.
 */
export class Kvm implements KvmHost {
  readonly enablePmu: boolean;
  readonly enableMediatedPmu: boolean;
  readonly forceEmulationPrefix: boolean;
  readonly vms: KvmVm[] = [];
  /** Messages KVM would print to the kernel log. */
  readonly log: string[] = [];
  readonly profile: VpmuProfile;
  /** The host is AMD (kvm-amd, svm/pmu.c) rather than Intel (kvm-intel, vmx/pmu_intel.c). */
  readonly amd: boolean;

  constructor(
    readonly sys: System,
    params: Partial<KvmParams> = {},
    readonly costs: KvmCosts = DEFAULT_KVM_COSTS,
  ) {
    const p = { ...DEFAULT_KVM_PARAMS, ...params };
    this.forceEmulationPrefix = p.forceEmulationPrefix;
    const desc = sys.machine.desc;
    this.profile = sys.perf.guest?.profile ?? "7.0";
    // KVM offers no vPMU on hybrid CPUs (X86_FEATURE_HYBRID_CPU).
    const hybrid = desc.coreTypes.length > 1;
    this.enablePmu = p.enablePmu && desc.arch === "x86_64" && !hybrid;
    const host = desc.coreTypes[0]!.pmu;
    this.amd = isAmdPmu(host);
    this.enableMediatedPmu =
      p.enableMediatedPmu &&
      this.enablePmu &&
      host.version >= (this.amd ? MEDIATED_MIN_HOST_VERSION_AMD : MEDIATED_MIN_HOST_VERSION) &&
      this.profile !== "5.18" &&
      // The January 2024 passthrough RFC was Intel only; AMD came with v2.
      !(this.amd && this.profile === "rfc-v1");
    registerVcpuPreemptNotifiers(sys);
  }

  /** The host core PMU the vPMU is modelled on. */
  hostPmu(): PmuHwDesc {
    return this.sys.machine.desc.coreTypes[0]!.pmu;
  }

  /**
   * Highest PMU version a guest can get (kvm_pmu_cap.version). kernel 7.0:
   * kvm_init_pmu_capability() caps it at 2 whether or not the vPMU is mediated; the 2024
   * passthrough RFC offered the host's version to a passthrough guest.
   */
  maxPmuVersion(): number {
    return this.enableMediatedPmu && this.profile === "rfc-v1"
      ? this.hostPmu().version
      : EMULATED_MAX_VERSION;
  }

  /** KVM_CHECK_EXTENSION. */
  checkExtension(cap: number): number {
    switch (cap) {
      case KVM_CAP_PMU_CAPABILITY:
        return this.enablePmu ? 1 : 0;
      case KVM_CAP_PMU_EVENT_FILTER:
      case KVM_CAP_PMU_EVENT_MASKED_EVENTS:
        return this.enablePmu ? 1 : 0;
      default:
        return 0;
    }
  }

  /** KVM_CREATE_VM. */
  createVm(name: string): KvmVm {
    const vm = new KvmVm(this, name);
    this.vms.push(vm);
    return vm;
  }

  /** vcpu_load(): nothing PMU-related on x86 (the switch wraps each guest run). */
  vcpuLoaded(_v: KvmVcpu, _cpu: Cpu, _now: Ns): boolean {
    return true;
  }

  /** Host-side cost of one exit for this vCPU, including a PMU put + load when the guest owns the PMU. */
  exitCost(v: KvmVcpu): number {
    let c = this.costs.exitBaseNs + v.pendingCostNs;
    v.pendingCostNs = 0;
    if (v.mediated) c += 2 * this.costs.pmuSwitchNs;
    return c;
  }

  /** VM-entry side of the PMU switch (kvm_mediated_pmu_load() / the RFC's perf_guest_enter()). */
  guestPmuLoad(v: KvmVcpu, cpu: Cpu, now: Ns): void {
    v.emulated?.retryPending(now);
    if (!v.mediated) return;
    const core = this.sys.perf;
    if (this.profile === "rfc-v1") perfGuestEnter(core, cpu.id, now);
    else perfLoadGuestContext(core, cpu.id, now);
    v.mediated.load(cpu, now);
  }

  /** VM-exit side (kvm_mediated_pmu_put() / perf_guest_exit()). */
  guestPmuPut(v: KvmVcpu, cpu: Cpu, now: Ns): void {
    if (!v.mediated) return;
    v.mediated.put(now);
    const core = this.sys.perf;
    if (this.profile === "rfc-v1") perfGuestExit(core, cpu.id, now);
    else perfPutGuestContext(core, cpu.id, now);
  }
}
