import type { Task } from "../sched/task.js";
import { ERRNO } from "../sim/errno.js";
import type { Ns } from "../sim/time.js";
import type { PerfEventContext } from "./context.js";
import { findGetTaskCtx, type PerfCore } from "./core.js";
import {
  freeEvent,
  PERF_ATTACH_EXCLUSIVE,
  PERF_ATTACH_TASK,
  PERF_EV_CAP_SOFTWARE,
  PERF_EVENT_STATE,
  PerfEvent,
} from "./event.js";
import { perfGuestSync } from "./guest.js";
import { findGetPmuContext, perfInstallInContext, perfRemoveFromContext } from "./install.js";
import { PERF_PMU_CAP, type Pmu } from "./pmu.js";
import { perfEventClock, perfEventSetClock, perfEventSetOutput } from "./set-output.js";
import {
  hasAnyExclude,
  isSampling,
  type KernelAttr,
  PAGE_SIZE,
  PERF_ATTR_SIZE_CURRENT,
  PERF_ATTR_SIZE_VER0,
  PERF_FLAG_ALL,
  PERF_FLAG_FD_NO_GROUP,
  PERF_FLAG_FD_OUTPUT,
  PERF_FLAG_PID_CGROUP,
  PERF_FORMAT_MAX,
  PERF_SAMPLE_MAX,
  PERF_SAMPLE_READ,
  PERF_SAMPLE_TID,
  type PerfEventAttr,
} from "./uapi.js";
import { perfEventValidateSize } from "./validate-size.js";

/** Who calls perf_event_open(): root (CAP_PERFMON) or an unprivileged user. */
export interface Credentials {
  perfmon: boolean;
}

/** The root user. */
export const ROOT: Credentials = { perfmon: true };

const U64_MAX = (1n << 64n) - 1n;

function toBig(v: number | bigint | undefined): bigint | null {
  if (v === undefined) return 0n;
  if (typeof v === "bigint") return v >= 0n && v <= U64_MAX ? v : null;
  if (!Number.isInteger(v)) return null;
  if (v < 0) return v >= -(2 ** 63) ? (BigInt(v) + (1n << 64n)) & U64_MAX : null;
  return BigInt(v);
}

/** An attr field that is a u64 number (the configs are checked as bigints). */
function isU64Number(v: unknown): boolean {
  return v === undefined || (typeof v === "number" && Number.isInteger(v) && v >= 0);
}

/** An attr bit: set only by `true`. */
function b(v: unknown): boolean {
  return v === true;
}

/**
 * kernel: perf_copy_attr(): size rules (0 means VER0; below VER0 or above a page, or
 * non-zero bytes past the kernel's struct: E2BIG), reserved and unknown bits (EINVAL).
 * Malformed values a C caller could not even pass (a non-integer config) give EFAULT.
 */
export function perfCopyAttr(a: PerfEventAttr): KernelAttr | number {
  if (a === null || typeof a !== "object") return -ERRNO.EFAULT;
  if (typeof a.type !== "number" || !Number.isInteger(a.type) || a.type < 0 || a.type > 0xffffffff)
    return -ERRNO.EFAULT;
  let size = a.size ?? PERF_ATTR_SIZE_CURRENT;
  if (typeof size !== "number" || !Number.isInteger(size)) return -ERRNO.EFAULT;
  if (size === 0) size = PERF_ATTR_SIZE_VER0;
  if (size < PERF_ATTR_SIZE_VER0 || size > PAGE_SIZE) return -ERRNO.E2BIG;
  if (size > PERF_ATTR_SIZE_CURRENT && a.tail?.some((b) => b !== 0)) return -ERRNO.E2BIG;
  const config = toBig(a.config);
  const config1 = toBig(a.config1);
  const config2 = toBig(a.config2);
  const config3 = toBig(a.config3);
  if (config === null || config1 === null || config2 === null || config3 === null)
    return -ERRNO.EFAULT;
  if (
    !isU64Number(a.sample_period) ||
    !isU64Number(a.sample_freq) ||
    !isU64Number(a.sample_type) ||
    !isU64Number(a.read_format)
  )
    return -ERRNO.EFAULT;
  const sampleType = a.sample_type ?? 0;
  const readFormat = a.read_format ?? 0;
  if (sampleType >= PERF_SAMPLE_MAX) return -ERRNO.EINVAL;
  if (readFormat >= PERF_FORMAT_MAX) return -ERRNO.EINVAL;
  const attr: KernelAttr = {
    type: a.type,
    size,
    config,
    sample_period: a.freq ? 0 : (a.sample_period ?? 0),
    sample_freq: a.freq ? (a.sample_freq ?? a.sample_period ?? 0) : 0,
    sample_type: sampleType,
    read_format: readFormat,
    disabled: b(a.disabled),
    inherit: b(a.inherit),
    pinned: b(a.pinned),
    exclusive: b(a.exclusive),
    exclude_user: b(a.exclude_user),
    exclude_kernel: b(a.exclude_kernel),
    exclude_hv: b(a.exclude_hv),
    exclude_idle: b(a.exclude_idle),
    freq: b(a.freq),
    enable_on_exec: b(a.enable_on_exec),
    exclude_host: b(a.exclude_host),
    exclude_guest: b(a.exclude_guest),
    inherit_thread: b(a.inherit_thread),
    remove_on_exec: b(a.remove_on_exec),
    sigtrap: b(a.sigtrap),
    namespaces: b(a.namespaces),
    aux_output: b(a.aux_output),
    use_clockid: b(a.use_clockid),
    write_backward: b(a.write_backward),
    clockid: typeof a.clockid === "number" ? a.clockid | 0 : 0,
    config1,
    config2,
    config3,
  };
  if (attr.inherit_thread && !attr.inherit) return -ERRNO.EINVAL;
  if (attr.remove_on_exec && attr.enable_on_exec) return -ERRNO.EINVAL;
  if (attr.sigtrap && !attr.remove_on_exec) return -ERRNO.EINVAL;
  return attr;
}

