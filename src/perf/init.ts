import type { MachineDesc } from "../hw/machine.js";
import { DEFAULT_PERF, PerfCore, type PerfOptions } from "./core.js";
import { CORE_PMU_CAPS, CorePmu } from "./drivers/core-pmu.js";
import { SoftwarePmu } from "./drivers/software.js";
import { ExclusivePmu, UncorePmu } from "./drivers/uncore.js";
import { installVpmuProfile, type VpmuProfile } from "./guest.js";
import type { PerfHost } from "./host.js";
import { PERF_TYPE_RAW, PERF_TYPE_SOFTWARE } from "./uapi.js";

/**
 * Boots the perf core on a machine: the software PMU first (perf_event_init()), then the
 * core PMU drivers in probe order, then uncore and tracing PMUs. On x86 the first core
 * type (the only one, or the P-core of a hybrid part) registers as PERF_TYPE_RAW ("cpu" /
 * "cpu_core"); every other PMU takes the next dynamic id from 6.
 */
export function perfInit(
  sys: PerfHost,
  desc: MachineDesc,
  opts: Partial<PerfOptions> = {},
  profile: VpmuProfile = "7.0",
  fixSiblingLoop = false,
): PerfCore {
  const core = new PerfCore(sys, { ...DEFAULT_PERF, ...opts });
  const sw = new SoftwarePmu(desc.cpus.length);
  core.registerPmu(sw, PERF_TYPE_SOFTWARE);
  core.software = sw;
  const heterogeneous = desc.coreTypes.length > 1;
  for (const name of desc.probeOrder) {
    const ct = desc.coreTypes.find((t) => t.name === name)!;
    const cpus = desc.cpus.flatMap((c, i) => (c.coreType === name ? [i] : []));
    const pmu = new CorePmu(ct.pmu, cpus, heterogeneous, CORE_PMU_CAPS);
    const raw = desc.arch === "x86_64" && ct === desc.coreTypes[0];
    core.registerPmu(pmu, raw ? PERF_TYPE_RAW : -1);
  }
  for (const u of desc.uncore) core.registerPmu(new UncorePmu(u), -1);
  if (desc.tracePmu) core.registerPmu(new ExclusivePmu(desc.tracePmu), -1);
  installVpmuProfile(core, profile, fixSiblingLoop);
  return core;
}
