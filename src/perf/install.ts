import type { Ns } from "../sim/time.js";
import type { PerfEventContext } from "./context.js";
import { EVENT_TIME } from "./context.js";
import type { PerfCore } from "./core.js";
import {
  effectiveState,
  freeEvent,
  PERF_ATTACH_CONTEXT,
  PERF_ATTACH_GROUP,
  PERF_EVENT_STATE,
  type PerfEvent,
} from "./event.js";
import { perfGuestSync } from "./guest.js";
import { PERF_PMU_CAP, type Pmu } from "./pmu.js";
import { PerfEventPmuContext } from "./pmu-context.js";
import { ctxResched, eventSchedOut, getEventType } from "./schedule.js";
import { perfEventSetState, perfEventTime, updateContextTime } from "./time.js";

/**
 * Adding events to and removing them from contexts: install on open, remove on close and
 * on task exit, and group attach/detach.
 */

/** kernel: find_get_pmu_context(): the CPU's embedded epc, or the task context's own. */
export function findGetPmuContext(
  core: PerfCore,
  pmu: Pmu,
  ctx: PerfEventContext,
): PerfEventPmuContext {
  let epc = ctx.pmuCtxList.find((p) => p.pmu === pmu);
  if (epc) return epc;
  epc = ctx.task === null ? core.cpc(pmu, ctx.cpu).epc : new PerfEventPmuContext(pmu, ctx);
  ctx.pmuCtxList.unshift(epc);
  return epc;
}

/** kernel: list_add_event(). */
function listAddEvent(e: PerfEvent, ctx: PerfEventContext): void {
  e.attachState |= PERF_ATTACH_CONTEXT;
  e.tstamp = perfEventTime(e);
  if (e.isLeader) {
    e.groupCaps = e.eventCaps;
    (e.attr.pinned ? ctx.pinnedGroups : ctx.flexibleGroups).insert(e);
  }
  ctx.eventList.add(e);
  ctx.nrEvents++;
  e.pmuCtx!.nrEvents++;
  countExclusive(e, 1);
}

/** Keeps the epc's count of exclusive-PMU events by cpu (exclusive_event_installable()). */
function countExclusive(e: PerfEvent, d: 1 | -1): void {
  const epc = e.pmuCtx!;
  if (!(e.pmu.capabilities & PERF_PMU_CAP.EXCLUSIVE) || e.pmu !== epc.pmu) return;
  epc.nrExclusive += d;
  const by = (epc.exclusiveByCpu ??= new Map());
  by.set(e.cpu, (by.get(e.cpu) ?? 0) + d);
}

/** kernel: perf_group_attach(). */
function perfGroupAttach(e: PerfEvent): void {
  const leader = e.groupLeader;
  if (e.attachState & PERF_ATTACH_GROUP) return;
  e.attachState |= PERF_ATTACH_GROUP;
  if (leader === e) return;
  leader.siblings.push(e);
  const before = leader.groupCaps;
  leader.groupCaps &= e.eventCaps;
  if (leader.attachState & PERF_ATTACH_CONTEXT && leader.ctx)
    (leader.attr.pinned ? leader.ctx.pinnedGroups : leader.ctx.flexibleGroups).capsChanged(
      leader,
      before,
    );
}

/** kernel: add_event_to_ctx(). */
export function addEventToCtx(e: PerfEvent, ctx: PerfEventContext): void {
  listAddEvent(e, ctx);
  perfGroupAttach(e);
}

/**
 * kernel: perf_install_in_context() / __perf_install_in_context(). A CPU event is
 * installed on its CPU and rescheduled at once; a task event only reschedules when its
 * task is running now.
 */
export function perfInstallInContext(
  core: PerfCore,
  ctx: PerfEventContext,
  e: PerfEvent,
  now: Ns,
): void {
  perfGuestSync(core, -1);
  ctx.schedGen++;
  e.ctx = ctx;
  // An event that is effectively OFF joining a context that already has events needs no
  // reprogramming: the later IOC_ENABLE reschedules.
  if (effectiveState(e) === PERF_EVENT_STATE.OFF && ctx.nrEvents > 0) {
    addEventToCtx(e, ctx);
    return;
  }
  if (ctx.task === null) {
    const cpuctx = core.cpuctx[ctx.cpu]!;
    updateContextTime(ctx, now);
    addEventToCtx(e, ctx);
    if (cpuctx.online)
      ctxResched(core, cpuctx, cpuctx.taskCtx, e.pmuCtx!.pmu, getEventType(e), now);
    return;
  }
  const task = ctx.task;
  if (task.state === "running") {
    const cpuctx = core.cpuctx[task.cpu]!;
    if (cpuctx.taskCtx === ctx) updateContextTime(ctx, now);
    addEventToCtx(e, ctx);
    // The task is current on its CPU: reprogram (its context goes in if it was not yet).
    ctxResched(core, cpuctx, ctx, e.pmuCtx!.pmu, getEventType(e), now);
    return;
  }
  addEventToCtx(e, ctx);
}

