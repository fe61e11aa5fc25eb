import { Mode } from "../hw/quantity.js";
import { ERRNO } from "../sim/errno.js";
import type { Ns } from "../sim/time.js";
import type { PerfCore } from "./core.js";
import { PERF_EVENT_STATE, type PerfEvent } from "./event.js";
import {
  PAGE_SIZE,
  PERF_FORMAT_GROUP,
  PERF_FORMAT_ID,
  PERF_FORMAT_LOST,
  PERF_FORMAT_TOTAL_TIME_ENABLED,
  PERF_FORMAT_TOTAL_TIME_RUNNING,
  PERF_SAMPLE_ADDR,
  PERF_SAMPLE_BRANCH_STACK,
  PERF_SAMPLE_CALLCHAIN,
  PERF_SAMPLE_CPU,
  PERF_SAMPLE_ID,
  PERF_SAMPLE_IP,
  PERF_SAMPLE_PERIOD,
  PERF_SAMPLE_RAW,
  PERF_SAMPLE_READ,
  PERF_SAMPLE_STREAM_ID,
  PERF_SAMPLE_TID,
  PERF_SAMPLE_TIME,
} from "./uapi.js";

/** enum perf_event_type (include/uapi/linux/perf_event.h): the records vpmu writes. */
export const PERF_RECORD = {
  LOST: 2,
  COMM: 3,
  EXIT: 4,
  FORK: 7,
  SAMPLE: 9,
} as const;

/** perf_event_header.misc: the CPU mode of a sample, and COMM's exec bit. */
export const PERF_RECORD_MISC = {
  KERNEL: 1,
  USER: 2,
  GUEST_KERNEL: 4,
  GUEST_USER: 5,
  COMM_EXEC: 1 << 13,
} as const;

/** sample_type bits past PERF_SAMPLE_BRANCH_STACK, in perf_output_sample()'s order. */
const SAMPLE_REGS_USER = 1 << 12;
const SAMPLE_STACK_USER = 1 << 13;
const SAMPLE_WEIGHT = 1 << 14;
const SAMPLE_DATA_SRC = 1 << 15;
const SAMPLE_IDENTIFIER = 1 << 16;
const SAMPLE_TRANSACTION = 1 << 17;
const SAMPLE_REGS_INTR = 1 << 18;
const SAMPLE_PHYS_ADDR = 1 << 19;
const SAMPLE_AUX = 1 << 20;
const SAMPLE_CGROUP = 1 << 21;
const SAMPLE_DATA_PAGE_SIZE = 1 << 22;
const SAMPLE_CODE_PAGE_SIZE = 1 << 23;
const SAMPLE_WEIGHT_STRUCT = 1 << 24;
/** branch_sample_type: PERF_SAMPLE_BRANCH_HW_INDEX adds a u64 after the branch count. */
const BRANCH_HW_INDEX = 1 << 17;

/** Offsets in struct perf_event_mmap_page (the user page, page 0 of the mapping). */
export const USER_PAGE = {
  version: 0,
  compatVersion: 4,
  lock: 8,
  index: 12,
  offset: 16,
  timeEnabled: 24,
  timeRunning: 32,
  capabilities: 40,
  size: 72,
  dataHead: 1024,
  dataTail: 1032,
  dataOffset: 1040,
  dataSize: 1048,
} as const;
/** offsetof(struct perf_event_mmap_page, __reserved): what the kernel puts in `size`. */
const USER_PAGE_SIZE_FIELD = 96;
/** capabilities: cap_bit0_is_deprecated (bit 1), set by perf_event_init_userpage(). */
const CAP_BIT0_IS_DEPRECATED = 2n;

/**
 * Where a buffer's bytes live: the mapping the reader shares (the `vpmu exec` server backs
 * it with a file the shim maps MAP_SHARED). Offsets are from the start of the mapping.
 */
export interface RingStorage {
  write(offset: number, bytes: Uint8Array): void;
  /** The u64 at `offset` as the reader left it (data_tail). */
  readU64(offset: number): bigint;
}

