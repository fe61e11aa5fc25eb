import type { Ns } from "../sim/time.js";
import {
  EVENT_ALL,
  EVENT_CPU,
  EVENT_FLEXIBLE,
  EVENT_PINNED,
  EVENT_TIME,
  type PerfCpuContext,
  type PerfEventContext,
} from "./context.js";
import type { PerfCore } from "./core.js";
import {
  EVENT_HOT_EXCLUSIVE,
  EVENT_HOT_FREQ,
  EVENT_HOT_PINNED,
  isSoftwareEvent,
  PERF_EV_CAP_SOFTWARE,
  PERF_EVENT_STATE,
  type PerfEvent,
} from "./event.js";
import type { PerfEventGroups } from "./groups.js";
import { PERF_EF_START, type Pmu } from "./pmu.js";
import type { PerfEventPmuContext } from "./pmu-context.js";
import { perfEventSetState, updateContextTime } from "./time.js";

/**
 * Event scheduling: putting groups on and taking them off the hardware of one CPU, the way
 * kernel/events/core.c does it. Every function acts on the CPU `cpuctx.cpu` (the kernel's
 * smp_processor_id()).
 */

/** The active list a group belongs on (kernel: get_event_list()). */
function eventList(e: PerfEvent): PerfEvent[] {
  const epc = e.pmuCtx!;
  return e.hot & EVENT_HOT_PINNED ? epc.pinnedActive : epc.flexibleActive;
}

function removeFrom(list: PerfEvent[], e: PerfEvent): void {
  // Empty when the whole list is being scheduled out (pmuCtxSchedOut() swapped it away).
  if (list.length === 0) return;
  const i = list.indexOf(e);
  if (i >= 0) list.splice(i, 1);
}

/** kernel: event_sched_out(). */
export function eventSchedOut(core: PerfCore, e: PerfEvent, now: Ns): void {
  if (e.state !== PERF_EVENT_STATE.ACTIVE) return;
  const cpu = e.oncpu;
  const cpc = core.cpc(e.pmuCtx!.pmu, cpu);
  if (e.isLeader) removeFrom(eventList(e), e);
  e.pmu.del(e, now);
  let state: number = PERF_EVENT_STATE.INACTIVE;
  if (e.pendingDisable) {
    e.pendingDisable = false;
    state = PERF_EVENT_STATE.OFF;
  }
  // The kernel clears oncpu first; vpmu sets the state first so listeners and traces
  // still see the CPU the event left.
  perfEventSetState(core, e, state);
  e.oncpu = -1;
  if (!isSoftwareEvent(e)) cpc.activeOncpu--;
  if (e.hot & EVENT_HOT_FREQ) e.ctx!.nrFreq--;
  if (e.hot & EVENT_HOT_EXCLUSIVE || cpc.activeOncpu === 0) cpc.exclusive = false;
  core.stats.schedOps++;
}

/** kernel: group_sched_out(). */
export function groupSchedOut(core: PerfCore, leader: PerfEvent, now: Ns): void {
  if (leader.state !== PERF_EVENT_STATE.ACTIVE) return;
  eventSchedOut(core, leader, now);
  const siblings = leader.siblings;
  for (let i = 0; i < siblings.length; i++) eventSchedOut(core, siblings[i]!, now);
}

/** kernel: event_sched_in(): ACTIVE first, then pmu->add(); back to INACTIVE if add fails. */
export function eventSchedIn(core: PerfCore, e: PerfEvent, cpu: number, now: Ns): number {
  if (e.state <= PERF_EVENT_STATE.OFF) return 0;
  e.oncpu = cpu;
  perfEventSetState(core, e, PERF_EVENT_STATE.ACTIVE);
  if (e.pmu.add(e, PERF_EF_START, now) !== 0) {
    perfEventSetState(core, e, PERF_EVENT_STATE.INACTIVE);
    e.oncpu = -1;
    return -11; // -EAGAIN
  }
  const cpc = core.cpc(e.pmuCtx!.pmu, cpu);
  if (!isSoftwareEvent(e)) cpc.activeOncpu++;
  if (e.hot & EVENT_HOT_FREQ) e.ctx!.nrFreq++;
  if (e.hot & EVENT_HOT_EXCLUSIVE) cpc.exclusive = true;
  core.stats.schedOps++;
  return 0;
}

