import type { Cpu } from "../../hw/cpu.js";
import type { Workload } from "../../hw/workload.js";
import { CorePmu } from "../../perf/drivers/core-pmu.js";
import type { SchedHook } from "../../sched/scheduler.js";
import { ERRNO } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import type { System } from "../../system.js";
import { DEFAULT_KVM_COSTS, type KvmCosts } from "../costs.js";
import { type KvmHost, KvmVcpu } from "../vcpu.js";
import { ArmVcpuPmu } from "./pmu.js";
import { ARMV8_EVENT, PMUVER } from "./pmuv3.js";

/** KVM_CAP_ARM_PMU_V3. */
export const KVM_CAP_ARM_PMU_V3 = 126;
/** kvm_vcpu_init.features[0] bit for PMUv3. */
export const KVM_ARM_VCPU_PMU_V3 = 3;
/** Attributes of group KVM_ARM_VCPU_PMU_V3_CTRL. */
export const PMU_ATTR = { IRQ: 0, INIT: 1, FILTER: 2, SET_PMU: 3, SET_NR_COUNTERS: 4 } as const;
/** run->fail_entry.hardware_entry_failure_reason for a CPU the VM's PMU does not cover. */
export const KVM_EXIT_FAIL_ENTRY_CPU_UNSUPPORTED = 1;

/** The arm64 kernel profiles: "5.18" (the seed patch's kernel) or "7.0" (current). */
export type ArmProfile = "5.18" | "7.0";

/** An arm64 VM (struct kvm on arm64) with the PMU state of kvm->arch. */
export class KvmArmVm {
  /** kvm->arch.arm_pmu: the PMU every vCPU's guest events are created on. */
  armPmu: CorePmu | null = null;
  /** kvm->arch.supported_cpus: all possible CPUs until SET_PMU narrows it. */
  supportedCpus: number[];
  /** kvm->arch.pmu_filter (one bit per event number), or null. */
  filter: Uint8Array | null = null;
  /** KVM_ARCH_FLAG_HAS_RAN_ONCE. */
  hasRanOnce = false;
  /** kvm->arch.nr_pmu_counters (PMCR_EL0.N of the VM). */
  nrCounters = 0;
  /** An in-kernel vGIC, and whether it is initialized (KVM_DEV_ARM_VGIC_CTRL_INIT). */
  irqchip = true;
  vgicReady = true;
  readonly vcpus: KvmArmVcpu[] = [];

  constructor(
    readonly kvm: KvmArm64,
    readonly name: string,
  ) {
    this.supportedCpus = kvm.sys.machine.cpus.map((c) => c.id);
  }

  /** Event numbers the PMU's PMUVer allows: 10 bits on v8.0, 16 from v8.1. */
  nrEvents(): number {
    const ver = (this.armPmu ?? this.kvm.armPmus()[0])?.desc.version ?? 1;
    return ver >= PMUVER.V3P1 ? 65536 : 1024;
  }

  /** kernel: kvm_arm_set_pmu(): the VM-wide PMU, and N reset to its maximum. */
  setPmu(p: CorePmu): void {
    this.armPmu = p;
    this.nrCounters = p.desc.nrGp;
  }

  /** KVM_CREATE_VCPU. */
  createVcpu(id: number, workload: Workload, affinity?: number[]): KvmArmVcpu | number {
    if (!Number.isInteger(id) || id < 0 || id >= 512) return -ERRNO.EINVAL;
    if (this.vcpus.some((v) => v.id === id)) return -ERRNO.EEXIST;
    const v = new KvmArmVcpu(this, id, workload, affinity);
    this.vcpus.push(v);
    return v;
  }
}

/**
 * An arm64 vCPU: the generic run loop plus the PMUv3 vCPU feature, its device attributes
 * (KVM_ARM_VCPU_PMU_V3_CTRL) and KVM_RUN's checks.
 */
export class KvmArmVcpu {
  readonly run: KvmVcpu;
  /** The vCPU was initialised with the PMUv3 feature (KVM_ARM_VCPU_INIT features bit 3). */
  hasPmuFeature = false;
  initialised = false;
  /** vcpu->arch.pmu.created (PMU_V3_INIT done). */
  created = false;
  irq: number | null = null;
  pmu: ArmVcpuPmu | null = null;
  /** KVM_RUN results, in order ("0" or an errno name), and the last fail_entry. */
  readonly runResults: string[] = [];

