import { z } from "zod";
import { Ratio } from "../values.js";

/** A workload rate profile; every field optional so per-core-type overrides can be partial. */
export const ProfileFields = {
  freq_mhz: z.number().positive().optional(),
  ipc: z.number().positive().optional(),
  branch_ratio: Ratio.optional(),
  branch_miss_ratio: Ratio.optional(),
  mem_ratio: z.number().min(0).max(4).optional(),
  load_fraction: Ratio.optional(),
  l1d_miss_ratio: Ratio.optional(),
  llc_ref_ratio: Ratio.optional(),
  llc_miss_ratio: Ratio.optional(),
  stall_frontend: Ratio.optional(),
  stall_backend: Ratio.optional(),
  user_fraction: Ratio.optional(),
};

/** One entry of `workloads`: a built-in workload with some rates changed. */
export const WorkloadDef = z.strictObject({
  /** Start from a built-in workload. */
  base: z.string().optional(),
  ...ProfileFields,
  per_core_type: z.record(z.string(), z.strictObject(ProfileFields)).optional(),
});

export type WorkloadDefFile = z.infer<typeof WorkloadDef>;