/**
 * kernel: group_sched_in(): the whole group goes on in one PMU transaction or not at all.
 * Siblings that are OFF or in ERROR are skipped and do not fail the group.
 */
export function groupSchedIn(core: PerfCore, leader: PerfEvent, cpu: number, now: Ns): number {
  if (leader.state === PERF_EVENT_STATE.OFF) return 0;
  const pmu = leader.pmuCtx!.pmu;
  pmu.startTxn(cpu);
  if (eventSchedIn(core, leader, cpu, now) !== 0) {
    pmu.cancelTxn(cpu);
    return -11;
  }
  let partial: PerfEvent | null = null;
  const siblings = leader.siblings;
  for (let i = 0; i < siblings.length; i++) {
    if (eventSchedIn(core, siblings[i]!, cpu, now) !== 0) {
      partial = siblings[i]!;
      break;
    }
  }
  if (partial === null && pmu.commitTxn(cpu) === 0) return 0;
  for (const s of leader.siblings) {
    if (s === partial) break;
    eventSchedOut(core, s, now);
  }
  eventSchedOut(core, leader, now);
  pmu.cancelTxn(cpu);
  return -11;
}

/** kernel: pmu_filter_match(): every member's PMU must cover this CPU. */
function pmuFilterMatch(e: PerfEvent, cpu: number): boolean {
  if (e.pmu.filter(cpu)) return false;
  const siblings = e.siblings;
  for (let i = 0; i < siblings.length; i++) if (siblings[i]!.pmu.filter(cpu)) return false;
  return true;
}

/** kernel: event_filter_match(). */
export function eventFilterMatch(e: PerfEvent, cpu: number): boolean {
  return (e.cpu === -1 || e.cpu === cpu) && pmuFilterMatch(e, cpu);
}

/** kernel: group_can_go_on(). */
function groupCanGoOn(core: PerfCore, e: PerfEvent, cpu: number, canAddHw: boolean): boolean {
  if (e.groupCaps & PERF_EV_CAP_SOFTWARE) return true;
  const cpc = core.cpc(e.pmuCtx!.pmu, cpu);
  if (cpc.exclusive) return false;
  if (e.hot & EVENT_HOT_EXCLUSIVE && eventList(e).length > 0) return false;
  return canAddHw;
}

/**
 * kernel: merge_sched_in(): try one group. A pinned group that cannot go on goes to ERROR;
 * a flexible one asks for rotation. Either way later groups of the pass are not tried on
 * the hardware (can_add_hw = 0).
 */
export function mergeSchedIn(core: PerfCore, e: PerfEvent, cpu: number, now: Ns): void {
  if (e.state <= PERF_EVENT_STATE.OFF) return;
  if (!eventFilterMatch(e, cpu)) return;
  // vPMU profiles: PMUs the guest owns on this CPU are skipped (RFC force-exclude-guest,
  // or a loaded mediated guest context outside an EVENT_GUEST pass).
  if (core.pmuOwnedByGuest(e.pmu, cpu, core.passEventType)) return;
  if (groupCanGoOn(core, e, cpu, core.passCanAddHw)) {
    if (groupSchedIn(core, e, cpu, now) === 0) {
      const list = eventList(e);
      // An indexed store, not push(): push() is a builtin call at this site in V8.
      list[list.length] = e;
    }
  }
  if (e.state === PERF_EVENT_STATE.INACTIVE) schedInFailed(core, e, cpu, now);
}

/**
 * The end of merge_sched_in() for a group left INACTIVE: later groups of the pass get no
 * hardware; a pinned group goes to ERROR, a flexible one asks for rotation.
 */
