import { z } from "zod";

/**
 * The value types every section uses (docs/scenario-format.md, "Common value types"):
 * durations, CPU lists, names, tolerances, and the result a call is expected to have.
 */

const DURATION_RE = /^\s*\d+(\.\d+)?\s*(ns|us|µs|ms|s)\s*$/;

/** A duration: `250ms`, `1.5s`, `100us`, `20ns`, or an integer number of nanoseconds. */
export const Duration = z.union([z.string().regex(DURATION_RE), z.number().int().nonnegative()], {
  error: "a duration such as 250ms, 1.5s, 100us or an integer number of ns",
});

/** A CPU list: `0-3,6`, a single CPU number, or `all`. */
export const CpuList = z.union(
  [
    z.string().regex(/^\s*(all|\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*)\s*$/),
    z.number().int().nonnegative(),
  ],
  {
    error: 'a CPU list such as "0-3,6", a CPU number, or "all"',
  },
);

/** A tolerance: an absolute number or a percentage. */
export const Percent = z.union(
  [z.string().regex(/^\s*\d+(\.\d+)?\s*%\s*$/), z.number().nonnegative()],
  {
    error: 'a tolerance: an absolute number or a percentage such as "2%"',
  },
);

/** A fraction between 0 and 1. */
export const Ratio = z.number().min(0).max(1);

/** A name of letters, digits, `_`, `.` and `-`, starting with a letter or `_`. */
export const Name = z.string().regex(/^[A-Za-z_][\w.-]*$/, {
  error: "a name of letters, digits, _ . -",
});

/** The result a call should have: exactly one of `ret`, `errno` or `ok`. */
export const CallExpect = z.strictObject({
  ret: z.number().int().optional(),
  errno: z
    .string()
    .regex(/^E[A-Z0-9]+$/, { error: "an errno name such as EBUSY" })
    .optional(),
  ok: z.boolean().optional(),
});

/** A call's expected result, as written. */
export type CallExpectSpec = z.infer<typeof CallExpect>;

/** An event list entry of a KVM event filter: a number, or a hex string above 2^53. */
export const FilterEvent = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\s*0x[0-9a-fA-F]{1,16}\s*$/),
]);

/** Splits "cycles,{a,b},c" at top-level commas (braces and slashes group). */
export function splitEvents(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let slash = false;
  let cur = "";
  for (const ch of s) {
    if (ch === "{") depth++;
    if (ch === "}") depth--;
    if (ch === "/") slash = !slash;
    if (ch === "," && depth === 0 && !slash) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur.trim() !== "") out.push(cur);
  return out;
}

/** An event list as written (a string or a list), as trimmed names. */
export function eventNames(events: string | string[]): string[] {
  return (Array.isArray(events) ? events : splitEvents(events)).map((e) => e.trim());
}

/** A KVM event filter's event entries: hex strings (values above 2^53) as bigints. */
export function filterEvents(events: ReadonlyArray<number | string>): Array<number | bigint> {
  return events.map((e) => (typeof e === "string" ? BigInt(e.trim()) : e));
}

/** A filter action by name (KVM_PMU_EVENT_ALLOW 0, KVM_PMU_EVENT_DENY 1) or number. */
export function filterAction(action: "allow" | "deny" | number): number {
  return action === "allow" ? 0 : action === "deny" ? 1 : action;
}
