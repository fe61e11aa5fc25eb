import type { RunResult, VariantRunResult, VariantsReport } from "./result.js";

/** The JSON report: the RunResult with stable key order, two-space indented. */
export function jsonReport(r: RunResult): string {
  return JSON.stringify(r, null, 2) + "\n";
}

/** The JSON report of a scenario with variants: `{ "variants": [{ name, description, set, result }] }`. */
export function variantsJsonReport(runs: VariantRunResult[]): string {
  const report: VariantsReport = { variants: runs };
  return JSON.stringify(report, null, 2) + "\n";
}