/**
 * Model parameters of the addresses samples carry. vpmu runs no code, so each workload
 * (its exec label) gets one made-up instruction address per mode, stable across runs:
 * perf report groups samples by them and shows them as unknown symbols.
 */
export const SAMPLE_IP_BASE = { user: 0x400000n, kernel: 0xfffffffffe000000n } as const;

/** The mode fraction of the n-th sample: a golden-ratio sequence, deterministic and even. */
const GOLDEN = 0.6180339887498949;

/**
 * struct perf_buffer: one mmap'ed ring buffer, its head, wakeup mark, lost count and poll
 * state. Records are staged in `data` (a copy of the data pages) and written to the
 * storage by flush(), so a run of samples costs one write.
 */
export class PerfBuffer {
  readonly dataSize: number;
  /** Bytes from which a wakeup is due (kernel: rb->watermark). */
  readonly watermark: number;
  head = 0;
  /** Head position of the last wakeup (kernel: rb->wakeup, in bytes). */
  private wakeupAt = 0;
  /** Samples since the last wakeup_events wakeup (kernel: rb->events). */
  private events = 0;
  /** Records dropped for lack of space since the last LOST record (kernel: rb->lost). */
  lost = 0;
  /** Records dropped in all. */
  lostTotal = 0;
  /** Wakeups signalled (kernel: rb->poll), consumed by poll(). */
  poll = false;
  wakeups = 0;
  /** PERF_EVENT_IOC_PAUSE_OUTPUT: records are counted lost instead of written. */
  paused = false;
  /** mmap()s of the buffer still in place (kernel: rb->mmap_count). */
  mmapCount = 1;
  /** The reader's tail, as read at the start of the current step. */
  private tail = 0;
  private readonly data: Uint8Array;
  private dirtyFrom = -1;
  private dirtyTo = -1;
  private flushedHead = 0;

  constructor(
    readonly storage: RingStorage,
    readonly nrPages: number,
    /** Mapped writable: the reader moves data_tail (else overwrite mode). */
    readonly writable: boolean,
    wakeupWatermark: number,
  ) {
    this.dataSize = nrPages * PAGE_SIZE;
    this.data = new Uint8Array(this.dataSize);
    // kernel: ring_buffer_init(): attr.wakeup_watermark when watermark is set, else half.
    const w = wakeupWatermark > 0 ? Math.min(this.dataSize, wakeupWatermark) : 0;
    this.watermark = w > 0 ? w : Math.floor(this.dataSize / 2);
    this.initUserPage();
  }

  /** kernel: perf_event_init_userpage(). */
  private initUserPage(): void {
    const page = new Uint8Array(PAGE_SIZE);
    const v = new DataView(page.buffer);
    v.setBigUint64(USER_PAGE.capabilities, CAP_BIT0_IS_DEPRECATED, true);
    v.setUint32(USER_PAGE.size, USER_PAGE_SIZE_FIELD, true);
    v.setBigUint64(USER_PAGE.dataOffset, BigInt(PAGE_SIZE), true);
    v.setBigUint64(USER_PAGE.dataSize, BigInt(this.dataSize), true);
    this.storage.write(0, page);
  }

  /** Reads the reader's data_tail (once per model step: the reader runs between steps). */
  syncTail(): void {
    if (this.writable) this.tail = Number(this.storage.readU64(USER_PAGE.dataTail));
  }

  /** Bytes free for new records (kernel: CIRC_SPACE over the data pages). */
  private space(): number {
    if (!this.writable) return this.dataSize;
    return this.dataSize - (this.head - this.tail);
  }

  /**
   * kernel: __perf_output_begin() .. perf_output_end(): writes one record, or counts it lost
   * when it does not fit (a LOST record goes first once there is room again).
   * Returns false when the record was dropped.
   */
  output(e: PerfEvent, record: Uint8Array, idSample: Uint8Array): boolean {
    // A mapping of the user page alone has nowhere to write (and loses nothing).
    if (this.dataSize === 0) return false;
    if (this.paused) return this.drop();
    if (this.lost > 0) {
      const lost = lostRecord(e, this.lost, idSample);
      if (lost.length + record.length > this.space()) return this.drop();
      this.put(lost);
      this.lost = 0;
    }
    if (record.length > this.space()) return this.drop();
    this.put(record);
    if (this.head - this.wakeupAt > this.watermark) {
      this.wakeupAt += this.watermark;
      this.wakeup();
    }
    return true;
  }

