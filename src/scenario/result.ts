import type { ExpectationResult, RunResult } from "../report/result.js";
import { VERSION } from "../version.js";
import type { Scenario } from "./compiled.js";
import { evaluateExpectations } from "./expect/run.js";
import { expectedFindingChecks, findingResults } from "./findings.js";
import { cpuResults, machineResult } from "./machine/result.js";
import type { RunContext, RunOptions } from "./run-context.js";
import { taskResults } from "./tasks/result.js";
import { vmResults } from "./vms/result.js";

/** The result of a finished run, section by section, with the checks counted. */
export function runResult(sc: Scenario, run: RunContext, opts: RunOptions): RunResult {
  // In this order: reading an expectation's subject may sync vCPUs and read fds.
  const tasks = taskResults(sc.tasks, run);
  const expectations = evaluateExpectations(sc.expect, run);
  const findings = findingResults(sc.expectedFindings, run);
  expectations.push(...expectedFindingChecks(sc.expectedFindings, findings, run));
  return {
    format: 1,
    vpmu: VERSION,
    scenario: {
      name: sc.name,
      description: sc.description,
      seed: opts.seed ?? sc.seed,
      duration_ns: opts.duration ?? sc.duration,
      kernel_profile: sc.kernel.profile,
      hz: sc.kernel.hz,
      ...(sc.variant !== undefined ? { variant: sc.variant } : {}),
    },
    machine: machineResult(sc.machine, run.sys),
    tasks,
    cpus: cpuResults(run.sys),
    actions: run.calls,
    perf: measurementResults(sc, run),
    vms: vmResults(run),
    expectations,
    findings,
    summary: summary(expectations, run, findings.filter((f) => !f.expected).length),
  };
}

/** Host measurements, then each VM's guest measurements, in declaration order. */
function measurementResults(sc: Scenario, run: RunContext): RunResult["perf"] {
  const names = [
    ...sc.perf.map((m) => m.name),
    ...sc.vms.flatMap((v) => v.perf.map((p) => p.name)),
  ];
  return names.flatMap((n) => {
    const r = run.measurements.get(n);
    return r ? [r] : [];
  });
}

/** Passed and failed checks: expectations, calls with an expect, unexpected findings. */
function summary(
  expectations: readonly ExpectationResult[],
  run: RunContext,
  unexpected: number,
): RunResult["summary"] {
  const calls = run.calls;
  const failed =
    expectations.filter((e) => !e.ok).length + calls.filter((a) => a.ok === false).length;
  const passed =
    expectations.filter((e) => e.ok).length + calls.filter((a) => a.ok === true).length;
  return {
    passed,
    failed: failed + unexpected,
    events_processed: run.sys.eventsProcessed,
  };
}
