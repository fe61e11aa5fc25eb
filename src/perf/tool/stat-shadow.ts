import { PERF_COUNT_HW } from "../../hw/pmu-desc.js";
import {
  PERF_COUNT_SW_CPU_CLOCK,
  PERF_COUNT_SW_TASK_CLOCK,
  PERF_TYPE_HARDWARE,
  PERF_TYPE_HW_CACHE,
  PERF_TYPE_SOFTWARE,
} from "../uapi.js";
import type { CounterAttr } from "./stat-result.js";

/**
 * perf stat's "shadow" metrics, the `# 1.20  insn per cycle` column, as perf 6.1 computes
 * them (tools/perf/util/stat-shadow.c of that release) for the default aggregation (one
 * value per event over all CPUs). Each event's aggregated, scaled count first updates a
 * running mean keyed by its kind and by its privilege context; then each event's metric is
 * looked up against the others. Clock events key by kind only.
 */

/** The identity of an event as perf's metrics see it. */
export interface ShadowEvent {
  type: number;
  /** attr.config; only the low 32 bits count (the PMU type above them is ignored). */
  config: bigint;
  excludeUser?: boolean;
  excludeKernel?: boolean;
  excludeHv?: boolean;
  excludeHost?: boolean;
  excludeIdle?: boolean;
}

/** One counter's aggregated values for the metrics. */
export interface ShadowCounter {
  ev: ShadowEvent;
  /** perf's aggregated count after scaling (0 when not counted); nanoseconds for clocks. */
  value: number;
  /** The event could not be opened anywhere: it feeds no metric. */
  unsupported?: boolean;
}

/**
 * One printed metric: the value, perf's printf format for it, and its unit text. A
 * counter can print several (each after the first on a continuation line).
 */
export interface StatMetric {
  value: number;
  /** printf format as perf passes it ("%7.2f ", "%8.3f", "%7.2f%%", "%8.3f %%"). */
  format: string;
  unit: string;
}

/** What the metric column shows for one counter: nothing, or metrics. */
export type StatMetrics = StatMetric[];

/** perf's stat_type values that vpmu's events can feed. */
type Stat =
  | "nsecs"
  | "cycles"
  | "stalled_front"
  | "stalled_back"
  | "branches"
  | "cacherefs"
  | "l1d"
  | "l1i"
  | "ll"
  | "dtlb"
  | "itlb";

const HW_EVENT_MASK = 0xffffffffn;
/** HW_CACHE config of `<cache>-load-misses`: id | OP_READ << 8 | RESULT_MISS << 16. */
const cacheReadMiss = (id: number) => BigInt(id) | (0n << 8n) | (1n << 16n);
const CACHE = { L1D: 0, L1I: 1, LL: 2, DTLB: 3, ITLB: 4 } as const;

function isHw(ev: ShadowEvent, type: number, config: number): boolean {
  return ev.type === type && (ev.config & HW_EVENT_MASK) === BigInt(config);
}

/** perf: evsel__is_clock(), cpu-clock or task-clock. */
export function isClockEvent(ev: { type: number; config: bigint }): boolean {
  return (
    ev.type === PERF_TYPE_SOFTWARE &&
    (ev.config === BigInt(PERF_COUNT_SW_CPU_CLOCK) ||
      ev.config === BigInt(PERF_COUNT_SW_TASK_CLOCK))
  );
}

/** perf's evsel_context(): the exclude bits that keep two events' metrics apart. */
function context(ev: ShadowEvent): number {
  return (
    (ev.excludeKernel ? 1 : 0) |
    (ev.excludeUser ? 2 : 0) |
    (ev.excludeHv ? 4 : 0) |
    (ev.excludeHost ? 8 : 0) |
    (ev.excludeIdle ? 16 : 0)
  );
}

/** The stat an event updates (perf_stat__update_shadow_stats()), if any. */
function statOf(ev: ShadowEvent): Stat | null {
  if (isClockEvent(ev)) return "nsecs";
  const H = PERF_COUNT_HW;
  if (isHw(ev, PERF_TYPE_HARDWARE, H.CPU_CYCLES)) return "cycles";
  if (isHw(ev, PERF_TYPE_HARDWARE, H.STALLED_CYCLES_FRONTEND)) return "stalled_front";
  if (isHw(ev, PERF_TYPE_HARDWARE, H.STALLED_CYCLES_BACKEND)) return "stalled_back";
  if (isHw(ev, PERF_TYPE_HARDWARE, H.BRANCH_INSTRUCTIONS)) return "branches";
  if (isHw(ev, PERF_TYPE_HARDWARE, H.CACHE_REFERENCES)) return "cacherefs";
  if (isHw(ev, PERF_TYPE_HW_CACHE, CACHE.L1D)) return "l1d";
  if (isHw(ev, PERF_TYPE_HW_CACHE, CACHE.L1I)) return "l1i";
  if (isHw(ev, PERF_TYPE_HW_CACHE, CACHE.LL)) return "ll";
  if (isHw(ev, PERF_TYPE_HW_CACHE, CACHE.DTLB)) return "dtlb";
  if (isHw(ev, PERF_TYPE_HW_CACHE, CACHE.ITLB)) return "itlb";
  return null;
}

