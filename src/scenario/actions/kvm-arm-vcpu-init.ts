import { z } from "zod";
import { ERRNO } from "../../sim/errno.js";
import { ArmVcpuFields, compileArmVcpuCall } from "./arm-vcpu.js";
import { ActionCommon, defineAction } from "./kind.js";

/** KVM_ARM_VCPU_INIT on an arm64 vCPU, run from the VMM thread's CPU. */
export const kvmArmVcpuInit = defineAction({
  schema: z.strictObject({
    ...ActionCommon,
    do: z.literal("kvm_arm_vcpu_init"),
    ...ArmVcpuFields,
    /** kvm_vcpu_init.features[0]; bit 3 is PMU_V3. */
    features: z.number().int().nonnegative(),
    vmm_cpu: z.number().int().nonnegative().optional(),
  }),
  kvm: true,
  compile: (a, c) => compileArmVcpuCall(a, c),
  execute(a, run) {
    const v = run.vms.armVcpu(a.vm, a.vcpu);
    return { ret: v ? v.init(a.features, a.vmm_cpu ?? 0) : -ERRNO.ENOENT };
  },
  describe: (a) => `KVM_ARM_VCPU_INIT(${a.vm}, ${a.vcpu}, features 0x${a.features.toString(16)})`,
});
