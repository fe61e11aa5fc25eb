/** Machine descriptions: the plain data presets and scenario files give, from which hw/machine.ts builds CPUs. */

import type { PmuHwDesc } from "./pmu-desc.js";
import type { CoreTypeScaling } from "./workload.js";

/** A core type: its name, how it scales workloads, and its PMU hardware. */
export interface CoreType {
  name: string;
  scaling: CoreTypeScaling;
  pmu: PmuHwDesc;
}

/** An uncore PMU: CPU-wide only, reached through one designated CPU per instance. */
export interface UncoreDesc {
  name: string;
  /** CPUs the PMU's sysfs `cpumask` lists (where its events must be opened). */
  cpumask: number[];
  /** Number of counters. */
  nrCounters: number;
  /** Events it offers (name → config), counting zero-cost memory traffic in the model. */
  events: Record<string, number>;
}

/** A whole machine as presets and scenario files describe it. */
export interface MachineDesc {
  name: string;
  arch: "x86_64" | "arm64";
  coreTypes: CoreType[];
  /** CPUs in id order: core type name and cluster. */
  cpus: Array<{ coreType: string; cluster: number }>;
  uncore: UncoreDesc[];
  /**
   * Order in which the core PMU drivers probe (core type names). Linux gives dynamic perf
   * type ids in this order; device-tree order or async probing can change it.
   */
  probeOrder: string[];
  /** An exclusive tracing PMU (intel_pt, arm_spe_0), if the machine has one. */
  tracePmu?: string;
}
