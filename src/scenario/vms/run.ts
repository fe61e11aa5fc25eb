import type { RunContext } from "../run-context.js";
import { scheduleArmVm } from "./arm64.js";
import type { VmDecl } from "./compile.js";
import { scheduleX86Vm } from "./x86.js";

/** Creates each declared VM now, and its vCPUs and guest measurements at their times. */
export function scheduleVms(vms: readonly VmDecl[], run: RunContext): void {
  for (const d of vms) {
    run.vms.workloads.set(d.name, d.workload);
    if (run.kvm.arm) scheduleArmVm(d, run);
    else scheduleX86Vm(d, run);
  }
}
