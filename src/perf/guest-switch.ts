import type { ExecState } from "../hw/exec.js";
import type { Ns } from "../sim/time.js";
import type { PerfCpuContext, PerfEventContext } from "./context.js";
import { EVENT_FLEXIBLE, EVENT_GUEST, EVENT_PINNED } from "./context.js";
import type { PerfCore } from "./core.js";
import {
  EVENT_HOT_EXCLUDE_GUEST,
  EVENT_HOT_EXCLUSIVE,
  EVENT_HOT_FREQ,
  PERF_EVENT_STATE,
  type PerfEvent,
} from "./event.js";
import { PERF_EF_START, PERF_PMU_CAP, type Pmu } from "./pmu.js";
import type { PerfCpuPmuContext, PerfEventPmuContext } from "./pmu-context.js";
import { emptyList, mergeSchedIn, pmuGroupsSchedInAfter, schedInFailed } from "./schedule.js";
import { perfEventSetState, updateContextTime } from "./time.js";

/**
 * The mediated vPMU switches the PMU at every VM-entry and VM-exit, so
 * perf_load_guest_context() and perf_put_guest_context() are the hottest paths of a
 * virtualized host. These are their event loops, with the same effects as the generic
 * scheduling code (states, times, counts, counters, order) and less work:
 *
 * - load schedules out the active groups of the mediated PMUs directly;
 * - put replays the groups the previous put scheduled in, in the same order, instead of
 *   walking the group trees, as long as nothing that could change the outcome of that walk
 *   has happened since (the schedGen of the CPU and task contexts unchanged, the same
 *   task context on the CPU, and every group went on last time). Otherwise put walks the
 *   trees and records anew. A multiplexing rotation changes the schedule, but on a CPU whose
 *   plan was valid it ends with the groups a walk would put on (guestRotationKeepsPlan()),
 *   so it records its outcome as the plan (guestRecordRotation()) instead of dropping it.
 *
 * The generic functions (ctx_sched_out's loop, merge_sched_in on the plan's groups) would do
 * the same with the generation bumps undone afterwards; the loops here are about 25% faster
 * per VM transition (bench/guest-switch.mjs), which is why they exist.
 *
 * Lazy load. When the plan is valid and every group in it is plain counting (exclude_guest,
 * no sampling, no frequency, not exclusive), a load followed by a put with nothing in between
 * that looks at the CPU's events changes them only through their counters: the groups go off
 * and come back on the same counters, and an exclude_guest event's clock stands still while
 * the guest is loaded, so its times do not move. Load then only stops the host counters
 * (they must not count guest execution) by freezing their clock, and marks the CPU; put
 * thaws it. A multiplexed plan's failed group is tried again at the put (retryFailed()), on
 * the counters the put would leave it. Anything that
 * could look at or change the CPU's events first calls perfGuestSync(), which does the load's
 * sched-out as it would have happened: the counters stopped at load and the event clocks
 * have not moved since, so states, and times and counts as a read sees them, come out the
 * same (an ACTIVE event's fields are brought up to date at fewer points, so a count can
 * differ in its last floating-point bit; reads truncate it). The callers are the
 * simulator's run loop (before every timer that is not the vCPU's own entry or exit or the
 * CPU's tick, and after the run), the perf syscalls and the perf scheduler hooks. Trace
 * output, state listeners and guest-switch listeners (the invariant checker) turn it off.
 */

