import type { ExpectationResult } from "../../report/result.js";
import type { RunContext } from "../run-context.js";
import { compare } from "./compare.js";
import type { ExpectationDecl } from "./compile.js";

/** Each expectation's subject read from the finished run, and compared. */
export function evaluateExpectations(
  list: readonly ExpectationDecl[],
  run: RunContext,
): ExpectationResult[] {
  return list.map((e) => {
    const observed = e.subject.observe(e.target, run);
    const truth = () => e.subject.truth(e.target, run);
    const { ok, expected } = compare(e.cmp, observed, truth);
    return { label: e.label, ok, observed, expected };
  });
}
