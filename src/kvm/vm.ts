import type { Workload } from "../hw/workload.js";
import { PERF_EVENT_STATE } from "../perf/event.js";
import { perfCreateMediatedPmu, perfReleaseMediatedPmu } from "../perf/guest.js";
import { ERRNO } from "../sim/errno.js";
import type { Ns } from "../sim/time.js";
import { emulatedPerfOpCost } from "./costs.js";
import { type KvmPmuEventFilter, PmuEventFilter } from "./filter.js";
import type { Kvm } from "./kvm.js";
import { KvmVcpu } from "./vcpu.js";
import { type AmdPmuCpuid, KvmAmdPmu } from "./x86/amd.js";
import { EmulatedBackend } from "./x86/emulated.js";
import { MediatedBackend } from "./x86/mediated.js";
import { type CpuidLeafA, EMULATED_MAX_VERSION, type KvmPmc, KvmX86Pmu } from "./x86/pmu.js";

/** KVM_CAP_* numbers (include/uapi/linux/kvm.h). */
export const KVM_CAP_PMU_EVENT_FILTER = 173;
export const KVM_CAP_PMU_EVENT_MASKED_EVENTS = 224;
export const KVM_CAP_PMU_CAPABILITY = 228;
export const KVM_PMU_CAP_DISABLE = 1;

/** Options of KVM_CREATE_VCPU as a scenario or a test gives them. */
export interface VcpuOptions {
  workload: Workload;
  affinity?: number[];
  /** Exits per second from guest mode besides the host tick (I/O, timers). */
  exitRate?: number;
}

/**
 * An x86 VM (struct kvm): its PMU settings (KVM_CAP_PMU_CAPABILITY, the event filter,
 * whether a mediated PMU was created) and its vCPUs.
 */
export class KvmVm {
  /** kvm->arch.enable_pmu. */
  enablePmu: boolean;
  /** An in-kernel local APIC (KVM_CREATE_IRQCHIP). */
  irqchip = true;
  createdVcpus = 0;
  /** kvm->arch.created_mediated_pmu (sticky). */
  createdMediatedPmu = false;
  filter: PmuEventFilter | null = null;
  readonly vcpus: KvmVcpu[] = [];
  /** Guest CPUID leaf 0xA (KVM_SET_CPUID2); defaults to what KVM supports. */
  cpuid: CpuidLeafA;
  /**
   * AMD hosts: the guest's PerfCtrExtCore/PerfMonV2 CPUID bits (KVM_SET_CPUID2), which shape
   * the AMD vPMU instead of leaf 0xA; defaults to what KVM supports.
   */
  amdCpuid: AmdPmuCpuid;

  constructor(
    readonly kvm: Kvm,
    readonly name: string,
  ) {
    this.enablePmu = kvm.enablePmu;
    this.cpuid = KvmX86Pmu.supportedCpuid(kvm.hostPmu(), kvm.maxPmuVersion());
    this.amdCpuid = KvmAmdPmu.supportedAmdCpuid(kvm.hostPmu(), kvm.maxPmuVersion());
  }

  /** KVM_ENABLE_CAP. Returns 0 or a negative errno. */
  enableCap(cap: number, args0: number): number {
    if (cap !== KVM_CAP_PMU_CAPABILITY) return -ERRNO.EINVAL;
    // kernel: kvm_vm_ioctl_enable_cap(KVM_CAP_PMU_CAPABILITY)
    if (!this.kvm.enablePmu || !Number.isInteger(args0) || args0 & ~KVM_PMU_CAP_DISABLE)
      return -ERRNO.EINVAL;
    if (this.createdVcpus > 0 || this.createdMediatedPmu) return -ERRNO.EINVAL;
    this.enablePmu = !(args0 & KVM_PMU_CAP_DISABLE);
    return 0;
  }

  /** KVM_SET_PMU_EVENT_FILTER: replaces the filter and reprograms every counter. */
  setPmuEventFilter(f: KvmPmuEventFilter, now: Ns): number {
    const r = PmuEventFilter.create(f);
    if (typeof r === "number") return r;
    this.filter = r;
    for (const v of this.vcpus)
      for (const p of v.pmu?.all() ?? []) (v.emulated ?? v.mediated)?.reprogram(p, now);
    return 0;
  }

  /** Is a guest counter allowed by the filter? */
  allowed(pmu: KvmX86Pmu, pmc: KvmPmc): boolean {
    if (!this.filter) return true;
    return pmc.fixed
      ? this.filter.fixedAllowed(pmc.idx - 32)
      : this.filter.gpAllowed(pmu.encoding(pmc));
  }