/** Per-CPU record of the last put's sched-in. */
export class GuestSwitchPlans {
  /** The CPU context's schedGen when the plan was recorded; -1 when there is none. */
  readonly gen: number[];
  /** The task context then on the CPU, and its schedGen. */
  readonly taskCtx: Array<PerfEventContext | null>;
  readonly taskGen: number[];
  /** The plan is plain counting, so a load may be lazy (see above). */
  readonly lazyOk: Uint8Array;
  /**
   * Every failed flexible group of the plan is a lone event that group_can_go_on() lets try
   * (not exclusive, its PMU not held exclusively): a lazy put retries it without the PMU.
   */
  readonly loneFailures: Uint8Array;
  /**
   * With loneFailures: the PMU of each failed group (one entry per failing epc, CPU context
   * first), so that a lazy put retries them without touching the events (lazyRetryLone()).
   */
  readonly lonePmus: Array<Pmu[] | null>;
  /** Events in the plan, and sched-in passes over mediated PMUs a put makes (statistics). */
  readonly nrEvents: Int32Array;
  readonly nrPasses: Int32Array;
  /** CPUs whose load is lazy (the events are still on their counters), and how many. */
  readonly lazy: Uint8Array;
  nrLazy = 0;
  /** What each lazily loaded CPU executed when its host counters froze (their rates are for it). */
  readonly frozenExec: Array<ExecState | null>;
  /** The lazy CPUs as a list (the first nrLazy entries), and each CPU's place in it. */
  readonly lazyList: Int32Array;
  private readonly lazyPos: Int32Array;
  /** Puts that replayed a plan, and puts that walked the group trees. */
  replayed = 0;
  walked = 0;
  /** Failed flexible groups of multiplexed plans tried again (retryFailed()). */
  retried = 0;
  /** Of those, lone events a lazy put retried without the PMU (lazyRetryLone()). */
  retriedLone = 0;
  /** Rotations whose outcome became the plan (guestRecordRotation()). */
  rotationsRecorded = 0;
  /** Lazy loads, and those that something made happen before the put. */
  lazyLoads = 0;
  synced = 0;

  constructor(nrCpus: number) {
    this.gen = Array.from({ length: nrCpus }, () => -1);
    this.taskCtx = Array.from({ length: nrCpus }, () => null);
    this.taskGen = Array.from({ length: nrCpus }, () => 0);
    this.lazyOk = new Uint8Array(nrCpus);
    this.loneFailures = new Uint8Array(nrCpus);
    this.lonePmus = Array.from({ length: nrCpus }, () => null);
    this.nrEvents = new Int32Array(nrCpus);
    this.nrPasses = new Int32Array(nrCpus);
    this.lazy = new Uint8Array(nrCpus);
    this.frozenExec = Array.from({ length: nrCpus }, () => null);
    this.lazyList = new Int32Array(nrCpus);
    this.lazyPos = new Int32Array(nrCpus);
  }

  /** Marks `cpu` lazy. */
  addLazy(cpu: number): void {
    this.lazy[cpu] = 1;
    this.lazyPos[cpu] = this.nrLazy;
    this.lazyList[this.nrLazy++] = cpu;
  }

  /** Marks `cpu` no longer lazy (the last listed CPU takes its place). */
  removeLazy(cpu: number): void {
    this.lazy[cpu] = 0;
    const i = this.lazyPos[cpu]!;
    const last = this.lazyList[--this.nrLazy]!;
    this.lazyList[i] = last;
    this.lazyPos[last] = i;
  }
}

function mediated(epc: PerfEventPmuContext): boolean {
  return (epc.pmu.capabilities & PERF_PMU_CAP.MEDIATED_VPMU) !== 0;
}

/**
 * kernel: perf_event_set_state() between ACTIVE and INACTIVE for a member of a group that is
 * going on or off the hardware as a whole. The leader is then ACTIVE or INACTIVE, so the
 * event's effective state is its own (no sibling times to update): time since tstamp is
 * enabled time, and running time too when it leaves ACTIVE. Same result as
 * perfEventSetState() without its general cases, and no schedGen bump: these are the
 * transitions the plan expects.
 */
function switchState(core: PerfCore, e: PerfEvent, to: number): void {
  const ctx = e.ctx!;
  const t = e.hot & EVENT_HOT_EXCLUDE_GUEST ? ctx.time - ctx.timeguest : ctx.time;
  const d = t - e.tstamp;
  const from = e.state;
  e.totalTimeEnabled += d;
  if (from === PERF_EVENT_STATE.ACTIVE) e.totalTimeRunning += d;
  e.tstamp = t;
  e.state = to;
  core.stateChanged(e, from, to);
}