/** The running means of one aggregation (perf's runtime_stat). */
class RuntimeStat {
  private readonly sums = new Map<string, { sum: number; n: number }>();

  private key(stat: Stat, ctx: number): string {
    // saved_value_lookup(): clock events ignore the context.
    return `${stat}/${stat === "nsecs" ? 0 : ctx}`;
  }

  update(stat: Stat, ctx: number, v: number): void {
    const k = this.key(stat, ctx);
    const s = this.sums.get(k);
    if (s) {
      s.sum += v;
      s.n++;
    } else this.sums.set(k, { sum: v, n: 1 });
  }

  avg(stat: Stat, ctx: number): number {
    const s = this.sums.get(this.key(stat, ctx));
    return s ? s.sum / s.n : 0;
  }

  n(stat: Stat, ctx: number): number {
    return this.sums.get(this.key(stat, ctx))?.n ?? 0;
  }
}

/** convert_unit_double(): 1000 steps to K, M, G. */
function convertUnit(v: number): { v: number; unit: string } {
  let unit = "";
  for (const u of ["K", "M", "G"]) {
    if (v <= 1000) break;
    v /= 1000;
    unit = u;
  }
  return { v, unit };
}

const metric = (value: number, format: string, unit: string): StatMetric => ({
  value,
  format,
  unit,
});

/** A miss ratio against its total (print_branch_misses() and the cache variants). */
function ratioOf(st: RuntimeStat, stat: Stat, ctx: number, avg: number, unit: string): StatMetrics {
  if (st.n(stat, ctx) === 0) return [];
  const total = st.avg(stat, ctx);
  return [metric(total ? (avg / total) * 100 : 0, "%7.2f%%", unit)];
}

const CACHE_MISS_METRICS: Array<[number, Stat, string]> = [
  [CACHE.L1D, "l1d", "of all L1-dcache accesses"],
  [CACHE.L1I, "l1i", "of all L1-icache accesses"],
  [CACHE.DTLB, "dtlb", "of all dTLB cache accesses"],
  [CACHE.ITLB, "itlb", "of all iTLB cache accesses"],
  [CACHE.LL, "ll", "of all LL-cache accesses"],
];

/** The metrics of one event (perf_stat__print_shadow_stats()); avg is its printed value. */
function metricsOf(st: RuntimeStat, ev: ShadowEvent, avg: number, walltimeNs: number): StatMetrics {
  const ctx = context(ev);
  const H = PERF_COUNT_HW;
  if (isHw(ev, PERF_TYPE_HARDWARE, H.INSTRUCTIONS)) {
    const cycles = st.avg("cycles", ctx);
    if (!cycles) return [];
    const out = [metric(avg / cycles, "%7.2f ", "insn per cycle")];
    const stalled = Math.max(st.avg("stalled_front", ctx), st.avg("stalled_back", ctx));
    if (stalled && avg) out.push(metric(stalled / avg, "%7.2f ", "stalled cycles per insn"));
    return out;
  }
  if (isHw(ev, PERF_TYPE_HARDWARE, H.BRANCH_MISSES))
    return ratioOf(st, "branches", ctx, avg, "of all branches");
  if (ev.type === PERF_TYPE_HW_CACHE) {
    for (const [id, stat, unit] of CACHE_MISS_METRICS)
      if ((ev.config & HW_EVENT_MASK) === cacheReadMiss(id))
        return ratioOf(st, stat, ctx, avg, unit);
  }
  if (isHw(ev, PERF_TYPE_HARDWARE, H.CACHE_MISSES)) {
    if (st.n("cacherefs", ctx) === 0) return [];
    const total = st.avg("cacherefs", ctx);
    return [metric(total ? (avg * 100) / total : 0, "%8.3f %%", "of all cache refs")];
  }
  if (isHw(ev, PERF_TYPE_HARDWARE, H.STALLED_CYCLES_FRONTEND)) {
    const total = st.avg("cycles", ctx);
    const ratio = total ? (avg / total) * 100 : 0;
    return ratio ? [metric(ratio, "%7.2f%%", "frontend cycles idle")] : [];
  }
  if (isHw(ev, PERF_TYPE_HARDWARE, H.STALLED_CYCLES_BACKEND)) {
    const total = st.avg("cycles", ctx);
    return [metric(total ? (avg / total) * 100 : 0, "%7.2f%%", "backend cycles idle")];
  }
  if (isHw(ev, PERF_TYPE_HARDWARE, H.CPU_CYCLES)) {
    const ns = st.avg("nsecs", ctx);
    return ns ? [metric(avg / ns, "%8.3f", "GHz")] : [];
  }
  if (isClockEvent(ev)) {
    // avg is in msec (the clock's scale 1e-6); CPUs utilized = clock time / wall time.
    return walltimeNs ? [metric(avg / (walltimeNs * 1e-6), "%8.3f", "CPUs utilized")] : [];
  }
  if (st.n("nsecs", ctx) !== 0) {
    const ns = st.avg("nsecs", ctx);
    const r = ns ? convertUnit((1e9 * avg) / ns) : { v: 0, unit: "" };
    return [metric(r.v, "%8.3f", `${r.unit}/sec`)];
  }
  return [];
}

