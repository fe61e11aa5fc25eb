import type { Ns } from "../sim/time.js";
import { compileActions } from "./actions/compile.js";
import type { Scenario } from "./compiled.js";
import { CompileContext, DiagnosticSink, type VariantPlacement } from "./context.js";
import type { Diagnostic } from "./diagnostics.js";
import { compileExpectations } from "./expect/compile.js";
import { compileExpectedFindings } from "./findings.js";
import { checkKernelForVms, compileKernel } from "./kernel/compile.js";
import { checkTotals } from "./limits.js";
import { compileMachine } from "./machine/compile.js";
import { compilePerf } from "./perf/compile.js";
import type { ScenarioFile } from "./schema.js";
import type { ScenarioSource } from "./source.js";
import { compileTasks } from "./tasks/compile.js";
import { compileVariants, declareVariants } from "./variants/compile.js";
import { onePerEntry } from "./variants/placement.js";
import { compileVms } from "./vms/compile.js";
import { compileWorkloads } from "./workloads/compile.js";

export type { Scenario, VariantDecl } from "./compiled.js";

/** Longest simulated run a scenario may ask for (a resource limit). */
export const MAX_DURATION = 3_600_000_000_000 as Ns;

/** Default run length when a scenario gives none. */
export const DEFAULT_DURATION = 100_000_000 as Ns;

/** A compiled scenario, or every problem found. */
export type CompileResult =
  | { ok: true; scenario: Scenario }
  | { ok: false; diagnostics: Diagnostic[] };

/**
 * Resolves names and units and checks everything the schema cannot: references between
 * sections, CPU numbers against the machine, and one subject and one comparison per
 * expectation. Each section compiles in file order, checking its references against the
 * names the sections before it declared; problems come back as diagnostics at their line
 * and column.
 */
export function compileScenario(
  f: ScenarioFile,
  src: ScenarioSource | undefined,
  file = src?.file ?? "<scenario>",
  variant?: VariantPlacement,
): CompileResult {
  const diags = new DiagnosticSink(src, file, variant);
  const machine = compileMachine(f.machine, diags);
  const ctx = new CompileContext(diags, machine.desc, compileDuration(f.duration, diags));
  const kernel = compileKernel(f.kernel, ctx);
  compileWorkloads(f.workloads, ctx);
  const tasks = compileTasks(f.tasks, ctx);
  const perf = compilePerf(f.perf, ctx);
  if ((f.vms ?? []).length > 0) checkKernelForVms(f.kernel, kernel, ctx);
  const vms = compileVms(f.vms, ctx);
  const actions = compileActions(f.actions, ctx);
  declareVariants(f.variants, ctx);
  const expect = compileExpectations(f.expect, ctx);
  const expectedFindings = compileExpectedFindings(f.expected_findings, ctx);
  checkTotals(perf, vms, kernel.hz, ctx);
  if (diags.list.length > 0 || !machine.desc)
    return { ok: false, diagnostics: onePerEntry(diags.list) };
  const variants = variant
    ? { ok: true as const, variants: [] }
    : compileVariants(f, src, file, compileScenario);
  if (!variants.ok) return variants;
  return {
    ok: true,
    scenario: {
      name: f.name,
      description: f.description ?? "",
      seed: f.seed ?? 1,
      duration: ctx.duration,
      machine: machine.desc,
      offline: machine.offline,
      kernel,
      workloads: ctx.names.workloads,
      tasks,
      perf,
      vms,
      actions,
      expect,
      expectedFindings,
      variant: variant?.name,
      variants: variants.variants,
    },
  };
}

/** The run's length: given, or the default; positive and within the limit. */
function compileDuration(v: string | number | undefined, diags: DiagnosticSink): Ns {
  const duration = diags.dur(v, ["duration"], DEFAULT_DURATION);
  if (duration <= 0) diags.err(["duration"], "the run has no length", "a positive duration");
  if (duration > MAX_DURATION)
    diags.err(["duration"], `${duration / 1e9}s is longer than vpmu runs`, "at most 3600s");
  return duration;
}
