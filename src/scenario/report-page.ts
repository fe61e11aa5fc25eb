import type { ReportPageData } from "../report/html.js";
import type { RunResult, VariantRunResult } from "../report/result.js";
import { textReport, variantsTextReport } from "../report/text.js";
import { type TimelineData, TimelineSink } from "../report/timeline.js";
import type { Ns } from "../sim/time.js";
import type { Scenario } from "./compiled.js";
import { runScenario } from "./runner.js";

/** How {@link reportPage} runs a scenario: as `vpmu run` with the same flags. */
export interface ReportPageOptions {
  seed?: number;
  duration?: Ns;
  truth?: boolean;
  /** Progress over all runs: simulated time done and in all (ns). */
  onProgress?: (done: Ns, total: Ns) => void;
}

/** One run with a timeline sink attached (tracing does not change a run's result). */
function tracedRun(
  sc: Scenario,
  opts: ReportPageOptions,
  progress: (now: Ns, total: Ns) => void,
): { result: RunResult; timeline: TimelineData } {
  const sink = new TimelineSink(sc.machine);
  const result = runScenario(sc, {
    seed: opts.seed,
    duration: opts.duration,
    traceSinks: [sink],
    onProgress: progress,
  });
  sink.close(opts.duration ?? sc.duration);
  return { result, timeline: sink.data() };
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
