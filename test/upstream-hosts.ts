import { amdPmuDesc, x86PmuDesc } from "../src/hw/pmu-desc.js";
import { preset } from "../src/hw/presets.js";

/** The hosts the upstream-test ports are pinned on, beyond the presets. */
export const x86 = preset("x86-server")!;
export const amd = preset("amd-server")!;

/** An AMD host without PerfMonV2 (pre-Zen 4): the mediated vPMU cannot be enabled. */
export function amdLegacyHost() {
  const ct = amd.coreTypes[0]!;
  const pmu = amdPmuDesc({ name: "cpu", coreType: ct.name, nrGp: 6, perfMonV2: false });
  return { ...amd, coreTypes: [{ ...ct, pmu }] };
}

/** x86-server with an architectural PMU version 1 (no GLOBAL_CTRL, no fixed counters). */
export function intelV1Host() {
  const ct = x86.coreTypes[0]!;
  const pmu = x86PmuDesc({ name: "cpu", coreType: ct.name, version: 1 });
  return { ...x86, coreTypes: [{ ...ct, pmu }] };
}
