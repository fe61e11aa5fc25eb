import type { MachineDesc } from "../../hw/machine.js";
import { BUILTIN_WORKLOADS } from "../../hw/workload.js";
import type { KvmPmuEventFilter } from "../../kvm/filter.js";
import { Kvm } from "../../kvm/kvm.js";
import type { KvmVcpu } from "../../kvm/vcpu.js";
import type { KvmVm } from "../../kvm/vm.js";
import type { X86VcpuCpuid } from "../../kvm/x86/cpuid.js";
import { errnoName } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import { System } from "../../system.js";
import { openHostPinnedEvents } from "../kvm-unit-tests/x86-harness.js";
import { X86GuestDriver } from "../x86/driver.js";
import type { Ucall, X86Guest, X86GuestEnv } from "../x86/program.js";
import { type Selftest, TestFailure, testRequire } from "./kselftest.js";

/**
 * The x86 side of the KVM selftests library (kvm_util.c, processor.c) over vpmu's KVM:
 * VMs and vCPUs, KVM_SET_CPUID2 properties, KVM_{GET,SET}_MSRS, and vcpu_run() until the
 * guest's next ucall. Guest code is an x86 guest program (guest/x86/program.ts).
 */

/** How the simulated host is configured for a test. */
export interface SelftestHostOptions {
  machine: MachineDesc;
  vpmu: "emulated" | "mediated";
  forceEmulationPrefix?: boolean;
  /** Pinned CPU-wide host events per CPU, opened before KVM is loaded (host contention). */
  hostPinned?: number;
  hostExcludeGuest?: boolean;
  seed?: number;
  /** The invariant checker's mode (default: System's default). */
  checkInvariants?: "record" | "throw" | false;
}

/** A test process's view of /dev/kvm: one simulated host for the whole binary. */
export class SelftestHost {
  readonly sys: System;
  readonly kvm: Kvm;
  private vms = 0;

  constructor(o: SelftestHostOptions) {
    this.sys = new System({
      machine: o.machine,
      seed: o.seed ?? 1,
      profile: "7.0",
      ...(o.checkInvariants !== undefined ? { checkInvariants: o.checkInvariants } : {}),
    });
    openHostPinnedEvents(this.sys, o.hostPinned ?? 0, o.hostExcludeGuest ?? false);
    this.kvm = new Kvm(this.sys, {
      enableMediatedPmu: o.vpmu === "mediated",
      forceEmulationPrefix: o.forceEmulationPrefix ?? false,
    });
  }

  get hostIsIntel(): boolean {
    return !this.kvm.amd;
  }

  /** kvm_get_supported_cpuid(): what a new VM's vCPUs get by default. */
  supportedCpuid(): X86VcpuCpuid {
    const vm = this.kvm.createVm("probe");
    return { leafA: { ...vm.cpuid }, amd: { ...vm.amdCpuid }, features: { ...vm.features } };
  }

  /** vm_create(): a VM (KVM_CREATE_VM) with the in-kernel irqchip. */
  vmCreate(): SelftestVm {
    return new SelftestVm(this, this.kvm.createVm(`vm${this.vms++}`));
  }

  /** vm_create_with_one_vcpu(). */
  vmCreateWithOneVcpu(guest: (env: X86GuestEnv) => X86Guest): {
    vm: SelftestVm;
    vcpu: SelftestVcpu;
  } {
    const vm = this.vmCreate();
    return { vm, vcpu: vm.addVcpu(0, guest) };
  }
}

/** A VM fd. */
export class SelftestVm {
  readonly vcpus: SelftestVcpu[] = [];

  constructor(
    readonly host: SelftestHost,
    readonly vm: KvmVm,
  ) {}

  /** vm_enable_cap(): fails the test on an error. */
  enableCap(cap: number, arg: number): void {
    const r = this.vm.enableCap(cap, arg);
    if (r < 0)
      throw new TestFailure(
        "KVM_ENABLE_CAP",
        `KVM_ENABLE_CAP failed, rc: -1 errno: ${-r} (${errnoName(r)})`,
      );
  }

  /** __vm_ioctl(KVM_SET_PMU_EVENT_FILTER): 0 or a negative errno. */
  setPmuEventFilter(f: KvmPmuEventFilter): number {
    return this.vm.setPmuEventFilter(f, this.host.sys.now);
  }

  /** vm_vcpu_add(): a vCPU (KVM_CREATE_VCPU with the supported CPUID) running `guest`. */
  addVcpu(id: number, guest: (env: X86GuestEnv) => X86Guest): SelftestVcpu {
    const r = this.vm.createVcpu(
      id,
      { workload: BUILTIN_WORKLOADS.compute!, stopped: true },
      this.host.sys.now,
    );
    if (typeof r === "number")
      throw new TestFailure(
        "KVM_CREATE_VCPU",
        `KVM_CREATE_VCPU failed, rc: -1 errno: ${-r} (${errnoName(r)})`,
      );
    const v = new SelftestVcpu(this, r, guest);
    this.vcpus.push(v);
    return v;
  }

