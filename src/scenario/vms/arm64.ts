import { armVmmRun, armVmmSetupVcpu } from "../../kvm/arm64/vmm.js";
import type { Ns } from "../../sim/time.js";
import { callResult } from "../actions/call-result.js";
import type { RunContext } from "../run-context.js";
import type { CallExpectSpec } from "../values.js";
import type { VmDecl } from "./compile.js";
import { scheduleArmGuestStat } from "./guest-perf.js";

/**
 * An arm64 VM: created now with its vCPUs (KVM_CREATE_VCPU); at each vCPU's start the chosen
 * VMM flow (src/kvm/arm64/vmm.ts) sets it up and calls KVM_RUN. With vmm none the actions do
 * all of that.
 */
export function scheduleArmVm(d: VmDecl, run: RunContext): void {
  const kvm = run.kvm.arm!;
  const vm = kvm.createVm(d.name);
  run.vms.arm.set(d.name, vm);
  if (!d.irqchip) vm.irqchip = false;
  if (!d.arm.vgicReady) vm.vgicReady = false;
  const { vmm: flow, vmmCpu, pmu } = d.arm;
  const record = (label: string, ret: number, now: Ns, expect?: CallExpectSpec) =>
    run.calls.push(callResult(now, label.split("(")[0]!.trim(), label, { ret }, expect));
  d.vcpus.forEach((c, id) => {
    const r = vm.createVcpu(id, d.workload, c.affinity, c.exitRate);
    // vmm none: KVM_CREATE_VCPU only; VCPU_INIT, the PMU attributes and KVM_RUN are actions.
    if (typeof r === "number" || flow === "none") return;
    run.sys.at(c.start, `vmm ${d.name}/${id}`, (now) => {
      const steps = armVmmSetupVcpu(kvm, r, flow, { vmmCpu, pmu });
      // A VMM dies on a failed call (QEMU aborts, kvmtool die_perror()s): no KVM_RUN then,
      // and the vCPU's expect is checked against the call it died on.
      const died = steps.findIndex((x) => x.ret < 0);
      steps.forEach((x, k) => {
        record(x.label, x.ret, now, k === died ? c.expect : undefined);
      });
      if (died >= 0) return;
      const step = armVmmRun(r, now);
      record(step.label, step.ret, now, c.expect);
    });
  });
  for (const m of d.perf) scheduleArmGuestStat(vm, m, run);
}
