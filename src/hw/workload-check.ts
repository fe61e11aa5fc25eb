import { ArgumentError, checkObject, checkString } from "../sim/argument.js";
import type { Workload, WorkloadProfile } from "./workload.js";

/** The range of each rate-profile field (the scenario format's ranges, docs/scenario-format.md). */
const PROFILE_RANGES: Record<keyof WorkloadProfile, [number, number, boolean]> = {
  // [min, max, min exclusive]
  freqMHz: [0, 1e6, true],
  ipc: [0, 1e3, true],
  branchRatio: [0, 1, false],
  branchMissRatio: [0, 1, false],
  memRatio: [0, 4, false],
  loadFraction: [0, 1, false],
  l1dMissRatio: [0, 1, false],
  llcRefRatio: [0, 1, false],
  llcMissRatio: [0, 1, false],
  stallFrontend: [0, 1, false],
  stallBackend: [0, 1, false],
  userFraction: [0, 1, false],
};

function checkProfile(arg: string, v: unknown, required: boolean): void {
  const p = checkObject(arg, v);
  for (const [k, [min, max, open]] of Object.entries(PROFILE_RANGES)) {
    const x = p[k];
    if (x === undefined && (!required || k === "freqMHz")) continue;
    if (typeof x !== "number" || !Number.isFinite(x) || x > max || x < min || (open && x === min))
      throw new ArgumentError(
        `${arg}.${k}`,
        `a number ${open ? "above" : "from"} ${min} to ${max}`,
        x,
      );
  }
}

/**
 * Checks a workload where it enters the model (a spawn, a vCPU): a name, a complete base
 * profile, and per-core-type overrides with fields in range. Throws ArgumentError.
 */
export function checkWorkload(arg: string, v: unknown): Workload {
  const w = checkObject(arg, v);
  checkString(`${arg}.name`, w.name);
  checkProfile(`${arg}.base`, w.base, true);
  const o = checkObject(`${arg}.overrides`, w.overrides);
  for (const [k, p] of Object.entries(o)) checkProfile(`${arg}.overrides.${k}`, p, false);
  return v as Workload;
}