  /** kvm_vm_free(). */
  free(): void {
    this.vm.destroy(this.host.sys.now);
  }
}

/** How long a vcpu_run() may take before the test gives up (simulated ns). */
const RUN_LIMIT_NS = 10_000_000_000;

/** A vCPU fd. */
export class SelftestVcpu {
  private driver: X86GuestDriver | null = null;

  constructor(
    readonly vm: SelftestVm,
    readonly vcpu: KvmVcpu,
    private readonly guest: (env: X86GuestEnv) => X86Guest,
  ) {}

  private get sys(): System {
    return this.vm.host.sys;
  }

  /** The vCPU's CPUID (what KVM_GET_CPUID2 would return). */
  get cpuid(): X86VcpuCpuid {
    return this.vm.vm.cpuidOf(this.vcpu);
  }

  /** vcpu_set_cpuid() after changing the vCPU's CPUID with `change`. */
  setCpuid(change: (c: X86VcpuCpuid) => void): void {
    const c = structuredClone(this.cpuid);
    change(c);
    const r = this.vm.vm.setCpuid(this.vcpu, c, this.sys.now);
    if (r < 0)
      throw new TestFailure("KVM_SET_CPUID2", `KVM_SET_CPUID2 failed, errno: ${errnoName(r)}`);
  }

  /** _vcpu_set_msr(): the number of MSRs set (1, or 0 when KVM refused). */
  trySetMsr(msr: number, value: bigint): number {
    const r = this.vm.vm.setMsr(this.vcpu, msr, value, this.sys.now);
    return r < 0 ? 0 : r;
  }

  /** vcpu_set_msr(): fails the test unless KVM took the value. */
  setMsr(msr: number, value: bigint): void {
    const r = this.trySetMsr(msr, value);
    if (r !== 1)
      throw new TestFailure(
        "r == 1",
        `KVM_SET_MSRS failed on MSR 0x${msr.toString(16)}, value 0x${value.toString(16)}`,
      );
  }

  /** vcpu_get_msr(). */
  getMsr(msr: number): bigint {
    const v = this.vm.vm.getMsr(this.vcpu, msr);
    if (v === null)
      throw new TestFailure("r == 1", `KVM_GET_MSRS failed on MSR 0x${msr.toString(16)}`);
    return v;
  }

  /**
   * vcpu_run() + get_ucall(): runs the guest until its next ucall and returns it. A guest
   * assertion comes back as an abort ucall; a guest exception the program does not handle
   * fails the test as the library's unhandled-exception check does.
   */
  run(): Ucall {
    const sys = this.sys;
    if (!this.driver) {
      const env: X86GuestEnv = {
        vendor: this.vm.host.hostIsIntel ? "intel" : "amd",
        cpuid: this.cpuid,
      };
      this.driver = new X86GuestDriver(sys, this.vcpu, this.guest(env));
      this.driver.start(sys.now);
      this.vm.vm.run(this.vcpu, sys.now);
    } else {
      if (this.driver.end) throw new TestFailure("vcpu_run", "the guest has already exited");
      this.driver.resumeFromUcall(sys.now);
    }
    const d = this.driver;
    const limit = sys.now + RUN_LIMIT_NS;
    const chunk = 1_000_000;
    while (!d.ucall && !d.end && sys.now < limit) sys.run((sys.now + chunk) as Ns);
    if (d.end?.kind === "exception")
      throw new TestFailure("!vector", `Unexpected exception in guest: ${d.end.msg}`);
    if (d.end?.kind === "abort") throw new TestFailure("guest assertion", d.end.msg);
    if (d.end?.kind === "done") return { cmd: "done", args: [] };
    if (!d.ucall) throw new TestFailure("vcpu_run", "the guest made no ucall");
    return d.ucall;
  }
}

/**
 * An x86 selftest binary: main() gets its own simulated host (one per process, as /dev/kvm)
 * after the requirement every PMU test starts with (kvm.enable_pmu).
 */
export function x86Selftest(
  name: string,
  file: string,
  o: SelftestHostOptions,
  main: (host: SelftestHost, out: string[]) => number,
): Selftest {
  return {
    name,
    file,
    arch: "x86",
    main(out) {
      const host = new SelftestHost(o);
      testRequire(host.kvm.enablePmu, "kvm_is_pmu_enabled()");
      return main(host, out);
    },
  };
}