/**
 * The metric column of every counter of one measurement (or one interval): `counters` in
 * print order with their aggregated scaled values, `walltimeNs` the measured wall time.
 */
export function shadowMetrics(
  counters: readonly ShadowCounter[],
  walltimeNs: number,
): StatMetrics[] {
  const st = new RuntimeStat();
  for (const c of counters) {
    if (c.unsupported) continue;
    const stat = statOf(c.ev);
    if (stat) st.update(stat, context(c.ev), c.value);
  }
  return counters.map((c) =>
    metricsOf(st, c.ev, isClockEvent(c.ev) ? c.value * 1e-6 : c.value, walltimeNs),
  );
}

/** The attr fields the result carries for an event (CounterAttr). */
export function counterAttr(attr: {
  type: number;
  config?: bigint | number;
  exclude_user?: boolean;
  exclude_kernel?: boolean;
  exclude_hv?: boolean;
  exclude_host?: boolean;
  exclude_guest?: boolean;
  exclude_idle?: boolean;
}): CounterAttr {
  const exclude: string[] = [];
  if (attr.exclude_user) exclude.push("user");
  if (attr.exclude_kernel) exclude.push("kernel");
  if (attr.exclude_hv) exclude.push("hv");
  if (attr.exclude_host) exclude.push("host");
  if (attr.exclude_guest) exclude.push("guest");
  if (attr.exclude_idle) exclude.push("idle");
  return { type: attr.type, config: `0x${BigInt(attr.config ?? 0).toString(16)}`, exclude };
}

function shadowEvent(a: CounterAttr): ShadowEvent {
  return {
    type: a.type,
    config: BigInt(a.config),
    excludeUser: a.exclude.includes("user"),
    excludeKernel: a.exclude.includes("kernel"),
    excludeHv: a.exclude.includes("hv"),
    excludeHost: a.exclude.includes("host"),
    excludeIdle: a.exclude.includes("idle"),
  };
}

/** perf_counts_values__scale(): count * enabled / running, truncated; null if it never ran. */
export function perfScaled(count: number, enabledNs: number, runningNs: number): number | null {
  if (runningNs === 0) return null;
  return runningNs < enabledNs ? Math.trunc((count * enabledNs) / runningNs) : count;
}

/** A counter line's fields that feed and receive the metrics. */
interface MetricRow {
  attr?: CounterAttr;
  scaled?: number | null;
  status?: string;
  unit?: string;
  metrics?: StatMetric[];
}

/**
 * Fills `unit` and `metrics` of each counter of one measurement or interval from their
 * attrs and scaled counts, as perf stat does before it prints. Counters without an attr
 * (a PMU event perf cannot classify) get no metric and feed none.
 */
export function attachMetrics(rows: MetricRow[], walltimeNs: number): void {
  const withAttr = rows.filter((r) => r.attr);
  const metrics = shadowMetrics(
    withAttr.map((r) => ({
      ev: shadowEvent(r.attr!),
      value: r.scaled ?? 0,
      unsupported: r.status === "not supported",
    })),
    walltimeNs,
  );
  withAttr.forEach((r, k) => {
    if (isClockEvent(shadowEvent(r.attr!))) r.unit = "msec";
    if (metrics[k]!.length) r.metrics = metrics[k];
  });
}
