import { ms, table } from "../format.js";
import type { VmResult } from "../result.js";
import type { TextSection } from "./section.js";

/**
 * Each vCPU: its vPMU, entries, exits by reason, time in guest and host, overhead; with a
 * sampling guest also the guest's own sampling work and the slowdown it adds up to.
 */
export const vmsSection: TextSection = (r) => {
  if (r.vms.length === 0) return [];
  const sampling = r.vms.some((vm) => vm.vcpus.some((v) => v.guest_sampling_ns > 0));
  const rows = r.vms.flatMap((vm) => vm.vcpus.map((v) => vcpuRow(vm, v, sampling)));
  const head = ["vCPU", "vPMU", "CPU", "entries", "exits by reason", "in guest", "in host"];
  return [
    sampling
      ? "VMs (exit costs, guest sampling and slowdown are model estimates)"
      : "VMs (exit costs are model estimates)",
    ...(sampling
      ? table([...head, "overhead", "sampling", "slowdown"], rows, [2, 3, 5, 6, 7, 8, 9])
      : table([...head, "overhead"], rows, [2, 3, 5, 6, 7])),
    "",
  ];
};

function vcpuRow(vm: VmResult, v: VmResult["vcpus"][number], sampling: boolean): string[] {
  const exits =
    Object.entries(v.exits)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "-";
  return [
    `${vm.name}/${v.id}`,
    `${vm.vpmu} v${vm.pmu_version}`,
    String(v.cpu),
    String(v.entries),
    exits,
    ms(v.guest_ns),
    ms(v.host_ns),
    `${v.overhead_pct.toFixed(2)}%`,
    ...(sampling ? [ms(v.guest_sampling_ns), `${v.slowdown_pct.toFixed(2)}%`] : []),
  ];
}
