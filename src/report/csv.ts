import { perfStatCsv } from "./perf-stat.js";
import type { RunResult } from "./result.js";

/** Options of the CSV output. */
export interface CsvOptions {
  /** Only this measurement (by name); all of them, one after the other, when omitted. */
  measurement?: string;
  /** Field separator (perf stat -x SEP); "," by default. */
  sep?: string;
}

/**
 * CSV output: each measurement's lines exactly as `perf stat -x SEP` prints them, nothing
 * else (no comment or header lines), in the scenario's order. A perf CSV consumer reads
 * one measurement's output unchanged; `--format json` carries names and everything else.
 */
export function csvReport(r: RunResult, opts: CsvOptions = {}): string {
  const ms = r.perf.filter((m) => opts.measurement === undefined || m.name === opts.measurement);
  return ms.map((m) => perfStatCsv(m, opts.sep ?? ",")).join("");
}