export function schedInFailed(core: PerfCore, e: PerfEvent, cpu: number, now: Ns): void {
  core.schedInFailures++;
  if (core.passFirstFailure === null) core.passFirstFailure = e;
  core.passCanAddHw = false;
  if (e.hot & EVENT_HOT_PINNED) {
    perfEventSetState(core, e, PERF_EVENT_STATE.ERROR);
  } else {
    const cpc = core.cpc(e.pmuCtx!.pmu, cpu);
    e.pmuCtx!.rotateNecessary = true;
    core.muxHrtimerRestart(cpc, now);
  }
}

/**
 * kernel: visit_groups_merge(): walk the (cpu, pmu) subtree of a group tree (for a task
 * context merged with the cpu = -1 subtree) in group_index order. A PMU that filters this
 * CPU out (a hybrid or big.LITTLE PMU on a CPU it does not cover) is not visited at all.
 *
 * The kernel visits every group. A flexible pass of a hardware PMU stops after the first
 * group that does not go on, with the same outcome: from then on can_add_hw is 0, so no
 * later group goes on (none has PERF_EV_CAP_SOFTWARE: a software group lives in the
 * software PMU's context, and a group that a hardware event joined keeps the hardware's
 * caps; the tree counts the exception, a software group a hardware event is moving over),
 * and each one that merge_sched_in() fails only sets rotate_necessary on the same epc and
 * restarts the same hrtimer again. So the pass costs the groups up to the counters, not
 * every group of the CPU.
 */
function visitGroupsMerge(
  core: PerfCore,
  ctx: PerfEventContext,
  groups: PerfEventGroups,
  cpu: number,
  pmu: Pmu,
  now: Ns,
  after: PerfEvent | null,
): void {
  if (pmu.filter(cpu)) return;
  if (after !== null) {
    visitGroupsAfter(core, ctx, groups, cpu, pmu, now, after);
    return;
  }
  const stopOnFail =
    groups === ctx.flexibleGroups &&
    pmu.taskCtxNr !== "sw" &&
    groups.softwareOnHardware === 0 &&
    !core.walkAllGroups;
  let a = groups.lowerBound(cpu, pmu.order);
  const aEnd = groups.upperBound(cpu, pmu.order);
  if (ctx.task === null) {
    for (; a < aEnd; a++) {
      mergeSchedIn(core, groups.at(a), cpu, now);
      if (stopOnFail && !core.passCanAddHw) return;
    }
    return;
  }
  let b = groups.lowerBound(-1, pmu.order);
  const bEnd = groups.upperBound(-1, pmu.order);
  while (a < aEnd || b < bEnd) {
    if (b >= bEnd || (a < aEnd && groups.at(a).groupIndex < groups.at(b).groupIndex)) {
      mergeSchedIn(core, groups.at(a++), cpu, now);
    } else {
      mergeSchedIn(core, groups.at(b++), cpu, now);
    }
    if (stopOnFail && !core.passCanAddHw) return;
  }
}

/** visitGroupsMerge() from the group after `after` on (no early stop: a rare path). */
function visitGroupsAfter(
  core: PerfCore,
  ctx: PerfEventContext,
  groups: PerfEventGroups,
  cpu: number,
  pmu: Pmu,
  now: Ns,
  after: PerfEvent,
): void {
  const order: PerfEvent[] = [];
  const a0 = groups.lowerBound(cpu, pmu.order);
  const a1 = groups.upperBound(cpu, pmu.order);
  for (let i = a0; i < a1; i++) order.push(groups.at(i));
  if (ctx.task !== null) {
    const b0 = groups.lowerBound(-1, pmu.order);
    const b1 = groups.upperBound(-1, pmu.order);
    for (let i = b0; i < b1; i++) order.push(groups.at(i));
    order.sort((x, y) => x.groupIndex - y.groupIndex);
  }
  let seen = false;
  for (const g of order) {
    if (seen) mergeSchedIn(core, g, cpu, now);
    else if (g === after) seen = true;
  }
}

