import type { Ns } from "../sim/time.js";
import { EVENT_FLEXIBLE } from "./context.js";
import type { PerfCore } from "./core.js";
import type { PerfEvent } from "./event.js";
import { guestRecordRotation, guestRotationKeepsPlan } from "./guest-switch.js";
import type { PerfCpuPmuContext, PerfEventPmuContext } from "./pmu-context.js";
import { pmuCtxSchedOut, pmuGroupsSchedIn } from "./schedule.js";
import { updateContextTime } from "./time.js";

/**
 * kernel: ctx_event_to_rotate(): the first active flexible group, else the first flexible
 * group of this PMU in the tree (this CPU's, and for a task context the cpu = -1 ones
 * first). rotate_necessary is cleared; the next pass sets it again if needed.
 */
function ctxEventToRotate(epc: PerfEventPmuContext, cpu: number): PerfEvent | null {
  let e: PerfEvent | null = epc.flexibleActive[0] ?? null;
  if (!e) {
    const tree = epc.ctx.flexibleGroups;
    if (epc.ctx.task === null) e = tree.first(cpu, epc.pmu.order);
    else e = tree.first(-1, epc.pmu.order) ?? tree.first(cpu, epc.pmu.order);
  }
  epc.rotateNecessary = false;
  return e;
}

/** kernel: rotate_ctx(): delete and re-insert, so the group goes to the tail (in place). */
function rotateCtx(epc: PerfEventPmuContext, e: PerfEvent): void {
  if (epc.ctx.rotateDisable) return;
  epc.ctx.schedGen++;
  epc.ctx.flexibleGroups.moveToTail(e);
}

/** True if the CPU's guest-switch plan survives this rotation (guest-switch.ts). */
function keepsPlan(core: PerfCore, cpu: number): boolean {
  const st = core.guest;
  if (!st?.replayPlans || !st.recordRotations) return false;
  return guestRotationKeepsPlan(st.plans, core.cpuctx[cpu]!, st.guestCtxLoaded[cpu]!);
}

/**
 * kernel: perf_rotate_context(): called from the multiplexing hrtimer of one (PMU, CPU).
 * Returns true if it rotated (the timer then re-arms).
 */
export function perfRotateContext(core: PerfCore, cpc: PerfCpuPmuContext, now: Ns): boolean {
  const cpuEpc = cpc.epc;
  const taskEpc = cpc.taskEpc;
  const cpuRotate = cpuEpc.rotateNecessary;
  const taskRotate = taskEpc ? taskEpc.rotateNecessary : false;
  if (!(cpuRotate || taskRotate)) return false;
  const cpu = cpc.cpu;
  const trace = core.sys.trace;
  if (trace.enabled) trace.emit({ kind: "perf_rotate", t: now, cpu, pmu: cpc.pmu.name });
  core.stats.rotations++;
  const keep = keepsPlan(core, cpu);
  let cpuFail: PerfEvent | null = null;
  let taskFail: PerfEvent | null = null;
  let taskEvent: PerfEvent | null = null;
  let cpuEvent: PerfEvent | null = null;
  if (taskRotate && taskEpc) taskEvent = ctxEventToRotate(taskEpc, cpu);
  if (cpuRotate) cpuEvent = ctxEventToRotate(cpuEpc, cpu);
  // Task flexible groups come off first, as in ctx_resched().
  const touchTask = taskEpc !== null && (taskEvent !== null || cpuEvent !== null);
  if (touchTask) {
    updateContextTime(taskEpc!.ctx, now);
    pmuCtxSchedOut(core, taskEpc!, EVENT_FLEXIBLE, now);
  }
  if (cpuEvent) {
    updateContextTime(cpuEpc.ctx, now);
    pmuCtxSchedOut(core, cpuEpc, EVENT_FLEXIBLE, now);
    rotateCtx(cpuEpc, cpuEvent);
    pmuGroupsSchedIn(
      core,
      cpuEpc.ctx,
      cpuEpc.ctx.flexibleGroups,
      cpc.pmu,
      cpu,
      now,
      EVENT_FLEXIBLE,
    );
    cpuFail = core.passFirstFailure;
  }
  if (taskEvent) rotateCtx(taskEpc!, taskEvent);
  if (touchTask) {
    pmuGroupsSchedIn(
      core,
      taskEpc!.ctx,
      taskEpc!.ctx.flexibleGroups,
      cpc.pmu,
      cpu,
      now,
      EVENT_FLEXIBLE,
    );
    taskFail = core.passFirstFailure;
  }
  if (keep)
    guestRecordRotation(
      core.guest!.plans,
      core.cpuctx[cpu]!,
      cpuEvent ? cpuEpc : null,
      cpuFail,
      touchTask ? taskEpc : null,
      taskFail,
    );
  return true;
}