/** kernel: perf_try_init_event(). */
function perfTryInitEvent(pmu: Pmu, e: PerfEvent): number {
  e.pmu = pmu;
  const ret = pmu.eventInit(e);
  if (ret !== 0) return ret;
  if (pmu.capabilities & PERF_PMU_CAP.NO_EXCLUDE && hasAnyExclude(e.attr)) return -ERRNO.EINVAL;
  return 0;
}

/** Default event name for traces: the PMU and config. */
function defaultName(e: PerfEvent): string {
  return `${e.pmu.name}/0x${e.attr.config.toString(16)}`;
}

/**
 * kernel: perf_event_alloc(): CPU range, PMU lookup, uncore-task refusal, exclusive
 * accounting and the vPMU profiles' checks. Returns the event or a negative errno.
 * `name` names it for traces and reports (default: its PMU and config).
 */
export function perfEventAlloc(
  core: PerfCore,
  attr: KernelAttr,
  cpu: number,
  task: Task | null,
  groupLeader: PerfEvent | null,
  name?: string,
): PerfEvent | number {
  if (!Number.isInteger(cpu) || cpu < -1 || cpu >= core.cpuctx.length || (cpu === -1 && !task)) {
    return -ERRNO.EINVAL;
  }
  if (attr.sigtrap && !task) return -ERRNO.EINVAL;
  const e = new PerfEvent(core.nextEventId, attr, cpu, task);
  e.state = attr.disabled ? PERF_EVENT_STATE.OFF : PERF_EVENT_STATE.INACTIVE;
  if (groupLeader) e.groupLeader = groupLeader;
  if (task) e.attachState |= PERF_ATTACH_TASK;
  e.hw.samplePeriod = attr.freq && attr.sample_freq ? 1 : attr.sample_period;
  e.hw.lastPeriod = e.hw.samplePeriod;
  e.hw.periodLeft = e.hw.samplePeriod;
  if (attr.inherit && attr.sample_type & PERF_SAMPLE_READ && !(attr.sample_type & PERF_SAMPLE_TID))
    return -ERRNO.EINVAL;
  const pmu = core.registry.initEvent(e, perfTryInitEvent);
  if (typeof pmu === "number") return pmu;
  e.pmu = pmu;
  if (pmu.taskCtxNr === "invalid" && task) return -ERRNO.EINVAL;
  if (attr.aux_output && !(pmu.capabilities & PERF_PMU_CAP.AUX_OUTPUT)) return -ERRNO.EOPNOTSUPP;
  // kernel: exclusive_event_init(): exclusive_cnt < 0 for CPU-wide users, > 0 for per-task.
  if (pmu.capabilities & PERF_PMU_CAP.EXCLUSIVE) {
    if (task) {
      if (pmu.exclusiveCnt < 0) return -ERRNO.EBUSY;
      pmu.exclusiveCnt++;
    } else {
      if (pmu.exclusiveCnt > 0) return -ERRNO.EBUSY;
      pmu.exclusiveCnt--;
    }
    e.attachState |= PERF_ATTACH_EXCLUSIVE;
  }
  for (const check of core.allocChecks) {
    const r = check(e);
    if (r < 0) {
      releaseEvent(core, e);
      return r;
    }
  }
  core.nextEventId++;
  e.name = name ?? defaultName(e);
  return e;
}

