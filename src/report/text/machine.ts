import { formatCpuList } from "../../hw/cpulist.js";
import { table } from "../format.js";
import type { RunResult } from "../result.js";
import type { TextSection } from "./section.js";

interface CpuGroup {
  cpus: number[];
  ct: string;
  cluster: number;
  pmu: string;
  offline: number[];
}

/** The machine's CPUs, consecutive CPUs of one core type and cluster on one line. */
export const machineSection: TextSection = (r) => [
  "Machine",
  ...table(
    ["CPUs", "core type", "cluster", "PMU", "offline"],
    cpuGroups(r.machine.cpus).map((g) => [
      formatCpuList(g.cpus),
      g.ct,
      String(g.cluster),
      g.pmu,
      g.offline.length ? formatCpuList(g.offline) : "",
    ]),
  ),
  "",
];

function cpuGroups(cpus: RunResult["machine"]["cpus"]): CpuGroup[] {
  const groups: CpuGroup[] = [];
  for (const c of cpus) {
    const g = groups[groups.length - 1];
    if (g && g.ct === c.core_type && g.cluster === c.cluster) {
      g.cpus.push(c.id);
      if (!c.online) g.offline.push(c.id);
    } else
      groups.push({
        cpus: [c.id],
        ct: c.core_type,
        cluster: c.cluster,
        pmu: c.pmu,
        offline: c.online ? [] : [c.id],
      });
  }
  return groups;
}
