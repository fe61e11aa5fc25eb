import {
  ArgumentError,
  checkBool,
  checkFunction,
  checkNat,
  checkObject,
  checkString,
} from "../sim/argument.js";
import type { Scenario } from "./compiled.js";
import type { RunOptions } from "./run-context.js";

const SCENARIO = "a compiled scenario (from loadScenario() or parseScenario())";
const LISTS = ["offline", "tasks", "perf", "vms", "actions", "expect", "expectedFindings"] as const;

/**
 * The arguments of runScenario() and ScenarioRun checked where they enter (the library's
 * rule: bad model input is an ArgumentError at the call, never a crash inside the run).
 * A scenario is checked in its shape: its sections were checked when it was compiled.
 */
export function checkRunArgs(sc: unknown, opts: unknown): asserts sc is Scenario {
  const s = checkObject("runScenario(scenario)", sc);
  checkString("runScenario(scenario.name)", s.name);
  checkNat("runScenario(scenario.seed)", s.seed);
  checkNat("runScenario(scenario.duration)", s.duration);
  checkObject("runScenario(scenario.machine)", s.machine);
  checkObject("runScenario(scenario.kernel)", s.kernel);
  if (!(s.workloads instanceof Map))
    throw new ArgumentError("runScenario(scenario.workloads)", SCENARIO, s.workloads);
  for (const k of LISTS)
    if (!Array.isArray(s[k])) throw new ArgumentError(`runScenario(scenario.${k})`, SCENARIO, s[k]);
  if (opts === undefined) return;
  const o = checkObject("runScenario(opts)", opts) as Record<keyof RunOptions, unknown>;
  if (o.seed !== undefined) checkNat("runScenario(opts.seed)", o.seed, 0xffffffff);
  if (o.duration !== undefined) checkNat("runScenario(opts.duration)", o.duration);
  if (o.traceSinks !== undefined && !Array.isArray(o.traceSinks))
    throw new ArgumentError(
      "runScenario(opts.traceSinks)",
      "an array of trace sinks",
      o.traceSinks,
    );
  if (o.onProgress !== undefined) checkFunction("runScenario(opts.onProgress)", o.onProgress);
  if (o.checkInvariants !== undefined)
    checkBool("runScenario(opts.checkInvariants)", o.checkInvariants);
}
