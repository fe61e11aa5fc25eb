import { isErrnoName } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import type { CompileContext } from "../context.js";
import type { CallExpectSpec } from "../values.js";
import { ActionCompile, type ActionKind } from "./kind.js";
import type { ActionSpec } from "./schema.js";
import { actionKind } from "./table.js";

/** A timed action, compiled: its kind, and what the kind's compile step made of it. */
export interface ActionDecl {
  /** Its place in the file. */
  index: number;
  at: Ns;
  do: string;
  /** The label as written, or the kind's description. */
  label: string;
  expect?: CallExpectSpec;
  kind: ActionKind;
  args: unknown;
}

/**
 * Compiles `actions`: each kind's checks, the time within the run and the expected result;
 * in order of time (file order at the same instant).
 */
export function compileActions(
  specs: readonly ActionSpec[] | undefined,
  ctx: CompileContext,
): ActionDecl[] {
  const list = specs ?? [];
  for (const a of list) actionKind(a.do).declare(a, ctx);
  return list
    .map((a, i) => compileAction(a, i, ctx))
    .sort((a, b) => a.at - b.at || a.index - b.index);
}

function compileAction(a: ActionSpec, i: number, ctx: CompileContext): ActionDecl {
  const c = new ActionCompile(ctx, i);
  const at = ctx.dur(a.at as string | number, c.path("at"), 0 as Ns);
  if (at > ctx.duration) c.err(["at"], "after the end of the run", `at most ${ctx.duration}ns`);
  const kind = actionKind(a.do);
  const args = kind.compile(a, c);
  const expect = a.expect as CallExpectSpec | undefined;
  if (expect) checkExpect(expect, c);
  const label = (a.label as string | undefined) ?? kind.describe(a);
  return { index: i, at, do: a.do, label, ...(expect ? { expect } : {}), kind, args };
}

/** Exactly one of ret, errno or ok; an errno by a name the kernel has. */
function checkExpect(e: CallExpectSpec, c: ActionCompile): void {
  if (Object.keys(e).length !== 1)
    c.err(["expect"], "give exactly one of ret, errno or ok", "one result");
  if (e.errno !== undefined && !isErrnoName(e.errno))
    c.err(["expect", "errno"], `unknown errno "${e.errno}"`, "an errno name such as EBUSY");
}
