import { z } from "zod";
import { KVM_CAP_PMU_CAPABILITY } from "../../kvm/vm.js";
import { ActionCommon, defineAction } from "./kind.js";

/** KVM_ENABLE_CAP(KVM_CAP_PMU_CAPABILITY) on an x86 VM. */
export const kvmEnableCap = defineAction({
  schema: z.strictObject({
    ...ActionCommon,
    do: z.literal("kvm_enable_cap"),
    vm: z.string(),
    /** KVM_CAP_PMU_CAPABILITY with args[0] (1 = KVM_PMU_CAP_DISABLE). */
    cap: z.literal("pmu_capability"),
    args: z.number().int(),
  }),
  kvm: true,
  compile(a, c) {
    c.needArch("x86_64", a.do, "an x86_64 machine");
    c.needVm(a.vm);
    return a;
  },
  execute: (a, run) => ({ ret: run.vms.x86.get(a.vm)!.enableCap(KVM_CAP_PMU_CAPABILITY, a.args) }),
  describe: (a) => `KVM_ENABLE_CAP(${a.vm}, PMU_CAPABILITY, ${a.args})`,
});