  /**
   * KVM_CREATE_VCPU. The first vCPU of a VM with a mediated PMU creates it in perf
   * (kvm_arch_vcpu_precreate()), which fails with EBUSY while any !exclude_guest event
   * exists on the core PMU; without an in-kernel irqchip the VM silently gets no vPMU.
   * Returns the vCPU or a negative errno.
   */
  createVcpu(id: number, opts: VcpuOptions, now: Ns): KvmVcpu | number {
    if (!Number.isInteger(id) || id < 0 || id >= 1024) return -ERRNO.EINVAL;
    if (this.vcpus.some((v) => v.id === id)) return -ERRNO.EEXIST;
    const kvm = this.kvm;
    if (
      kvm.enableMediatedPmu &&
      this.enablePmu &&
      kvm.profile === "7.0" &&
      !this.createdMediatedPmu
    ) {
      if (this.irqchip) {
        const r = perfCreateMediatedPmu(kvm.sys.perf);
        if (r < 0) {
          kvm.log.push(
            `kvm: Failed to enable mediated vPMU, try disabling system wide perf events and nmi_watchdog.`,
          );
          return r;
        }
        this.createdMediatedPmu = true;
      } else {
        this.enablePmu = false;
      }
    }
    const v = new KvmVcpu(this, id, opts.workload, opts.affinity, opts.exitRate ?? 0);
    let pmu: KvmX86Pmu;
    if (kvm.amd) {
      // kernel: amd_pmu_ops (svm/pmu.c) instead of intel_pmu_ops.
      const amd = new KvmAmdPmu(kvm.hostPmu(), kvm.maxPmuVersion());
      amd.refreshAmd(this.amdCpuid, this.enablePmu && kvm.enablePmu);
      pmu = amd;
    } else {
      pmu = new KvmX86Pmu(kvm.hostPmu(), kvm.maxPmuVersion());
      pmu.refresh(this.cpuid, this.enablePmu && kvm.enablePmu);
    }
    v.pmu = pmu;
    const checker = kvm.sys.invariants;
    if (checker)
      pmu.onCounterRead = (p, prev, value, t) =>
        checker.guestCounterRead(v.label, p.idx, v.task.cpu, prev, value, t);
    if (pmu.version > 0) {
      if (kvm.enableMediatedPmu) {
        v.mediated = new MediatedBackend(
          pmu,
          v.label,
          {
            allowed: (p) => this.allowed(pmu, p),
            pmi: (_p, t) => v.pmiExit(t),
          },
          kvm.sys.queue,
        );
        pmu.backend = v.mediated;
      } else {
        v.emulated = new EmulatedBackend(pmu, kvm.sys.perf, v.task, `kvm:${v.label}`, {
          allowed: (p) => this.allowed(pmu, p),
          created: () => {
            v.pendingCostNs += kvm.costs.perfEventCreateNs;
          },
          // Host time of each perf operation, added to the exit during which KVM performs it.
          perfOp: (op) => {
            v.pendingCostNs += emulatedPerfOpCost(
              kvm.costs,
              op,
              op === "enable" ? enabledBackingEvents(v) : 0,
            );
          },
        });
        pmu.backend = v.emulated;
        // kvm_perf_overflow() runs in the host NMI: the guest gets its PMI at the next entry.
        pmu.onPmi = () => v.pmiExit(kvm.sys.now);
      }
    }
    this.vcpus.push(v);
    this.createdVcpus++;
    kvm.sys.sched.wake(v.task, now);
    return v;
  }

  /** Destroys the VM (kvm_arch_destroy_vm()): vCPU threads end, the mediated PMU is released. */
  destroy(now: Ns): void {
    for (const v of this.vcpus) {
      v.emulated?.destroy(now);
      this.kvm.sys.sched.kill(v.task.pid, now);
    }
    if (this.createdMediatedPmu) perfReleaseMediatedPmu(this.kvm.sys.perf);
    this.createdMediatedPmu = false;
  }
}

/**
 * Enabled backing perf events of an emulated vCPU: what ctx_resched() moves out and back
 * in when KVM enables one of them (the vCPU thread's perf context holds them all).
 */
function enabledBackingEvents(v: KvmVcpu): number {
  const em = v.emulated;
  const pmu = v.pmu;
  if (!em || !pmu) return 0;
  let n = 0;
  for (const p of pmu.all()) {
    const e = em.eventOf(p);
    if (e && e.state >= PERF_EVENT_STATE.INACTIVE) n++;
  }
  return n;
}

/** The emulated vPMU's version cap (re-exported for reports). */
export const EMULATED_VERSION_MAX = EMULATED_MAX_VERSION;