/** Frees an event that never got installed: undo allocation-time accounting. */
function releaseEvent(core: PerfCore, e: PerfEvent): void {
  freeEvent(e);
  for (const h of core.freeHooks) h(e);
}

/** kernel: exclusive_event_installable(). */
function exclusiveEventInstallable(e: PerfEvent, ctx: PerfEventContext): boolean {
  if (!(e.pmu.capabilities & PERF_PMU_CAP.EXCLUSIVE)) return true;
  // The context's events of this PMU are in its epc, which counts them by cpu.
  const epc = ctx.pmuCtxList.find((p) => p.pmu === e.pmu);
  if (!epc || epc.nrExclusive === 0) return true;
  if (e.cpu === -1) return false;
  const by = epc.exclusiveByCpu!; // made by the first exclusive event counted
  return (by.get(-1) ?? 0) + (by.get(e.cpu) ?? 0) === 0;
}

/** kernel: find_get_context(): the task's context, or the CPU's (perf_allow_cpu first). */
function findGetContext(
  core: PerfCore,
  task: Task | null,
  e: PerfEvent,
  cred: Credentials,
): PerfEventContext | number {
  if (!task) {
    if (core.opts.paranoid > 0 && !cred.perfmon) return -ERRNO.EACCES;
    return core.cpuctx[e.cpu]!.ctx;
  }
  if (task.state === "dead") return -ERRNO.ESRCH;
  return findGetTaskCtx(core, task);
}

/**
 * SYSCALL_DEFINE5(perf_event_open), as the kernel orders its checks. Returns a new fd or
 * a negative errno.
 */
