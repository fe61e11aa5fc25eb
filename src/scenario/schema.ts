import { z } from "zod";
import { Action } from "./actions/schema.js";
import { Expectation } from "./expect/schema.js";
import { KernelSpec } from "./kernel/schema.js";
import { MachineSpec } from "./machine/schema.js";
import { PerfMeasurement } from "./perf/schema.js";
import { TaskSpecSchema } from "./tasks/schema.js";
import { Duration } from "./values.js";
import { MAX_VARIANTS, VariantSpec } from "./variants/schema.js";
import { VmSpec } from "./vms/schema.js";
import { WorkloadDef } from "./workloads/schema.js";

export { MAX_VARIANT_SETS, MAX_VARIANTS } from "./variants/schema.js";

/**
 * The scenario file format, as zod schemas: each section's schema lives with its section
 * (machine/, kernel/, ..., actions/ with one file per action kind), and this is the whole
 * document. It is the single source of truth: the validator, the TypeScript types and the
 * committed JSON Schema (schema/scenario.schema.json) all come from here. Field docs live
 * in docs/scenario-format.md. Every object is strict, so a typo is an error.
 */
export const ScenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  duration: Duration.optional(),
  machine: MachineSpec,
  kernel: KernelSpec.optional(),
  workloads: z.record(z.string(), WorkloadDef).optional(),
  tasks: z.array(TaskSpecSchema).max(10_000).optional(),
  perf: z.array(PerfMeasurement).max(256).optional(),
  vms: z.array(VmSpec).max(64).optional(),
  actions: z.array(Action).max(100_000).optional(),
  expect: z.array(Expectation).max(100_000).optional(),
  /** Findings the scenario declares as expected (names of invariant rules). */
  expected_findings: z.array(z.string()).optional(),
  /** The same scenario under other settings, run one after the other and compared. */
  variants: z.array(VariantSpec).min(1).max(MAX_VARIANTS).optional(),
});

/** A schema-checked (not yet compiled) scenario file. */
export type ScenarioFile = z.infer<typeof ScenarioSchema>;

/** The JSON Schema of the scenario format. */
export function scenarioJsonSchema(): unknown {
  const s = z.toJSONSchema(ScenarioSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return {
    ...s,
    title: "vpmu scenario",
  };
}
