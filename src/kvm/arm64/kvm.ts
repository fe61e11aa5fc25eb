import type { Cpu } from "../../hw/cpu.js";
import type { Workload } from "../../hw/workload.js";
import { checkWorkload } from "../../hw/workload-check.js";
import { CorePmu } from "../../perf/drivers/core-pmu.js";
import { abiS32, abiU8, abiU16, abiU32, abiU64 } from "../../sim/abi.js";
import { checkCpuList, checkInt, checkNumber, checkTime } from "../../sim/argument.js";
import { ERRNO, errnoName } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import type { System } from "../../system.js";
import { DEFAULT_KVM_COSTS, type KvmCosts } from "../costs.js";
import { type KvmHost, KvmVcpu, registerVcpuPreemptNotifiers } from "../vcpu.js";
import { ArmVcpuPmu } from "./pmu.js";
import { ARMV8_EVENT, PMCR, PMCR_MASK, PMUVER } from "./pmuv3.js";

/**
 * kvm_device_attr.attr, a __u64 copied from the caller: a small value as a number, anything
 * at or above 2^32 as -1 (no PMU attribute has it), null for what no C caller could pass.
 */
function deviceAttr(v: unknown): number | null {
  const a = abiU64(v);
  if (a === null) return null;
  return a < 0x1_0000_0000n ? Number(a) : -1;
}

/** KVM_CAP_ARM_PMU_V3. */
export const KVM_CAP_ARM_PMU_V3 = 126;
/** kvm_vcpu_init.features[0] bit for PMUv3. */
export const KVM_ARM_VCPU_PMU_V3 = 3;
/** Attributes of group KVM_ARM_VCPU_PMU_V3_CTRL. */
export const PMU_ATTR = { IRQ: 0, INIT: 1, FILTER: 2, SET_PMU: 3, SET_NR_COUNTERS: 4 } as const;
/** run->fail_entry.hardware_entry_failure_reason for a CPU the VM's PMU does not cover. */
export const KVM_EXIT_FAIL_ENTRY_CPU_UNSUPPORTED = 1;
/** run->exit_reason KVM_EXIT_FAIL_ENTRY (include/uapi/linux/kvm.h). */
export const KVM_EXIT_FAIL_ENTRY = 9;

/** What userspace finds in struct kvm_run after a KVM_RUN that returned to it. */
export interface KvmArmRunExit {
  exit_reason: number;
  fail_entry: { hardware_entry_failure_reason: number; cpu: number };
}

/** The one-reg ids vpmu models for KVM_{GET,SET}_ONE_REG (arm64 system registers by name). */
export type ArmOneReg =
  | "PMCR_EL0"
  | "ID_AA64DFR0_EL1"
  | "PMCNTENSET_EL0"
  | "PMCNTENCLR_EL0"
  | "PMINTENSET_EL1"
  | "PMINTENCLR_EL1"
  | "PMOVSSET_EL0"
  | "PMOVSCLR_EL0";

/** The counter bitmap registers: each SET/CLR pair is one register to userspace. */
const BITMAP_REGS: Partial<Record<ArmOneReg, "cnten" | "inten" | "ovs">> = {
  PMCNTENSET_EL0: "cnten",
  PMCNTENCLR_EL0: "cnten",
  PMINTENSET_EL1: "inten",
  PMINTENCLR_EL1: "inten",
  PMOVSSET_EL0: "ovs",
  PMOVSCLR_EL0: "ovs",
};

/** PMUVer values KVM accepts as a PMUv3 (not 0 "none", not 0xF IMPLEMENTATION DEFINED). */
function isPmuv3(pmuver: number): boolean {
  return pmuver !== 0 && pmuver !== PMUVER.IMP_DEF;
}

