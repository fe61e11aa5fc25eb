import { z } from "zod";
import { Percent } from "../values.js";
import { EXPECT_SUBJECTS } from "./table.js";

const Value = z.union([z.number(), z.string(), z.boolean()]);

/** The JSON Schema's order of the subjects (a subject not listed comes after them). */
const SCHEMA_ORDER = ["truth", "task", "cpu", "vcpu", "event"];
const rank = (key: string) => {
  const i = SCHEMA_ORDER.indexOf(key);
  return i < 0 ? SCHEMA_ORDER.length : i;
};

/** The subjects' fields: exactly one of them is given. */
const subjects = Object.fromEntries(
  [...EXPECT_SUBJECTS]
    .sort((a, b) => rank(a.key) - rank(b.key))
    .map((s) => [s.key, s.schema.optional()]),
);

/** `expect`: one subject and one comparison. */
export const Expectation = z.strictObject({
  label: z.string().optional(),
  /** Check only in this variant (a name under variants); without it, in every variant. */
  variant: z.string().optional(),
  ...subjects,
  // Comparators: exactly one of equals / approx / near_truth / one_of, or min and/or max.
  equals: Value.optional(),
  approx: z.union([z.number(), z.string()]).optional(),
  tolerance: Percent.optional(),
  min: z.union([z.number(), z.string()]).optional(),
  max: z.union([z.number(), z.string()]).optional(),
  one_of: z.array(Value).optional(),
  near_truth: Percent.optional(),
});

/** A checked expectation; its subject is one of the fields named by EXPECT_SUBJECTS. */
export type ExpectationSpec = z.output<typeof Expectation> & Record<string, unknown>;