/** kernel: event_sched_out() of an ACTIVE event whose list is being emptied as a whole. */
function guestEventSchedOut(core: PerfCore, e: PerfEvent, cpc: PerfCpuPmuContext, now: Ns): void {
  if (e.state !== PERF_EVENT_STATE.ACTIVE) return;
  const pmu = e.pmu;
  pmu.del(e, now);
  if (e.pendingDisable) {
    e.pendingDisable = false;
    perfEventSetState(core, e, PERF_EVENT_STATE.OFF);
  } else {
    switchState(core, e, PERF_EVENT_STATE.INACTIVE);
  }
  e.oncpu = -1;
  if (pmu.taskCtxNr !== "sw") cpc.activeOncpu--;
  if (e.hot & EVENT_HOT_FREQ) e.ctx!.nrFreq--;
  if (cpc.exclusive && (e.hot & EVENT_HOT_EXCLUSIVE || cpc.activeOncpu === 0))
    cpc.exclusive = false;
  core.stats.schedOps++;
}

/** __pmu_ctx_sched_out() of one active list: every group off, the list left empty. */
function guestListSchedOut(
  core: PerfCore,
  list: PerfEvent[],
  cpc: PerfCpuPmuContext,
  now: Ns,
): void {
  for (let i = 0; i < list.length; i++) {
    const leader = list[i]!;
    if (leader.state !== PERF_EVENT_STATE.ACTIVE) continue;
    guestEventSchedOut(core, leader, cpc, now);
    const siblings = leader.siblings;
    for (let j = 0; j < siblings.length; j++) guestEventSchedOut(core, siblings[j]!, cpc, now);
  }
  emptyList(list);
}

/**
 * kernel: one context's part of perf_load_guest_context(): ctx_sched_out(EVENT_GUEST)
 * takes every group of a mediated PMU off (pinned, then flexible) and guest time starts.
 */
export function guestLoadCtx(core: PerfCore, ctx: PerfEventContext, cpu: number, now: Ns): void {
  updateContextTime(ctx, now);
  mediatedSchedOut(core, ctx, cpu, now);
  ctx.guestLoaded = true;
}

/** The sched-out of guestLoadCtx(): every active group of a mediated PMU off. */
function mediatedSchedOut(core: PerfCore, ctx: PerfEventContext, cpu: number, now: Ns): void {
  const epcs = ctx.pmuCtxList;
  for (let i = 0; i < epcs.length; i++) {
    const epc = epcs[i]!;
    if (!mediated(epc)) continue;
    const cpc = epc.pmu.cpcs[cpu]!;
    // Swapped out first, as in pmuCtxSchedOut(): each group leaves an empty list.
    if (epc.pinnedActive.length > 0) {
      const list = epc.pinnedActive;
      epc.pinnedActive = epc.spare;
      guestListSchedOut(core, list, cpc, now);
      epc.spare = list;
    }
    if (epc.flexibleActive.length > 0) {
      const list = epc.flexibleActive;
      epc.flexibleActive = epc.spare;
      guestListSchedOut(core, list, cpc, now);
      epc.spare = list;
    }
    epc.rotateNecessary = false;
  }
}

/** kernel: event_sched_in() in a replayed group; false if the PMU refused it. */
function guestEventSchedIn(
  core: PerfCore,
  e: PerfEvent,
  cpu: number,
  cpc: PerfCpuPmuContext,
  now: Ns,
): boolean {
  if (e.state <= PERF_EVENT_STATE.OFF) return true;
  e.oncpu = cpu;
  switchState(core, e, PERF_EVENT_STATE.ACTIVE);
  const pmu = e.pmu;
  if (pmu.add(e, PERF_EF_START, now) !== 0) {
    switchState(core, e, PERF_EVENT_STATE.INACTIVE);
    e.oncpu = -1;
    return false;
  }
  if (pmu.taskCtxNr !== "sw") cpc.activeOncpu++;
  if (e.hot & EVENT_HOT_FREQ) e.ctx!.nrFreq++;
  if (e.hot & EVENT_HOT_EXCLUSIVE) cpc.exclusive = true;
  core.stats.schedOps++;
  return true;
}

