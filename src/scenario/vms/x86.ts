import type { KvmVm } from "../../kvm/vm.js";
import { callResult } from "../actions/call-result.js";
import type { RunContext } from "../run-context.js";
import type { VmDecl } from "./compile.js";
import { scheduleGuestRecord, scheduleGuestStat } from "./guest-perf.js";

/**
 * An x86 VM: created now with its CPUID, irqchip and event filter; each vCPU is created
 * (KVM_CREATE_VCPU, a call in the result) at its start, and runs from then on.
 */
export function scheduleX86Vm(d: VmDecl, run: RunContext): void {
  const vm = run.kvm.x86!.createVm(d.name);
  run.vms.x86.set(d.name, vm);
  configure(vm, d, run);
  d.vcpus.forEach((c, id) => {
    run.sys.at(c.start, `create ${d.name}/${id}`, (now) => {
      const r = vm.createVcpu(
        id,
        { workload: d.workload, affinity: c.affinity, exitRate: c.exitRate },
        now,
      );
      const ret = typeof r === "number" ? r : 0;
      const label = `KVM_CREATE_VCPU(${d.name}, ${id})`;
      run.calls.push(callResult(now, "kvm_create_vcpu", label, { ret }, c.expect));
    });
  });
  for (const m of d.perf) {
    if (m.record) scheduleGuestRecord(vm, m, m.record, run);
    else scheduleGuestStat(vm, m, run);
  }
}

/** The VM's settings before any vCPU exists, as a VMM makes them. */
function configure(vm: KvmVm, d: VmDecl, run: RunContext): void {
  if (!d.irqchip) vm.irqchip = false;
  if (d.cpuid) vm.cpuid = d.cpuid;
  if (d.amdCpuid) {
    const c = d.amdCpuid;
    vm.amdCpuid = {
      perfCtrCore: c.perfCtrCore ?? vm.amdCpuid.perfCtrCore,
      perfMonV2: c.perfMonV2 ?? vm.amdCpuid.perfMonV2,
      numCorePmc: c.numCorePmc ?? vm.amdCpuid.numCorePmc,
    };
  }
  if (d.filter) vm.setPmuEventFilter(d.filter, run.sys.now);
}
