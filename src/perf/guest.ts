import { isAmdPmu, type PmuHwDesc } from "../hw/pmu-desc.js";
import { ERRNO } from "../sim/errno.js";
import type { Ns } from "../sim/time.js";
import { EVENT_FLEXIBLE, EVENT_GUEST, EVENT_PINNED, type PerfEventContext } from "./context.js";
import type { PerfCore } from "./core.js";
import { PERF_EVENT_STATE, type PerfEvent } from "./event.js";
import {
  GuestSwitchPlans,
  guestDropPlan,
  guestLoadCtx,
  guestLoadLazy,
  guestPlanValid,
  guestPutLazy,
  guestRecordPlan,
  guestReplaySchedIn,
  guestSyncCpu,
} from "./guest-switch.js";
import { PERF_PMU_CAP, type Pmu } from "./pmu.js";
import type { PerfEventPmuContext } from "./pmu-context.js";
import { eventSchedOut, pmuGroupsSchedIn } from "./schedule.js";
import { perfEventSetState, updateContextTime } from "./time.js";

declare module "../sim/trace.js" {
  interface TraceRecordMap {
    perf_guest: { cpu: number; what: "enter" | "exit" | "load" | "put" };
  }
}

/**
 * The two designs that give a guest the PMU hardware, as kernel profiles:
 * - "rfc-v1": perf_guest_enter()/perf_guest_exit() of the January 2024 RFC (the seed
 *   patch): while a CPU runs a guest, passthrough-capable PMUs skip scheduling, active
 *   groups are scheduled out and those with a !exclude_guest member go to ERROR, and new
 *   !exclude_guest events on that CPU get EBUSY.
 * - "7.0": the merged mediated vPMU: perf_create_mediated_pmu() refuses (EBUSY) while any
 *   !exclude_guest event exists on a mediated-capable PMU, such events cannot be created
 *   (EOPNOTSUPP) while a mediated VM exists, and perf_load/put_guest_context() switch the
 *   PMU around each guest run with guest time, so exclude_guest events are neither enabled
 *   nor running while the guest is loaded.
 */
export type VpmuProfile = "rfc-v1" | "7.0" | "5.18";

/** Every kernel profile. */
export const VPMU_PROFILES: readonly VpmuProfile[] = ["7.0", "5.18", "rfc-v1"];

/** Per-core state of the vPMU profiles. */
export class GuestPmuState {
  /** RFC: per-CPU __perf_force_exclude_guest. */
  readonly forceExcludeGuest: boolean[];
  /** 7.0: per-CPU guest_ctx_loaded. */
  readonly guestCtxLoaded: boolean[];
  /** 7.0: nr_mediated_pmu_vms and nr_include_guest_events. */
  nrMediatedPmuVms = 0;
  nrIncludeGuestEvents = 0;
  /** Warnings the kernel would print (WARN_ON_ONCE). */
  readonly warnings: string[] = [];
  /** 7.0: what each CPU's last put scheduled in, replayed while valid (guest-switch.ts). */
  readonly plans: GuestSwitchPlans;
  /** Replay plans at put (false: always walk the group trees; tests compare the two). */
  replayPlans = true;
  /** Make loads lazy where the plan allows (guest-switch.ts; false: never; tests compare). */
  lazyLoads = true;
  /** Keep the plan across a rotation (guestRecordRotation(); false: a rotation drops it; tests compare). */
  recordRotations = true;

  constructor(
    nrCpus: number,
    readonly profile: VpmuProfile,
    /** RFC: apply the evident fix to the sibling loop (set each sibling, not the leader, to ERROR). */
    readonly fixSiblingLoop: boolean,
  ) {
    this.forceExcludeGuest = Array.from({ length: nrCpus }, () => false);
    this.guestCtxLoaded = Array.from({ length: nrCpus }, () => false);
    this.plans = new GuestSwitchPlans(nrCpus);
  }
}

/** kernel: has_vpmu_passthrough_cap(). */
function passthroughCap(pmu: Pmu): boolean {
  return (pmu.capabilities & PERF_PMU_CAP.VPMU_PASSTHROUGH) !== 0;
}

/** kernel: is_include_guest_event() (7.0): !exclude_guest on a mediated-capable PMU. */
function isIncludeGuestEvent(e: PerfEvent): boolean {
  return (e.pmu.capabilities & PERF_PMU_CAP.MEDIATED_VPMU) !== 0 && !e.attr.exclude_guest;
}

// The scheduling-pass hooks of the profiles are plain functions, not closures over the
// state: every System then calls the same function, which V8 can inline into the pass.

