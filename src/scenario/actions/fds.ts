import type { PerfCore } from "../../perf/core.js";
import { stateName } from "../../perf/event.js";
import { sysRead } from "../../perf/read.js";

/** An fd's values as an expectation sees them. */
export interface FdReading {
  count: number;
  enabled: number;
  running: number;
  state: string;
}

/** The handles of perf_event_open actions: their fds, and the last values of closed ones. */
export class FdTable {
  private readonly fds = new Map<string, number>();
  private readonly closed = new Map<string, FdReading>();

  /** The fd of handle `name`; -1 (EBADF) when its open failed or never ran. */
  fd(name: string): number {
    return this.fds.get(name) ?? -1;
  }

  /** Stores the fd a successful open returned under its handle. */
  set(name: string, fd: number): void {
    this.fds.set(name, fd);
  }

  /** Keeps the values of handle `name` before its fd closes (the DEAD state). */
  keepClosed(name: string, core: PerfCore): void {
    const fd = this.fd(name);
    if (core.fds.has(fd)) this.closed.set(name, readFd(core, fd, true));
  }

  /** The values of handle `name` now: read(2) of its fd, or those kept at its close. */
  reading(name: string, core: PerfCore): FdReading | undefined {
    const kept = this.closed.get(name);
    if (kept) return kept;
    const fd = this.fds.get(name);
    return fd !== undefined && core.fds.has(fd) ? readFd(core, fd, false) : undefined;
  }
}

/**
 * read(2) of an open fd, falling back to the event's own values where the read gives none
 * (at a close: a failed read; otherwise also a read of 0 bytes, an event in ERROR).
 */
function readFd(core: PerfCore, fd: number, closing: boolean): FdReading {
  const e = core.fds.get(fd)!;
  const r = sysRead(core, fd, 4096);
  const v = typeof r === "number" || (!closing && r.bytes === 0) ? undefined : r;
  return {
    count: v?.value ?? Math.floor(e.count),
    enabled: v?.time_enabled ?? Math.round(e.totalTimeEnabled),
    running: v?.time_running ?? Math.round(e.totalTimeRunning),
    state: closing ? "DEAD" : stateName(e.state),
  };
}
