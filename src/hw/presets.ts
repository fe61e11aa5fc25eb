import type { CoreType, MachineDesc, UncoreDesc } from "./machine.js";
import { amdPmuDesc, armv8PmuDesc, x86PmuDesc } from "./pmu-desc.js";

/**
 * Built-in machines. Clock rates and IPC scales are model parameters chosen to be typical of
 * each core, not measurements of a specific part.
 */

const range = (lo: number, hi: number): number[] =>
  Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

const imc: UncoreDesc = {
  name: "uncore_imc_0",
  cpumask: [0],
  nrCounters: 4,
  events: { cas_count_read: 0x0304, cas_count_write: 0x0c04, clockticks: 0xff },
};

// Cortex-A53 and A72 implement the ARMv8.0 PMUv3 common events; the A53 lacks a few
// speculative/TTBR events. CHAIN (0x1e) is always present in PMUv3.
const A53_EVENTS = [...range(0x00, 0x1a), 0x1d, 0x1e];
const A72_EVENTS = range(0x00, 0x1e);
const N1_EVENTS = [...range(0x00, 0x1e), 0x23, 0x24];

function x86Core(name: string, pmuName: string, scaling: CoreType["scaling"], nrGp = 8): CoreType {
  return { name, scaling, pmu: x86PmuDesc({ name: pmuName, coreType: name, nrGp }) };
}

/** Every preset by name. */
export const PRESETS: Record<string, () => MachineDesc> = {
  "x86-server": () => ({
    name: "x86-server",
    arch: "x86_64",
    coreTypes: [x86Core("core", "cpu", { freqMHz: 3000, ipcScale: 1, refMHz: 2000 })],
    cpus: range(0, 7).map(() => ({ coreType: "core", cluster: 0 })),
    uncore: [imc],
    probeOrder: ["core"],
    tracePmu: "intel_pt",
  }),
  "x86-hybrid": () => ({
    name: "x86-hybrid",
    arch: "x86_64",
    coreTypes: [
      x86Core("pcore", "cpu_core", { freqMHz: 4000, ipcScale: 1, refMHz: 2000 }, 8),
      x86Core("ecore", "cpu_atom", { freqMHz: 2800, ipcScale: 0.7, refMHz: 2000 }, 6),
    ],
    cpus: [
      ...range(0, 3).map(() => ({ coreType: "pcore", cluster: 0 })),
      ...range(4, 7).map(() => ({ coreType: "ecore", cluster: 1 })),
    ],
    uncore: [imc],
    probeOrder: ["pcore", "ecore"],
    tracePmu: "intel_pt",
  }),
  "amd-server": () => ({
    name: "amd-server",
    arch: "x86_64",
    coreTypes: [
      {
        name: "zen4",
        scaling: { freqMHz: 3100, ipcScale: 1, refMHz: 2000 },
        // Linux names the AMD core PMU "cpu" too (arch/x86/events/amd/core.c).
        pmu: amdPmuDesc({ name: "cpu", coreType: "zen4", nrGp: 6, perfMonV2: true }),
      },
    ],
    cpus: range(0, 7).map(() => ({ coreType: "zen4", cluster: 0 })),
    uncore: [],
    probeOrder: ["zen4"],
  }),
  rk3399: () => ({
    name: "rk3399",
    arch: "arm64",
    coreTypes: [
      {
        name: "cortex-a53",
        scaling: { freqMHz: 1416, ipcScale: 0.55, refMHz: 24 },
        pmu: armv8PmuDesc({
          name: "armv8_cortex_a53",
          coreType: "cortex-a53",
          nrCounters: 6,
          events: A53_EVENTS,
        }),
      },
      {
        name: "cortex-a72",
        scaling: { freqMHz: 1800, ipcScale: 1, refMHz: 24 },
        pmu: armv8PmuDesc({
          name: "armv8_cortex_a72",
          coreType: "cortex-a72",
          nrCounters: 6,
          events: A72_EVENTS,
        }),
      },
    ],
    cpus: [
      ...range(0, 3).map(() => ({ coreType: "cortex-a53", cluster: 0 })),
      ...range(4, 5).map(() => ({ coreType: "cortex-a72", cluster: 1 })),
    ],
    uncore: [],
    probeOrder: ["cortex-a53", "cortex-a72"],
  }),
  "arm64-server": () => ({
    name: "arm64-server",
    arch: "arm64",
    coreTypes: [
      {
        name: "neoverse-n1",
        scaling: { freqMHz: 3000, ipcScale: 1, refMHz: 25 },
        pmu: armv8PmuDesc({
          name: "armv8_neoverse_n1",
          coreType: "neoverse-n1",
          nrCounters: 6,
          version: 4,
          events: N1_EVENTS,
        }),
      },
    ],
    cpus: range(0, 15).map(() => ({ coreType: "neoverse-n1", cluster: 0 })),
    uncore: [
      {
        name: "arm_cmn_0",
        cpumask: [0],
        nrCounters: 8,
        events: { hnf_cache_miss: 0x0104, dtc_cycles: 0x03 },
      },
    ],
    probeOrder: ["neoverse-n1"],
    tracePmu: "arm_spe_0",
  }),
};

/** Short descriptions for `vpmu list presets`. */
export const PRESET_SUMMARY: Record<string, string> = {
  "x86-server": "8 CPUs, one `cpu` PMU: 8 GP + 3 fixed 48-bit counters per CPU",
  "x86-hybrid": "4 P-cores (`cpu_core`, 8 GP) + 4 E-cores (`cpu_atom`, 6 GP), 3 fixed each",
  "amd-server":
    "8 CPUs Zen 4, one `cpu` PMU: 6 GP 48-bit counters (PerfCtrExtCore, PerfMonV2), no fixed counters",
  rk3399: "CPUs 0-3 Cortex-A53, 4-5 Cortex-A72; 6 event counters + cycle counter per PMU",
  "arm64-server": "16 CPUs Neoverse-N1 (PMUv3p1), 6 event counters + cycle counter",
};

/** The machine description of a preset, or undefined. */
export function preset(name: string): MachineDesc | undefined {
  // Own keys only: "toString" or "__proto__" are not presets.
  const f = Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
  return f ? f() : undefined;
}
