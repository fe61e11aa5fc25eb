import type { Task } from "../sched/task.js";
import type { PerfEvent } from "./event.js";
import { PerfEventGroups } from "./groups.js";
import type { PerfEventPmuContext } from "./pmu-context.js";

/** enum event_type_t bits (kernel/events/core.c, current mainline). */
export const EVENT_FLEXIBLE = 0x1;
export const EVENT_PINNED = 0x2;
export const EVENT_TIME = 0x4;
export const EVENT_CPU = 0x10;
export const EVENT_GUEST = 0x40;
export const EVENT_ALL = EVENT_FLEXIBLE | EVENT_PINNED;

/**
 * struct perf_event_context: the events of one CPU (cpu context) or one task (task
 * context), their group trees, the per-PMU contexts, and the context clock.
 */
export class PerfEventContext {
  readonly pinnedGroups = new PerfEventGroups();
  readonly flexibleGroups = new PerfEventGroups();
  /** Per-PMU contexts; new ones go to the head (list_add). */
  readonly pmuCtxList: PerfEventPmuContext[] = [];
  /** Every event of the context, in the order they joined (kernel: ctx->event_list). */
  readonly eventList = new Set<PerfEvent>();
  nrEvents = 0;
  /** EVENT_* bits of what is scheduled in. */
  isActive = 0;
  /** Context time (ns): advances only while EVENT_TIME is set. */
  time = 0;
  timestamp = 0;
  /** Guest time (mediated vPMU): context time spent with a guest PMU context loaded. */
  timeguest = 0;
  /** A mediated guest PMU context is loaded on this context's CPU: guest time runs. */
  guestLoaded = false;
  nrFreq = 0;
  rotateDisable = false;
  /**
   * Bumped by every change that can alter what a scheduling pass over this context does:
   * an event state change, an event joining or leaving, a rotation. The guest PMU switch
   * replays its last sched-in while it is unchanged (guest-switch.ts).
   */
  schedGen = 0;
  /** The task exited (kernel: TASK_TOMBSTONE). */
  dead = false;
  /** A task context: the CPU it is scheduled in on (that cpuctx's taskCtx), or -1. */
  onCpu = -1;

  constructor(
    /** The task for a task context, null for a CPU context. */
    readonly task: Task | null,
    /** The CPU for a CPU context, -1 for a task context. */
    readonly cpu: number,
  ) {}
}

/** struct perf_cpu_context: a CPU's own context and the task context scheduled on it. */
export class PerfCpuContext {
  readonly ctx: PerfEventContext;
  taskCtx: PerfEventContext | null = null;
  online = true;

  constructor(readonly cpu: number) {
    this.ctx = new PerfEventContext(null, cpu);
  }
}
