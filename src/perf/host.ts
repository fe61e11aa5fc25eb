import type { Machine } from "../hw/machine.js";
import type { Scheduler } from "../sched/scheduler.js";
import type { Clock } from "../sim/clock.js";
import type { EventQueue } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import type { TraceBus } from "../sim/trace.js";

/**
 * The host the perf core runs on: what it reads of the system around it. src/system.ts
 * builds one (a System is a PerfHost), so the perf layer never imports the layer above it.
 */
export interface PerfHost {
  readonly clock: Clock;
  readonly queue: EventQueue;
  readonly trace: TraceBus;
  readonly machine: Machine;
  readonly sched: Scheduler;
  /** Current simulated time. */
  readonly now: Ns;
}
