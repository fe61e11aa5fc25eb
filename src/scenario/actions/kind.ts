import { z } from "zod";
import type { CompileContext, Path } from "../context.js";
import type { RunContext } from "../run-context.js";
import { CallExpect, Duration } from "../values.js";

/**
 * An action kind: one system call a scenario can make at a given time. Each kind lives in
 * its own file under src/scenario/actions/ with its schema, its compile-time checks, what it
 * does at run time and the words a report describes it with, and is listed in table.ts.
 */

/** The fields every action has, besides `do`. */
export const ActionCommon = {
  at: Duration,
  expect: CallExpect.optional(),
  label: z.string().optional(),
};

/** The schema of one kind: a strict object of the common fields, `do` and the kind's own. */
export type ActionSchema = z.ZodObject<z.core.$ZodShape, z.core.$strict>;

/** What a call returned: its return value (or -errno) and any data it gave back. */
export interface ActionOutcome {
  ret: number;
  data?: unknown;
}

/** The compile step of one action: the shared context, and its place in the file. */
export class ActionCompile {
  constructor(
    readonly ctx: CompileContext,
    readonly index: number,
  ) {}

  /** The path of a field of this action (`actions[i].<rest>`). */
  path(...rest: PropertyKey[]): Path {
    return ["actions", this.index, ...rest];
  }

  /** A problem at a field of this action (`[]`: the action itself). */
  err(rest: PropertyKey[], message: string, expected?: string): void {
    this.ctx.err(this.path(...rest), message, expected);
  }

  /** The field names a task (with `vcpuOk`, a vCPU thread `VM/vcpuN` too). */
  needTask(name: string | undefined, field: string, vcpuOk = false): void {
    this.ctx.needTask(name, this.path(field), vcpuOk);
  }

  /** The `vm` field names a VM. */
  needVm(name: string): void {
    this.ctx.needVm(name, this.path("vm"));
  }

  /** The field names an earlier perf_event_open. */
  needFd(name: string, field: string): void {
    if (!this.ctx.names.fds.has(name))
      this.err(
        [field],
        `no earlier perf_event_open named "${name}"`,
        "the name of an earlier open",
      );
  }

  /** The call exists on `arch` only. */
  needArch(arch: "x86_64" | "arm64", call: string, expected: string): void {
    const m = this.ctx.machine;
    if (m && m.arch !== arch)
      this.err(["do"], `${call} is an ${arch === "arm64" ? "arm64" : "x86"} call`, expected);
  }
}

/** One action kind, typed: `S` is its checked spec, `C` what its compile step makes of it. */
export interface TypedActionKind<T extends ActionSchema, C> {
  readonly schema: T;
  /** The call goes to KVM: a scenario with it creates KVM even without `vms`. */
  readonly kvm?: boolean;
  /** Names the action declares before any action compiles (vCPU threads it creates). */
  declare?(a: z.output<T>, ctx: CompileContext): void;
  /** Checks against the machine and the name tables, with defaults applied. */
  compile(a: z.output<T>, c: ActionCompile): C;
  /** Makes the call at its time. */
  execute(a: C, run: RunContext): ActionOutcome;
  /** The report's words for the call (the label when the action has none). */
  describe(a: z.output<T>): string;
}

/** An action kind as the table holds it (its types erased). */
export interface ActionKind {
  readonly schema: ActionSchema;
  /** The `do` values of this kind (one, or a family sharing one shape). */
  readonly names: readonly string[];
  readonly kvm: boolean;
  declare(a: { do: string }, ctx: CompileContext): void;
  compile(a: { do: string }, c: ActionCompile): unknown;
  execute(a: unknown, run: RunContext): ActionOutcome;
  describe(a: { do: string }): string;
}

/** Defines an action kind; its `do` values come from its schema. */
export function defineAction<T extends ActionSchema, C>(k: TypedActionKind<T, C>): ActionKind {
  const tag = k.schema.shape.do as z.ZodLiteral<string> | z.ZodEnum;
  return {
    kvm: false,
    declare: () => {},
    ...k,
    names: [...(tag._zod.values as Set<string>)],
  } as unknown as ActionKind;
}