  /** perf_output_sample()'s wakeup_events accounting, after a sample was written. */
  countEvent(wakeupEvents: number): void {
    if (wakeupEvents <= 0) return;
    if (++this.events >= wakeupEvents) {
      this.events -= wakeupEvents;
      this.wakeup();
    }
  }

  private drop(): boolean {
    this.lost++;
    this.lostTotal++;
    return false;
  }

  /** kernel: perf_output_wakeup(): poll() sees POLLIN. */
  wakeup(): void {
    this.poll = true;
    this.wakeups++;
  }

  private put(rec: Uint8Array): void {
    const off = this.head % this.dataSize;
    const first = Math.min(rec.length, this.dataSize - off);
    this.data.set(rec.subarray(0, first), off);
    if (first < rec.length) this.data.set(rec.subarray(first), 0);
    if (this.dirtyFrom < 0) this.dirtyFrom = this.head;
    this.head += rec.length;
    this.dirtyTo = this.head;
  }

  /** Writes staged records, then data_head (the reader sees the records first). */
  flush(): void {
    if (this.head === this.flushedHead) return;
    const size = this.dataSize;
    let from = Math.max(this.dirtyFrom, this.dirtyTo - size);
    while (from < this.dirtyTo) {
      const off = from % size;
      const n = Math.min(this.dirtyTo - from, size - off);
      this.storage.write(PAGE_SIZE + off, this.data.subarray(off, off + n));
      from += n;
    }
    const h = new Uint8Array(8);
    new DataView(h.buffer).setBigUint64(0, BigInt(this.head), true);
    this.storage.write(USER_PAGE.dataHead, h);
    this.flushedHead = this.head;
    this.dirtyFrom = -1;
    this.dirtyTo = -1;
  }
}

/** A little-endian record writer over a growing scratch buffer. */
class RecordWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u64(v: bigint | number): void {
    this.room(8);
    this.view.setBigUint64(this.len, BigInt.asUintN(64, BigInt(v)), true);
    this.len += 8;
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.len, v >>> 0, true);
    this.len += 4;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** The bytes written, with no header. */
  raw(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  /** The record with its header (type, misc, size) written in the first 8 bytes. */
  finish(type: number, misc: number): Uint8Array {
    const out = this.buf.slice(0, this.len);
    const v = new DataView(out.buffer);
    v.setUint32(0, type, true);
    v.setUint16(4, misc, true);
    v.setUint16(6, this.len, true);
    return out;
  }
}

/**
 * The attr bits of the output path that the core's KernelAttr does not keep: the caller
 * (the `vpmu exec` host, which has the caller's struct) registers them per event.
 */
export interface OutputAttr {
  watermark: boolean;
  /** The union at offset 48: wakeup_watermark when `watermark`, else wakeup_events. */
  wakeup: number;
  sampleIdAll: boolean;
  comm: boolean;
  task: boolean;
  branchSampleType: number;
}

const NO_OUTPUT_ATTR: OutputAttr = {
  watermark: false,
  wakeup: 0,
  sampleIdAll: false,
  comm: false,
  task: false,
  branchSampleType: 0,
};

/** What a record says about its task, CPU and time. */
export interface RecordSource {
  pid: number;
  tid: number;
  cpu: number;
  time: Ns;
}

/**
 * kernel: __perf_event_header__init_id() / perf_event__output_id_sample(): the sample_id
 * trailer of non-sample records when attr.sample_id_all is set (TID, TIME, ID, STREAM_ID,
 * CPU, IDENTIFIER, as sample_type selects them).
 */
