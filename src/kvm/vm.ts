import type { Workload } from "../hw/workload.js";
import { checkWorkload } from "../hw/workload-check.js";
import { PERF_EVENT_STATE } from "../perf/event.js";
import { perfCreateMediatedPmu, perfReleaseMediatedPmu } from "../perf/guest.js";
import { abiU64 } from "../sim/abi.js";
import { checkBool, checkCpuList, checkNumber, checkObject } from "../sim/argument.js";
import { ERRNO } from "../sim/errno.js";
import type { Ns } from "../sim/time.js";
import { type EmulatedPerfOp, emulatedPerfOpCost } from "./costs.js";
import { type KvmPmuEventFilter, PmuEventFilter } from "./filter.js";
import type { Kvm } from "./kvm.js";
import { KvmVcpu } from "./vcpu.js";
import { type AmdPmuCpuid, KvmAmdPmu } from "./x86/amd.js";
import { supportedFeatures, type X86CpuFeatures, type X86VcpuCpuid } from "./x86/cpuid.js";
import { EmulatedBackend } from "./x86/emulated.js";
import { MediatedBackend } from "./x86/mediated.js";
import { MSR } from "./x86/msr.js";
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
  /**
   * Create the vCPU without running it: its thread starts at the first run() (KVM_RUN),
   * so CPUID and MSRs can still be set. By default the vCPU runs from creation.
   */
  stopped?: boolean;
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
  /** The other CPUID feature bits new vCPUs get (default: what KVM supports). */
  features: X86CpuFeatures;
  /** Each vCPU's own CPUID (KVM_SET_CPUID2 is a vCPU ioctl). */
  private readonly vcpuCpuid = new Map<KvmVcpu, X86VcpuCpuid>();

  constructor(
    readonly kvm: Kvm,
    readonly name: string,
  ) {
    this.enablePmu = kvm.enablePmu;
    this.cpuid = KvmX86Pmu.supportedCpuid(kvm.hostPmu(), kvm.maxPmuVersion());
    this.amdCpuid = KvmAmdPmu.supportedAmdCpuid(kvm.hostPmu(), kvm.maxPmuVersion());
    this.features = supportedFeatures(kvm.hostPmu());
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
    const r = PmuEventFilter.create(f, this.kvm.amd);
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
  createVcpu(idArg: number, optsArg: VcpuOptions, now: Ns): KvmVcpu | number {
    const opts = checkVcpuOptions(optsArg, this.kvm.sys.machine.cpus.length);
    // The vcpu id is an unsigned long ioctl argument.
    const vid = abiU64(idArg);
    if (vid === null || vid >= 1024n) return -ERRNO.EINVAL;
    const id = Number(vid);
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
    this.vcpuCpuid.set(v, {
      leafA: { ...this.cpuid },
      amd: { ...this.amdCpuid },
      features: { ...this.features },
    });
    this.attachPmu(v, now);
    this.vcpus.push(v);
    this.createdVcpus++;
    if (!opts.stopped) kvm.sys.sched.wake(v.task, now);
    return v;
  }

  /** KVM_RUN of a vCPU created `stopped`: its thread starts (or resumes) running the guest. */
  run(v: KvmVcpu, now: Ns): void {
    this.kvm.sys.sched.wake(v.task, now);
  }

  /** The CPUID userspace gave a vCPU (what its guest reads). */
  cpuidOf(v: KvmVcpu): X86VcpuCpuid {
    return this.vcpuCpuid.get(v)!;
  }

  /**
   * KVM_SET_CPUID2 on a vCPU: the PMU is refreshed from the new CPUID (kernel:
   * kvm_vcpu_after_set_cpuid() -> kvm_pmu_refresh()). After the vCPU has run, only the same
   * CPUID is accepted (-EINVAL otherwise). Returns 0 or a negative errno.
   */
  setCpuid(v: KvmVcpu, c: X86VcpuCpuid, now: Ns): number {
    const old = this.vcpuCpuid.get(v);
    if (!old) return -ERRNO.EINVAL;
    if (v.hasRun) return JSON.stringify(old) === JSON.stringify(c) ? 0 : -ERRNO.EINVAL;
    this.vcpuCpuid.set(v, {
      leafA: c.leafA ? { ...c.leafA } : null,
      amd: { ...c.amd },
      features: { ...c.features },
    });
    this.attachPmu(v, now);
    return 0;
  }

  /**
   * KVM_SET_MSRS with one PMU-related MSR, host-initiated. Returns the number of MSRs set
   * (1, or 0 when KVM refused the value), or -EINVAL for a feature MSR changed after the
   * first KVM_RUN (kernel: do_set_msr()'s immutable feature MSR rule).
   */
  setMsr(v: KvmVcpu, msr: number, value: bigint, now: Ns): number {
    const pmu = v.pmu;
    if (!pmu) return 0;
    if (msr === MSR.IA32_PERF_CAPABILITIES) {
      const cur = this.getMsr(v, msr);
      if (v.hasRun && cur !== BigInt.asUintN(64, value)) return -ERRNO.EINVAL;
      const before = pmu.perfCapabilities;
      if (pmu.wrmsr(msr, value, now, true) !== true) return 0;
      // kernel: kvm_set_msr_common(): a new value refreshes the PMU.
      if (pmu.perfCapabilities !== before) this.attachPmu(v, now);
      return 1;
    }
    return pmu.wrmsr(msr, value, now, true) === true ? 1 : 0;
  }

  /**
   * KVM_GET_MSRS of one PMU-related MSR: the value, or null when KVM has no such MSR. An
   * advertised MSR the vCPU's CPUID hides (PERF_CAPABILITIES without PDCM) reads as 0.
   */
  getMsr(v: KvmVcpu, msr: number): bigint | null {
    const pmu = v.pmu;
    if (!pmu) return null;
    if (msr === MSR.IA32_PERF_CAPABILITIES && !this.kvm.amd) return pmu.guestPerfCapabilities();
    const r = pmu.rdmsr(msr, this.kvm.sys.now);
    return typeof r === "bigint" ? r : null;
  }

  /**
   * Builds (or rebuilds, after a CPUID or PERF_CAPABILITIES change before the first run) a
   * vCPU's PMU from its CPUID, then the backend the module parameters ask for.
   */
  private attachPmu(v: KvmVcpu, now: Ns): void {
    const kvm = this.kvm;
    const c = this.vcpuCpuid.get(v)!;
    const enable = this.enablePmu && kvm.enablePmu;
    v.emulated?.destroy(now);
    v.emulated = null;
    v.mediated = null;
    let pmu = v.pmu;
    if (kvm.amd) {
      // kernel: amd_pmu_ops (svm/pmu.c) instead of intel_pmu_ops.
      const amd =
        pmu instanceof KvmAmdPmu ? pmu : new KvmAmdPmu(kvm.hostPmu(), kvm.maxPmuVersion());
      amd.refreshAmd(c.amd, enable);
      pmu = amd;
    } else {
      pmu ??= new KvmX86Pmu(kvm.hostPmu(), kvm.maxPmuVersion());
      pmu.pdcm = c.features.pdcm;
      pmu.refresh(c.leafA, enable);
    }
    v.pmu = pmu;
    pmu.backend = null;
    pmu.onPmi = null;
    const hooks = vcpuPmuHooks(this, v, pmu);
    pmu.eventAllowed = hooks.allowed;
    if (kvm.sys.invariants) pmu.onCounterRead = hooks.counterRead;
    if (pmu.version === 0) return;
    if (kvm.enableMediatedPmu) {
      v.mediated = new MediatedBackend(pmu, v.label, hooks.mediated, kvm.sys.queue);
      pmu.backend = v.mediated;
      return;
    }
    v.emulated = new EmulatedBackend(pmu, kvm.sys.perf, v.task, `kvm:${v.label}`, hooks.emulated);
    pmu.backend = v.emulated;
    // kvm_perf_overflow() runs in the host NMI: the guest gets its PMI at the next entry.
    pmu.onPmi = hooks.pmi;
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
 * The callbacks a vCPU's PMU and its backend call, made here and not as `pmu.x = () => ...`
 * in attachPmu(): V8 allocates a function literal assigned straight to a property in old
 * space (it takes it for a method), and an old closure keeps the young System it captures
 * alive through every scavenge until a full GC. A sweep copied about 5 MB per scavenge
 * (10-20 ms each); with these, 0.16 MB and about 1.4 ms.
 */
function vcpuPmuHooks(vm: KvmVm, v: KvmVcpu, p: KvmX86Pmu) {
  const kvm = vm.kvm;
  const allowed = (pmc: KvmPmc) => vm.allowed(p, pmc);
  return {
    allowed,
    pmi: () => v.pmiExit(kvm.sys.now),
    counterRead: (pc: KvmPmc, prev: number, value: number, t: Ns) =>
      kvm.sys.invariants?.guestCounterRead(v.label, pc.idx, v.task.cpu, prev, value, t),
    mediated: { allowed, pmi: (_pc: KvmPmc, t: Ns) => v.pmiExit(t) },
    emulated: {
      allowed,
      created: () => {
        v.pendingCostNs += kvm.costs.perfEventCreateNs;
      },
      // Host time of each perf operation, added to the exit during which KVM performs it.
      perfOp: (op: EmulatedPerfOp) => {
        v.pendingCostNs += emulatedPerfOpCost(
          kvm.costs,
          op,
          op === "enable" ? enabledBackingEvents(v) : 0,
        );
      },
    },
  };
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

/** The model side of a vCPU (its guest workload, thread affinity, exit rate), checked. */
function checkVcpuOptions(v: unknown, nrCpus: number): VcpuOptions {
  const o = checkObject("KvmVm.createVcpu(opts)", v);
  const workload = checkWorkload("KvmVm.createVcpu(opts.workload)", o.workload);
  const out: VcpuOptions = { workload };
  if (o.affinity !== undefined)
    out.affinity = checkCpuList("KvmVm.createVcpu(opts.affinity)", o.affinity, nrCpus);
  if (o.exitRate !== undefined)
    out.exitRate = checkNumber("KvmVm.createVcpu(opts.exitRate)", o.exitRate, 0, 1e9);
  if (o.stopped !== undefined) out.stopped = checkBool("KvmVm.createVcpu(opts.stopped)", o.stopped);
  return out;
}
