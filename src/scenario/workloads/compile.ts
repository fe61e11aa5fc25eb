import type { WorkloadProfile } from "../../hw/workload.js";
import type { CompileContext } from "../context.js";
import type { WorkloadDefFile } from "./schema.js";

/**
 * Compiles `workloads` into the name table: each a built-in (or earlier) workload with some
 * rates changed, per core type where given.
 */
export function compileWorkloads(
  defs: Record<string, WorkloadDefFile> | undefined,
  ctx: CompileContext,
): void {
  const workloads = ctx.names.workloads;
  const machine = ctx.machine;
  for (const [name, def] of Object.entries(defs ?? {})) {
    const baseName = def.base ?? "compute";
    const base = workloads.get(baseName);
    if (!base) {
      ctx.err(
        ["workloads", name, "base"],
        `unknown workload "${baseName}"`,
        `one of: ${[...workloads.keys()].join(", ")}`,
      );
      continue;
    }
    const { base: _b, per_core_type, ...fields } = def;
    const overrides: Record<string, Partial<WorkloadProfile>> = {};
    for (const [ct, o] of Object.entries(per_core_type ?? {})) {
      if (machine && !machine.coreTypes.some((t) => t.name === ct)) {
        ctx.err(
          ["workloads", name, "per_core_type", ct],
          `no core type "${ct}" on ${machine.name}`,
          `one of: ${machine.coreTypes.map((t) => t.name).join(", ")}`,
        );
      }
      overrides[ct] = profileFields(o);
    }
    workloads.set(name, {
      name,
      base: { ...base.base, ...profileFields(fields) },
      overrides: { ...base.overrides, ...overrides },
    });
  }
}

const PROFILE_FIELDS: Record<string, keyof WorkloadProfile> = {
  freq_mhz: "freqMHz",
  ipc: "ipc",
  branch_ratio: "branchRatio",
  branch_miss_ratio: "branchMissRatio",
  mem_ratio: "memRatio",
  load_fraction: "loadFraction",
  l1d_miss_ratio: "l1dMissRatio",
  llc_ref_ratio: "llcRefRatio",
  llc_miss_ratio: "llcMissRatio",
  stall_frontend: "stallFrontend",
  stall_backend: "stallBackend",
  user_fraction: "userFraction",
};

function profileFields(o: Record<string, number | undefined>): Partial<WorkloadProfile> {
  const out: Partial<WorkloadProfile> = {};
  for (const [k, v] of Object.entries(o))
    if (v !== undefined && PROFILE_FIELDS[k]) out[PROFILE_FIELDS[k]!] = v;
  return out;
}