/**
 * kernel: group_sched_in() of a group that went on last time. Returns false, with the
 * group taken off again, if it did not fit (the plan was stale; the caller falls back).
 */
function guestGroupSchedIn(
  core: PerfCore,
  leader: PerfEvent,
  cpu: number,
  cpc: PerfCpuPmuContext,
  now: Ns,
): boolean {
  if (!guestEventSchedIn(core, leader, cpu, cpc, now)) return false;
  const siblings = leader.siblings;
  for (let i = 0; i < siblings.length; i++) {
    if (guestEventSchedIn(core, siblings[i]!, cpu, cpc, now)) continue;
    for (let j = 0; j < i; j++) guestEventSchedOut(core, siblings[j]!, cpc, now);
    guestEventSchedOut(core, leader, cpc, now);
    return false;
  }
  return true;
}

/**
 * One pass of the EVENT_GUEST sched-in over one context, replayed from the plan. A group
 * that no longer fits ends the replay: it and the rest of the pass go through the generic
 * merge_sched_in() (which fails them the way the tree walk would) and the plan is dropped.
 */
function replayPass(
  core: PerfCore,
  ctx: PerfEventContext,
  cpu: number,
  pinned: boolean,
  now: Ns,
): boolean {
  let ok = true;
  const epcs = ctx.pmuCtxList;
  for (let i = 0; i < epcs.length; i++) {
    const epc = epcs[i]!;
    if (!mediated(epc)) continue;
    core.passCanAddHw = true;
    core.passEventType = EVENT_GUEST | (pinned ? EVENT_PINNED : EVENT_FLEXIBLE);
    core.stats.passes++;
    core.passFirstFailure = null;
    const plan = pinned ? epc.guestPlanPinned : epc.guestPlanFlexible;
    const cpc = epc.pmu.cpcs[cpu]!;
    for (let j = 0; j < plan.length; j++) {
      const leader = plan[j]!;
      if (ok && guestGroupSchedIn(core, leader, cpu, cpc, now)) {
        const list = pinned ? epc.pinnedActive : epc.flexibleActive;
        list[list.length] = leader;
        continue;
      }
      ok = false;
      mergeSchedIn(core, leader, cpu, now);
    }
    const failed = pinned ? null : epc.guestFailFlexible;
    if (failed !== null && ok) ok = retryFailed(core, ctx, epc, failed, cpu, now);
  }
  return ok;
}

/**
 * kernel: merge_sched_in() of the group the walk could not put on, right after the groups
 * before it: it is tried and fails again (its times brought up to date, rotate_necessary
 * set, the hrtimer restarted), and the groups after it would fail without trying (the
 * early stop of schedule.ts). The generation bumps of its attempt are the ones the plan was
 * recorded with, so they are not made (a lone event tries as guestEventSchedIn() does) or are
 * undone. Returns false, with the rest of the pass walked, if it went on after all (the plan
 * was stale).
 */
function retryFailed(
  core: PerfCore,
  ctx: PerfEventContext,
  epc: PerfEventPmuContext,
  failed: PerfEvent,
  cpu: number,
  now: Ns,
): boolean {
  core.guest!.plans.retried++;
  const cpc = epc.pmu.cpcs[cpu]!;
  if (failed.siblings.length === 0 && !(failed.hot & EVENT_HOT_EXCLUSIVE) && !cpc.exclusive) {
    // A lone event that group_can_go_on() lets try: event_sched_in() as in guestEventSchedIn().
    if (!guestEventSchedIn(core, failed, cpu, cpc, now)) {
      schedInFailed(core, failed, cpu, now);
      return true;
    }
    epc.flexibleActive[epc.flexibleActive.length] = failed;
  } else {
    const gen = ctx.schedGen;
    mergeSchedIn(core, failed, cpu, now);
    if (failed.state !== PERF_EVENT_STATE.ACTIVE) {
      ctx.schedGen = gen;
      return true;
    }
  }
  pmuGroupsSchedInAfter(core, ctx, ctx.flexibleGroups, epc.pmu, cpu, failed, now);
  return false;
}

