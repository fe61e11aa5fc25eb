import { abiS32, abiU64 } from "../sim/abi.js";
import { ERRNO } from "../sim/errno.js";
import { EVENT_TIME } from "./context.js";
import type { PerfCore } from "./core.js";
import { PERF_EVENT_STATE, type PerfEvent } from "./event.js";
import { perfGuestSync } from "./guest.js";
import { perfEventUpdateSiblingTime, perfEventUpdateTime, updateContextTime } from "./time.js";
import {
  PERF_FORMAT_GROUP,
  PERF_FORMAT_ID,
  PERF_FORMAT_LOST,
  PERF_FORMAT_TOTAL_TIME_ENABLED,
  PERF_FORMAT_TOTAL_TIME_RUNNING,
} from "./uapi.js";

/** kernel: __perf_event_read_size(): bytes read() returns for a read_format and group size. */
export function readSize(readFormat: number, nr: number): number {
  let entry = 8;
  let size = 0;
  if (readFormat & PERF_FORMAT_TOTAL_TIME_ENABLED) size += 8;
  if (readFormat & PERF_FORMAT_TOTAL_TIME_RUNNING) size += 8;
  if (readFormat & PERF_FORMAT_ID) entry += 8;
  if (readFormat & PERF_FORMAT_LOST) entry += 8;
  if (readFormat & PERF_FORMAT_GROUP) {
    size += 8;
    return size + nr * entry;
  }
  return size + entry;
}

/** What read(2) returned, decoded. `words` is the raw u64 buffer. */
export interface PerfReadResult {
  /** Bytes read: 0 for an event in ERROR. */
  bytes: number;
  words: bigint[];
  /** Decoded fields (absent when not requested). */
  value?: number;
  time_enabled?: number;
  time_running?: number;
  id?: number;
  group?: Array<{ value: number; id?: number }>;
}

/**
 * kernel: perf_event_read(): an ACTIVE event is read from its PMU; an INACTIVE one only
 * has its times brought up to date; other states return what is stored.
 */
export function perfEventRead(core: PerfCore, e: PerfEvent, group: boolean): void {
  perfGuestSync(core, -1);
  const now = core.now();
  const ctx = e.ctx;
  if (e.state === PERF_EVENT_STATE.ACTIVE) {
    if (ctx && ctx.isActive & EVENT_TIME) updateContextTime(ctx, now);
    perfEventUpdateTime(e);
    if (group) perfEventUpdateSiblingTime(e);
    e.pmu.read(e, now);
    if (group)
      for (const s of e.siblings) if (s.state === PERF_EVENT_STATE.ACTIVE) s.pmu.read(s, now);
  } else if (e.state === PERF_EVENT_STATE.INACTIVE) {
    if (ctx && ctx.isActive & EVENT_TIME) updateContextTime(ctx, now);
    perfEventUpdateTime(e);
    if (group) perfEventUpdateSiblingTime(e);
  }
}

/** The integer count user space sees (kernel: perf_event_count()). */
export function perfEventCount(e: PerfEvent): number {
  return Math.floor(e.count + 1e-6);
}

/** kernel: perf_read() → __perf_read(): 0 bytes on ERROR, ENOSPC for a short buffer. */
export function sysRead(
  core: PerfCore,
  fdArg: number,
  countArg: number | bigint,
): PerfReadResult | number {
  perfGuestSync(core, -1);
  // int fd, size_t count: -1 as a count is SIZE_MAX.
  const fd = abiS32(fdArg);
  const e = fd === null ? undefined : core.fds.get(fd);
  if (!e) return -ERRNO.EBADF;
  const count = abiU64(countArg);
  if (count === null) return -ERRNO.EFAULT;
  if (e.state === PERF_EVENT_STATE.ERROR) return { bytes: 0, words: [] };
  const rf = e.attr.read_format;
  const isGroup = (rf & PERF_FORMAT_GROUP) !== 0;
  const leader = e.groupLeader;
  const nr = isGroup ? 1 + leader.siblings.length : 1;
  const size = readSize(rf, nr);
  if (count < BigInt(size)) return -ERRNO.ENOSPC;
  const words: bigint[] = [];
  const out: PerfReadResult = { bytes: size, words };
  if (!isGroup) {
    perfEventRead(core, e, false);
    const value = perfEventCount(e);
    words.push(BigInt(value));
    out.value = value;
    if (rf & PERF_FORMAT_TOTAL_TIME_ENABLED) {
      out.time_enabled = Math.round(e.totalTimeEnabled);
      words.push(BigInt(out.time_enabled));
    }
    if (rf & PERF_FORMAT_TOTAL_TIME_RUNNING) {
      out.time_running = Math.round(e.totalTimeRunning);
      words.push(BigInt(out.time_running));
    }
    if (rf & PERF_FORMAT_ID) {
      out.id = e.id;
      words.push(BigInt(e.id));
    }
    if (rf & PERF_FORMAT_LOST) words.push(0n);
    return out;
  }
  perfEventRead(core, leader, true);
  words.push(BigInt(nr));
  if (rf & PERF_FORMAT_TOTAL_TIME_ENABLED) {
    out.time_enabled = Math.round(leader.totalTimeEnabled);
    words.push(BigInt(out.time_enabled));
  }
  if (rf & PERF_FORMAT_TOTAL_TIME_RUNNING) {
    out.time_running = Math.round(leader.totalTimeRunning);
    words.push(BigInt(out.time_running));
  }
  out.group = [];
  for (const m of [leader, ...leader.siblings]) {
    const v = perfEventCount(m);
    words.push(BigInt(v));
    const entry: { value: number; id?: number } = { value: v };
    if (rf & PERF_FORMAT_ID) {
      entry.id = m.id;
      words.push(BigInt(m.id));
    }
    if (rf & PERF_FORMAT_LOST) words.push(0n);
    out.group.push(entry);
  }
  out.value = out.group[0]!.value;
  return out;
}
