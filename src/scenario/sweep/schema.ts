import { z } from "zod";
import { ScenarioSchema } from "../schema.js";
import { Name } from "../values.js";

/** A value an axis writes at a `set` path: the same kinds a variant's `set` takes. */
const AxisValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.unknown())], {
  error: "a string, number, boolean or list",
});

/** One value of an axis that writes several paths: its label and its `set` entries. */
const Level = z.strictObject({
  value: z.union([z.string(), z.number(), z.boolean()]),
  set: z.record(z.string().min(1).max(1000), AxisValue),
});

/** Integers or decimals from `from` to `to` (inclusive) by `step` (default 1). */
const Range = z.strictObject({
  from: z.number(),
  to: z.number(),
  step: z.number().positive().optional(),
});

/**
 * One axis of the grid: a `set` path (the paths `variants` uses) with a list or a range of
 * values, or `levels`, each a labelled value with its own `set` entries.
 */
export const AxisSpec = z.strictObject({
  name: Name,
  path: z.string().min(1).max(1000).optional(),
  values: z.array(AxisValue).optional(),
  range: Range.optional(),
  levels: z.array(Level).optional(),
});

/** A collected value: a path into the JSON report, or a derived measure. */
const Measured = z.strictObject({ measurement: Name, event: z.string().min(1).optional() });
export const CollectSpec = z.union([
  z.string().min(1).max(1000),
  z.strictObject({
    name: Name,
    path: z.string().min(1).max(1000).optional(),
    error: Measured.extend({ stat: z.enum(["mean", "max"]).optional() }).optional(),
    running: Measured.extend({ event: z.string().min(1) }).optional(),
    in_state: Measured.extend({
      state: z.enum(["ACTIVE", "INACTIVE", "OFF", "ERROR", "EXIT", "REVOKED", "DEAD"]),
    }).optional(),
    exits: z
      .strictObject({
        vm: Name,
        vcpu: z.number().int().min(0).optional(),
        reason: z.string().min(1).optional(),
      })
      .optional(),
    exit_cost: z.strictObject({ vm: Name, vcpu: z.number().int().min(0).optional() }).optional(),
  }),
]);

/** A base named by path, relative to the sweep file. */
const BasePath = z.string().min(1);

/**
 * A base given inline: any mapping here. loadBase() checks it against ScenarioSchema itself,
 * so its problems read `base.<field>` at their own line rather than as a failed union.
 */
const InlineBase = z.record(z.string(), z.unknown());

/**
 * The sweep file: a base scenario, the axes of its grid, what to record per point. The single
 * source of the format: the loader validates with it and sweepJsonSchema() is made from it.
 */
export const SweepSchema = z.strictObject({
  name: Name,
  description: z.string().optional(),
  /** The scenario: a path (relative to the sweep file) or the scenario itself. */
  base: z.union([BasePath, InlineBase]),
  axes: z.array(AxisSpec).min(1).max(16),
  /** Points left out: each rule maps axis names to a value or a list of values. */
  exclude: z
    .array(z.record(z.string(), z.union([AxisValue, z.array(AxisValue)])))
    .max(1000)
    .optional(),
  collect: z.array(CollectSpec).min(1).max(256),
  /** Runs per point: 1 (the base's seed) or N with derived seeds. */
  seeds: z.number().int().min(1).max(10_000).optional(),
});

export type SweepFile = z.infer<typeof SweepSchema>;
export type AxisSpecFile = z.infer<typeof AxisSpec>;
export type CollectSpecFile = z.infer<typeof CollectSpec>;

/** Most points one sweep may have, seeds included (a resource limit, checked before any run). */
export const MAX_SWEEP_POINTS = 1_000_000;

/** Most values one axis may have. */
export const MAX_AXIS_VALUES = 100_000;

/**
 * The JSON Schema of the sweep format (schema/sweep.schema.json): SweepSchema with the inline
 * base typed as the scenario format, so an editor checks a base written under `base:` as it
 * checks a scenario file. Self-contained: the scenario schema is embedded, not referenced.
 */
export function sweepJsonSchema(): unknown {
  const editorView = SweepSchema.extend({ base: z.union([BasePath, ScenarioSchema]) });
  const s = z.toJSONSchema(editorView, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return { ...s, title: "vpmu sweep" };
}
