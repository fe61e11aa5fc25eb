import { z } from "zod";
import { Name } from "../values.js";

/** A value a variant writes at a dotted path: a scalar or a whole list. */
const SetValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.unknown())], {
  error:
    "a string, number, boolean or list; to change a mapping, set each of its fields by its own dotted path",
});

/**
 * One variant of the scenario: the document with the values of `set` written at their dotted
 * paths (`kernel.profile`, `vms.0.perf.0.events` or `vms[0].perf[0].events`).
 */
export const VariantSpec = z.strictObject({
  name: Name,
  description: z.string().optional(),
  set: z.record(z.string().min(1).max(1000), SetValue).optional(),
});

export type VariantSpecFile = z.infer<typeof VariantSpec>;

/** Most variants one scenario may declare (a resource limit). */
export const MAX_VARIANTS = 16;

/** Most `set` entries one variant may have (a resource limit). */
export const MAX_VARIANT_SETS = 256;