/** kernel (RFC): merge_sched_in() skips passthrough PMUs while the CPU is in guest mode. */
function rfcGuestOwns(core: PerfCore, pmu: Pmu, cpu: number): boolean {
  return core.guest!.forceExcludeGuest[cpu]! && passthroughCap(pmu);
}

/**
 * kernel: merge_sched_in() leaves mediated PMUs alone while a guest context is loaded,
 * except in the EVENT_GUEST pass of perf_put_guest_context().
 */
function mediatedGuestOwns(core: PerfCore, pmu: Pmu, cpu: number, eventType: number): boolean {
  return (
    core.guest!.guestCtxLoaded[cpu]! &&
    (pmu.capabilities & PERF_PMU_CAP.MEDIATED_VPMU) !== 0 &&
    !(eventType & EVENT_GUEST)
  );
}

/** kernel: perf_skip_pmu_ctx(): an EVENT_GUEST pass only touches mediated PMUs. */
function mediatedSkipEpc(epc: PerfEventPmuContext, eventType: number): boolean {
  return (eventType & EVENT_GUEST) !== 0 && !(epc.pmu.capabilities & PERF_PMU_CAP.MEDIATED_VPMU);
}

/**
 * kernel: the core PMU advertises PERF_PMU_CAP_MEDIATED_VPMU; on AMD only from PerfMonV2
 * (version 2), which has the global status set/clear MSRs a guest context switch needs.
 */
function mediatedCapable(desc: PmuHwDesc): boolean {
  return !isAmdPmu(desc) || desc.version >= 2;
}

/**
 * Installs a profile on the perf core: the capability on the x86 core PMUs, the
 * merge_sched_in()/perf_skip_pmu_ctx() rules and the event-creation checks.
 */
export function installVpmuProfile(
  core: PerfCore,
  profile: VpmuProfile,
  fixSiblingLoop = false,
): GuestPmuState {
  const st = new GuestPmuState(core.cpuctx.length, profile, fixSiblingLoop);
  core.guest = st;
  const x86 = core.sys.machine.desc.arch === "x86_64";
  if (profile === "rfc-v1") {
    if (x86)
      for (const p of core.registry.pmus)
        if (p.taskCtxNr === "hw" && "desc" in p) p.capabilities |= PERF_PMU_CAP.VPMU_PASSTHROUGH;
    core.guestOwns = rfcGuestOwns;
    // kernel (RFC): perf_force_exclude_guest_check() in perf_event_alloc().
    core.allocChecks.push((e) => {
      if (!passthroughCap(e.pmu) || e.attr.exclude_guest) return 0;
      let cpu = -1;
      if (e.cpu !== -1) cpu = e.cpu;
      else if (e.task && e.task.flags & 0x1 /* PF_VCPU */) cpu = e.task.cpu;
      return cpu >= 0 && st.forceExcludeGuest[cpu] ? -ERRNO.EBUSY : 0;
    });
  } else if (profile === "7.0") {
    if (x86)
      for (const p of core.registry.pmus)
        if (p.taskCtxNr === "hw" && "desc" in p && mediatedCapable(p.desc as PmuHwDesc))
          p.capabilities |= PERF_PMU_CAP.MEDIATED_VPMU;
    core.guestOwns = mediatedGuestOwns;
    core.epcFilter = mediatedSkipEpc;
    // kernel: mediated_pmu_account_event().
    core.allocChecks.push((e) => {
      if (!isIncludeGuestEvent(e)) return 0;
      if (st.nrMediatedPmuVms > 0) return -ERRNO.EOPNOTSUPP;
      st.nrIncludeGuestEvents++;
      e.mediatedAccounted = true;
      return 0;
    });
    core.freeHooks.push((e) => {
      if (e.mediatedAccounted) {
        e.mediatedAccounted = false;
        st.nrIncludeGuestEvents--;
      }
    });
  }
  return st;
}

/** The trace record and the listeners of a guest PMU switch on `cpu`. */
function guestSwitched(
  core: PerfCore,
  cpu: number,
  what: "enter" | "exit" | "load" | "put",
  now: Ns,
): void {
  const trace = core.sys.trace;
  if (trace.enabled) trace.emit({ kind: "perf_guest", t: now, cpu, what });
  const listeners = core.guestListeners;
  for (let i = 0; i < listeners.length; i++) listeners[i]!(cpu, what, now);
}

// --- RFC v1 -----------------------------------------------------------------------

