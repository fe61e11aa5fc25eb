import { abiS32, abiU64 } from "../sim/abi.js";
import { ERRNO } from "../sim/errno.js";
import type { Ns } from "../sim/time.js";
import { EVENT_TIME } from "./context.js";
import type { PerfCore } from "./core.js";
import { PERF_EVENT_STATE, type PerfEvent } from "./event.js";
import { perfGuestSync } from "./guest.js";
import { perfEventRelease } from "./install.js";
import { perfEventRead } from "./read.js";
import {
  ctxResched,
  eventFilterMatch,
  eventSchedOut,
  getEventType,
  groupSchedOut,
} from "./schedule.js";
import { perfEventSetOutput } from "./set-output.js";
import { perfEventSetState, updateContextTime } from "./time.js";
import { isSampling, PERF_IOC_FLAG_GROUP, type PerfIoctl } from "./uapi.js";

/**
 * The CPU an event's context is scheduled on right now, or -1 (kernel: the target of
 * event_function_call()).
 */
function ctxCpu(_core: PerfCore, e: PerfEvent): number {
  const ctx = e.ctx;
  if (!ctx) return -1;
  return ctx.task === null ? ctx.cpu : ctx.onCpu;
}

/** kernel: _perf_event_disable() / __perf_event_disable(). */
export function perfEventDisable(core: PerfCore, e: PerfEvent, now: Ns): void {
  if (e.state <= PERF_EVENT_STATE.OFF) return;
  const ctx = e.ctx;
  if (ctx && ctx.isActive & EVENT_TIME) updateContextTime(ctx, now);
  if (e.isLeader) groupSchedOut(core, e, now);
  else eventSchedOut(core, e, now);
  perfEventSetState(core, e, PERF_EVENT_STATE.OFF);
}

/**
 * kernel: _perf_event_enable() / __perf_event_enable(). ERROR becomes OFF by a plain
 * write (no time is charged), then INACTIVE, then a reschedule if the context is on a CPU,
 * the event may run there, and (for a sibling) its leader is ACTIVE.
 */
export function perfEventEnable(core: PerfCore, e: PerfEvent, now: Ns): void {
  if (e.state >= PERF_EVENT_STATE.INACTIVE || e.state < PERF_EVENT_STATE.ERROR) return;
  if (e.state === PERF_EVENT_STATE.ERROR) {
    const from = e.state;
    if (e.ctx) e.ctx.schedGen++;
    e.state = PERF_EVENT_STATE.OFF;
    core.stateChanged(e, from, PERF_EVENT_STATE.OFF);
  }
  const ctx = e.ctx;
  if (!ctx) return;
  if (ctx.isActive) updateContextTime(ctx, now);
  perfEventSetState(core, e, PERF_EVENT_STATE.INACTIVE);
  if (!ctx.isActive) return;
  const cpu = ctxCpu(core, e);
  if (cpu < 0 || !eventFilterMatch(e, cpu)) return;
  if (!e.isLeader && e.groupLeader.state !== PERF_EVENT_STATE.ACTIVE) return;
  const cpuctx = core.cpuctx[cpu]!;
  ctxResched(core, cpuctx, cpuctx.taskCtx, e.pmuCtx!.pmu, getEventType(e), now);
}

/** kernel: _perf_event_reset(): read to sync the hardware, then zero the count (times stay). */
export function perfEventReset(core: PerfCore, e: PerfEvent): void {
  perfEventRead(core, e, false);
  e.count = 0;
}

/** kernel: perf_event_for_each(): the leader and every sibling. */
function forEachInGroup(e: PerfEvent, fn: (x: PerfEvent) => void): void {
  const leader = e.groupLeader;
  fn(leader);
  for (const s of [...leader.siblings]) fn(s);
}

/** The result of an ioctl: 0, a negative errno, or (ID) the id. */
export function sysIoctl(
  core: PerfCore,
  fdArg: number,
  cmd: PerfIoctl | string,
  argIn: number | bigint = 0,
): number {
  perfGuestSync(core, -1);
  const fd = abiS32(fdArg);
  const e = fd === null ? undefined : core.fds.get(fd);
  if (!e) return -ERRNO.EBADF;
  // The unsigned long argument (a flag word, an int, an fd, or what a pointer points to).
  const ularg = abiU64(argIn);
  if (ularg === null) return -ERRNO.EFAULT;
  const arg = Number(BigInt.asIntN(64, ularg));
  if (e.state <= PERF_EVENT_STATE.REVOKED) return -ERRNO.ENODEV;
  const now = core.now();
  let fn: ((x: PerfEvent) => void) | null = null;
  switch (cmd) {
    case "ENABLE":
      fn = (x) => perfEventEnable(core, x, now);
      break;
    case "DISABLE":
      fn = (x) => perfEventDisable(core, x, now);
      break;
    case "RESET":
      fn = (x) => perfEventReset(core, x);
      break;
    case "REFRESH": {
      // kernel: _perf_event_refresh()
      if (e.attr.inherit || !isSampling(e.attr)) return -ERRNO.EINVAL;
      e.eventLimit += Number(BigInt.asIntN(32, ularg)); // int refresh
      perfEventEnable(core, e, now);
      return 0;
    }
    case "PERIOD":
      // The u64 the pointer argument points to.
      return perfEventPeriod(core, e, Number(ularg));
    case "ID":
      return e.id;
    case "SET_OUTPUT": {
      // kernel: _perf_ioctl(): -1 undoes the redirection; any other fd must be a perf fd.
      if (arg === -1) return perfEventSetOutput(e, null);
      const output = core.fds.get(Number(BigInt.asIntN(32, ularg)));
      return output ? perfEventSetOutput(e, output) : -ERRNO.EBADF;
    }
    default:
      return -ERRNO.ENOTTY;
  }
  if (ularg & BigInt(PERF_IOC_FLAG_GROUP)) forEachInGroup(e, fn);
  else fn(e);
  return 0;
}

/** kernel: perf_event_period(). */
function perfEventPeriod(core: PerfCore, e: PerfEvent, value: number): number {
  if (!isSampling(e.attr)) return -ERRNO.EINVAL;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) return -ERRNO.EFAULT;
  if (value === 0) return -ERRNO.EINVAL;
  if (e.attr.freq) {
    if (value > core.opts.maxSampleRate) return -ERRNO.EINVAL;
    e.attr.sample_freq = value;
  } else {
    if (e.pmu.checkPeriod(e, value)) return -ERRNO.EINVAL;
    if (value >= 2 ** 63) return -ERRNO.EINVAL;
    e.attr.sample_period = value;
    e.hw.samplePeriod = value;
  }
  if (e.state === PERF_EVENT_STATE.ACTIVE) e.pmu.restartPeriod(e, core.now());
  else e.hw.periodLeft = 0;
  return 0;
}

/** close(2) of a perf fd. */
export function sysClose(core: PerfCore, fdArg: number): number {
  perfGuestSync(core, -1);
  const fd = abiS32(fdArg);
  const e = fd === null ? undefined : core.fds.get(fd);
  if (!e || fd === null) return -ERRNO.EBADF;
  core.fds.delete(fd);
  perfEventRelease(core, e, core.now());
  return 0;
}
