import type { Task } from "../sched/task.js";
import type { Ns } from "../sim/time.js";
import { EVENT_ALL, EVENT_FLEXIBLE } from "./context.js";
import type { PerfCore } from "./core.js";
import { PERF_EVENT_STATE } from "./event.js";
import { DETACH_GROUP, perfRemoveFromContext } from "./install.js";
import { ctxSchedOut, perfEventSchedIn } from "./schedule.js";
import { perfEventSetState } from "./time.js";
import { PERF_COUNT_SW_CONTEXT_SWITCHES, PERF_COUNT_SW_CPU_MIGRATIONS } from "./uapi.js";

/**
 * kernel: perf_event_task_sched_out(): count the context switch on the events still on
 * this CPU, then take the outgoing task's context off.
 */
export function perfEventTaskSchedOut(
  core: PerfCore,
  cpu: number,
  prev: Task,
  _next: Task | null,
  now: Ns,
): void {
  core.swEvent(cpu, PERF_COUNT_SW_CONTEXT_SWITCHES, now);
  const ctx = core.taskCtx(prev);
  const cpuctx = core.cpuctx[cpu]!;
  if (!ctx || cpuctx.taskCtx !== ctx) return;
  ctxSchedOut(core, cpuctx, ctx, null, EVENT_ALL, now);
}

/**
 * kernel: perf_event_task_sched_in() / perf_event_context_sched_in(): if the incoming
 * task's context has pinned groups, the CPU flexible groups come off first so the order
 * CPU pinned, task pinned, CPU flexible, task flexible holds. A task that changed CPU
 * counts a migration once its events are on.
 */
export function perfEventTaskSchedIn(
  core: PerfCore,
  cpu: number,
  _prev: Task | null,
  next: Task,
  now: Ns,
): void {
  const ctx = core.taskCtx(next);
  const cpuctx = core.cpuctx[cpu]!;
  if (ctx && cpuctx.taskCtx !== ctx && ctx.nrEvents > 0) {
    if (!ctx.pinnedGroups.empty) ctxSchedOut(core, cpuctx, cpuctx.ctx, null, EVENT_FLEXIBLE, now);
    perfEventSchedIn(core, cpuctx, ctx, null, now);
  }
  if (core.migrated.delete(next)) core.swEvent(cpu, PERF_COUNT_SW_CPU_MIGRATIONS, now);
}

/**
 * kernel: perf_event_exit_task(): the task's events leave their context (OFF, unless in
 * ERROR) and end in EXIT; their fds stay readable.
 */
export function perfEventExitTask(core: PerfCore, task: Task, now: Ns): void {
  core.migrated.delete(task);
  const ctx = core.taskCtx(task);
  if (!ctx) return;
  for (const e of [...ctx.eventList]) {
    perfRemoveFromContext(core, e, 0, now);
    if (e.state > PERF_EVENT_STATE.EXIT) perfEventSetState(core, e, PERF_EVENT_STATE.EXIT);
  }
  ctx.dead = true;
}

/**
 * kernel: perf_event_exit_cpu() / perf_event_init_cpu(). Going offline, the CPU context
 * stops and every event leaves it (OFF, groups split); new CPU events on it then fail with
 * ENODEV until it is back online.
 */
export function perfEventHotplug(core: PerfCore, cpu: number, online: boolean, now: Ns): void {
  const cpuctx = core.cpuctx[cpu]!;
  if (!online) {
    ctxSchedOut(core, cpuctx, cpuctx.ctx, null, EVENT_ALL, now);
    for (const e of [...cpuctx.ctx.eventList]) perfRemoveFromContext(core, e, DETACH_GROUP, now);
  }
  cpuctx.online = online;
}