/**
 * kernel (RFC): __perf_force_exclude_guest_pmu(): schedule the group out; if any member
 * counts the guest, put the group in ERROR. As written, the sibling loop sets the leader
 * again (a no-op), so siblings stay INACTIVE; `fix` sets each sibling instead.
 */
function forceExcludeGuestGroup(core: PerfCore, e: PerfEvent, fix: boolean, now: Ns): void {
  eventSchedOut(core, e, now);
  let includeGuest = !e.attr.exclude_guest;
  for (const s of e.siblings) {
    eventSchedOut(core, s, now);
    if (!s.attr.exclude_guest) includeGuest = true;
  }
  if (includeGuest) {
    perfEventSetState(core, e, PERF_EVENT_STATE.ERROR);
    for (const s of e.siblings) perfEventSetState(core, fix ? s : e, PERF_EVENT_STATE.ERROR);
  }
}

/** kernel (RFC): perf_force_exclude_guest_enter() for one context. */
function forceExcludeGuestEnter(
  core: PerfCore,
  ctx: PerfEventContext,
  fix: boolean,
  now: Ns,
): void {
  updateContextTime(ctx, now);
  for (const epc of ctx.pmuCtxList) {
    if (!passthroughCap(epc.pmu)) continue;
    for (const e of [...epc.pinnedActive]) forceExcludeGuestGroup(core, e, fix, now);
    for (const e of [...epc.flexibleActive]) forceExcludeGuestGroup(core, e, fix, now);
    epc.rotateNecessary = false;
  }
}

/** kernel (RFC): perf_guest_enter(), on `cpu` with IRQs off, right before VM-entry. */
export function perfGuestEnter(core: PerfCore, cpu: number, now: Ns): void {
  const st = core.guest!;
  if (st.forceExcludeGuest[cpu]) return;
  const cpuctx = core.cpuctx[cpu]!;
  forceExcludeGuestEnter(core, cpuctx.ctx, st.fixSiblingLoop, now);
  if (cpuctx.taskCtx) forceExcludeGuestEnter(core, cpuctx.taskCtx, st.fixSiblingLoop, now);
  st.forceExcludeGuest[cpu] = true;
  guestSwitched(core, cpu, "enter", now);
}

/** kernel (RFC): perf_force_exclude_guest_exit(): pinned then flexible, per context. */
function forceExcludeGuestExit(core: PerfCore, ctx: PerfEventContext, cpu: number, now: Ns): void {
  updateContextTime(ctx, now);
  for (const epc of ctx.pmuCtxList) {
    if (!passthroughCap(epc.pmu)) continue;
    pmuGroupsSchedIn(core, ctx, ctx.pinnedGroups, epc.pmu, cpu, now, EVENT_PINNED);
    pmuGroupsSchedIn(core, ctx, ctx.flexibleGroups, epc.pmu, cpu, now, EVENT_FLEXIBLE);
  }
}

/**
 * kernel (RFC): perf_guest_exit(), right after VM-exit: the CPU context, then the task
 * context, are scheduled back in (CPU flexible before task pinned, unlike a normal switch).
 */
export function perfGuestExit(core: PerfCore, cpu: number, now: Ns): void {
  const st = core.guest!;
  if (!st.forceExcludeGuest[cpu]) return;
  st.forceExcludeGuest[cpu] = false;
  const cpuctx = core.cpuctx[cpu]!;
  forceExcludeGuestExit(core, cpuctx.ctx, cpu, now);
  if (cpuctx.taskCtx) forceExcludeGuestExit(core, cpuctx.taskCtx, cpu, now);
  guestSwitched(core, cpu, "exit", now);
}

// --- Linux 7.0 mediated vPMU -------------------------------------------------------

/** kernel: perf_create_mediated_pmu(): EBUSY while any include-guest event exists. */
export function perfCreateMediatedPmu(core: PerfCore): number {
  const st = core.guest!;
  if (st.nrIncludeGuestEvents > 0) return -ERRNO.EBUSY;
  st.nrMediatedPmuVms++;
  return 0;
}

/** kernel: perf_release_mediated_pmu(). */
export function perfReleaseMediatedPmu(core: PerfCore): void {
  const st = core.guest!;
  if (st.nrMediatedPmuVms > 0) st.nrMediatedPmuVms--;
}

/**
 * kernel: perf_load_guest_context(): schedule out every event of a mediated PMU on this
 * CPU (CPU and task context) and start guest time. The contexts stay active: other PMUs
 * (uncore, software) keep counting. A second load without a put WARNs and does nothing.
 */
