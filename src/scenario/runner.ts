import type { RunResult, VariantRunResult } from "../report/result.js";
import type { Ns } from "../sim/time.js";
import type { System } from "../system.js";
import { scheduleActions } from "./actions/run.js";
import type { Scenario } from "./compiled.js";
import { boot, startWatchdog } from "./kernel/boot.js";
import { scheduleMeasurements } from "./perf/run.js";
import { runResult } from "./result.js";
import { checkRunArgs } from "./run-check.js";
import type { RunContext, RunOptions } from "./run-context.js";
import { startTasks } from "./tasks/run.js";
import { scheduleVms } from "./vms/run.js";

export type { RunOptions } from "./run-context.js";

/**
 * Runs a compiled scenario: boots its kernel on its machine, starts tasks, arms timed
 * actions, measurements and VMs, runs to the end and builds the result. Deterministic: the
 * same scenario and seed give the same result.
 */
export class ScenarioRun {
  /** What the sections' run-time parts share. */
  readonly ctx: RunContext;
  /** The simulated length of the run (the scenario's, or RunOptions.duration). */
  readonly duration: Ns;

  constructor(
    readonly sc: Scenario,
    readonly opts: RunOptions = {},
  ) {
    checkRunArgs(sc, opts);
    this.duration = opts.duration ?? sc.duration;
    // In this order: timers armed for one instant fire in arming order.
    const run = (this.ctx = boot(sc, opts));
    startTasks(sc.tasks, run);
    scheduleActions(sc.actions, run);
    startWatchdog(sc, run);
    scheduleMeasurements(sc.perf, run);
    scheduleVms(sc.vms, run);
  }

  /** The simulated system the run drives. */
  get sys(): System {
    return this.ctx.sys;
  }

  /** Runs to the end and returns the result. */
  run(): RunResult {
    const total = this.duration;
    const chunk = Math.max(1_000_000, Math.floor(total / 100));
    for (let t = Math.min(chunk, total); ; t = Math.min(t + chunk, total)) {
      this.sys.run(t as Ns);
      this.opts.onProgress?.(t as Ns, total);
      if (t >= total) break;
    }
    this.ctx.measurements.finish();
    this.sys.sync();
    return runResult(this.sc, this.ctx, this.opts);
  }
}

/** Runs a scenario and returns its result. */
export function runScenario(sc: Scenario, opts: RunOptions = {}): RunResult {
  return new ScenarioRun(sc, opts).run();
}

/**
 * Runs every variant of a scenario, one after the other, each on a fresh system with the
 * same options (and so the same seed). `only` picks one variant by name.
 */
export function runVariants(
  sc: Scenario,
  opts: RunOptions = {},
  only?: string,
): VariantRunResult[] {
  return sc.variants
    .filter((v) => only === undefined || v.name === only)
    .map((v) => ({
      name: v.name,
      description: v.description,
      set: v.set,
      result: runScenario(v.scenario, opts),
    }));
}