/** STALL_SLOT_BACKEND, STALL_SLOT_FRONTEND, STALL_SLOT: never offered (PMMIR_EL0 is RAZ). */
const STALL_SLOT_EVENTS = [
  ARMV8_EVENT.STALL_SLOT_BACKEND,
  ARMV8_EVENT.STALL_SLOT_FRONTEND,
  ARMV8_EVENT.STALL_SLOT,
] as const;

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
  /** kvm->arch.vcpu_features: fixed by the first successful KVM_ARM_VCPU_INIT (6.7+). */
  vcpuFeatures: number | null = null;
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

  /**
   * KVM_CREATE_VCPU. `exitRate` is how often (per second) the guest leaves for reasons
   * other than the host tick and PMU traps (I/O, timers): a model input, as on x86.
   */
  createVcpu(
    id: number,
    workload: Workload,
    affinity?: number[],
    exitRate = 0,
  ): KvmArmVcpu | number {
    const nrCpus = this.kvm.sys.machine.cpus.length;
    checkWorkload("KvmArmVm.createVcpu(workload)", workload);
    const cpus =
      affinity === undefined
        ? undefined
        : checkCpuList("KvmArmVm.createVcpu(affinity)", affinity, nrCpus);
    checkNumber("KvmArmVm.createVcpu(exitRate)", exitRate, 0, 1e9);
    // The vcpu id is an unsigned long ioctl argument.
    const vid = abiU64(id);
    if (vid === null || vid >= 512n) return -ERRNO.EINVAL;
    id = Number(vid);
    // kernel: kvm_arch_vcpu_precreate(): no new vCPU once the in-kernel vGIC is
    // initialised, which it is at the latest when a vCPU has run.
    if (this.irqchip && this.hasRanOnce) return -ERRNO.EBUSY;
    if (this.vcpus.some((v) => v.id === id)) return -ERRNO.EEXIST;
    const v = new KvmArmVcpu(this, id, workload, cpus, exitRate);
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
    exitRate = 0,
  ) {
    this.run = new KvmVcpu(vm, id, workload, affinity, exitRate);
    this.run.armVcpu = this;
  }

  private get kvm(): KvmArm64 {
    return this.vm.kvm;
  }

  /** The features of the first successful KVM_ARM_VCPU_INIT (a later one must repeat them). */
  private features: number | null = null;

  /**
   * KVM_ARM_VCPU_INIT. `vmmCpu` is the CPU the calling VMM thread runs on. Calling it again
   * with the same features resets the vCPU: its PMU counters are stopped and its registers
   * return to their reset values (kernel: kvm_reset_vcpu() -> kvm_pmu_vcpu_reset()); the
   * PMU_V3_INIT / IRQ state and, from 6.7, the VM-wide PMCR_EL0.N survive.
   */
  init(featuresArg: number | bigint, vmmCpu: number): number {
    checkInt("KvmArm64Vcpu.init(vmmCpu)", vmmCpu, 0, this.kvm.sys.machine.cpus.length - 1);
    // struct kvm_vcpu_init.features[0] is a __u32.
    const features = abiU32(featuresArg);
    if (features === null) return -ERRNO.EFAULT;
    const wantsPmu = ((features >>> KVM_ARM_VCPU_PMU_V3) & 1) === 1;
    // kernel: kvm_vcpu_init_check_features(): bits beyond KVM_VCPU_VALID_FEATURES are
    // ENOENT; valid ones the host cannot offer (SVE, pointer auth, EL2 here) are EINVAL.
    if (features > 0xff) return -ERRNO.ENOENT;
    if (features & ~(1 << KVM_ARM_VCPU_PMU_V3) & ~0x7) return -ERRNO.EINVAL;
    // kernel: system_supported_vcpu_features() drops PMU_V3 when no PMUv3 arm_pmu exists.
    if (wantsPmu && this.kvm.armPmus().length === 0) return -ERRNO.EINVAL;
    // kernel: kvm_vcpu_init_changed(): a second VCPU_INIT must ask for the same features.
    if (this.features !== null && this.features !== features) return -ERRNO.EINVAL;
    // 6.7+: the features are VM-wide (kvm->arch.vcpu_features): every vCPU must match.
    if (
      this.kvm.profile === "7.0" &&
      this.vm.vcpuFeatures !== null &&
      this.vm.vcpuFeatures !== features
    )
      return -ERRNO.EINVAL;
    if (wantsPmu && this.kvm.profile === "7.0" && !this.vm.armPmu) {
      // kernel (6.7+): kvm_arm_set_default_pmu() at VCPU_INIT: the first registered PMU
      // covering the CPU that runs the ioctl.
      const p = this.kvm.armPmus().find((x) => x.cpus.includes(vmmCpu));
      if (!p) return -ERRNO.ENODEV;
      this.vm.setPmu(p);
    }
    this.features = features;
    this.vm.vcpuFeatures ??= features;
    this.hasPmuFeature = wantsPmu;
    this.initialised = true;
    if (wantsPmu) {
      this.pmu?.destroy(this.kvm.sys.now);
      this.pmu = new ArmVcpuPmu(
        this.kvm.sys.perf,
        this.kvm.pmuVm(this.vm),
        this.run.task,
        `kvm:${this.vm.name}/${this.id}`,
      );
      // kernel (5.18): reset_pmcr() keeps only PMCR_EL0.N, read from the physical CPU
      // doing the reset, so N depends on where the VMM thread ran. 6.7+: the VM's value.
      this.pmu.n =
        this.kvm.profile === "5.18" ? this.kvm.pmuOfCpu(vmmCpu).desc.nrGp : this.vm.nrCounters;
    }
    return 0;
  }

  /**
   * KVM_GET_ONE_REG of a PMU system register. Returns the value, or a negative errno:
   * ENOEXEC before KVM_ARM_VCPU_INIT, ENOENT when the vCPU has no PMU (the PMU registers
   * are hidden then) or for a register vpmu does not model.
   */
  getOneReg(reg: ArmOneReg): bigint | number {
    if (!this.initialised) return -ERRNO.ENOEXEC;
    if (reg === "ID_AA64DFR0_EL1") return this.idAa64Dfr0();
    const bitmap = BITMAP_REGS[reg];
    // kernel: get_pmreg(): the register masked to the implemented counters.
    if (bitmap && this.pmu) return BigInt((this.pmu[bitmap] & this.pmu.validMask()) >>> 0);
    if (reg !== "PMCR_EL0" || !this.pmu) return -ERRNO.ENOENT;
    // kernel: get_pmcr() -> kvm_vcpu_read_pmcr(): the stored bits with N of the VM (6.7+),
    // or the N stored in the vCPU's own PMCR (5.18).
    return BigInt(((this.pmu.pmcr & PMCR_MASK) | (this.pmu.n << PMCR.N_SHIFT)) >>> 0);
  }

  /**
   * KVM_SET_ONE_REG of a PMU system register (kernel: set_pmcr() in sys_regs.c).
   *
   * 7.0: PMCR_EL0.N is a VM-wide value. A new N is taken only before the VM's first run and
   * only if it does not exceed the PMU's counters; otherwise the write of N is silently
   * dropped and the call still returns 0. The writable low bits (E, D, X, DP, LC, LP) are
   * stored in this vCPU's PMCR either way, and the counters are reloaded.
   * 5.18: PMCR_EL0 had no set_user hook; the value was stored as written, N included.
   * P and C are not stored (they never read back as 1 in vpmu).
   */
  setOneReg(reg: ArmOneReg, valueArg: bigint | number): number {
    // The register's u64, as copied from the caller's buffer.
    const value = abiU64(valueArg);
    if (value === null) return -ERRNO.EFAULT;
    if (!this.initialised) return -ERRNO.ENOEXEC;
    const bitmap = BITMAP_REGS[reg];
    if (bitmap && this.pmu) {
      // kernel: set_pmreg(): the value, masked to the implemented counters, replaces the
      // register (SET and CLR alike), then KVM_REQ_RELOAD_PMU.
      this.pmu.userSetBitmap(bitmap, Number(BigInt.asUintN(32, value)), this.kvm.sys.now);
      return 0;
    }
    if (reg !== "PMCR_EL0" || !this.pmu) return -ERRNO.ENOENT;
    const v = Number(BigInt.asUintN(32, value));
    const n = (v >>> PMCR.N_SHIFT) & PMCR.N_MASK;
    const vm = this.vm;
    if (this.kvm.profile === "5.18") {
      this.pmu.n = n;
    } else if (!vm.hasRanOnce && vm.armPmu && n <= vm.armPmu.desc.nrGp) {
      vm.nrCounters = n;
      for (const o of vm.vcpus) if (o.pmu) o.pmu.n = n;
    }
    // KVM_REQ_RELOAD_PMU: apply an E change as a guest PMCR write would, minus P and C.
    this.pmu.write("PMCR_EL0", 0, BigInt(v & PMCR_MASK & ~(PMCR.P | PMCR.C)), this.kvm.sys.now);
    return 0;
  }

  /**
   * ID_AA64DFR0_EL1 as the vCPU sees it: PMUVer (bits 11:8) is the VM's PMU version when the
   * vCPU has the PMUv3 feature, else 0.
   */
  idAa64Dfr0(): bigint {
    const p = this.hasPmuFeature ? (this.vm.armPmu ?? this.kvm.armPmus()[0]) : undefined;
    return BigInt(p?.desc.version ?? 0) << 8n;
  }

  /** KVM_HAS_DEVICE_ATTR (group KVM_ARM_VCPU_PMU_V3_CTRL). */
  hasAttr(attrArg: number | bigint): number {
    const attr = deviceAttr(attrArg);
    if (attr === null) return -ERRNO.EFAULT;
    if (!this.hasPmuFeature) return -ERRNO.ENXIO;
    const max = this.kvm.profile === "7.0" ? PMU_ATTR.SET_NR_COUNTERS : PMU_ATTR.SET_PMU;
    return attr >= 0 && attr <= max ? 0 : -ERRNO.ENXIO;
  }

  /** KVM_GET_DEVICE_ATTR: only IRQ is readable. */
  getAttr(attrArg: number | bigint): number {
    const attr = deviceAttr(attrArg);
    if (attr === null) return -ERRNO.EFAULT;
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
  setAttr(attrArg: number | bigint, value: unknown): number {
    const attr = deviceAttr(attrArg);
    if (attr === null) return -ERRNO.EFAULT;
    const vm = this.vm;
    if (!this.hasPmuFeature) return -ERRNO.ENODEV;
    if (this.created) return -ERRNO.EBUSY;
    if (this.kvm.profile === "5.18" && !vm.armPmu) {
      // 5.18: the first PMU attribute call of any kind fixes the default PMU, wherever the
      // caller runs (kernel: kvm_pmu_probe_armpmu() in kvm_arm_pmu_v3_set_attr()).
      const p = this.kvm.probeRawPmu();
      if (!p) return -ERRNO.ENODEV;
      vm.setPmu(p);
    }
    switch (attr) {
      case PMU_ATTR.IRQ: {
        if (!vm.irqchip) return -ERRNO.EINVAL;
        // get_user() of an int.
        const irq = abiS32(value);
        if (irq === null) return -ERRNO.EFAULT;
        const ppi = irq >= 16 && irq < 32;
        const spi = irq >= 32 && irq < 1020;
        if (!ppi && !spi) return -ERRNO.EINVAL;
        // kernel: pmu_irq_is_valid(): every vCPU that already has an IRQ, this one included,
        // must have the same PPI; an SPI must not be in use anywhere yet. So repeating the
        // same PPI on one vCPU passes here and fails with EBUSY below, a different one EINVAL.
        for (const o of vm.vcpus) {
          if (o.irq === null) continue;
          if (ppi ? o.irq !== irq : o.irq === irq) return -ERRNO.EINVAL;
        }
        if (this.irq !== null) return -ERRNO.EBUSY;
        this.irq = irq;
        return 0;
      }
      case PMU_ATTR.FILTER: {
        const f = value as { base_event?: unknown; nevents?: unknown; action?: unknown } | null;
        if (!f || typeof f !== "object") return -ERRNO.EFAULT;
        // struct kvm_pmu_event_filter: __u16 base_event, __u16 nevents, __u8 action.
        const base = abiU16(f.base_event);
        const nev = abiU16(f.nevents);
        const action = abiU8(f.action);
        if (base === null || nev === null || action === null) return -ERRNO.EFAULT;
        if (base + nev > vm.nrEvents() || (action !== 0 && action !== 1)) return -ERRNO.EINVAL;
        if (vm.hasRanOnce) return -ERRNO.EBUSY;
        if (!vm.filter) vm.filter = new Uint8Array(vm.nrEvents()).fill(action === 0 ? 0 : 1);
        vm.filter.fill(action === 0 ? 1 : 0, base, base + nev);
        return 0;
      }
      case PMU_ATTR.SET_PMU: {
        // get_user() of an int pmu_id, then kvm_arm_pmu_v3_set_pmu().
        const pmuId = abiS32(value);
        if (pmuId === null) return -ERRNO.EFAULT;
        const p = this.kvm.armPmus().find((x) => x.type === pmuId);
        if (!p) return -ERRNO.ENXIO;
        if (vm.hasRanOnce || (vm.filter && vm.armPmu !== p)) return -ERRNO.EBUSY;
        vm.setPmu(p);
        vm.supportedCpus = [...p.cpus];
        for (const v of vm.vcpus) if (v.pmu && this.kvm.profile === "7.0") v.pmu.n = vm.nrCounters;
        return 0;
      }
      case PMU_ATTR.SET_NR_COUNTERS: {
        if (this.kvm.profile !== "7.0") return -ERRNO.ENXIO;
        // get_user() of an unsigned int: -1 arrives as 4294967295, above any PMU's counters.
        const n = abiU32(value);
        if (n === null) return -ERRNO.EFAULT;
        // kernel: kvm_arm_pmu_v3_set_nr_counters()
        if (!vm.armPmu || n > vm.armPmu.desc.nrGp) return -ERRNO.EINVAL;
        vm.nrCounters = n;
        for (const v of vm.vcpus) if (v.pmu) v.pmu.n = n;
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
    checkTime("KvmArmVcpu.kvmRun(now)", now, this.kvm.sys.now);
    const r = this.kvmRunChecks();
    this.runResults.push(r < 0 ? (errnoName(r) ?? String(r)) : "0");
    if (r < 0) return r;
    this.vm.hasRanOnce = true;
    this.run.failEntry = null;
    this.kvm.sys.sched.wake(this.run.task, now);
    return 0;
  }

  private kvmRunChecks(): number {
    if (!this.initialised) return -ERRNO.ENOEXEC;
    if (this.hasPmuFeature) {
      // kernel: kvm_arm_pmu_v3_enable()
      if (!this.created) return -ERRNO.EINVAL;
      if (this.vm.irqchip ? this.irq === null : this.irq !== null) return -ERRNO.EINVAL;
    }
    return 0;
  }

  /**
   * The kvm_run exit of the last KVM_RUN that came back to userspace because the vCPU was
   * loaded on a CPU outside the VM's supported_cpus (kernel: kvm_vcpu_exit_request()), or
   * null while the vCPU is (or was last) running its guest.
   */
  lastExit(): KvmArmRunExit | null {
    const f = this.run.failEntry;
    if (!f) return null;
    return {
      exit_reason: KVM_EXIT_FAIL_ENTRY,
      fail_entry: {
        hardware_entry_failure_reason: KVM_EXIT_FAIL_ENTRY_CPU_UNSUPPORTED,
        cpu: f.cpu,
      },
    };
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
    registerVcpuPreemptNotifiers(sys);
  }

  /** Every arm64 CPU PMU perf registered, in registration (probe) order. */
  private cpuPmus(): CorePmu[] {
    return this.sys.perf.registry.pmus.filter(
      (p): p is CorePmu => p instanceof CorePmu && p.desc.arch === "arm64",
    );
  }

  /**
   * The PMUv3 arm_pmus KVM can use, in registration (probe) order (kernel: arm_pmus, filled
   * by kvm_host_pmu_init()). A PMU without PMUv3 (PMUVer 0) or with an IMPLEMENTATION
   * DEFINED one (0xF, e.g. Apple M1) is left out. 5.18 judged each PMU by itself; 7.0 looks
   * at the system-wide sanitised PMUVer, so one such CPU type leaves KVM with no PMU at all.
   * (The 6.16 IMPDEF-trap emulation for Apple hardware is not modelled.)
   */
  armPmus(): CorePmu[] {
    const all = this.cpuPmus();
    if (this.profile === "5.18") return all.filter((p) => isPmuv3(p.desc.version));
    return all.every((p) => isPmuv3(p.desc.version)) ? all : [];
  }

  /**
   * kernel (5.18-6.3): kvm_pmu_probe_armpmu(). A throw-away RAW CPU_CYCLES event bound to
   * the calling task goes to the first PMU in perf's list that accepts it, which is the
   * first CPU PMU registered whatever CPU the caller is on; that PMU is refused (null) when
   * it is not a PMUv3.
   */
  probeRawPmu(): CorePmu | null {
    const p = this.cpuPmus()[0];
    return p && isPmuv3(p.desc.version) ? p : null;
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
      // 5.18 capped the guest's PMUVer at v3p4 (no 64-bit event counters, no PMCR.LP).
      pmuv3p5: () => this.profile !== "5.18" && (vm.armPmu ?? this.armPmus()[0]!).desc.pmuv3p5,
      allowed: (e) => !vm.filter || e === ARMV8_EVENT.SW_INCR || vm.filter[e] === 1,
      // kernel 5.18 kvm_pmu_overflow_status() ANDs PMCNTENSET in; current kernels do not.
      overflowNeedsEnable: () => this.profile === "5.18",
      eventMask: () => (vm.nrEvents() === 1024 ? 0x3ff : 0xffff),
      pmceid: (cpu) => {
        // kernel: kvm_pmu_get_pmceid(). 5.18 reads PMCEID0/1 on the physical CPU taking the
        // trap and hides STALL_SLOT from v3p4 on; 7.0 builds them from the VM's arm_pmu,
        // always offers SW_INCR and CHAIN and hides all three STALL_SLOT* events. A filter
        // then masks every bit, SW_INCR and CHAIN included.
        const p = this.profile === "5.18" ? this.pmuOfCpu(cpu) : (vm.armPmu ?? this.armPmus()[0]!);
        let lo = 0n;
        let hi = 0n;
        for (const e of p.desc.events.keys()) {
          if (e < 32) lo |= 1n << BigInt(e);
          else if (e < 64) hi |= 1n << BigInt(e - 32);
        }
        if (this.profile === "7.0") {
          lo |= (1n << BigInt(ARMV8_EVENT.SW_INCR)) | (1n << BigInt(ARMV8_EVENT.CHAIN));
          for (const e of STALL_SLOT_EVENTS) hi &= ~(1n << BigInt(e - 32));
        } else if ((vm.armPmu ?? p).desc.version >= PMUVER.V3P4) {
          hi &= ~(1n << BigInt(ARMV8_EVENT.STALL_SLOT - 32));
        }
        if (vm.filter) {
          for (let e = 0; e < 64; e++) {
            if (vm.filter[e]) continue;
            if (e < 32) lo &= ~(1n << BigInt(e));
            else hi &= ~(1n << BigInt(e - 32));
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
