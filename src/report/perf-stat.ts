import { formatSeconds } from "../sim/time.js";
import { padL, padR, thousands } from "./format.js";
import type { CounterResult, MeasurementResult } from "./result.js";

/** perf's column widths (tools/perf/util/stat-display.c). */
const COUNTS_LEN = 18;
const EVNAME_LEN = 32;
const METRIC_LEN = 38;

/** Options of the perf stat layout. */
export interface PerfStatOptions {
  /** Append the ground truth and the relative error of each scaled value. */
  truth: boolean;
}

/** One counter line in perf stat's std layout. */
export function perfStatLine(c: CounterResult, opts: PerfStatOptions, prefix = ""): string {
  let value: string;
  if (c.status === "not supported") value = padL("<not supported>", COUNTS_LEN);
  else if (c.status === "not counted" || c.scaled === null)
    value = padL("<not counted>", COUNTS_LEN);
  else value = padL(thousands(c.scaled), COUNTS_LEN);
  let line = `${prefix}${value}      ${padR(c.event, EVNAME_LEN)}`;
  line +=
    c.samples !== undefined
      ? padR(`  # ${thousands(c.samples)} samples`, METRIC_LEN)
      : " ".repeat(METRIC_LEN);
  if (
    c.samples === undefined &&
    c.scaled !== null &&
    c.running_ns !== c.enabled_ns &&
    c.enabled_ns > 0
  ) {
    line += `  (${((100 * c.running_ns) / c.enabled_ns).toFixed(2)}%)`;
  }
  if (opts.truth) {
    const err =
      c.scaled !== null && c.truth > 0
        ? `${(((c.scaled - c.truth) / c.truth) * 100).toFixed(2)}%`
        : "n/a";
    line += `  [truth ${thousands(c.truth)}, error ${err}]`;
  }
  return line.trimEnd();
}

/** A whole measurement as perf stat prints it. */
export function perfStatText(m: MeasurementResult, opts: PerfStatOptions): string {
  const out: string[] = [];
  out.push(` Performance counter stats for ${m.target} [${m.name}]:`);
  out.push("");
  if (m.error) {
    out.push(`  Error: ${m.error}`);
    out.push("");
    return out.join("\n") + "\n";
  }
  for (const iv of m.intervals) {
    for (const c of iv.counters) {
      const scaled = c.running_ns > 0 ? (c.count * c.enabled_ns) / c.running_ns : null;
      const fake: CounterResult = {
        event: c.event,
        count: c.count,
        enabled_ns: c.enabled_ns,
        running_ns: c.running_ns,
        scaled,
        status: scaled === null ? "not counted" : "counted",
        truth: 0,
        state: "",
      };
      out.push(perfStatLine(fake, { truth: false }, `${padL(formatSeconds(iv.t_ns), 15)} `));
    }
  }
  if (m.intervals.length > 0) out.push("");
  for (const c of m.counters) out.push(perfStatLine(c, opts));
  out.push("");
  out.push(`${padL(formatSeconds(m.stop_ns - m.start_ns), 18)} seconds time elapsed`);
  out.push("");
  return out.join("\n") + "\n";
}

/** perf stat -x, (CSV) lines: value, unit, event, run time, percentage running. */
export function perfStatCsv(m: MeasurementResult, sep = ","): string {
  const lines: string[] = [];
  for (const iv of m.intervals) {
    for (const c of iv.counters) {
      const pct = c.enabled_ns > 0 ? ((100 * c.running_ns) / c.enabled_ns).toFixed(2) : "0.00";
      const v =
        c.running_ns > 0
          ? String(Math.round((c.count * c.enabled_ns) / c.running_ns))
          : "<not counted>";
      lines.push(
        [formatSeconds(iv.t_ns), v, "", c.event, String(c.running_ns), pct, "", ""].join(sep),
      );
    }
  }
  for (const c of m.counters) {
    const pct = c.enabled_ns > 0 ? ((100 * c.running_ns) / c.enabled_ns).toFixed(2) : "0.00";
    const v =
      c.status === "not supported"
        ? "<not supported>"
        : c.scaled === null
          ? "<not counted>"
          : String(Math.round(c.scaled));
    lines.push([v, "", c.event, String(c.running_ns), pct, "", ""].join(sep));
  }
  return lines.join("\n") + "\n";
}