  constructor(
    readonly vm: KvmArmVm,
    readonly id: number,
    workload: Workload,
    affinity: number[] | undefined,
  ) {
    this.run = new KvmVcpu(vm, id, workload, affinity, 0);
    this.run.armVcpu = this;
  }

  private get kvm(): KvmArm64 {
    return this.vm.kvm;
  }

  /** KVM_ARM_VCPU_INIT. `vmmCpu` is the CPU the calling VMM thread runs on. */
  init(features: number, vmmCpu: number): number {
    const wantsPmu = ((features >>> KVM_ARM_VCPU_PMU_V3) & 1) === 1;
    if (features & ~(1 << KVM_ARM_VCPU_PMU_V3) & 0xff & ~0x7) return -ERRNO.EINVAL;
    if (wantsPmu && this.kvm.armPmus().length === 0) return -ERRNO.EINVAL;
    if (wantsPmu && this.kvm.profile === "7.0" && !this.vm.armPmu) {
      // kernel (6.7+): kvm_arm_set_default_pmu() at VCPU_INIT: the first registered PMU
      // covering the CPU that runs the ioctl.
      const p = this.kvm.armPmus().find((x) => x.cpus.includes(vmmCpu));
      if (!p) return -ERRNO.ENODEV;
      this.vm.setPmu(p);
    }
    this.hasPmuFeature = wantsPmu;
    this.initialised = true;
    if (wantsPmu) {
      this.pmu = new ArmVcpuPmu(
        this.kvm.sys.perf,
        this.kvm.pmuVm(this.vm),
        this.run.task,
        `kvm:${this.vm.name}/${this.id}`,
      );
      // 5.18: PMCR_EL0.N comes from the physical CPU that resets the vCPU.
      this.pmu.n =
        this.kvm.profile === "5.18" ? this.kvm.pmuOfCpu(vmmCpu).desc.nrGp : this.vm.nrCounters;
    }
    return 0;
  }

  /** KVM_HAS_DEVICE_ATTR (group KVM_ARM_VCPU_PMU_V3_CTRL). */
  hasAttr(attr: number): number {
    if (!this.hasPmuFeature) return -ERRNO.ENXIO;
    const max = this.kvm.profile === "7.0" ? PMU_ATTR.SET_NR_COUNTERS : PMU_ATTR.SET_PMU;
    return Number.isInteger(attr) && attr >= 0 && attr <= max ? 0 : -ERRNO.ENXIO;
  }

  /** KVM_GET_DEVICE_ATTR: only IRQ is readable. */
  getAttr(attr: number): number {
    if (attr !== PMU_ATTR.IRQ) return -ERRNO.ENXIO;
    if (!this.vm.irqchip) return -ERRNO.EINVAL;
    if (!this.hasPmuFeature) return -ERRNO.ENODEV;
    if (this.irq === null) return -ERRNO.ENXIO;
    return this.irq;
  }

