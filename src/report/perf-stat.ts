import { cFixed, cFormat, groupedFixed, padL, padR, thousands } from "./format.js";
import type { CounterResult, MeasurementResult, MetricResult as StatMetric } from "./result.js";

/**
 * perf stat's output as perf 6.1 prints it (tools/perf/util/stat-display.c of that
 * release) for the default aggregation (one line per event over all CPUs), with the
 * en_US locale's digit grouping; interval measurements print as `-I N --summary` does.
 */

/** printout(): the count column, `%18s`. */
const COUNTS_LEN = 18;
/** stat_config.unit_width: the longest unit among the events ("msec"), at least 4. */
const UNIT_WIDTH = 4;
/** abs_printout(): a counted event's name column. */
const EVNAME_LEN = 32;
/** printout(): the name column of a `<not counted>` / `<not supported>` event. */
const NOT_COUNTED_EVNAME_LEN = 25;
/** print_metric_std(): the metric column. */
const METRIC_LEN = 35;
/** do_new_line_std(): the indent of a second metric line. */
const METRIC_CONTINUATION = " ".repeat(49);
/** print_interval(): the header repeats every 25 intervals. */
const INTERVAL_HEADER_EVERY = 25;

/** Options of the perf stat layout. */
export interface PerfStatOptions {
  /** Append the ground truth and the relative error of each scaled value. */
  truth: boolean;
}

/** One line's worth of values, for the totals and for an interval alike. */
interface Row {
  event: string;
  /** perf's aggregated count after scaling (nanoseconds for clock events). */
  value: number;
  enabled_ns: number;
  running_ns: number;
  notCounted: boolean;
  notSupported: boolean;
  clock: boolean;
  metrics: StatMetric[];
}

/** The fields a total and an interval line share. */
type RowSource = Pick<CounterResult, "event" | "enabled_ns" | "running_ns" | "unit" | "metrics"> & {
  scaled?: number | null;
  status?: string;
};

function rowOf(c: RowSource): Row {
  const notSupported = c.status === "not supported";
  const scaled = c.scaled ?? null;
  return {
    event: c.event,
    value: scaled ?? 0,
    enabled_ns: notSupported ? 0 : c.enabled_ns,
    running_ns: notSupported ? 0 : c.running_ns,
    notCounted: scaled === null || c.running_ns === 0 || c.enabled_ns === 0,
    notSupported,
    clock: c.unit === "msec",
    metrics: c.metrics ?? [],
  };
}

function intervalRows(iv: MeasurementResult["intervals"][number]): Row[] {
  return iv.counters.map(rowOf);
}

/** print_metric_std(): ` # ` value and unit in METRIC_LEN columns, or blanks. */
function metricStd(m: StatMetric | undefined): string {
  if (!m) return " ".repeat(METRIC_LEN);
  const head = ` # ${cFormat(m.format, m.value)}`;
  return `${head} ${padR(m.unit, METRIC_LEN - head.length - 1)}`;
}

/** print_running_std(): the share of enabled time the event ran, when it is not all. */
function runningStd(r: Row): string {
  return r.running_ns !== r.enabled_ns
    ? `  (${cFixed((100 * r.running_ns) / r.enabled_ns, 2)}%)`
    : "";
}

/** One event in the std layout (printout(), abs_printout()). */
function lineStd(r: Row, prefix: string): string {
  const unit = padR(r.clock ? "msec" : "", UNIT_WIDTH);
  if (r.notCounted || r.notSupported) {
    const what = r.notSupported ? "<not supported>" : "<not counted>";
    return `${prefix}${padL(what, COUNTS_LEN)} ${unit} ${padR(r.event, NOT_COUNTED_EVNAME_LEN)}${metricStd(undefined)}${runningStd(r)}`;
  }
  // The count is value * the event's scale: 1e-6 (msec) for clocks, printed with 2 decimals.
  const count = r.clock ? groupedFixed(r.value * 1e-6, 2) : groupedFixed(r.value, 0);
  let line = `${prefix}${padL(count, COUNTS_LEN)} ${unit} ${padR(r.event, EVNAME_LEN)}`;
  line += metricStd(r.metrics[0]);
  for (const m of r.metrics.slice(1)) line += `\n${prefix}${METRIC_CONTINUATION}${metricStd(m)}`;
  return line + runningStd(r);
}

function truthSuffix(c: CounterResult): string {
  const err =
    c.scaled !== null && c.truth > 0
      ? `${(((c.scaled - c.truth) / c.truth) * 100).toFixed(2)}%`
      : "n/a";
  return `  [truth ${thousands(c.truth)}, error ${err}]`;
}

