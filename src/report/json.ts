import type { RunResult } from "./result.js";

/** The JSON report: the RunResult with stable key order, two-space indented. */
export function jsonReport(r: RunResult): string {
  return JSON.stringify(r, null, 2) + "\n";
}
