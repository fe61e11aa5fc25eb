import { z } from "zod";
import { CpuList } from "../values.js";
import { ActionCommon, defineAction } from "./kind.js";

/** KVM_CREATE_VCPU on a VM declared with its vCPUs elsewhere (or with vmm none on arm64). */
export const kvmCreateVcpu = defineAction({
  schema: z.strictObject({
    ...ActionCommon,
    do: z.literal("kvm_create_vcpu"),
    vm: z.string(),
    id: z.number().int(),
    affinity: CpuList.optional(),
    exit_rate: z.number().nonnegative().optional(),
  }),
  kvm: true,
  // The vCPU thread it creates is a task that other actions may name.
  declare(a, ctx) {
    if (ctx.names.vms.has(a.vm)) ctx.names.vcpuThreads.add(`${a.vm}/vcpu${a.id}`);
  },
  compile(a, c) {
    c.needVm(a.vm);
    const affinity = c.ctx.cpuList(a.affinity, c.path("affinity"));
    return { vm: a.vm, id: a.id, affinity, exitRate: a.exit_rate ?? 0 };
  },
  execute(a, run) {
    const workload = run.vms.workloads.get(a.vm)!;
    const arm = run.vms.arm.get(a.vm);
    // arm64: the thread starts at the first KVM_RUN; VCPU_INIT and the rest are actions.
    const r = arm
      ? arm.createVcpu(a.id, workload, a.affinity, a.exitRate)
      : run.vms.x86
          .get(a.vm)!
          .createVcpu(a.id, { workload, affinity: a.affinity, exitRate: a.exitRate }, run.sys.now);
    return { ret: typeof r === "number" ? r : 0 };
  },
  describe: (a) => `KVM_CREATE_VCPU(${a.vm}, ${a.id})`,
});
