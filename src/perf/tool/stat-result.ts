/**
 * What a perf stat-like measurement reports: the `perf` entries of the JSON result
 * (src/report/result.ts, docs/json-output.md), defined here because the perf tool model
 * fills them and sits below the report layer.
 */

/** An event's attr as opened (format 1 addition): what perf's metrics pair events by. */
export interface CounterAttr {
  type: number;
  /** attr.config in hex ("0x3c"). */
  config: string;
  /** The exclude_* bits that are set, by name ("user", "kernel", "hv", "host", "guest", "idle"). */
  exclude: string[];
}

/**
 * One entry of perf stat's metric column (format 1 addition): `# 1.20  insn per cycle` is
 * value 1.2, unit "insn per cycle"; format is the printf format perf prints the value with.
 */
export interface MetricResult {
  value: number;
  format: string;
  unit: string;
}

/** One counter of a perf stat-like measurement. */
export interface CounterResult {
  event: string;
  /** The event's attr (format 1 addition). */
  attr?: CounterAttr;
  /** "msec" for the clock events perf prints in milliseconds (format 1 addition). */
  unit?: string;
  /** perf stat's metric column for this event, as perf 6.1 computes it (format 1 addition). */
  metrics?: MetricResult[];
  /** Aggregated over CPUs (system-wide) or the task. */
  count: number;
  enabled_ns: number;
  running_ns: number;
  /**
   * perf's scaled count: the counts, enabled and running times summed over CPUs, then
   * count * enabled / running truncated; null when not counted.
   */
  scaled: number | null;
  /** "counted" | "not counted" | "not supported" */
  status: string;
  /** Ground truth for the same filter and target. */
  truth: number;
  /** perf record: samples taken (count is then perf report's approximate event count). */
  samples?: number;
  /** Per CPU for system-wide measurements. */
  per_cpu?: Array<{
    cpu: number;
    count: number;
    enabled_ns: number;
    running_ns: number;
    state: string;
  }>;
  state: string;
}

export interface MeasurementResult {
  name: string;
  target: string;
  start_ns: number;
  stop_ns: number;
  counters: CounterResult[];
  intervals: Array<{
    t_ns: number;
    counters: Array<{
      event: string;
      count: number;
      enabled_ns: number;
      running_ns: number;
      /** The interval's scaled count (format 1 addition); null when not counted. */
      scaled?: number | null;
      unit?: string;
      metrics?: MetricResult[];
    }>;
  }>;
  error?: string;
  /** Lines perf prints on stderr before the counts (such as a group it broke up). */
  warnings?: string[];
}