/** True if the CPU's plan still describes what a sched-in pass would do. */
export function guestPlanValid(plans: GuestSwitchPlans, cpuctx: PerfCpuContext): boolean {
  const cpu = cpuctx.cpu;
  const task = cpuctx.taskCtx;
  return (
    plans.gen[cpu] === cpuctx.ctx.schedGen &&
    plans.taskCtx[cpu] === task &&
    (task === null || plans.taskGen[cpu] === task.schedGen)
  );
}

/**
 * The EVENT_GUEST sched-in of perf_put_guest_context() from the plan: CPU pinned, task
 * pinned, CPU flexible, task flexible. Returns false if the plan turned out stale.
 */
export function guestReplaySchedIn(core: PerfCore, cpuctx: PerfCpuContext, now: Ns): boolean {
  const cpu = cpuctx.cpu;
  const task = cpuctx.taskCtx;
  let ok = replayPass(core, cpuctx.ctx, cpu, true, now);
  if (task) ok = replayPass(core, task, cpu, true, now) && ok;
  ok = replayPass(core, cpuctx.ctx, cpu, false, now) && ok;
  if (task) ok = replayPass(core, task, cpu, false, now) && ok;
  return ok;
}

function copyInto(dst: PerfEvent[], src: readonly PerfEvent[]): void {
  dst.length = src.length;
  for (let i = 0; i < src.length; i++) dst[i] = src[i]!;
}

/** True if a group member can sit out a guest run on its counter (see "Lazy load"). */
function plainCounting(e: PerfEvent): boolean {
  return (
    (e.hot & (EVENT_HOT_EXCLUDE_GUEST | EVENT_HOT_FREQ | EVENT_HOT_EXCLUSIVE)) ===
      EVENT_HOT_EXCLUDE_GUEST &&
    e.state === PERF_EVENT_STATE.ACTIVE &&
    e.hw.samplePeriod === 0 &&
    e.hw.counter !== null &&
    !e.pendingDisable
  );
}

/** Plan statistics of one context's recorded groups. */
interface PlanTally {
  events: number;
  passes: number;
  plain: boolean;
}

function tallyGroups(list: readonly PerfEvent[], t: PlanTally): void {
  for (const leader of list) {
    t.events += 1 + leader.siblings.length;
    if (!plainCounting(leader)) t.plain = false;
    for (const s of leader.siblings) if (!plainCounting(s)) t.plain = false;
  }
}

function recordCtx(ctx: PerfEventContext, t: PlanTally): void {
  const epcs = ctx.pmuCtxList;
  for (let i = 0; i < epcs.length; i++) {
    const epc = epcs[i]!;
    if (!mediated(epc)) continue;
    copyInto(epc.guestPlanPinned, epc.pinnedActive);
    copyInto(epc.guestPlanFlexible, epc.flexibleActive);
    t.passes += 2;
    tallyGroups(epc.pinnedActive, t);
    tallyGroups(epc.flexibleActive, t);
  }
}

/**
 * True if a lazy put's retry of the CPU context's failed flexible group would find other
 * counters held than the put's: the task context's flexible groups of that PMU, which a put
 * schedules in after it, are on their counters already.
 */
function failureBeforeTaskGroups(cpuctx: PerfCpuContext): boolean {
  const task = cpuctx.taskCtx;
  if (task === null) return false;
  for (const epc of cpuctx.ctx.pmuCtxList) {
    if (!mediated(epc) || epc.guestFailFlexible === null) continue;
    for (const tepc of task.pmuCtxList)
      if (tepc.pmu === epc.pmu && tepc.guestPlanFlexible.length > 0) return true;
  }
  return false;
}

