import { z } from "zod";
import { PRESETS } from "../../hw/presets.js";

/** `machine`: a preset name, a preset with options, or a custom machine. */

const PmuDef = z.strictObject({
  name: z.string().min(1),
  counters: z.number().int().min(0).max(31),
  fixed: z.number().int().min(0).max(3).optional(),
  width: z.number().int().min(16).max(64).optional(),
  version: z.number().int().min(1).max(9).optional(),
  pmuv3p5: z.boolean().optional(),
  events: z.array(z.number().int().min(0).max(0xffff)).optional(),
});

const CoreTypeDef = z.strictObject({
  name: z.string().min(1),
  freq_mhz: z.number().positive(),
  ipc_scale: z.number().positive().optional(),
  ref_mhz: z.number().positive().optional(),
  pmu: PmuDef,
});

const CustomMachine = z.strictObject({
  name: z.string().min(1),
  arch: z.enum(["x86_64", "arm64"]),
  core_types: z.array(CoreTypeDef).min(1),
  cpus: z
    .array(
      z.strictObject({
        core_type: z.string(),
        count: z.number().int().min(1).max(512).optional(),
        cluster: z.number().int().min(0).optional(),
      }),
    )
    .min(1),
  uncore: z.boolean().optional(),
  probe_order: z.array(z.string()).optional(),
  offline: z.array(z.number().int().nonnegative()).optional(),
});

/** A preset's name; the JSON Schema lists the presets as `examples` (editor completion). */
const PresetName = z.string().meta({ examples: Object.keys(PRESETS) });

const PresetMachine = z.strictObject({
  preset: PresetName,
  probe_order: z.array(z.string()).optional(),
  offline: z.array(z.number().int().nonnegative()).optional(),
});

export const MachineSpec = z.union([PresetName, PresetMachine, CustomMachine], {
  error: "a preset name, { preset: ... } or a custom machine with name, arch, core_types and cpus",
});

export type MachineSpecFile = z.infer<typeof MachineSpec>;
export type CustomMachineSpec = z.infer<typeof CustomMachine>;
