import { perfStatCsv } from "./perf-stat.js";
import type { RunResult, VariantRunResult } from "./result.js";

/** CSV output: every measurement in perf stat -x, field order, one block per measurement. */
export function csvReport(r: RunResult, sep = ","): string {
  return r.perf.map((m) => `# ${m.name}: ${m.target}\n${perfStatCsv(m, sep)}`).join("");
}

/** CSV output of a scenario with variants: each variant's blocks after a `# variant NAME` line. */
export function variantsCsvReport(runs: VariantRunResult[], sep = ","): string {
  return runs.map((v) => `# variant ${v.name}\n${csvReport(v.result, sep)}`).join("");
}