/**
 * After a put that walked the group trees: the active lists of the mediated PMUs are what
 * that put scheduled in, in order (load had emptied them), and each epc keeps the flexible
 * group that did not go on (guestPass()). Unless a pinned group failed (it went to ERROR, so
 * the next walk would go on differently), they become the CPU's plan.
 */
export function guestRecordPlan(
  plans: GuestSwitchPlans,
  cpuctx: PerfCpuContext,
  recordable: boolean,
): void {
  const cpu = cpuctx.cpu;
  if (!recordable) {
    plans.gen[cpu] = -1;
    return;
  }
  const t: PlanTally = { events: 0, passes: 0, plain: true };
  recordCtx(cpuctx.ctx, t);
  if (cpuctx.taskCtx) recordCtx(cpuctx.taskCtx, t);
  plans.lazyOk[cpu] = t.plain && !failureBeforeTaskGroups(cpuctx) ? 1 : 0;
  const task = cpuctx.taskCtx;
  const pmus = (plans.lonePmus[cpu] ??= []);
  pmus.length = 0;
  plans.loneFailures[cpu] =
    loneFailuresOnly(cpuctx.ctx, cpu, pmus) && (task === null || loneFailuresOnly(task, cpu, pmus))
      ? 1
      : 0;
  // A lazy load leaves rotate_necessary as the put will set it again (lazyLoadCtx()).
  if (!rotateMatchesFailures(cpuctx.ctx) || (task !== null && !rotateMatchesFailures(task)))
    plans.lazyOk[cpu] = 0;
  plans.nrEvents[cpu] = t.events;
  plans.nrPasses[cpu] = t.passes;
  plans.gen[cpu] = cpuctx.ctx.schedGen;
  plans.taskCtx[cpu] = cpuctx.taskCtx;
  plans.taskGen[cpu] = cpuctx.taskCtx ? cpuctx.taskCtx.schedGen : 0;
}

/**
 * True if every failed flexible group of `ctx`'s mediated PMUs is one that retryFailed() tries
 * alone: an INACTIVE lone event, not exclusive, its PMU not held exclusively. Their PMUs go
 * to `pmus`.
 */
function loneFailuresOnly(ctx: PerfEventContext, cpu: number, pmus: Pmu[]): boolean {
  for (const epc of ctx.pmuCtxList) {
    const f = epc.guestFailFlexible;
    if (f === null || !mediated(epc)) continue;
    if (
      f.siblings.length > 0 ||
      f.hot & EVENT_HOT_EXCLUSIVE ||
      f.state !== PERF_EVENT_STATE.INACTIVE ||
      epc.pmu.cpcs[cpu]!.exclusive
    )
      return false;
    pmus.push(epc.pmu);
  }
  return true;
}

/**
 * True if each mediated epc of `ctx` asks for rotation exactly when its pass had a failed
 * flexible group: what a load (which clears rotate_necessary) and a put (whose failing
 * merge_sched_in() sets it) leave, so a lazy load and put need not touch it.
 */
function rotateMatchesFailures(ctx: PerfEventContext): boolean {
  for (const epc of ctx.pmuCtxList)
    if (mediated(epc) && epc.rotateNecessary !== (epc.guestFailFlexible !== null)) return false;
  return true;
}

/**
 * True if a rotation about to run on `cpuctx`'s CPU leaves the CPU's plan as good as a walk:
 * the plan describes the groups on now (valid, and nothing loaded or lazy on the CPU). The
 * rotation takes one PMU's flexible groups off (task, then CPU), rotates and puts them back
 * on in the order a put's sched-in would (CPU flexible, then task flexible, with the pinned
 * groups on the counters the plan left them). Counter assignment depends only on which
 * counters are held, so what is on afterwards, on which counters, and which group failed
 * first, are what the next put's tree walk would find; guestRecordRotation() records it,
 * where the generation bumps of the rotation would otherwise send that put to the walk.
 */
