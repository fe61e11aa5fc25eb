import type { RunResult, VariantRunResult } from "./result.js";
import { actionsSection } from "./text/actions.js";
import { variantsComparison } from "./text/comparison.js";
import { cpusSection } from "./text/cpus.js";
import { expectationsSection } from "./text/expectations.js";
import { findingsSection } from "./text/findings.js";
import { headerSection } from "./text/header.js";
import { machineSection } from "./text/machine.js";
import { perfSection } from "./text/perf.js";
import type { TextOptions, TextSection } from "./text/section.js";
import { tasksSection } from "./text/tasks.js";
import { vmsSection } from "./text/vms.js";

export { variantsComparison } from "./text/comparison.js";
export type { TextOptions } from "./text/section.js";

/** The sections of the text report, in the order they print (src/report/text/). */
const TEXT_SECTIONS: readonly TextSection[] = [
  headerSection,
  machineSection,
  tasksSection,
  cpusSection,
  vmsSection,
  perfSection,
  actionsSection,
  findingsSection,
  expectationsSection,
];

/** The human-readable report of a run: each section, then the count of checks. */
export function textReport(r: RunResult, opts: TextOptions = {}): string {
  const out = TEXT_SECTIONS.flatMap((s) => s(r, opts));
  out.push(`${r.summary.passed} passed, ${r.summary.failed} failed`);
  return out.join("\n") + "\n";
}

/**
 * The report of a scenario with variants: the variants side by side, then each variant's
 * full report under a `=== variant NAME ===` heading, then the totals.
 */
export function variantsTextReport(runs: VariantRunResult[], opts: TextOptions = {}): string {
  const out = [variantsComparison(runs, opts)];
  for (const v of runs) out.push(`=== variant ${v.name} ===\n\n${textReport(v.result, opts)}\n`);
  const passed = runs.reduce((n, v) => n + v.result.summary.passed, 0);
  const failed = runs.reduce((n, v) => n + v.result.summary.failed, 0);
  out.push(`${runs.length} variants: ${passed} passed, ${failed} failed\n`);
  return out.join("");
}