export function idSample(e: PerfEvent, oa: OutputAttr, src: RecordSource): Uint8Array {
  if (!oa.sampleIdAll) return new Uint8Array(0);
  const t = e.attr.sample_type;
  const w = new RecordWriter();
  if (t & PERF_SAMPLE_TID) {
    w.u32(src.pid);
    w.u32(src.tid);
  }
  if (t & PERF_SAMPLE_TIME) w.u64(src.time);
  if (t & PERF_SAMPLE_ID) w.u64(e.id);
  if (t & PERF_SAMPLE_STREAM_ID) w.u64(e.id);
  if (t & PERF_SAMPLE_CPU) {
    w.u32(src.cpu);
    w.u32(0);
  }
  if (t & SAMPLE_IDENTIFIER) w.u64(e.id);
  return w.raw();
}

function lostRecord(e: PerfEvent, lost: number, ids: Uint8Array): Uint8Array {
  const w = new RecordWriter();
  w.u64(0);
  w.u64(e.id);
  w.u64(lost);
  w.bytes(ids);
  return w.finish(PERF_RECORD.LOST, 0);
}

/** PERF_RECORD_COMM (exec: with PERF_RECORD_MISC_COMM_EXEC). */
export function commRecord(
  e: PerfEvent,
  oa: OutputAttr,
  src: RecordSource,
  comm: string,
  exec: boolean,
): Uint8Array {
  const w = new RecordWriter();
  w.u64(0);
  w.u32(src.pid);
  w.u32(src.tid);
  // The name, NUL-terminated, padded to 8 bytes (kernel: perf_event_comm_event()).
  const name = new TextEncoder().encode(comm.slice(0, 15));
  const padded = new Uint8Array(Math.ceil((name.length + 1) / 8) * 8);
  padded.set(name);
  w.bytes(padded);
  w.bytes(idSample(e, oa, src));
  return w.finish(PERF_RECORD.COMM, exec ? PERF_RECORD_MISC.COMM_EXEC : 0);
}

/** PERF_RECORD_FORK / PERF_RECORD_EXIT (kernel: perf_event_task_output()). */
export function taskRecord(
  e: PerfEvent,
  oa: OutputAttr,
  type: typeof PERF_RECORD.FORK | typeof PERF_RECORD.EXIT,
  src: RecordSource,
  ppid: number,
): Uint8Array {
  const w = new RecordWriter();
  w.u64(0);
  w.u32(src.pid);
  w.u32(ppid);
  w.u32(src.tid);
  w.u32(ppid);
  w.u64(src.time);
  w.bytes(idSample(e, oa, src));
  return w.finish(type, 0);
}

/** The sample's own fields, as the overflow produced them. */
export interface SampleData extends RecordSource {
  ip: bigint;
  misc: number;
  period: number;
}

/** The read_format block of PERF_SAMPLE_READ (kernel: perf_output_read()). */
function writeRead(w: RecordWriter, e: PerfEvent): void {
  const rf = e.attr.read_format;
  const entry = (m: PerfEvent) => {
    w.u64(Math.trunc(m.count));
    if (rf & PERF_FORMAT_ID) w.u64(m.id);
    if (rf & PERF_FORMAT_LOST) w.u64(0);
  };
  const leader = e.groupLeader;
  if (rf & PERF_FORMAT_GROUP) w.u64(1 + leader.siblings.length);
  if (rf & PERF_FORMAT_TOTAL_TIME_ENABLED) w.u64(Math.trunc(e.totalTimeEnabled));
  if (rf & PERF_FORMAT_TOTAL_TIME_RUNNING) w.u64(Math.trunc(e.totalTimeRunning));
  if (rf & PERF_FORMAT_GROUP) {
    entry(leader);
    for (const s of leader.siblings) entry(s);
  } else {
    entry(e);
  }
}

/**
 * kernel: perf_prepare_sample() + perf_output_sample(): a PERF_RECORD_SAMPLE with the
 * fields sample_type selects, in the kernel's order. What the model does not have is
 * written empty: no callchain beyond the sampled address, no raw data, branch stack,
 * registers, user stack, weight, data source or physical address.
 */