/** kernel: pmu_groups_sched_in(): one pass, with can_add_hw reset. */
export function pmuGroupsSchedIn(
  core: PerfCore,
  ctx: PerfEventContext,
  groups: PerfEventGroups,
  pmu: Pmu,
  cpu: number,
  now: Ns,
  eventType: number,
): void {
  core.passCanAddHw = true;
  core.passEventType = eventType;
  core.passFirstFailure = null;
  core.stats.passes++;
  visitGroupsMerge(core, ctx, groups, cpu, pmu, now, null);
}

/**
 * The rest of a pass in progress after the group `after` (a replayed sched-in that found
 * its plan stale, guest-switch.ts): the walk as pmuGroupsSchedIn() would go on with it.
 */
export function pmuGroupsSchedInAfter(
  core: PerfCore,
  ctx: PerfEventContext,
  groups: PerfEventGroups,
  pmu: Pmu,
  cpu: number,
  after: PerfEvent,
  now: Ns,
): void {
  visitGroupsMerge(core, ctx, groups, cpu, pmu, now, after);
}

/**
 * Empties a list but keeps its storage: V8 frees an array's backing store on `length = 0`,
 * and these lists fill up again at the next sched-in (every guest entry and exit).
 */
export function emptyList(list: PerfEvent[]): void {
  while (list.length > 0) list.pop();
}

/** kernel: __pmu_ctx_sched_out(). */
export function pmuCtxSchedOut(
  core: PerfCore,
  epc: PerfEventPmuContext,
  eventType: number,
  now: Ns,
): void {
  if (!eventType) return;
  // Swap the whole list out first, so each group leaves an empty list in O(1).
  if (eventType & EVENT_PINNED && epc.pinnedActive.length > 0) {
    const list = epc.pinnedActive;
    epc.pinnedActive = epc.spare;
    for (let i = 0; i < list.length; i++) groupSchedOut(core, list[i]!, now);
    emptyList(list);
    epc.spare = list;
  }
  if (eventType & EVENT_FLEXIBLE) {
    if (epc.flexibleActive.length > 0) {
      const list = epc.flexibleActive;
      epc.flexibleActive = epc.spare;
      for (let i = 0; i < list.length; i++) groupSchedOut(core, list[i]!, now);
      emptyList(list);
      epc.spare = list;
    }
    epc.rotateNecessary = false;
  }
}

/** kernel: ctx_sched_out(). `pmu` limits it to one PMU. */
export function ctxSchedOut(
  core: PerfCore,
  cpuctx: PerfCpuContext,
  ctx: PerfEventContext,
  pmu: Pmu | null,
  eventType: number,
  now: Ns,
): void {
  let isActive = ctx.isActive;
  if (!isActive) return;
  if (isActive & EVENT_TIME) updateContextTime(ctx, now);
  ctx.isActive &= ~eventType;
  if (!(ctx.isActive & EVENT_ALL)) ctx.isActive = 0;
  if (ctx.task !== null && !(ctx.isActive & EVENT_ALL)) {
    cpuctx.taskCtx = null;
    ctx.onCpu = -1;
    for (const epc of ctx.pmuCtxList) {
      const cpc = core.cpc(epc.pmu, cpuctx.cpu);
      if (cpc.taskEpc === epc) cpc.taskEpc = null;
    }
  }
  isActive ^= ctx.isActive;
  for (const epc of ctx.pmuCtxList) {
    if (pmu && epc.pmu !== pmu) continue;
    if (core.skipEpc(epc, eventType)) continue;
    pmuCtxSchedOut(core, epc, isActive & EVENT_ALL, now);
  }
}