  /**
   * KVM_SET_DEVICE_ATTR (kernel: kvm_arm_pmu_v3_set_attr()), with the checks in the
   * kernel's order. `value` is what `addr` points to (a number, or a filter object).
   */
  setAttr(attr: number, value: unknown): number {
    const vm = this.vm;
    if (!this.hasPmuFeature) return -ERRNO.ENODEV;
    if (this.created) return -ERRNO.EBUSY;
    if (this.kvm.profile === "5.18" && !vm.armPmu) {
      // 5.18: the first PMU attribute call fixes the default PMU: the first probed PMU that
      // accepts a RAW event (kvm_pmu_probe_armpmu()).
      const p = this.kvm.armPmus()[0];
      if (!p) return -ERRNO.ENODEV;
      vm.setPmu(p);
    }
    switch (attr) {
      case PMU_ATTR.IRQ: {
        if (!vm.irqchip) return -ERRNO.EINVAL;
        if (typeof value !== "number" || !Number.isInteger(value)) return -ERRNO.EFAULT;
        const irq = value;
        const ppi = irq >= 16 && irq < 32;
        const spi = irq >= 32 && irq < 1020;
        if (!ppi && !spi) return -ERRNO.EINVAL;
        // kernel: pmu_irq_is_valid(): one PPI for every vCPU, a distinct SPI per vCPU.
        for (const o of vm.vcpus) {
          if (o === this || o.irq === null) continue;
          if (ppi && o.irq !== irq) return -ERRNO.EINVAL;
          if (!ppi && (o.irq === irq || o.irq < 32)) return -ERRNO.EINVAL;
        }
        if (this.irq !== null) return -ERRNO.EBUSY;
        this.irq = irq;
        return 0;
      }
      case PMU_ATTR.FILTER: {
        const f = value as { base_event?: unknown; nevents?: unknown; action?: unknown } | null;
        if (!f || typeof f !== "object") return -ERRNO.EFAULT;
        const base = f.base_event;
        const nev = f.nevents;
        const action = f.action;
        if (typeof base !== "number" || typeof nev !== "number" || typeof action !== "number")
          return -ERRNO.EFAULT;
        if (
          base < 0 ||
          nev < 0 ||
          base > 0xffff ||
          nev > 0xffff ||
          base + nev > vm.nrEvents() ||
          (action !== 0 && action !== 1)
        ) {
          return -ERRNO.EINVAL;
        }
        if (vm.hasRanOnce) return -ERRNO.EBUSY;
        if (!vm.filter) vm.filter = new Uint8Array(vm.nrEvents()).fill(action === 0 ? 0 : 1);
        vm.filter.fill(action === 0 ? 1 : 0, base, base + nev);
        return 0;
      }
      case PMU_ATTR.SET_PMU: {
        if (typeof value !== "number" || !Number.isInteger(value)) return -ERRNO.EFAULT;
        // kernel: kvm_arm_pmu_v3_set_pmu()
        const p = this.kvm.armPmus().find((x) => x.type === value);
        if (!p) return -ERRNO.ENXIO;
        if (vm.hasRanOnce || (vm.filter && vm.armPmu !== p)) return -ERRNO.EBUSY;
        vm.setPmu(p);
        vm.supportedCpus = [...p.cpus];
        for (const v of vm.vcpus) if (v.pmu && this.kvm.profile === "7.0") v.pmu.n = vm.nrCounters;
        return 0;
      }
      case PMU_ATTR.SET_NR_COUNTERS: {
        if (this.kvm.profile !== "7.0") return -ERRNO.ENXIO;
        if (typeof value !== "number" || !Number.isInteger(value) || value < 0)
          return -ERRNO.EFAULT;
        if (!vm.armPmu || value > vm.armPmu.desc.nrGp) return -ERRNO.EINVAL;
        vm.nrCounters = value;
        for (const v of vm.vcpus) if (v.pmu) v.pmu.n = value;
        return 0;
      }
      case PMU_ATTR.INIT: {
        // kernel: kvm_arm_pmu_v3_init()
        if (vm.irqchip) {
          if (!vm.vgicReady) return -ERRNO.ENODEV;
          if (this.irq === null) return -ERRNO.ENXIO;
        }
        this.created = true;
        return 0;
      }
      default:
        return -ERRNO.ENXIO;
    }
  }

  /**
   * KVM_RUN: the first run checks the PMU (-EINVAL without PMU_V3_INIT); then the vCPU
   * thread runs its guest. A CPU outside the VM's PMU after SET_PMU makes KVM_RUN return 0
   * with KVM_EXIT_FAIL_ENTRY / CPU_UNSUPPORTED (see `run.failEntry`).
   */
  kvmRun(now: Ns): number {
    if (!this.initialised) return -ERRNO.ENOEXEC;
    if (this.hasPmuFeature) {
      // kernel: kvm_arm_pmu_v3_enable()
      if (!this.created) return -ERRNO.EINVAL;
      if (this.vm.irqchip ? this.irq === null : this.irq !== null) return -ERRNO.EINVAL;
    }
    this.vm.hasRanOnce = true;
    this.run.failEntry = null;
    this.kvm.sys.sched.wake(this.run.task, now);
    return 0;
  }

  /** The PMUv3 register an access names, as the guest sees it. */
  guestRead(reg: Parameters<ArmVcpuPmu["read"]>[0], idx = 0): bigint | symbol {
    if (!this.pmu) return Symbol.for("UNDEF");
    return this.pmu.read(reg, idx, this.run.task.cpu);
  }
}

/**
 * /dev/kvm on an arm64 host: the registered PMUv3 arm_pmus (in probe order), the profile,
 * VMs, and the run-loop hooks. Guest counters are perf events on the VM's arm_pmu; on a CPU
 * that PMU does not cover, the PMU's filter keeps them off the hardware, so they freeze.
 */