/** kernel: list_del_event(): an event that leaves its context goes OFF, unless in ERROR. */
function listDelEvent(core: PerfCore, e: PerfEvent, ctx: PerfEventContext): void {
  if (!(e.attachState & PERF_ATTACH_CONTEXT)) return;
  e.attachState &= ~PERF_ATTACH_CONTEXT;
  ctx.nrEvents--;
  ctx.eventList.delete(e);
  if (e.isLeader) (e.attr.pinned ? ctx.pinnedGroups : ctx.flexibleGroups).delete(e);
  if (e.state > PERF_EVENT_STATE.OFF) perfEventSetState(core, e, PERF_EVENT_STATE.OFF);
  e.pmuCtx!.nrEvents--;
  countExclusive(e, -1);
}

/**
 * kernel: perf_group_detach(): a leader's siblings become singleton groups; an ACTIVE one
 * stays on the hardware and joins the active list.
 */
function perfGroupDetach(e: PerfEvent): void {
  if (!(e.attachState & PERF_ATTACH_GROUP)) return;
  e.attachState &= ~PERF_ATTACH_GROUP;
  const leader = e.groupLeader;
  if (leader !== e) {
    const i = leader.siblings.indexOf(e);
    if (i >= 0) leader.siblings.splice(i, 1);
    e.groupLeader = e;
    return;
  }
  for (const s of e.siblings) {
    s.groupLeader = s;
    s.groupCaps = e.groupCaps;
    if (s.attachState & PERF_ATTACH_CONTEXT && s.ctx) {
      (s.attr.pinned ? s.ctx.pinnedGroups : s.ctx.flexibleGroups).insert(s);
      if (s.state === PERF_EVENT_STATE.ACTIVE) {
        const epc = s.pmuCtx!;
        (s.attr.pinned ? epc.pinnedActive : epc.flexibleActive).push(s);
      }
    }
  }
  e.siblings = [];
}

/** Detach flags of perf_remove_from_context(). */
export const DETACH_GROUP = 0x01;
export const DETACH_DEAD = 0x04;

/** kernel: __perf_remove_from_context(). */
export function perfRemoveFromContext(core: PerfCore, e: PerfEvent, flags: number, now: Ns): void {
  perfGuestSync(core, -1);
  const ctx = e.ctx;
  if (ctx) ctx.schedGen++;
  if (!ctx || !(e.attachState & PERF_ATTACH_CONTEXT)) {
    if (flags & DETACH_GROUP) perfGroupDetach(e);
    return;
  }
  if (ctx.isActive & EVENT_TIME) updateContextTime(ctx, now);
  if (flags & DETACH_DEAD) e.pendingDisable = true;
  eventSchedOut(core, e, now);
  e.pendingDisable = false;
  if (flags & DETACH_GROUP) perfGroupDetach(e);
  listDelEvent(core, e, ctx);
  const epc = e.pmuCtx!;
  if (epc.nrEvents === 0) {
    epc.rotateNecessary = false;
    const i = ctx.pmuCtxList.indexOf(epc);
    if (i >= 0) ctx.pmuCtxList.splice(i, 1);
    // A task context's epcs are the taskEpc only of the CPU it is scheduled in on.
    if (ctx.task !== null && ctx.onCpu >= 0) {
      const cpc = core.cpc(epc.pmu, ctx.onCpu);
      if (cpc.taskEpc === epc) cpc.taskEpc = null;
    }
  }
  if (ctx.nrEvents === 0 && ctx.isActive) {
    ctx.isActive = 0;
    if (ctx.task !== null && ctx.onCpu >= 0) {
      core.cpuctx[ctx.onCpu]!.taskCtx = null;
      ctx.onCpu = -1;
    }
  }
}

/** kernel: perf_event_release_kernel(): close. The event ends DEAD. */
export function perfEventRelease(core: PerfCore, e: PerfEvent, now: Ns): void {
  perfRemoveFromContext(core, e, DETACH_GROUP | DETACH_DEAD, now);
  const from = e.state;
  if (from !== PERF_EVENT_STATE.DEAD) {
    if (e.ctx) e.ctx.schedGen++;
    e.state = PERF_EVENT_STATE.DEAD;
    core.stateChanged(e, from, PERF_EVENT_STATE.DEAD);
  }
  e.pmu.destroy?.(e);
  freeEvent(e);
  for (const h of core.freeHooks) h(e);
}
