import { formatCpuList } from "../hw/cpulist.js";
import type { MachineDesc } from "../hw/machine.js";
import { capabilityNames } from "../perf/pmu.js";
import { System } from "../system.js";
import { table } from "./format.js";

/** One PMU as `vpmu list pmus` and the sysfs view show it. */
export interface PmuInfo {
  name: string;
  type: number;
  cpus: string;
  counters: string;
  capabilities: string[];
  events: Record<string, string>;
  format: Record<string, string>;
}

/** The PMUs a machine registers at boot, in registration order. */
export function listPmus(desc: MachineDesc): PmuInfo[] {
  const sys = new System({ machine: desc });
  return sys.perf.registry.pmus.map((p) => ({
    name: p.name,
    type: p.type,
    cpus: formatCpuList(p.supportedCpus() ?? sys.machine.cpus.map((c) => c.id)),
    counters: p.counterSummary(),
    capabilities: capabilityNames(p.capabilities),
    events: p.sysfsEvents(),
    format: p.sysfsFormat(),
  }));
}

/** The `vpmu list pmus` table. */
export function pmusText(desc: MachineDesc): string {
  const rows = listPmus(desc).map((p) => [
    p.name,
    String(p.type),
    p.cpus,
    p.counters,
    p.capabilities.join(","),
  ]);
  return (
    table(["PMU", "type", "cpus", "counters", "capabilities"], rows, [1], "").join("\n") + "\n"
  );
}
