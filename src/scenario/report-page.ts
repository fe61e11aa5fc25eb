import { PERF_EVENT_STATE, PerfEvent } from "../perf/event.js";
import { perfEventCount, perfEventRead } from "../perf/read.js";
import type { ReportPageData } from "../report/html.js";
import type { RunResult, VariantRunResult } from "../report/result.js";
import { textReport, variantsTextReport } from "../report/text.js";
import {
  packTimeline,
  type TimelineData,
  type TimelineProbe,
  TimelineSink,
} from "../report/timeline.js";
import type { Ns } from "../sim/time.js";
import type { System } from "../system.js";
import type { Scenario } from "./compiled.js";
import type { RunContext } from "./run-context.js";
import { ScenarioRun } from "./runner.js";

/** How {@link reportPage} runs a scenario: as `vpmu run` with the same flags. */
export interface ReportPageOptions {
  seed?: number;
  duration?: Ns;
  truth?: boolean;
  /** Progress over all runs: simulated time done and in all (ns). */
  onProgress?: (done: Ns, total: Ns) => void;
}

/**
 * What the timeline reads of a run besides its trace: the perf core's own count and times of
 * an event as they stand (brought up to date at each state change and PMI, where the sink
 * asks; nothing here reads a counter, so nothing changes the run), the event on a counter,
 * and the measurement that opened an event; after the result, a last read of each event.
 */
function runProbe(sys: System, run: RunContext): TimelineProbe {
  const perf = sys.perf;
  return {
    values(id) {
      const e = perf.events.get(id);
      return e ? [perfEventCount(e), e.totalTimeEnabled, e.totalTimeRunning] : null;
    },
    counterHolder(cpu, _pmu, idx) {
      const owner = sys.machine.cpus[cpu]?.pmu.slot[idx]?.owner;
      return owner instanceof PerfEvent ? owner.id : -1;
    },
    measurement(id) {
      return run.measurements.eventOwners.get(id) ?? null;
    },
    readFinal(id) {
      const e = perf.events.get(id);
      if (!e) return null;
      if (e.state !== PERF_EVENT_STATE.DEAD) perfEventRead(perf, e, false);
      return [perfEventCount(e), e.totalTimeEnabled, e.totalTimeRunning];
    },
  };
}

/** One run with a timeline sink attached (tracing does not change a run's result). */
function tracedRun(
  sc: Scenario,
  opts: ReportPageOptions,
  progress: (now: Ns, total: Ns) => void,
): { result: RunResult; timeline: TimelineData } {
  const sink = new TimelineSink(sc.machine);
  const run = new ScenarioRun(sc, {
    seed: opts.seed,
    duration: opts.duration,
    traceSinks: [sink],
    onProgress: progress,
  });
  // Booting happens at t = 0, before anything has counted: the sink reads from here on.
  sink.setProbe(runProbe(run.sys, run.ctx));
  const result = run.run();
  sink.close(opts.duration ?? sc.duration);
  return { result, timeline: packTimeline(sink.data()) };
}

/**
 * Runs a scenario as `vpmu run` does (a scenario with variants: every variant, side by
 * side) and returns what the HTML report and the playground draw: the same result object
 * `--format json` prints, each run's timeline, and the text report.
 */
export function reportPage(
  sc: Scenario,
  source: string,
  opts: ReportPageOptions = {},
): ReportPageData {
  const truth = opts.truth ?? false;
  const runs = sc.variants.length > 0 ? sc.variants.map((v) => v.scenario) : [sc];
  const lengths = runs.map((run) => opts.duration ?? run.duration);
  const total = lengths.reduce((a, b) => a + b, 0) as Ns;
  let before = 0;
  const traced = runs.map((run, i) => {
    const t = tracedRun(run, opts, (now) => opts.onProgress?.((before + now) as Ns, total));
    before += lengths[i]!;
    return t;
  });
  const timelines = traced.map((t) => t.timeline);
  if (sc.variants.length === 0) {
    const result = traced[0]!.result;
    return {
      kind: "vpmu-report",
      version: 1,
      source,
      truth,
      result,
      timelines,
      text: textReport(result, { truth }),
    };
  }
  const variants: VariantRunResult[] = sc.variants.map((v, i) => ({
    name: v.name,
    description: v.description,
    set: v.set,
    result: traced[i]!.result,
  }));
  return {
    kind: "vpmu-report",
    version: 1,
    source,
    truth,
    result: { variants },
    timelines,
    text: variantsTextReport(variants, { truth }),
  };
}