export function sysPerfEventOpen(
  core: PerfCore,
  uattr: PerfEventAttr,
  pid: number,
  cpu: number,
  groupFd: number,
  flags: number,
  cred: Credentials = ROOT,
): number {
  perfGuestSync(core, -1);
  const now = core.now();
  if (!Number.isInteger(flags) || flags < 0 || flags & ~PERF_FLAG_ALL) return -ERRNO.EINVAL;
  const attr = perfCopyAttr(uattr);
  if (typeof attr === "number") return attr;
  if (!attr.exclude_kernel && core.opts.paranoid > 1 && !cred.perfmon) return -ERRNO.EACCES;
  if (attr.namespaces && !cred.perfmon) return -ERRNO.EACCES;
  if (attr.freq) {
    if (attr.sample_freq > core.opts.maxSampleRate) return -ERRNO.EINVAL;
  } else if (attr.sample_period >= 2 ** 63) {
    return -ERRNO.EINVAL;
  }
  if (!Number.isInteger(pid) || !Number.isInteger(cpu) || !Number.isInteger(groupFd))
    return -ERRNO.EINVAL;
  if (flags & PERF_FLAG_PID_CGROUP) {
    // vpmu models no cgroups: a cgroup fd never names a cgroup directory.
    return pid === -1 || cpu === -1 ? -ERRNO.EINVAL : -ERRNO.EBADF;
  }
  const fd = core.allocFd();
  if (fd < 0) return fd;
  let groupLeader: PerfEvent | null = null;
  let outputEvent: PerfEvent | null = null;
  if (groupFd !== -1) {
    const g = core.fds.get(groupFd);
    if (!g) return -ERRNO.EBADF;
    if (g.state <= PERF_EVENT_STATE.REVOKED) return -ERRNO.ENODEV;
    if (flags & PERF_FLAG_FD_OUTPUT) outputEvent = g;
    groupLeader = flags & PERF_FLAG_FD_NO_GROUP ? null : g;
  }
  let task: Task | null = null;
  if (pid !== -1) {
    const t = pid === 0 ? core.monitor : core.sys.sched.tasks.get(pid);
    if (!t || t.state === "dead") return -ERRNO.ESRCH;
    task = t;
  }
  if (task && groupLeader && groupLeader.attr.inherit !== attr.inherit) return -ERRNO.EINVAL;
  const e = perfEventAlloc(core, attr, cpu, task, groupLeader);
  if (typeof e === "number") return e;
  const fail = (err: number): number => {
    releaseEvent(core, e);
    return err;
  };
  if (isSampling(e.attr) && e.pmu.capabilities & PERF_PMU_CAP.NO_INTERRUPT)
    return fail(-ERRNO.EOPNOTSUPP);
  const clockErr = perfEventSetClock(e);
  if (clockErr < 0) return fail(clockErr);
  let pmu = e.pmu;
  if (pmu.taskCtxNr === "sw") e.eventCaps |= PERF_EV_CAP_SOFTWARE;
  const ctx = findGetContext(core, task, e, cred);
  if (typeof ctx === "number") return fail(ctx);
  if (ctx.dead) return fail(-ERRNO.ESRCH);
  if (!task && !core.cpuctx[e.cpu]!.online) return fail(-ERRNO.ENODEV);
  let moveGroup = false;
  if (groupLeader) {
    if (groupLeader.groupLeader !== groupLeader) return fail(-ERRNO.EINVAL);
    if (perfEventClock(groupLeader.attr) !== perfEventClock(e.attr)) return fail(-ERRNO.EINVAL);
    if (groupLeader.cpu !== e.cpu) return fail(-ERRNO.EINVAL);
    if (groupLeader.ctx !== ctx) return fail(-ERRNO.EINVAL);
    if (attr.exclusive || attr.pinned) return fail(-ERRNO.EINVAL);
    const leaderPmu = groupLeader.pmuCtx!.pmu;
    if (pmu.taskCtxNr === "sw" && leaderPmu.taskCtxNr !== "sw") {
      // A software event joins the hardware leader's PMU context.
      pmu = leaderPmu;
    } else if (pmu.taskCtxNr !== "sw") {
      if (leaderPmu.taskCtxNr !== "sw" && leaderPmu !== pmu) return fail(-ERRNO.EINVAL);
      if (leaderPmu.taskCtxNr === "sw" && groupLeader.groupCaps & PERF_EV_CAP_SOFTWARE) {
        // kernel: move_group: a hardware event joining a software group moves it over.
        moveGroup = true;
      }
    }
  }
  e.pmuCtx = findGetPmuContext(core, pmu, ctx);
  if (outputEvent) {
    const r = perfEventSetOutput(e, outputEvent);
    if (r < 0) return fail(r);
  }
  if (!perfEventValidateSize(e, core.guest?.profile !== "5.18")) return fail(-ERRNO.E2BIG);
  if (!exclusiveEventInstallable(e, ctx)) return fail(-ERRNO.EBUSY);
  core.events.set(e.id, e);
  core.fds.set(fd, e);
  if (moveGroup && groupLeader) {
    // Take the software group out of its context, give every member the hardware PMU's
    // context, and install it back: siblings first, then the leader, each in its
    // initial state (kernel: perf_event__state_init()).
    const epc = e.pmuCtx;
    perfRemoveFromContext(core, groupLeader, 0, now);
    for (const s of groupLeader.siblings) perfRemoveFromContext(core, s, 0, now);
    for (const s of groupLeader.siblings) {
      s.pmuCtx = epc;
      s.state = s.attr.disabled ? PERF_EVENT_STATE.OFF : PERF_EVENT_STATE.INACTIVE;
      perfInstallInContext(core, ctx, s, now);
    }
    groupLeader.pmuCtx = epc;
    groupLeader.state = groupLeader.attr.disabled
      ? PERF_EVENT_STATE.OFF
      : PERF_EVENT_STATE.INACTIVE;
    perfInstallInContext(core, ctx, groupLeader, now);
  }
  perfInstallInContext(core, ctx, e, now);
  return fd;
}

/**
 * kernel: perf_event_create_kernel_counter(): an event owned by a kernel subsystem (the
 * NMI watchdog, KVM). No fd and no permission checks. Returns the event or a negative
 * errno.
 */
export function perfEventCreateKernelCounter(
  core: PerfCore,
  uattr: PerfEventAttr,
  cpu: number,
  task: Task | null,
  name: string,
  overflowHandler: ((e: PerfEvent, now: Ns) => void) | null = null,
): PerfEvent | number {
  perfGuestSync(core, -1);
  const attr = perfCopyAttr(uattr);
  if (typeof attr === "number") return attr;
  const e = perfEventAlloc(core, attr, cpu, task, null, name);
  if (typeof e === "number") return e;
  e.owner = "kernel";
  e.overflowHandler = overflowHandler;
  if (e.pmu.taskCtxNr === "sw") e.eventCaps |= PERF_EV_CAP_SOFTWARE;
  const ctx = task ? findGetTaskCtx(core, task) : core.cpuctx[cpu]!.ctx;
  if (ctx.dead) {
    releaseEvent(core, e);
    return -ERRNO.ESRCH;
  }
  e.pmuCtx = findGetPmuContext(core, e.pmu, ctx);
  if (!exclusiveEventInstallable(e, ctx)) {
    releaseEvent(core, e);
    return -ERRNO.EBUSY;
  }
  core.events.set(e.id, e);
  perfInstallInContext(core, ctx, e, core.now());
  return e;
}
