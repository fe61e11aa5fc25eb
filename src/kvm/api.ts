import { check } from "../sim/errno.js";
import type { System } from "../system.js";
import type { KvmCosts } from "./costs.js";
import type { KvmPmuEventFilter } from "./filter.js";
import { Kvm, type KvmParams } from "./kvm.js";
import type { KvmVcpu } from "./vcpu.js";
import type { KvmVm, VcpuOptions } from "./vm.js";

/**
 * The library face of /dev/kvm: the same calls as the kernel-shaped model, but a failure
 * throws a KernelError (code = errno name, errno = its negative value), like System does.
 */
export class KvmDevice {
  readonly kvm: Kvm;

  constructor(sys: System, params: Partial<KvmParams> = {}, costs?: KvmCosts) {
    this.kvm = costs ? new Kvm(sys, params, costs) : new Kvm(sys, params);
  }

  /** KVM_CHECK_EXTENSION. */
  checkExtension(cap: number): number {
    return this.kvm.checkExtension(cap);
  }

  /** KVM_CREATE_VM. */
  createVm(name: string): VmHandle {
    return new VmHandle(this.kvm.createVm(name));
  }
}

/** A VM fd. */
export class VmHandle {
  constructor(readonly vm: KvmVm) {}

  /** KVM_ENABLE_CAP. */
  enableCap(cap: number, args0: number): void {
    check(this.vm.enableCap(cap, args0), "KVM_ENABLE_CAP");
  }

  /** KVM_SET_PMU_EVENT_FILTER. */
  setPmuEventFilter(f: KvmPmuEventFilter): void {
    check(this.vm.setPmuEventFilter(f, this.vm.kvm.sys.now), "KVM_SET_PMU_EVENT_FILTER");
  }

  /** KVM_CREATE_VCPU: the vCPU thread starts running its guest. */
  createVcpu(id: number, opts: VcpuOptions): KvmVcpu {
    const r = this.vm.createVcpu(id, opts, this.vm.kvm.sys.now);
    if (typeof r === "number") {
      check(r, "KVM_CREATE_VCPU");
      throw new Error("unreachable");
    }
    return r;
  }

  /** Closes the VM (kvm_arch_destroy_vm()). */
  destroy(): void {
    this.vm.destroy(this.vm.kvm.sys.now);
  }
}
