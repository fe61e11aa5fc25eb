import { z } from "zod";
import { ERRNO } from "../../sim/errno.js";
import { ArmVcpuFields, compileArmVcpuCall } from "./arm-vcpu.js";
import { ActionCommon, defineAction } from "./kind.js";

/** KVM_RUN of an arm64 vCPU. */
export const kvmRun = defineAction({
  schema: z.strictObject({
    ...ActionCommon,
    do: z.literal("kvm_run"),
    ...ArmVcpuFields,
  }),
  kvm: true,
  compile: (a, c) => compileArmVcpuCall(a, c),
  execute(a, run) {
    const v = run.vms.armVcpu(a.vm, a.vcpu);
    // The FAIL_ENTRY exit the VMM is answering; KVM_RUN clears it from run->fail_entry.
    if (v?.run.failEntry) run.vms.lastFailEntry.set(v, v.run.failEntry);
    return { ret: v ? v.kvmRun(run.sys.now) : -ERRNO.ENOENT };
  },
  describe: (a) => `KVM_RUN(${a.vm}, ${a.vcpu})`,
});
