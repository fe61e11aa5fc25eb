import type { z } from "zod";
import type { CompileContext, Path } from "../context.js";
import type { RunContext } from "../run-context.js";

/**
 * An expectation subject: what an end-of-run check looks at (`truth`, `task`, `cpu`,
 * `event`, `vcpu`). Each lives in its own file under src/scenario/expect/ with its schema,
 * its compile-time checks, the words of its default label and how it reads its value from
 * the finished run, and is listed in table.ts.
 */

/** What an expectation's subject evaluates to (null when it does not exist). */
export type Observed = number | string | boolean | null;

/** The compile step of one expectation's subject: the context and its place in the file. */
export class SubjectCompile {
  constructor(
    readonly ctx: CompileContext,
    readonly index: number,
    readonly key: string,
  ) {}

  /** The path of a field of the subject (`expect[i].<key>.<rest>`). */
  path(...rest: PropertyKey[]): Path {
    return ["expect", this.index, this.key, ...rest];
  }

  err(rest: PropertyKey[], message: string, expected?: string): void {
    this.ctx.err(this.path(...rest), message, expected);
  }
}

/** One subject, typed: `C` is what its compile step makes of the subject as written. */
export interface TypedSubject<T extends z.ZodType, C> {
  /** The expectation's field that holds it. */
  readonly key: string;
  readonly schema: T;
  compile(s: z.output<T>, c: SubjectCompile): C;
  /** The subject's value is a time: comparison values may be durations. */
  isTime(s: z.output<T>): boolean;
  /** The subject has a ground truth to compare with (near_truth). */
  hasTruth?(s: z.output<T>): boolean;
  /** The label of an expectation that gives none. */
  describe(s: z.output<T>): string;
  /** The value at the end of the run. */
  observe(c: C, run: RunContext): Observed;
  /** The ground truth near_truth compares with, or null. */
  truth?(c: C, run: RunContext): number | null;
}

/** A subject as the table holds it (its types erased). */
export interface SubjectKind {
  readonly key: string;
  readonly schema: z.ZodType;
  compile(s: unknown, c: SubjectCompile): unknown;
  isTime(s: unknown): boolean;
  hasTruth(s: unknown): boolean;
  describe(s: unknown): string;
  observe(c: unknown, run: RunContext): Observed;
  truth(c: unknown, run: RunContext): number | null;
}

export function defineSubject<T extends z.ZodType, C>(k: TypedSubject<T, C>): SubjectKind {
  return { hasTruth: () => false, truth: () => null, ...k } as unknown as SubjectKind;
}
