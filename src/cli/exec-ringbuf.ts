import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { PerfEvent } from "../perf/event.js";
import {
  commRecord,
  type OutputAttr,
  type PerfBuffer,
  RingBuffers,
  type RingStorage,
} from "../perf/ring-buffer.js";
import type { PerfEventAttr } from "../perf/uapi.js";
import type { Task } from "../sched/task.js";
import type { System } from "../system.js";

/** mmap(2) prot and flags bits the server looks at. */
const PROT_WRITE = 0x2;
const MAP_SHARED = 0x01;
const MAP_SHARED_VALIDATE = 0x03;

/**
 * A ring buffer's pages as a file in the private directory: the server writes records with
 * pwrite() and reads data_tail with pread(); the shim maps the same file MAP_SHARED into the
 * reader, so both see one page cache (Node cannot mmap).
 */
class FileStorage implements RingStorage {
  private readonly fd: number;
  private readonly u64 = Buffer.alloc(8);

  constructor(
    readonly path: string,
    size: number,
  ) {
    this.fd = openSync(path, "w+", 0o600);
    ftruncateSync(this.fd, size);
  }

  write(offset: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length)
      done += writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
  }

  readU64(offset: number): bigint {
    readSync(this.fd, this.u64, 0, 8, offset);
    return this.u64.readBigUInt64LE(0);
  }

  close(): void {
    closeSync(this.fd);
    try {
      unlinkSync(this.path);
    } catch {}
  }
}

/** What an MMAP request gets: the file to map, or an errno. */
export interface MmapResult {
  ret: number;
  path?: string;
}

/**
 * The ring buffers of `vpmu exec`: mmap/munmap of model events by real processes, the
 * buffer redirection of PERF_EVENT_IOC_SET_OUTPUT, poll() readiness, and the side-band
 * records of real processes (COMM at exec). The records themselves come from the model
 * (perf/ring-buffer.ts).
 */
export class ExecRings {
  readonly rings: RingBuffers;
  /** Mapped events by handle (an event stays mapped after its fd is closed, as in the kernel). */
  private readonly byHandle = new Map<number, PerfEvent>();
  /** Mappings each process made: handle per mmap(). */
  private readonly maps = new Map<number, number[]>();
  private readonly files = new Map<PerfBuffer, FileStorage>();
  private nextFile = 1;

  constructor(
    private readonly sys: System,
    private readonly dir: string,
    pidOf: (modelPid: number) => number,
  ) {
    this.rings = new RingBuffers(sys.perf, pidOf);
  }

  /** At open: the attr bits the output path needs, from the caller's struct. */
  opened(handle: number, a: PerfEventAttr): void {
    const e = this.sys.perf.fds.get(handle);
    if (!e) return;
    const oa: OutputAttr = {
      watermark: a.watermark ?? false,
      wakeup: a.wakeup_events ?? 0,
      sampleIdAll: a.sample_id_all ?? false,
      comm: a.comm ?? false,
      task: a.task ?? false,
      branchSampleType: a.branch_sample_type ?? 0,
    };
    this.rings.setAttr(e, oa);
  }

  /** mmap(2) of a model fd by `pid`: `len` as the caller gave it (rounded up to pages here). */
  mmap(
    pid: number,
    handle: number,
    len: number,
    prot: number,
    flags: number,
    pgoff: number,
  ): MmapResult {
    const e = this.sys.perf.fds.get(handle) ?? this.byHandle.get(handle);
    if (!e) return { ret: -9 }; // EBADF
    const size = Math.ceil(len / 4096) * 4096;
    const type = flags & 0x0f;
    const shared = type === MAP_SHARED || type === MAP_SHARED_VALIDATE;
    let file: FileStorage | null = null;
    const r = this.rings.mmap(e, size, pgoff, shared, (prot & PROT_WRITE) !== 0, () => {
      file = new FileStorage(join(this.dir, `rb-${this.nextFile++}`), size);
      return file;
    });
    if (typeof r === "number") return { ret: r };
    if (file) this.files.set(r.rb, file);
    const storage = this.files.get(r.rb);
    if (!storage) return { ret: -19 }; // ENODEV: a buffer the server did not make
    this.byHandle.set(handle, e);
    let list = this.maps.get(pid);
    if (!list) this.maps.set(pid, (list = []));
    list.push(handle);
    return { ret: 0, path: storage.path };
  }

  /** munmap(2) of a mapping of `handle` by `pid`. */
  munmap(pid: number, handle: number): void {
    const list = this.maps.get(pid);
    const i = list?.indexOf(handle) ?? -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    const e = this.byHandle.get(handle);
    if (!e) return;
    const rb = this.rings.bufferOf(e);
    this.rings.munmap(e);
    if (!list.includes(handle) && ![...this.maps.values()].some((l) => l.includes(handle)))
      this.byHandle.delete(handle);
    if (rb && rb.mmapCount === 0) {
      this.files.get(rb)?.close();
      this.files.delete(rb);
    }
  }

  /** A process exited: its mappings go. */
  exited(pid: number): void {
    for (const h of [...(this.maps.get(pid) ?? [])]) this.munmap(pid, h);
    this.maps.delete(pid);
  }

  /** PERF_EVENT_IOC_SET_OUTPUT after the model accepted it: the buffer redirection. */
  setOutput(handle: number, target: number): number {
    const e = this.sys.perf.fds.get(handle);
    if (!e) return 0;
    const t = target === -1 ? null : (this.sys.perf.fds.get(target) ?? null);
    return this.rings.setOutput(e, t);
  }

  /** poll() events of the handles (POLLHUP for one that is not an event any more). */
  poll(handles: readonly number[], consume: boolean): number[] {
    return handles.map((h) => {
      const e = this.sys.perf.fds.get(h) ?? this.byHandle.get(h);
      return e ? this.rings.poll(e, consume) : 0x10;
    });
  }

  /** True when some buffer has a wakeup poll() has not seen. */
  pendingWakeup(): boolean {
    return this.rings.pendingWakeup();
  }

  /** A real process that is a model task exec'ed: PERF_RECORD_COMM with the exec bit. */
  exec(task: Task, pid: number, comm: string): void {
    const cpu = task.cpu >= 0 ? task.cpu : 0;
    const src = { pid, tid: pid, cpu, time: this.sys.now };
    this.rings.sideBand("comm", task.pid, cpu, (e, oa) => commRecord(e, oa, src, comm, true), src);
  }

  /** Before the model runs: the readers' tails. */
  beforeStep(): void {
    this.rings.syncTails();
  }

  /** After the model ran (or a request wrote records): records and heads to the files. */
  flush(): void {
    this.rings.flush();
  }

  /** Closes and removes every buffer file. */
  close(): void {
    for (const f of this.files.values()) f.close();
    this.files.clear();
  }

  /** Records written and lost in all (statistics). */
  stats(): { written: number; lost: number; wakeups: number } {
    let lost = 0;
    let wakeups = 0;
    for (const rb of this.rings.buffers()) {
      lost += rb.lostTotal;
      wakeups += rb.wakeups;
    }
    return { written: this.rings.written, lost, wakeups };
  }
}
