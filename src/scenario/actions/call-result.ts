import type { ActionResult } from "../../report/result.js";
import { errnoName } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import type { CallExpectSpec } from "../values.js";
import type { ActionOutcome } from "./kind.js";

/** Whether a call's return value is the one `exp` asks for. */
export function callMatches(exp: CallExpectSpec, ret: number): boolean {
  if (exp.errno !== undefined) return ret < 0 && errnoName(ret) === exp.errno;
  if (exp.ret !== undefined) return ret === exp.ret;
  if (exp.ok !== undefined) return ret >= 0 === exp.ok;
  return true;
}

/**
 * A call's entry in the result (an action's, or one a VMM flow made): what it returned,
 * and whether that is what the scenario expected.
 */
export function callResult(
  at: Ns,
  name: string,
  label: string,
  outcome: ActionOutcome,
  expect: CallExpectSpec | undefined,
): ActionResult {
  const ret = outcome.ret;
  const out: ActionResult = {
    at_ns: at,
    do: name,
    label,
    result: ret < 0 ? { errno: errnoName(ret) ?? String(ret) } : { ret },
  };
  if (outcome.data !== undefined) out.data = outcome.data;
  if (expect) {
    out.expected = expect;
    out.ok = callMatches(expect, ret);
  }
  return out;
}