export function sampleRecord(e: PerfEvent, oa: OutputAttr, s: SampleData): Uint8Array {
  const t = e.attr.sample_type;
  const w = new RecordWriter();
  w.u64(0);
  if (t & SAMPLE_IDENTIFIER) w.u64(e.id);
  if (t & PERF_SAMPLE_IP) w.u64(s.ip);
  if (t & PERF_SAMPLE_TID) {
    w.u32(s.pid);
    w.u32(s.tid);
  }
  if (t & PERF_SAMPLE_TIME) w.u64(s.time);
  if (t & PERF_SAMPLE_ADDR) w.u64(0);
  if (t & PERF_SAMPLE_ID) w.u64(e.id);
  if (t & PERF_SAMPLE_STREAM_ID) w.u64(e.id);
  if (t & PERF_SAMPLE_CPU) {
    w.u32(s.cpu);
    w.u32(0);
  }
  if (t & PERF_SAMPLE_PERIOD) w.u64(s.period);
  if (t & PERF_SAMPLE_READ) writeRead(w, e);
  if (t & PERF_SAMPLE_CALLCHAIN) {
    // The context marker, then the sampled address (kernel: perf_callchain()).
    const user = s.misc === PERF_RECORD_MISC.USER || s.misc === PERF_RECORD_MISC.GUEST_USER;
    w.u64(2);
    w.u64(user ? -512n : -128n); // PERF_CONTEXT_USER / PERF_CONTEXT_KERNEL
    w.u64(s.ip);
  }
  if (t & PERF_SAMPLE_RAW) {
    // u32 size, then the data padded so the record stays 8-byte aligned.
    w.u32(4);
    w.u32(0);
  }
  if (t & PERF_SAMPLE_BRANCH_STACK) {
    w.u64(0);
    if (oa.branchSampleType & BRANCH_HW_INDEX) w.u64(-1n);
  }
  if (t & SAMPLE_REGS_USER) w.u64(0); // PERF_SAMPLE_REGS_ABI_NONE
  if (t & SAMPLE_STACK_USER) w.u64(0);
  if (t & (SAMPLE_WEIGHT | SAMPLE_WEIGHT_STRUCT)) w.u64(0);
  if (t & SAMPLE_DATA_SRC) w.u64(0);
  if (t & SAMPLE_TRANSACTION) w.u64(0);
  if (t & SAMPLE_REGS_INTR) w.u64(0);
  if (t & SAMPLE_PHYS_ADDR) w.u64(0);
  if (t & SAMPLE_CGROUP) w.u64(0);
  if (t & SAMPLE_DATA_PAGE_SIZE) w.u64(0);
  if (t & SAMPLE_CODE_PAGE_SIZE) w.u64(0);
  if (t & SAMPLE_AUX) w.u64(0);
  return w.finish(PERF_RECORD.SAMPLE, s.misc);
}

