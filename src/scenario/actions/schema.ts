import { z } from "zod";
import type { ActionSchema } from "./kind.js";
import { ACTION_KINDS, ACTION_NAMES } from "./table.js";

/** `actions`: one entry, told apart by `do`, with the fields of its kind. */
export const Action = z.discriminatedUnion(
  "do",
  ACTION_KINDS.map((k) => k.schema) as unknown as [ActionSchema, ...ActionSchema[]] as never,
  { error: `an action: do must be one of ${ACTION_NAMES.join(", ")}` },
) as unknown as z.ZodType<ActionSpec>;

/** A checked action: its `do` and its kind's fields (each kind's file types them). */
export type ActionSpec = { do: string } & Record<string, unknown>;