export function guestRotationKeepsPlan(
  plans: GuestSwitchPlans,
  cpuctx: PerfCpuContext,
  loaded: boolean,
): boolean {
  return !loaded && plans.lazy[cpuctx.cpu] === 0 && guestPlanValid(plans, cpuctx);
}

/**
 * After a rotation that guestRotationKeepsPlan() allowed: the rotated epcs keep the first
 * group their sched-in pass failed (as guestPass() does), and the active lists become the
 * CPU's plan again. `cpuEpc`/`taskEpc` are the epcs whose flexible groups went back on, or null.
 */
export function guestRecordRotation(
  plans: GuestSwitchPlans,
  cpuctx: PerfCpuContext,
  cpuEpc: PerfEventPmuContext | null,
  cpuFail: PerfEvent | null,
  taskEpc: PerfEventPmuContext | null,
  taskFail: PerfEvent | null,
): void {
  if (cpuEpc !== null && mediated(cpuEpc)) cpuEpc.guestFailFlexible = cpuFail;
  if (taskEpc !== null && mediated(taskEpc)) taskEpc.guestFailFlexible = taskFail;
  plans.rotationsRecorded++;
  guestRecordPlan(plans, cpuctx, true);
}

/** Forgets the CPU's plan. */
export function guestDropPlan(plans: GuestSwitchPlans, cpu: number): void {
  plans.gen[cpu] = -1;
}

/**
 * The context's part of a lazy load: guest time starts; the groups stay where they are.
 * rotate_necessary, which the load's sched-out clears and the put's failing sched-in sets
 * again, is left as the put leaves it (guestRecordPlan() checked that it is): only the
 * multiplexing handler reads it, and it completes the load first (guestSyncCpu()).
 */
function lazyLoadCtx(ctx: PerfEventContext, now: Ns): void {
  updateContextTime(ctx, now);
  ctx.guestLoaded = true;
}

/**
 * perf_load_guest_context() made lazy, if it may be: true if it was. The host counters stop
 * (the CPU is about to execute the guest, which exclude_guest events must not count).
 */
export function guestLoadLazy(
  core: PerfCore,
  plans: GuestSwitchPlans,
  cpuctx: PerfCpuContext,
  now: Ns,
): boolean {
  const cpu = cpuctx.cpu;
  if (plans.lazyOk[cpu] === 0 || !guestPlanValid(plans, cpuctx)) return false;
  // Whatever watches state changes or guest switches would see the groups still on.
  if (core.sys.trace.enabled || core.stateListeners.length > 0 || core.guestListeners.length > 0)
    return false;
  lazyLoadCtx(cpuctx.ctx, now);
  if (cpuctx.taskCtx) lazyLoadCtx(cpuctx.taskCtx, now);
  // The host counters stop at once: their clock freezes (hw/counter.ts).
  const simCpu = core.cpu(cpu);
  simCpu.hostPmu.occupancy.freeze(now);
  plans.frozenExec[cpu] = simCpu.exec;
  plans.addLazy(cpu);
  plans.lazyLoads++;
  return true;
}

/**
 * perf_put_guest_context() after a lazy load that nothing has looked at: the groups are
 * still on their counters, which count again from now. The statistics count the sched-out
 * and sched-in the kernel did.
 */