/** FNV-1a of a label: the stable part of a made-up sample address. */
function labelHash(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The buffers of a perf core: event → buffer (kernel: event->rb), and the output hook. */
export class RingBuffers {
  private readonly rb = new Map<PerfEvent, PerfBuffer>();
  /** Events mapped by mmap() (kernel: event->mmap_count). */
  private readonly mmaps = new Map<PerfEvent, number>();
  private readonly all = new Set<PerfBuffer>();
  /** Samples per event (the n of the mode sequence). */
  private readonly seq = new Map<PerfEvent, number>();
  private readonly oattr = new Map<PerfEvent, OutputAttr>();
  /** Records written and dropped, for reports and tests. */
  written = 0;

  constructor(
    private readonly core: PerfCore,
    /** The pid a model task has for the reader (a real process's pid when it maps to one). */
    private readonly pidOf: (modelPid: number) => number = (p) => p,
  ) {
    // Through a local: a function literal assigned straight to a property is allocated in
    // old space (V8 takes it for a method) and keeps what it captures alive through
    // scavenges (see kvm/vm.ts vcpuPmuHooks()).
    const output = (e: PerfEvent, now: Ns, period: number) => this.outputSample(e, now, period);
    core.sampleOutput = output;
  }

  /** Registers the output attr bits of an event (at open). */
  setAttr(e: PerfEvent, oa: OutputAttr): void {
    this.oattr.set(e, oa);
  }

  private attrOf(e: PerfEvent): OutputAttr {
    return this.oattr.get(e) ?? NO_OUTPUT_ATTR;
  }

  /** The buffer an event writes to, if any. */
  bufferOf(e: PerfEvent): PerfBuffer | undefined {
    return this.rb.get(e);
  }

  /**
   * kernel: perf_mmap() for the data mapping (page offset 0): checks, then maps the
   * event's buffer (the existing one, when the sizes agree) or makes one. `size` is the
   * page-rounded length mmap(2) gives the driver. Returns the buffer and whether it is new.
   */
  mmap(
    e: PerfEvent,
    size: number,
    pgoff: number,
    shared: boolean,
    writable: boolean,
    storage: () => RingStorage,
  ): { rb: PerfBuffer; created: boolean } | number {
    // Inherited per-task counters would have every child writing one buffer.
    if (e.cpu === -1 && e.attr.inherit) return -ERRNO.EINVAL;
    if (!shared) return -ERRNO.EINVAL;
    // A non-zero offset maps the AUX area, which needs a buffer with aux_offset set: the
    // model has no AUX data (no PT, no SPE), so this is the kernel's EINVAL.
    if (pgoff !== 0) return -ERRNO.EINVAL;
    const nrPages = size / PAGE_SIZE - 1;
    if (!Number.isInteger(nrPages) || nrPages < 0) return -ERRNO.EINVAL;
    if (nrPages !== 0 && (nrPages & (nrPages - 1)) !== 0) return -ERRNO.EINVAL;
    const have = this.rb.get(e);
    if (have) {
      if (have.nrPages !== nrPages) return -ERRNO.EINVAL;
      have.mmapCount++;
      this.mmaps.set(e, (this.mmaps.get(e) ?? 0) + 1);
      return { rb: have, created: false };
    }
    const oa = this.attrOf(e);
    const rb = new PerfBuffer(storage(), nrPages, writable, oa.watermark ? oa.wakeup : 0);
    this.rb.set(e, rb);
    this.all.add(rb);
    this.mmaps.set(e, 1);
    return { rb, created: true };
  }

  /** kernel: perf_mmap_close(): the last unmap detaches every event from the buffer. */
  munmap(e: PerfEvent): void {
    const n = this.mmaps.get(e) ?? 0;
    if (n > 1) this.mmaps.set(e, n - 1);
    else this.mmaps.delete(e);
    const rb = this.rb.get(e);
    if (!rb || n === 0) return;
    if (--rb.mmapCount > 0) return;
    rb.flush();
    for (const [ev, b] of [...this.rb]) if (b === rb) this.rb.delete(ev);
    this.all.delete(rb);
  }

  /**
   * The buffer half of perf_event_set_output() (its other checks are the ioctl's): an
   * event with its own mapping cannot be redirected, and the target must have a buffer.
   * `target` null detaches. Returns 0 or -EINVAL.
   */
  setOutput(e: PerfEvent, target: PerfEvent | null): number {
    if ((this.mmaps.get(e) ?? 0) > 0) return -ERRNO.EINVAL;
    if (target === null) {
      this.rb.delete(e);
      return 0;
    }
    const rb = this.rb.get(target);
    if (!rb || rb.mmapCount === 0) return -ERRNO.EINVAL;
    this.rb.set(e, rb);
    return 0;
  }

  /** The event is gone (its last fd closed): it writes nowhere. */
  release(e: PerfEvent): void {
    this.rb.delete(e);
    this.mmaps.delete(e);
    this.seq.delete(e);
    this.oattr.delete(e);
  }

  /**
   * kernel: perf_poll(): POLLHUP for an event that exited or has no buffer, else POLLIN once
   * per wakeup (reading the state clears it, as atomic_xchg(&rb->poll, 0) does).
   */
  poll(e: PerfEvent, consume: boolean): number {
    const POLLIN = 0x1;
    const POLLHUP = 0x10;
    if (e.state === PERF_EVENT_STATE.EXIT || e.state === PERF_EVENT_STATE.DEAD) return POLLHUP;
    const rb = this.rb.get(e);
    if (!rb) return POLLHUP;
    if (!rb.poll) return 0;
    if (consume) rb.poll = false;
    return POLLIN;
  }

  /** Reads every reader's tail: called before the model runs a step. */
  syncTails(): void {
    for (const rb of this.all) rb.syncTail();
  }

  /** Writes staged records of every buffer. */
  flush(): void {
    for (const rb of this.all) rb.flush();
  }

  /** Any buffer with a wakeup not yet seen by poll(). */
  pendingWakeup(): boolean {
    for (const rb of this.all) if (rb.poll) return true;
    return false;
  }

  /** The buffers (for statistics). */
  buffers(): Iterable<PerfBuffer> {
    return this.all;
  }

  /** The task, mode and address of a sample taken now on the event's CPU. */
  private sampleData(e: PerfEvent, now: Ns, period: number): SampleData {
    const cpu = e.oncpu;
    const task = this.core.sys.sched.current(cpu);
    const exec = this.core.sys.machine.cpus[cpu]?.exec ?? null;
    const n = this.seq.get(e) ?? 0;
    this.seq.set(e, n + 1);
    // Which of the modes the event counts in this sample falls in, in proportion to the
    // time the workload spends in each.
    let mode: number = Mode.HOST_KERNEL;
    if (exec) {
      const mask = e.hw.modeMask;
      let total = 0;
      for (let m = 0; m < exec.fracs.length; m++) if (mask & (1 << m)) total += exec.fracs[m]!;
      let x = ((n + 1) * GOLDEN) % 1;
      for (let m = 0; m < exec.fracs.length; m++) {
        if (!(mask & (1 << m)) || exec.fracs[m]! <= 0) continue;
        mode = m;
        x -= exec.fracs[m]! / (total || 1);
        if (x < 0) break;
      }
    }
    const user = mode === Mode.HOST_USER || mode === Mode.GUEST_USER;
    const misc = [
      PERF_RECORD_MISC.USER,
      PERF_RECORD_MISC.KERNEL,
      PERF_RECORD_MISC.GUEST_USER,
      PERF_RECORD_MISC.GUEST_KERNEL,
    ][mode]!;
    const label = exec?.label ?? "idle";
    const ip =
      (user ? SAMPLE_IP_BASE.user : SAMPLE_IP_BASE.kernel) +
      BigInt((labelHash(label) & 0xfff) << 4);
    const pid = task ? this.pidOf(task.pid) : 0;
    return { pid, tid: pid, cpu, time: now, ip, misc, period };
  }

  /** The overflow of a sampling event with a buffer: one sample record. */
  private outputSample(e: PerfEvent, now: Ns, period: number): void {
    const rb = this.rb.get(e);
    if (!rb) return;
    const oa = this.attrOf(e);
    const s = this.sampleData(e, now, period);
    if (rb.output(e, sampleRecord(e, oa, s), idSample(e, oa, s))) {
      this.written++;
      if (!oa.watermark) rb.countEvent(oa.wakeup);
    }
  }

  /**
   * kernel: perf_event_comm() and perf_event_task() (side-band records): to every event
   * with the attr bit (`comm` / `task`) and a buffer that sees the task on `cpu`: CPU-wide
   * events of that CPU and the task's own events (cpu -1 or that CPU).
   */
  sideBand(
    want: "comm" | "task",
    taskPid: number,
    cpu: number,
    make: (e: PerfEvent, oa: OutputAttr) => Uint8Array,
    src: RecordSource,
  ): void {
    for (const [e, rb] of this.rb) {
      const oa = this.attrOf(e);
      if (!(want === "comm" ? oa.comm : oa.task)) continue;
      if (e.state < PERF_EVENT_STATE.INACTIVE) continue;
      const taskOk = e.task === null || e.task.pid === taskPid;
      const cpuOk = e.cpu === -1 || e.cpu === cpu;
      if (!taskOk || !cpuOk) continue;
      if (rb.output(e, make(e, oa), idSample(e, oa, src))) this.written++;
    }
  }
}
