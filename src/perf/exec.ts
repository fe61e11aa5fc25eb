import type { Task } from "../sched/task.js";
import type { Ns } from "../sim/time.js";
import { EVENT_TIME } from "./context.js";
import type { PerfCore } from "./core.js";
import { PERF_EVENT_STATE, type PerfEvent } from "./event.js";
import { perfGuestSync } from "./guest.js";
import { DETACH_GROUP, perfRemoveFromContext } from "./install.js";
import { ctxResched, getEventType } from "./schedule.js";
import { perfEventSetState, updateContextTime } from "./time.js";

/**
 * kernel: event_enable_on_exec(): the flag is consumed at the first exec; an event that is
 * OFF becomes INACTIVE. Returns true if it was enabled.
 */
function eventEnableOnExec(core: PerfCore, e: PerfEvent): boolean {
  if (!e.attr.enable_on_exec) return false;
  e.attr.enable_on_exec = false;
  if (e.state >= PERF_EVENT_STATE.INACTIVE) return false;
  perfEventSetState(core, e, PERF_EVENT_STATE.INACTIVE);
  return true;
}

/**
 * kernel: perf_event_remove_on_exec(): events opened with remove_on_exec leave the task's
 * context at exec (perf_event_exit_event(), detaching their group) and end in EXIT; their
 * fds stay readable. Returns the number removed.
 */
function perfEventRemoveOnExec(core: PerfCore, task: Task, now: Ns): number {
  const ctx = core.taskCtx(task);
  if (!ctx) return 0;
  let removed = 0;
  for (const e of [...ctx.eventList]) {
    if (!e.attr.remove_on_exec) continue;
    perfRemoveFromContext(core, e, DETACH_GROUP, now);
    if (e.state > PERF_EVENT_STATE.EXIT) perfEventSetState(core, e, PERF_EVENT_STATE.EXIT);
    removed++;
  }
  return removed;
}

/**
 * kernel: perf_event_exec(): enable_on_exec first, then remove_on_exec.
 * perf_event_enable_on_exec(): at exec the task's context stops
 * its clock, every enable_on_exec event that is OFF becomes INACTIVE, and, if any did, the
 * context is rescheduled on the CPU the task runs on (ctx_resched()). This is how `perf stat
 * -- CMD` starts counting: the events are opened disabled on the forked child and no ENABLE
 * ioctl follows. perfEventExec() returns the number of events enabled.
 */
export function perfEventExec(core: PerfCore, task: Task, now: Ns): number {
  perfGuestSync(core, -1);
  const enabled = perfEventEnableOnExec(core, task, now);
  perfEventRemoveOnExec(core, task, now);
  return enabled;
}

function perfEventEnableOnExec(core: PerfCore, task: Task, now: Ns): number {
  const ctx = core.taskCtx(task);
  if (!ctx || ctx.nrEvents === 0) return 0;
  // ctx_sched_out(ctx, EVENT_TIME): bring the context clock up to now.
  if (ctx.isActive & EVENT_TIME) updateContextTime(ctx, now);
  let enabled = 0;
  let eventType = 0;
  for (const e of ctx.eventList) {
    if (eventEnableOnExec(core, e)) enabled++;
    eventType |= getEventType(e);
  }
  if (enabled === 0 || !ctx.isActive) return enabled;
  const cpuctx = core.cpuctx.find((cc) => cc.taskCtx === ctx);
  if (cpuctx) ctxResched(core, cpuctx, ctx, null, eventType, now);
  return enabled;
}
