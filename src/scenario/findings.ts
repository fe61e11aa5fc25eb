import { INVARIANT_RULES } from "../check/invariants.js";
import type { ExpectationResult, FindingResult } from "../report/result.js";
import type { CompileContext } from "./context.js";
import type { RunContext } from "./run-context.js";

/**
 * `expected_findings`: invariant rules the scenario expects the checker to report (a
 * scenario that shows a kernel bug). Run with the checker, each must show up; any other
 * finding is a failure.
 */

/** Compiles `expected_findings`: each is the name of an invariant rule. */
export function compileExpectedFindings(
  names: string[] | undefined,
  ctx: CompileContext,
): string[] {
  for (const [i, name] of (names ?? []).entries()) {
    if (!(INVARIANT_RULES as readonly string[]).includes(name)) {
      ctx.err(
        ["expected_findings", i],
        `"${name}" is not an invariant rule`,
        `one of: ${INVARIANT_RULES.join(", ")}`,
      );
    }
  }
  return names ?? [];
}

/** The checker's findings, each marked expected or not. */
export function findingResults(expected: readonly string[], run: RunContext): FindingResult[] {
  return (run.sys.invariants?.findings ?? []).map((f) => ({
    t_ns: f.t,
    rule: f.rule,
    cpu: f.cpu,
    subject: f.subject,
    before: f.before,
    after: f.after,
    message: f.message,
    expected: expected.includes(f.rule),
  }));
}

/** One check per expected rule, when the checker ran: at least one finding of it. */
export function expectedFindingChecks(
  expected: readonly string[],
  findings: readonly FindingResult[],
  run: RunContext,
): ExpectationResult[] {
  return (run.sys.invariants ? expected : []).map((rule) => {
    const hit = findings.some((f) => f.rule === rule);
    return {
      label: `invariant finding ${rule} (expected)`,
      ok: hit,
      observed: hit ? "found" : "none",
      expected: "at least one finding",
    };
  });
}
