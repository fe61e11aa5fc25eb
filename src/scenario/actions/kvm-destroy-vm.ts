import { z } from "zod";
import { ActionCommon, defineAction } from "./kind.js";

/** The VMM closes its VM fd: the VM and its vCPUs go. */
export const kvmDestroyVm = defineAction({
  schema: z.strictObject({ ...ActionCommon, do: z.literal("kvm_destroy_vm"), vm: z.string() }),
  kvm: true,
  compile(a, c) {
    c.needVm(a.vm);
    return a;
  },
  execute(a, run) {
    const now = run.sys.now;
    const arm = run.vms.arm.get(a.vm);
    if (!arm) {
      run.vms.x86.get(a.vm)!.destroy(now);
      return { ret: 0 };
    }
    // arm64 (kvm_arch_destroy_vm): the vCPU threads end and their guest perf events go.
    for (const v of arm.vcpus) {
      run.sys.sched.kill(v.run.task.pid, now);
      v.pmu?.destroy(now);
    }
    return { ret: 0 };
  },
  describe: (a) => `destroy VM ${a.vm}`,
});
