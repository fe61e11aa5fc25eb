import type { KvmArmVm } from "../../kvm/arm64/kvm.js";
import type { KvmVcpu } from "../../kvm/vcpu.js";
import type { KvmVm } from "../../kvm/vm.js";
import type { VpmuProfile } from "../../perf/guest.js";
import type { VmResult } from "../../report/result.js";
import type { Ns } from "../../sim/time.js";
import type { RunContext } from "../run-context.js";

type VcpuResult = VmResult["vcpus"][number];

/** One vCPU's report entry, its accounting brought up to `now`; `extraExits` join `exits`. */
function vcpuResult(v: KvmVcpu, now: Ns, extraExits: Record<string, number> = {}): VcpuResult {
  v.sync(now);
  return {
    id: v.id,
    pid: v.task.pid,
    cpu: v.task.cpu,
    entries: v.nrEntries,
    exits: Object.fromEntries(Object.entries({ ...v.exits, ...extraExits }).sort()),
    guest_ns: Math.round(v.guestNs),
    host_ns: Math.round(v.hostNs),
    overhead_pct: v.guestNs > 0 ? Math.round((10000 * v.hostNs) / v.guestNs) / 100 : 0,
    guest_sampling_ns: Math.round(v.guestSamplingNs),
    slowdown_pct: Math.round(100 * v.slowdownPct) / 100,
  };
}

/** An x86 VM's report entry: its vPMU design (from its first vCPU) and its vCPUs. */
function x86VmResult(vm: KvmVm, profile: VpmuProfile, now: Ns): VmResult {
  const any = vm.vcpus[0];
  const vpmu =
    !any?.pmu || any.pmu.version === 0
      ? "none"
      : any.mediated
        ? profile === "rfc-v1"
          ? "passthrough"
          : "mediated"
        : "emulated";
  return {
    name: vm.name,
    vpmu,
    pmu_version: any?.pmu?.version ?? 0,
    vcpus: vm.vcpus.map((v) => vcpuResult(v, now)),
  };
}

/** An arm64 VM's report entry; failed entries (KVM_EXIT_FAIL_ENTRY) join the exits. */
function armVmResult(vm: KvmArmVm, now: Ns): VmResult {
  return {
    name: vm.name,
    vpmu: vm.armPmu ? `pmuv3 on ${vm.armPmu.name}` : "none",
    pmu_version: vm.armPmu?.desc.version ?? 0,
    vcpus: vm.vcpus.map((a) =>
      vcpuResult(a.run, now, a.run.nrFailEntries ? { fail_entry: a.run.nrFailEntries } : {}),
    ),
  };
}

/** Every VM of the run: x86 ones, then arm64 ones, in creation order. */
export function vmResults(run: RunContext): VmResult[] {
  const now = run.sys.now;
  return [
    ...[...run.vms.x86.values()].map((vm) => x86VmResult(vm, run.kernel.profile, now)),
    ...[...run.vms.arm.values()].map((vm) => armVmResult(vm, now)),
  ];
}
