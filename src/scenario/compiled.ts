import type { MachineDesc } from "../hw/machine.js";
import type { Workload } from "../hw/workload.js";
import type { Ns } from "../sim/time.js";
import type { ActionDecl } from "./actions/compile.js";
import type { ExpectationDecl } from "./expect/compile.js";
import type { KernelOptions } from "./kernel/compile.js";
import type { MeasurementDecl } from "./perf/compile.js";
import type { TaskDecl } from "./tasks/compile.js";
import type { VmDecl } from "./vms/compile.js";

/**
 * The compiled scenario: what the compile step (compile.ts) makes of a checked document and
 * the runner runs. It holds no part of the document: each section's entries are compiled.
 */

/** A compiled scenario, ready to run. */
export interface Scenario {
  name: string;
  description: string;
  seed: number;
  duration: Ns;
  machine: MachineDesc;
  offline: number[];
  kernel: KernelOptions;
  workloads: Map<string, Workload>;
  tasks: TaskDecl[];
  perf: MeasurementDecl[];
  vms: VmDecl[];
  actions: ActionDecl[];
  expect: ExpectationDecl[];
  expectedFindings: string[];
  /** The variant this scenario is (its name), or undefined for the document as written. */
  variant: string | undefined;
  /** The compiled variants of the document (empty in a variant itself, or without variants). */
  variants: VariantDecl[];
}

/** A variant: the document with its `set` values written in, compiled. */
export interface VariantDecl {
  index: number;
  name: string;
  description: string;
  /** The `set` entries as written. */
  set: Record<string, unknown>;
  scenario: Scenario;
}