/** A counter line in perf stat's std layout, with vpmu's truth after it when asked. */
export function perfStatLine(c: CounterResult, opts: PerfStatOptions, prefix = ""): string {
  if (c.samples !== undefined) {
    // perf record's counts (perf report -n style): vpmu's own line.
    const line = `${prefix}${padL(thousands(c.scaled ?? 0), COUNTS_LEN)}      ${padR(c.event, EVNAME_LEN)}  # ${thousands(c.samples)} samples`;
    return opts.truth ? line + truthSuffix(c) : line;
  }
  const line = lineStd(rowOf(c), prefix);
  return opts.truth ? line + truthSuffix(c) : line;
}

/** print_interval()'s time prefix, `%6lu.%09lu` and the separator. */
function intervalPrefix(tNs: number, sep: string): string {
  const s = Math.floor(tNs / 1e9);
  const ns = Math.round(tNs - s * 1e9);
  return `${padL(String(s), 6)}.${String(ns).padStart(9, "0")}${sep}`;
}

/**
 * What perf's header names: the host's target as perf prints it, or for a measurement in a
 * guest, the guest CPU it covers (`perf stat -C N` inside the guest).
 */
function headerTarget(m: MeasurementResult): string {
  const guest = /^guest [^/]+\/vcpu(\d+)/.exec(m.target);
  return guest ? `'CPU(s) ${guest[1]}'` : m.target;
}

/** vpmu's title line of a measurement: its name and where it ran. */
export function measurementTitle(m: MeasurementResult): string {
  const tool = m.counters.some((c) => c.samples !== undefined) ? "perf record" : "perf stat";
  const where = m.target.startsWith("guest ") ? `in ${m.target}` : "on the host";
  return `Measurement ${m.name}: ${tool} ${where}`;
}

/**
 * A whole measurement as perf stat prints it (on stderr): perf's warnings about the event
 * list, then from its blank line on.
 */
export function perfStatText(m: MeasurementResult, opts: PerfStatOptions): string {
  const out: string[] = [...(m.warnings ?? [])];
  m.intervals.forEach((iv, k) => {
    if (k % INTERVAL_HEADER_EVERY === 0)
      out.push(`#           time             counts ${padL("unit", UNIT_WIDTH)} events`);
    for (const r of intervalRows(iv)) out.push(lineStd(r, intervalPrefix(iv.t_ns, " ")));
  });
  out.push("");
  out.push(` Performance counter stats for ${headerTarget(m)}:`);
  out.push("");
  if (m.error) {
    out.push(`  Error: ${m.error}`);
    out.push("");
    return `${out.join("\n")}\n`;
  }
  for (const c of m.counters) out.push(perfStatLine(c, opts));
  out.push("");
  out.push(` ${padL(cFixed((m.stop_ns - m.start_ns) / 1e9, 9), 17)} seconds time elapsed`);
  out.push("");
  return `${out.join("\n")}\n`;
}

/** print_metric_csv(): the value as printed, cut before its first non-digit, and the unit. */
function metricCsv(m: StatMetric | undefined, sep: string): string {
  if (!m) return `${sep}${sep}`;
  const printed = cFormat(m.format, m.value).trimStart();
  const value = /^[0-9.]*/.exec(printed)![0];
  return `${sep}${value}${sep}${m.unit.trimStart()}`;
}

/** print_running_csv(): running time and the percentage in u64 integer arithmetic. */
function runningCsv(r: Row, sep: string): string {
  const pct = r.running_ns !== r.enabled_ns ? Math.floor((100 * r.running_ns) / r.enabled_ns) : 100;
  return `${sep}${r.running_ns}${sep}${cFixed(pct, 2)}`;
}

function lineCsv(r: Row, prefix: string, sep: string): string {
  const unit = r.clock ? "msec" : "";
  if (r.notCounted || r.notSupported) {
    const what = r.notSupported ? "<not supported>" : "<not counted>";
    return `${prefix}${what}${sep}${unit}${sep}${r.event}${runningCsv(r, sep)}${metricCsv(undefined, sep)}`;
  }
  const count = r.clock ? cFixed(r.value * 1e-6, 2) : cFixed(r.value, 0);
  let line = `${prefix}${count}${sep}${unit}${sep}${r.event}${runningCsv(r, sep)}`;
  line += metricCsv(r.metrics[0], sep);
  // new_line_csv(): a further metric goes on its own line after the empty leading fields.
  for (const m of r.metrics.slice(1)) line += `\n${prefix}${sep.repeat(3)}${metricCsv(m, sep)}`;
  return line;
}

/**
 * perf stat -x SEP lines: value, unit, event, run time, percentage running, metric value,
 * metric unit. Interval lines start with the time; the totals after them with `summary`.
 */
export function perfStatCsv(m: MeasurementResult, sep = ","): string {
  const lines: string[] = [];
  for (const iv of m.intervals)
    for (const r of intervalRows(iv)) lines.push(lineCsv(r, intervalPrefix(iv.t_ns, sep), sep));
  const summary = m.intervals.length > 0 ? `${padL("summary", 16)}${sep}` : "";
  for (const c of m.counters) lines.push(lineCsv(rowOf(c), summary, sep));
  return lines.length ? `${lines.join("\n")}\n` : "";
}