export function guestPutLazy(
  core: PerfCore,
  plans: GuestSwitchPlans,
  cpu: number,
  now: Ns,
): boolean {
  plans.removeLazy(cpu);
  const simCpu = core.cpu(cpu);
  const host = simCpu.hostPmu;
  host.occupancy.thaw(now);
  // Their rates are for what the CPU executed at the load; usually it executes that again.
  if (simCpu.exec !== plans.frozenExec[cpu]) host.retarget(now, simCpu.exec);
  plans.frozenExec[cpu] = null;
  core.stats.schedOps += 2 * plans.nrEvents[cpu]!;
  core.stats.passes += plans.nrPasses[cpu]!;
  // A multiplexed plan: the flexible groups that did not go on are tried again, CPU context
  // first (guestRecordPlan() made sure the task's groups are not in the way).
  if (plans.loneFailures[cpu] !== 0) {
    lazyRetryLone(core, plans, cpu, now);
    return true;
  }
  const cpuctx = core.cpuctx[cpu]!;
  let ok = lazyRetryFailed(core, cpuctx.ctx, cpu, now);
  if (cpuctx.taskCtx) ok = lazyRetryFailed(core, cpuctx.taskCtx, cpu, now) && ok;
  return ok;
}

/** retryFailed() of each mediated epc of `ctx` that has a failed flexible group. */
function lazyRetryFailed(core: PerfCore, ctx: PerfEventContext, cpu: number, now: Ns): boolean {
  let ok = true;
  const epcs = ctx.pmuCtxList;
  for (let i = 0; i < epcs.length; i++) {
    const epc = epcs[i]!;
    const failed = epc.guestFailFlexible;
    if (failed === null || !mediated(epc)) continue;
    core.passCanAddHw = true;
    core.passEventType = EVENT_GUEST | EVENT_FLEXIBLE;
    core.passFirstFailure = null;
    // The load cleared rotate_necessary (lazyLoadCtx() left it set): the retry's failure
    // sets it again, and a retry that finds the plan stale and goes on leaves it as its
    // walk does.
    epc.rotateNecessary = false;
    ok = retryFailed(core, ctx, epc, failed, cpu, now) && ok;
  }
  return ok;
}

/**
 * retryFailed() of the plan's lone failed events in a lazy put, without looking at them.
 * The counters held are the ones the PMU refused each at when the plan was recorded (the
 * plan's groups on the same counters, nothing changed since), so pmu->add() refuses it
 * again: event_sched_in() leaves it INACTIVE with its enabled time brought up to date (an
 * INACTIVE event's enabled time is a sum over its clock, the same whether it is folded now
 * or at the next read), and merge_sched_in()'s failure sets rotate_necessary (still set:
 * lazyLoadCtx()) and restarts the hrtimer (schedInFailed() of a flexible event). No state
 * listener runs in a lazy window, so the ACTIVE and back of event_sched_in() shows nowhere.
 */
function lazyRetryLone(core: PerfCore, plans: GuestSwitchPlans, cpu: number, now: Ns): void {
  const pmus = plans.lonePmus[cpu]!;
  const n = pmus.length;
  plans.retried += n;
  plans.retriedLone += n;
  core.schedInFailures += n;
  for (let i = 0; i < n; i++) {
    const pmu = pmus[i]!;
    // perf_mux_hrtimer_restart(), which does nothing while the hrtimer is active.
    if (pmu.hrtimerOn[cpu] !== 1) core.muxHrtimerRestart(pmu.cpcs[cpu]!, now);
  }
}

/**
 * Completes a lazy load on `cpu` now: the groups go off as the load would have taken them
 * off (their counters stopped at the load, and their clocks have not moved since), and the
 * freed host counters are zeroed as a load leaves them.
 */
export function guestSyncCpu(core: PerfCore, plans: GuestSwitchPlans, cpu: number): void {
  if (plans.lazy[cpu] === 0) return;
  plans.removeLazy(cpu);
  plans.synced++;
  const now = core.now();
  const cpuctx = core.cpuctx[cpu]!;
  mediatedSchedOut(core, cpuctx.ctx, cpu, now);
  if (cpuctx.taskCtx) mediatedSchedOut(core, cpuctx.taskCtx, cpu, now);
  // The counters stopped at the load: their frozen clock folds them to it. Then it runs on.
  const host = core.cpu(cpu).hostPmu;
  host.clearFreed();
  host.occupancy.thaw(now);
  plans.frozenExec[cpu] = null;
}