/** kernel: ctx_sched_in(). Only types newly switched on are scheduled. */
export function ctxSchedIn(
  core: PerfCore,
  cpuctx: PerfCpuContext,
  ctx: PerfEventContext,
  pmu: Pmu | null,
  eventType: number,
  now: Ns,
): void {
  let isActive = ctx.isActive;
  if (ctx.nrEvents === 0) return;
  if (!(isActive & EVENT_TIME)) ctx.timestamp = now;
  ctx.isActive |= (eventType & EVENT_ALL) | EVENT_TIME;
  if (ctx.task !== null && !(isActive & EVENT_ALL)) {
    cpuctx.taskCtx = ctx;
    ctx.onCpu = cpuctx.cpu;
    for (const epc of ctx.pmuCtxList) core.cpc(epc.pmu, cpuctx.cpu).taskEpc = epc;
  }
  isActive ^= ctx.isActive;
  if (isActive & EVENT_PINNED) {
    for (const epc of ctx.pmuCtxList) {
      if (pmu && epc.pmu !== pmu) continue;
      if (core.skipEpc(epc, eventType)) continue;
      pmuGroupsSchedIn(core, ctx, ctx.pinnedGroups, epc.pmu, cpuctx.cpu, now, eventType);
    }
  }
  if (isActive & EVENT_FLEXIBLE) {
    for (const epc of ctx.pmuCtxList) {
      if (pmu && epc.pmu !== pmu) continue;
      if (core.skipEpc(epc, eventType)) continue;
      pmuGroupsSchedIn(core, ctx, ctx.flexibleGroups, epc.pmu, cpuctx.cpu, now, eventType);
    }
  }
}

/** kernel: perf_event_sched_in(): CPU pinned, task pinned, CPU flexible, task flexible. */
export function perfEventSchedIn(
  core: PerfCore,
  cpuctx: PerfCpuContext,
  taskCtx: PerfEventContext | null,
  pmu: Pmu | null,
  now: Ns,
  extra = 0,
): void {
  ctxSchedIn(core, cpuctx, cpuctx.ctx, pmu, EVENT_PINNED | extra, now);
  if (taskCtx) ctxSchedIn(core, cpuctx, taskCtx, pmu, EVENT_PINNED | extra, now);
  ctxSchedIn(core, cpuctx, cpuctx.ctx, pmu, EVENT_FLEXIBLE | extra, now);
  if (taskCtx) ctxSchedIn(core, cpuctx, taskCtx, pmu, EVENT_FLEXIBLE | extra, now);
}

/**
 * kernel: ctx_resched(): make room for a newly installed or enabled event of `eventType`
 * on `pmu`. Pinned implies flexible; task events are scheduled out, CPU events only for
 * EVENT_CPU, and a task-pinned event also pushes the CPU flexible groups out. Then
 * everything goes back in priority order.
 */
export function ctxResched(
  core: PerfCore,
  cpuctx: PerfCpuContext,
  taskCtx: PerfEventContext | null,
  pmu: Pmu | null,
  eventType: number,
  now: Ns,
): void {
  const cpuEvent = (eventType & EVENT_CPU) !== 0;
  if (eventType & EVENT_PINNED) eventType |= EVENT_FLEXIBLE;
  eventType &= EVENT_ALL;
  if (taskCtx) ctxSchedOut(core, cpuctx, taskCtx, pmu, eventType, now);
  if (cpuEvent) ctxSchedOut(core, cpuctx, cpuctx.ctx, pmu, eventType, now);
  else if (eventType & EVENT_PINNED)
    ctxSchedOut(core, cpuctx, cpuctx.ctx, pmu, EVENT_FLEXIBLE, now);
  perfEventSchedIn(core, cpuctx, taskCtx, pmu, now);
}

/** kernel: get_event_type(): the leader decides pinned or flexible; CPU contexts add EVENT_CPU. */
export function getEventType(e: PerfEvent): number {
  let t = e.groupLeader.attr.pinned ? EVENT_PINNED : EVENT_FLEXIBLE;
  if (e.ctx && e.ctx.task === null) t |= EVENT_CPU;
  return t;
}
