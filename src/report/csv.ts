import { perfStatCsv } from "./perf-stat.js";
import type { RunResult } from "./result.js";

/** CSV output: every measurement in perf stat -x, field order, one block per measurement. */
export function csvReport(r: RunResult, sep = ","): string {
  return r.perf.map((m) => `# ${m.name}: ${m.target}\n${perfStatCsv(m, sep)}`).join("");
}