export function perfLoadGuestContext(core: PerfCore, cpu: number, now: Ns): void {
  const st = core.guest!;
  if (st.guestCtxLoaded[cpu]) {
    st.warnings.push(`WARN_ON_ONCE: perf_load_guest_context() twice on CPU ${cpu} at ${now}ns`);
    return;
  }
  const cpuctx = core.cpuctx[cpu]!;
  if (!(st.lazyLoads && st.replayPlans && guestLoadLazy(core, st.plans, cpuctx, now))) {
    guestLoadCtx(core, cpuctx.ctx, cpu, now);
    if (cpuctx.taskCtx) guestLoadCtx(core, cpuctx.taskCtx, cpu, now);
  }
  st.guestCtxLoaded[cpu] = true;
  guestSwitched(core, cpu, "load", now);
}

/**
 * kernel: perf_put_guest_context(): stop guest time, then schedule the mediated PMUs back
 * in with the normal priority order (CPU pinned, task pinned, CPU flexible, task flexible).
 */
export function perfPutGuestContext(core: PerfCore, cpu: number, now: Ns): void {
  const st = core.guest!;
  if (!st.guestCtxLoaded[cpu]) return;
  const cpuctx = core.cpuctx[cpu]!;
  updateContextTime(cpuctx.ctx, now);
  cpuctx.ctx.guestLoaded = false;
  if (cpuctx.taskCtx) {
    updateContextTime(cpuctx.taskCtx, now);
    cpuctx.taskCtx.guestLoaded = false;
  }
  // The kernel clears guest_ctx_loaded after the EVENT_GUEST pass; that pass is exempt
  // from the "guest owns the PMU" skip anyway, so clearing it first changes nothing and
  // keeps the invariant checker's view (the guest state is already saved) exact.
  st.guestCtxLoaded[cpu] = false;
  if (st.plans.lazy[cpu] !== 0) {
    if (!guestPutLazy(core, st.plans, cpu, now)) guestDropPlan(st.plans, cpu);
  } else if (st.replayPlans && guestPlanValid(st.plans, cpuctx)) {
    st.plans.replayed++;
    if (!guestReplaySchedIn(core, cpuctx, now)) guestDropPlan(st.plans, cpu);
  } else {
    st.plans.walked++;
    guestRecordPlan(st.plans, cpuctx, guestSchedIn(core, cpu, now));
  }
  guestSwitched(core, cpu, "put", now);
}

/**
 * Completes the lazy loads (guest-switch.ts) on `cpu`, or on every CPU for -1, before
 * something looks at or changes perf state there.
 */
export function perfGuestSync(core: PerfCore, cpu: number): void {
  const st = core.guest;
  if (st === null || st.plans.nrLazy === 0) return;
  if (cpu >= 0) {
    guestSyncCpu(core, st.plans, cpu);
    return;
  }
  const plans = st.plans;
  while (plans.nrLazy > 0) guestSyncCpu(core, plans, plans.lazyList[plans.nrLazy - 1]!);
}

/**
 * One pass of the EVENT_GUEST sched-in over one context (mediated PMUs only). Each epc keeps
 * the flexible group that did not go on, for the plan; false if a pinned group failed.
 */
function guestPass(
  core: PerfCore,
  ctx: PerfEventContext,
  cpu: number,
  pinned: boolean,
  now: Ns,
): boolean {
  let ok = true;
  for (const epc of ctx.pmuCtxList) {
    if (core.skipEpc(epc, EVENT_GUEST)) continue;
    pmuGroupsSchedIn(
      core,
      ctx,
      pinned ? ctx.pinnedGroups : ctx.flexibleGroups,
      epc.pmu,
      cpu,
      now,
      EVENT_GUEST | (pinned ? EVENT_PINNED : EVENT_FLEXIBLE),
    );
    if (pinned) ok = ok && core.passFirstFailure === null;
    else epc.guestFailFlexible = core.passFirstFailure;
  }
  return ok;
}

/**
 * The EVENT_GUEST pass of perf_event_sched_in(): every type, mediated PMUs only, in priority
 * order. False if a pinned group failed.
 */
function guestSchedIn(core: PerfCore, cpu: number, now: Ns): boolean {
  const cpuctx = core.cpuctx[cpu]!;
  const task = cpuctx.taskCtx;
  let ok = guestPass(core, cpuctx.ctx, cpu, true, now);
  if (task) ok = guestPass(core, task, cpu, true, now) && ok;
  guestPass(core, cpuctx.ctx, cpu, false, now);
  if (task) guestPass(core, task, cpu, false, now);
  return ok;
}