export class KvmArm64 implements KvmHost {
  readonly vms: KvmArmVm[] = [];
  readonly costs: KvmCosts;

  constructor(
    readonly sys: System,
    readonly profile: ArmProfile = "7.0",
    costs: KvmCosts = DEFAULT_KVM_COSTS,
  ) {
    this.costs = costs;
    const out: SchedHook = {
      schedOut: (_cpu, prev, _next, now) => {
        if (prev.owner instanceof KvmVcpu) prev.owner.scheduledOut(now);
      },
    };
    const inn: SchedHook = {
      schedIn: (cpu, _prev, next, now) => {
        if (next.owner instanceof KvmVcpu) next.owner.scheduledIn(cpu, now);
      },
      tick: (cpu, now) => {
        const t = sys.sched.current(cpu.id);
        if (t?.owner instanceof KvmVcpu) t.owner.tick(now);
      },
    };
    sys.sched.hooks.unshift(out);
    sys.sched.hooks.push(inn);
  }

  /** The PMUv3 arm_pmus in registration (probe) order (kernel: arm_pmus). */
  armPmus(): CorePmu[] {
    return this.sys.perf.registry.pmus.filter(
      (p): p is CorePmu => p instanceof CorePmu && p.desc.arch === "arm64",
    );
  }

  /** The arm_pmu covering a CPU. */
  pmuOfCpu(cpu: number): CorePmu {
    return this.armPmus().find((p) => p.cpus.includes(cpu)) ?? this.armPmus()[0]!;
  }

  /** KVM_CHECK_EXTENSION. */
  checkExtension(cap: number): number {
    if (cap === KVM_CAP_ARM_PMU_V3) return this.armPmus().length > 0 ? 1 : 0;
    return 0;
  }

  /** KVM_CREATE_VM. */
  createVm(name: string): KvmArmVm {
    const vm = new KvmArmVm(this, name);
    this.vms.push(vm);
    return vm;
  }

  /** What the vCPU PMU needs from its VM. */
  pmuVm(vm: KvmArmVm): ConstructorParameters<typeof ArmVcpuPmu>[1] {
    return {
      pmuType: () => (vm.armPmu ?? this.armPmus()[0]!).type,
      pmuv3p5: () => (vm.armPmu ?? this.armPmus()[0]!).desc.pmuv3p5,
      allowed: (e) => !vm.filter || e === ARMV8_EVENT.SW_INCR || vm.filter[e] === 1,
      eventMask: () => (vm.nrEvents() === 1024 ? 0x3ff : 0xffff),
      pmceid: (cpu) => {
        // 5.18: the PMCEID of the physical CPU that traps; 7.0: the VM's PMU.
        const p = this.profile === "5.18" ? this.pmuOfCpu(cpu) : (vm.armPmu ?? this.armPmus()[0]!);
        let lo = 0n;
        let hi = 0n;
        for (const e of p.desc.events.keys()) {
          if (e < 32) lo |= 1n << BigInt(e);
          else if (e < 64) hi |= 1n << BigInt(e - 32);
        }
        lo |= 1n << BigInt(ARMV8_EVENT.CHAIN);
        if (this.profile === "7.0") lo |= 1n;
        if (vm.filter) {
          for (let e = 0; e < 64; e++) {
            if (e === ARMV8_EVENT.SW_INCR || e === ARMV8_EVENT.CHAIN) continue;
            if (!vm.filter[e]) {
              if (e < 32) lo &= ~(1n << BigInt(e));
              else hi &= ~(1n << BigInt(e - 32));
            }
          }
        }
        return [lo, hi];
      },
    };
  }

  exitCost(_v: KvmVcpu): number {
    return this.costs.exitBaseNs;
  }

  guestPmuLoad(_v: KvmVcpu, _cpu: Cpu, _now: Ns): void {}
  guestPmuPut(_v: KvmVcpu, _cpu: Cpu, _now: Ns): void {}

  /** kernel: kvm_arch_vcpu_load(): a CPU outside kvm->arch.supported_cpus fails the next entry. */
  vcpuLoaded(v: KvmVcpu, cpu: Cpu, _now: Ns): boolean {
    const arm = v.armVcpu as KvmArmVcpu | null;
    if (!arm) return true;
    return arm.vm.supportedCpus.includes(cpu.id);
  }
}
