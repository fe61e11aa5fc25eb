import type { Ns } from "../../sim/time.js";
import type { CompileContext } from "../context.js";
import { eventNames } from "../values.js";
import { checkHostEvents, hostCounterNames } from "./events.js";
import type { PerfMeasurementSpec } from "./schema.js";

/** A host perf measurement (perf stat-like), compiled. */
export interface MeasurementDecl {
  index: number;
  name: string;
  events: string[];
  /** System-wide on these CPUs, or undefined with a task. */
  cpus: number[] | undefined;
  task: string | undefined;
  start: Ns;
  stop: Ns;
  interval: Ns | null;
  /**
   * generic_events: true for legacy (open generic events once, without an extended type),
   * false for expand, undefined for perf 6.1's rule (expand on x86 hybrid only).
   */
  legacy: boolean | undefined;
  /** Open without CAP_PERFMON. */
  unprivileged: boolean;
}

/** Compiles `perf`: unique names, one target, a window inside the run. */
export function compilePerf(
  specs: PerfMeasurementSpec[] | undefined,
  ctx: CompileContext,
): MeasurementDecl[] {
  return (specs ?? []).map((m, i) => compileMeasurement(m, i, ctx));
}

function compileMeasurement(
  m: PerfMeasurementSpec,
  i: number,
  ctx: CompileContext,
): MeasurementDecl {
  const names = ctx.names.measurements;
  if (names.has(m.name))
    ctx.err(["perf", i, "name"], `measurement "${m.name}" is declared twice`, "unique names");
  names.add(m.name);
  ctx.needTask(m.task, ["perf", i, "task"]);
  if (m.task !== undefined && m.cpus !== undefined) {
    ctx.err(["perf", i, "cpus"], "give either cpus (system-wide) or task, not both", "one target");
  }
  checkHostEvents(m.events, ["perf", i, "events"], m.generic_events, ctx);
  const counters = ctx.machine && hostCounterNames(m.events, m.generic_events, ctx.machine);
  if (counters) ctx.counterNames.set(m.name, counters);
  const duration = ctx.duration;
  const start = ctx.dur(m.start, ["perf", i, "start"], 0 as Ns);
  const stop = ctx.dur(m.stop, ["perf", i, "stop"], duration);
  if (stop <= start) ctx.err(["perf", i, "stop"], "stops before it starts", "stop after start");
  if (stop > duration)
    ctx.err(["perf", i, "stop"], "after the end of the run", `at most the duration, ${duration}ns`);
  if (start >= duration)
    ctx.err(["perf", i, "start"], "at or after the end of the run", `before ${duration}ns`);
  const interval =
    m.interval === undefined ? null : ctx.dur(m.interval, ["perf", i, "interval"], 0 as Ns);
  if (interval !== null && interval <= 0)
    ctx.err(["perf", i, "interval"], "zero interval", "a positive duration");
  return {
    index: i,
    name: m.name,
    events: eventNames(m.events),
    cpus:
      m.task === undefined ? (ctx.cpuList(m.cpus ?? "all", ["perf", i, "cpus"]) ?? []) : undefined,
    task: m.task,
    start,
    stop,
    interval,
    legacy: m.generic_events === undefined ? undefined : m.generic_events === "legacy",
    unprivileged: m.unprivileged ?? false,
  };
}
