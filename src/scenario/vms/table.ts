import type { Workload } from "../../hw/workload.js";
import type { KvmArmVcpu, KvmArmVm } from "../../kvm/arm64/kvm.js";
import type { KvmVcpu } from "../../kvm/vcpu.js";
import type { KvmVm } from "../../kvm/vm.js";
import type { Task } from "../../sched/task.js";
import type { Ns } from "../../sim/time.js";

/** The VMs of a run by name, x86 and arm64, with what actions and expectations look up. */
export class VmTable {
  readonly x86 = new Map<string, KvmVm>();
  readonly arm = new Map<string, KvmArmVm>();
  /** Each VM's guest workload, for the vCPUs that kvm_create_vcpu actions add. */
  readonly workloads = new Map<string, Workload>();
  /** The last KVM_EXIT_FAIL_ENTRY of each arm64 vCPU, kept across a later KVM_RUN. */
  readonly lastFailEntry = new Map<KvmArmVcpu, { cpu: number; at: Ns }>();

  /** The arm64 vCPU `id` of VM `vm`. */
  armVcpu(vm: string, id: number): KvmArmVcpu | undefined {
    return this.arm.get(vm)?.vcpus.find((x) => x.id === id);
  }

  /** The vCPU `id` of VM `vm`: an x86 vCPU, or an arm64 vCPU's run state. */
  vcpu(vm: string, id: number): KvmVcpu | undefined {
    return this.x86.get(vm)?.vcpus.find((x) => x.id === id) ?? this.armVcpu(vm, id)?.run;
  }

  /** The vCPU thread named `VM/vcpuN`, once its vCPU exists. */
  thread(name: string): Task | undefined {
    for (const vm of this.x86.values())
      for (const v of vm.vcpus) if (v.task.comm === name) return v.task;
    for (const vm of this.arm.values())
      for (const v of vm.vcpus) if (v.run.task.comm === name) return v.run.task;
    return undefined;
  }
}
