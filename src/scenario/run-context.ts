import type { KvmArm64 } from "../kvm/arm64/kvm.js";
import type { Kvm } from "../kvm/kvm.js";
import type { PerfEvent } from "../perf/event.js";
import type { ActionResult } from "../report/result.js";
import type { Task } from "../sched/task.js";
import type { Ns } from "../sim/time.js";
import type { TraceSink } from "../sim/trace.js";
import type { System } from "../system.js";
import { FdTable } from "./actions/fds.js";
import type { KernelOptions } from "./kernel/compile.js";
import { MeasurementTable } from "./perf/table.js";
import { VmTable } from "./vms/table.js";

/**
 * What the run-time parts of the sections share: the simulated system, the kernel's KVM and
 * its NMI watchdog, and the tables by name that actions and expectations look things up in.
 */
export interface RunContext {
  readonly sys: System;
  readonly kernel: KernelOptions;
  /** KVM on the host (x86), or on arm64; at most one, when the scenario uses KVM. */
  readonly kvm: { readonly x86: Kvm | null; readonly arm: KvmArm64 | null };
  /** The NMI watchdog's events while it runs (sysctl kernel.nmi_watchdog changes them). */
  watchdog: PerfEvent[];
  /** Scenario tasks by name, once started. */
  readonly tasks: Map<string, Task>;
  readonly vms: VmTable;
  readonly fds: FdTable;
  /** Host and guest measurements by name. */
  readonly measurements: MeasurementTable;
  /** Every call the run made (actions, VMM steps), in order. */
  readonly calls: ActionResult[];
}

/** A fresh context on `sys`, with empty tables. */
export function newRunContext(
  sys: System,
  kernel: KernelOptions,
  kvm: RunContext["kvm"],
): RunContext {
  return {
    sys,
    kernel,
    kvm,
    watchdog: [],
    tasks: new Map(),
    vms: new VmTable(),
    fds: new FdTable(),
    measurements: new MeasurementTable(),
    calls: [],
  };
}

/** A scenario task, or a vCPU thread named "<vm>/vcpu<N>" once KVM_CREATE_VCPU made it. */
export function taskNamed(run: RunContext, name: string): Task | undefined {
  return run.tasks.get(name) ?? run.vms.thread(name);
}

/** Options of a run. */
export interface RunOptions {
  /** Overrides the scenario's seed. */
  seed?: number;
  /** Overrides the scenario's duration. */
  duration?: Ns;
  /** Receives trace records. */
  traceSinks?: TraceSink[];
  /** Called between chunks of simulated time (for progress bars). */
  onProgress?: (now: Ns, total: Ns) => void;
  /** Run the invariant checker and report its findings. */
  checkInvariants?: boolean;
}
