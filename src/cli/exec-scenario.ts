import type { Scenario } from "../scenario/compile.js";
import type { Diagnostic } from "../scenario/diagnostics.js";
import { parseScenario } from "../scenario/load.js";
import { ScenarioRun } from "../scenario/runner.js";
import type { Task } from "../sched/task.js";
import type { System } from "../system.js";

/**
 * The scenario layer as `vpmu exec` uses it, in one place so it can follow the scenario
 * API: a scenario (or a bare preset) becomes a live system whose machine, kernel settings,
 * tasks, VMs and timed actions run as its clock advances. The scenario's own host `perf`
 * measurements are left out: the real perf tool takes their place (guest measurements stay,
 * they are software inside the VMs).
 */
export interface LiveScenario {
  sys: System;
  /** A scenario task (or vCPU thread) by name, if it exists now. */
  taskNamed(name: string): Task | undefined;
  /** Names --task may take, for messages. */
  taskNames(): string[];
  /** The kernel ABI of perf_event_attr (aux_action exists from 6.13: profile 7.0). */
  auxAction: boolean;
}

/** A live host from a compiled scenario. */
export function liveScenario(sc: Scenario, seed?: number): LiveScenario {
  const run = new ScenarioRun({ ...sc, perf: [], expect: [] }, seed === undefined ? {} : { seed });
  const sys = run.sys;
  return {
    sys,
    taskNamed: (name) => {
      const t = run.ctx.tasks.get(name);
      if (t) return t;
      for (const x of sys.sched.tasks.values()) if (x.comm === name && x.state !== "dead") return x;
      return undefined;
    },
    taskNames: () => sc.tasks.map((t) => t.name),
    auxAction: sc.kernel.profile === "7.0",
  };
}

/**
 * A live host of a bare preset: the scenario `machine: PRESET` with every default (on x86,
 * the NMI watchdog runs, as on a stock kernel).
 */
export function livePreset(
  name: string,
  seed?: number,
): { ok: true; live: LiveScenario } | { ok: false; diagnostics: Diagnostic[] } {
  const loaded = parseScenario(`name: exec\nmachine: ${JSON.stringify(name)}\n`, "--machine");
  if (!loaded.ok) return loaded;
  return { ok: true, live: liveScenario(loaded.scenario, seed) };
}
