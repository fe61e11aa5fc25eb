import type { CompileContext } from "../context.js";
import { type Comparator, compileComparison } from "./compare.js";
import type { ExpectationSpec } from "./schema.js";
import { SubjectCompile, type SubjectKind } from "./subject.js";
import { EXPECT_SUBJECTS } from "./table.js";

/** An end-of-run expectation, compiled: its subject, and the comparison to make. */
export interface ExpectationDecl {
  index: number;
  label: string;
  subject: SubjectKind;
  /** What the subject's compile step made of it. */
  target: unknown;
  cmp: Comparator;
}

/**
 * Compiles `expect`: each one has exactly one subject and one comparison. An expectation
 * for a variant is checked by that variant alone (the document checks the name).
 */
export function compileExpectations(
  specs: readonly ExpectationSpec[] | undefined,
  ctx: CompileContext,
): ExpectationDecl[] {
  return (specs ?? []).flatMap((e, i) => {
    const d = compileExpectation(e, i, ctx);
    return d ? [d] : [];
  });
}

function compileExpectation(
  e: ExpectationSpec,
  i: number,
  ctx: CompileContext,
): ExpectationDecl | undefined {
  if (e.variant !== undefined && !forThisVariant(e.variant, i, ctx)) return undefined;
  const given = EXPECT_SUBJECTS.filter((s) => e[s.key] !== undefined);
  if (given.length !== 1) {
    ctx.err(
      ["expect", i],
      given.length === 0
        ? "no subject"
        : `several subjects (${given.map((s) => s.key).join(", ")})`,
      `exactly one of ${EXPECT_SUBJECTS.map((s) => s.key).join(", ")}`,
    );
    return undefined;
  }
  const subject = given[0]!;
  const spec = e[subject.key];
  const target = subject.compile(spec, new SubjectCompile(ctx, i, subject.key));
  const traits = { isTime: subject.isTime(spec), hasTruth: subject.hasTruth(spec) };
  const cmp = compileComparison(e, traits, ["expect", i], ctx);
  if (!cmp) return undefined;
  return { index: i, label: e.label ?? subject.describe(spec), subject, target, cmp };
}

/** Whether this compile checks the expectation of variant `name` (which must exist). */
function forThisVariant(name: string, i: number, ctx: CompileContext): boolean {
  const variants = ctx.names.variants;
  // The document as written checks the name; each variant checks its own expectations.
  if (ctx.variant === undefined && !variants.has(name)) {
    ctx.err(
      ["expect", i, "variant"],
      `unknown variant "${name}"`,
      variants.size ? `one of: ${[...variants].join(", ")}` : "a name declared under variants",
    );
  }
  return name === ctx.variant;
}
