import type { MachineDesc } from "../hw/machine.js";
import { ARMV8_IDX_CYCLE_COUNTER, X86_FIXED_BASE } from "../hw/pmu-desc.js";
import { formatSeconds, type Ns } from "../sim/time.js";
import type { TraceRecord, TraceSink } from "../sim/trace.js";

/** The trace record of one kind. */
type RecordOf<K extends TraceRecord["kind"]> = Extract<TraceRecord, { kind: K }>;

/**
 * Where every track of a Chrome trace lives: pure functions from simulator objects to the
 * `pid` and `tid` numbers of the Trace Event Format.
 *
 * - One process per domain: the host is pid 1, VM `n` (0-based, in order of first
 *   appearance in the records) is pid `2 + n`.
 * - A track's `tid` is `pid * TID_STRIDE + local`, so tids are unique across processes
 *   (Perfetto treats tids as global) and `local` doubles as the `thread_sort_index`.
 * - In the host, CPU `c` owns locals `(c + 1) * 1000` to `(c + 1) * 1000 + 999`: the task
 *   track, the perf instants track, then one track per hardware counter slot at
 *   `100 * (pmuOrdinal + 1) + idx`. Uncore slots sit at `900000 + 100 * pmuOrdinal + idx`.
 * - In a VM process, vCPU `v` owns the same band `(v + 1) * 1000`: its state track
 *   (in guest / in host / not running, and VM exit instants) at offset 0; offset 1 (guest
 *   perf instants) and offsets from 100 (guest counter slots) are reserved, mirroring the
 *   host's CPUs.
 *
 * A local that falls outside its band (more than 898 CPUs, 9 PMUs or 100 counters) is
 * moved to an overflow band, so tracks never share a tid.
 */
export const TRACE_LAYOUT = {
  /** The host process. */
  hostPid: 1,
  /** The process of VM `vm` (0-based, in order of first appearance). */
  vmPid: (vm: number): number => 2 + vm,
  /** tids of different processes never collide: `tid = pid * TID_STRIDE + local`. */
  tidStride: 1_000_000,
  /** Host CPU `cpu`: which task runs (slices named `comm [pid]`). */
  cpuTasks: (cpu: number): number => (cpu + 1) * 1000,
  /** Host CPU `cpu`: perf instants (state changes, rotations, PMIs, samples). */
  cpuPerf: (cpu: number): number => (cpu + 1) * 1000 + 1,
  /** Host CPU `cpu`: the host perf core's view of guest runs (perf_guest records). */
  cpuGuest: (cpu: number): number => (cpu + 1) * 1000 + 2,
  /** Host CPU `cpu`: counter slot `idx` of the PMU with ordinal `pmu` (who holds it). */
  cpuCounter: (cpu: number, pmu: number, idx: number): number =>
    (cpu + 1) * 1000 + 100 * (pmu + 1) + idx,
  /** VM process, vCPU `vcpu`: in guest / in host / not running, and VM exit instants. */
  vcpuState: (vcpu: number): number => (vcpu + 1) * 1000,
  /** Uncore PMU with ordinal `pmu`: counter slot `idx`. */
  uncoreCounter: (pmu: number, idx: number): number => 900_000 + 100 * pmu + idx,
  /** Host-wide perf instants (events of tasks that are not on a CPU). */
  hostPerf: 999_000,
  /** Host-wide scheduler instants (task exits). */
  hostSched: 999_001,
  /** First local of the overflow band. */
  overflow: 990_000,
} as const;

/** Options of a {@link ChromeTraceSink}. */
export interface ChromeTraceOptions {
  /**
   * The simulated machine: names the host process and labels counter slots (`fixed1`,
   * `gp3`, `ccnt`, `evcnt2`) and orders PMUs as the machine lists them. Without it slots are
   * labelled by index only and PMUs are ordered by first appearance.
   */
  machine?: MachineDesc;
  /** End of the run: open slices are closed here (default: the last record's time). */
  endTime?: Ns;
  /**
   * Size cap in bytes (UTF-8) of the whole file, footer included (default 100 MB,
   * 100 000 000 bytes). Reaching it ends the JSON validly and throws
   * {@link TraceSizeCapError} out of `write()`, which stops the run.
   */
  maxBytes?: number;
  /** Characters buffered before a `writeChunk` call (default 65536). */
  chunkChars?: number;
}

/** Default size cap: 100 MB. */
export const DEFAULT_TRACE_MAX_BYTES = 100_000_000;

/**
 * Thrown by {@link ChromeTraceSink.write} when the next event would pass the size cap. By
 * then the sink has closed every open slice and the JSON, so what was written is a
 * complete, valid trace of the run up to `t`.
 */
export class TraceSizeCapError extends Error {
  constructor(
    /** The cap, in bytes. */
    readonly capBytes: number,
    /** Simulated time of the first record that did not fit. */
    readonly t: Ns,
  ) {
    super(`trace size cap of ${capBytes / 1_000_000} MB reached at t=${formatSeconds(t)}s`);
    this.name = "TraceSizeCapError";
  }
}

/** Bytes of a string in UTF-8 (no TextEncoder allocation per event). */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      // A surrogate pair: 4 bytes for 2 UTF-16 units.
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

/** Integer ns as µs with up to three decimals, exact (`1234567` → `1234.567`). */
function usTs(t: number): string {
  const us = Math.floor(t / 1000);
  const frac = t - us * 1000;
  if (frac === 0) return String(us);
  return `${us}.${String(frac).padStart(3, "0").replace(/0+$/, "")}`;
}

/** Longest `ts` text reserved for a closing `E` event (2^53 ns in µs is 13 digits + 4). */
const TS_RESERVE = 20;
const HEADER = '{"displayTimeUnit":"ns","traceEvents":[\n';
const FOOTER = "\n]}\n";

/** A thread track: a slice track (one slice at a time) that may also carry instants. */
interface Track {
  readonly pid: number;
  readonly tid: number;
  readonly cat: string;
  /** Slice written to the file and not yet ended. */
  committed: string | null;
  /** `currentArgs` of the committed slice. */
  committedArgs: string;
  /** Slice as of the latest record at the current instant. */
  current: string | null;
  /** `,"args":{...}` of the current slice's `B` event, or "". */
  currentArgs: string;
  /** `current` may differ from `committed`. */
  dirty: boolean;
  /** Bytes of this track's closing `E` event, `ts` reserved at its longest. */
  readonly endBytes: number;
  /** Counter slots: the host holder (`perf_counter.owner`), shown while no guest is in. */
  host: string | null;
}

/** A vCPU as the records show it (kvm_entry/kvm_exit, and sched records of its task). */
interface VcpuInfo {
  readonly track: Track;
  /** `<vm>/<id>`, as the guest's counter-slot slices name it. */
  readonly label: string;
  /** Its host task is on a CPU (sched_switch), or null before any sched record of it. */
  running: boolean | null;
}

/** A CPU's guest PMU window (perf_guest load/put, RFC enter/exit). */
interface GuestCpu {
  /** A guest context is loaded: the core counter slots belong to the guest. */
  loaded: boolean;
  /** The vCPU last entered on this CPU (`<vm>/<id>`), or null if none was seen. */
  vcpu: string | null;
  /** Its slot tracks need recomputing at the end of the instant. */
  dirty: boolean;
  /** Every slot track of the CPU's core PMU was created (machine known). */
  slotsMade: boolean;
}

/** `<vm>/vcpu<id>`, the comm KVM gives a vCPU's host task. */
const VCPU_COMM = /^(.+)\/vcpu(0|[1-9]\d*)$/;

/** A counter track ('C' events): one value per process-wide name. */
interface CounterTrack {
  readonly pid: number;
  readonly name: string;
  readonly key: string;
  written: number | null;
  value: number;
  dirty: boolean;
}

/**
 * A trace sink that writes Chrome Trace Event Format JSON (`{"displayTimeUnit":"ns",
 * "traceEvents":[...]}`), which Perfetto UI and chrome://tracing open.
 *
 * It streams: events go out through `writeChunk` in chunks as records arrive, and the sink
 * keeps only the state of each track (one open slice, one counter value), never the trace.
 * The output depends only on the records, so it is as deterministic as the run.
 *
 * Layout (see {@link TRACE_LAYOUT}): a `host` process; per CPU a task track, a perf
 * instants track, a guest track (perf_guest windows) and one track per hardware counter
 * slot whose slices are named after the holder (`perf_counter.owner`, or `guest <vm>/<id>`
 * while a mediated/passthrough guest context is loaded on the CPU); one track per uncore
 * counter slot; a `counters in use` counter track per CPU and per uncore PMU. One process
 * per VM (`VM <name>`) with a track per vCPU: `in guest` (kvm_entry to kvm_exit), `in
 * host` (kvm_exit to the next kvm_entry or to the task's switch-out), `not running` (its
 * host task `<vm>/vcpu<id>` is off every CPU), and an instant per VM exit named after its
 * reason. `ts` is in µs with ns decimals.
 *
 * Slices reflect the state at the end of each instant: a slot released and taken again by
 * the same event at the same simulated time (a scheduling pass) stays one slice, and
 * holders that come and go within one instant leave no zero-length slice. Instants record
 * every change. Open slices end at `endTime` when the sink closes.
 */
export class ChromeTraceSink implements TraceSink {
  private readonly maxBytes: number;
  private readonly chunkChars: number;
  private readonly endTime: Ns | undefined;
  private readonly machine: MachineDesc | undefined;

  private started = false;
  private finished = false;
  private first = true;
  private buf: string[] = [];
  private bufChars = 0;
  private bytes = 0;
  private events = 0;
  /** Bytes the closing events and footer need (kept free under the cap). */
  private reserve = utf8Length(FOOTER);
  /** Simulated time of the instant being collected. */
  private now = 0;

  private readonly tracks = new Map<string, Track>();
  private readonly usedTids = new Set<number>();
  private nextOverflow: number = TRACE_LAYOUT.overflow;
  private readonly dirtyTracks: Track[] = [];
  private readonly counters = new Map<string, CounterTrack>();
  private readonly dirtyCounters: CounterTrack[] = [];
  private readonly pmuOrdinals = new Map<string, number>();
  private readonly uncoreOrdinals = new Map<string, number>();
  private readonly processes = new Set<number>();
  private readonly vms = new Map<string, number>();
  /** vCPUs by `<vm>/<id>`. */
  private readonly vcpus = new Map<string, VcpuInfo>();
  /** sched comm → the vCPU it names (null: not a vCPU task), parsed once per comm. */
  private readonly vcpuComms = new Map<string, VcpuInfo | null>();
  /** Per CPU: its counter-slot tracks, in creation order. */
  private readonly cpuSlots = new Map<number, Track[]>();
  private readonly guestCpus = new Map<number, GuestCpu>();
  private readonly dirtyGuestCpus: number[] = [];

  /**
   * @param writeChunk Receives the JSON text in order, in chunks (a file in the CLI,
   *   anything in a browser). Concatenated, the chunks are the whole file.
   */
  constructor(
    private readonly writeChunk: (s: string) => void,
    opts: ChromeTraceOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_TRACE_MAX_BYTES;
    this.chunkChars = opts.chunkChars ?? 65_536;
    this.endTime = opts.endTime;
    this.machine = opts.machine;
    for (const ct of opts.machine?.coreTypes ?? [])
      if (!this.pmuOrdinals.has(ct.pmu.name))
        this.pmuOrdinals.set(ct.pmu.name, this.pmuOrdinals.size);
    for (const u of opts.machine?.uncore ?? [])
      if (!this.uncoreOrdinals.has(u.name))
        this.uncoreOrdinals.set(u.name, this.uncoreOrdinals.size);
  }

  /** Events written so far (metadata included). */
  get eventsWritten(): number {
    return this.events;
  }

  /** Bytes (UTF-8) written so far, buffered ones included. */
  get bytesWritten(): number {
    return this.bytes;
  }

  /** Consumes one trace record. Throws {@link TraceSizeCapError} at the size cap. */
  write(r: TraceRecord): void {
    if (this.finished) return;
    this.start();
    if (r.t > this.now) {
      this.flushInstant();
      this.now = r.t;
    }
    switch (r.kind) {
      case "sched_switch":
        this.onSchedSwitch(r);
        break;
      case "sched_wakeup":
        this.onSchedWakeup(r);
        break;
      case "sched_migrate":
        this.onSchedMigrate(r);
        break;
      case "sched_exit":
        this.onSchedExit(r);
        break;
      case "perf_state":
        this.onPerfState(r);
        break;
      case "perf_rotate":
        this.onPerfRotate(r);
        break;
      case "perf_pmi":
        this.onPerfPmi(r);
        break;
      case "perf_sample":
        this.onPerfSample(r);
        break;
      case "perf_counter":
        this.onPerfCounter(r);
        break;
      case "uncore_counter":
        this.onUncoreCounter(r);
        break;
      case "perf_guest":
        this.onPerfGuest(r);
        break;
      case "kvm_entry":
        this.onKvmEntry(r);
        break;
      case "kvm_exit":
        this.onKvmExit(r);
        break;
      default:
        break;
    }
  }

  // --- records ------------------------------------------------------------------------

  private onSchedSwitch(r: RecordOf<"sched_switch">): void {
    const tr = this.cpuTasksTrack(r.cpu);
    if (r.next === 0) this.setSlice(tr, null);
    else this.setSlice(tr, `${r.nextComm} [${r.next}]`, `,"args":{"pid":${r.next}}`);
    if (r.prev !== 0) {
      const v = this.vcpuOfComm(r.prevComm);
      if (v) {
        v.running = false;
        this.setSlice(v.track, "not running");
      }
    }
    if (r.next !== 0) {
      const v = this.vcpuOfComm(r.nextComm);
      if (v) {
        v.running = true;
        if (v.track.current !== "in guest")
          this.setSlice(v.track, "in host", `,"args":{"cpu":${r.cpu}}`);
        this.setGuestVcpu(r.cpu, v.label);
      }
    }
  }

  private onSchedWakeup(r: RecordOf<"sched_wakeup">): void {
    this.instant(this.cpuTasksTrack(r.cpu), `wakeup ${r.comm} [${r.pid}]`, {
      pid: r.pid,
    });
    const v = this.vcpuOfComm(r.comm);
    if (v && v.running !== true) this.setSlice(v.track, "not running");
  }

  private onSchedMigrate(r: RecordOf<"sched_migrate">): void {
    this.instant(this.cpuTasksTrack(r.to), `migrate ${r.comm} [${r.pid}]`, {
      pid: r.pid,
      from: r.from,
      to: r.to,
    });
  }

  private onSchedExit(r: RecordOf<"sched_exit">): void {
    this.instant(
      this.hostTrack(TRACE_LAYOUT.hostSched, "host / sched", "sched"),
      `exit ${r.comm} [${r.pid}]`,
      {
        pid: r.pid,
      },
    );
    const v = this.vcpuOfComm(r.comm);
    if (v) {
      v.running = false;
      this.setSlice(v.track, null);
    }
  }

  private onPerfState(r: RecordOf<"perf_state">): void {
    this.instant(this.perfTrack(r.cpu), `${r.name} ${r.from}->${r.to}`, {
      id: r.id,
      from: r.from,
      to: r.to,
    });
  }

  private onPerfRotate(r: RecordOf<"perf_rotate">): void {
    this.instant(this.perfTrack(r.cpu), `rotate ${r.pmu}`, { pmu: r.pmu });
  }

  private onPerfPmi(r: RecordOf<"perf_pmi">): void {
    this.instant(this.perfTrack(r.cpu), `PMI ${r.name}`, { id: r.id, pmu: r.pmu });
  }

  private onPerfSample(r: RecordOf<"perf_sample">): void {
    this.instant(this.perfTrack(r.cpu), `sample ${r.name}`, {
      id: r.id,
      pid: r.pid,
      period: r.period,
    });
  }

  private onPerfCounter(r: RecordOf<"perf_counter">): void {
    const tr = this.cpuCounterTrack(r.cpu, r.pmu, r.idx);
    const before = tr.host;
    tr.host = r.owner;
    const g = this.guestCpus.get(r.cpu);
    // While a guest context is loaded the slot shows the guest; the host holder is
    // kept for when it is put.
    if (g?.loaded) this.markGuestCpu(r.cpu, g);
    else this.setSlice(tr, r.owner);
    const delta = before === null ? (r.owner === null ? 0 : 1) : r.owner === null ? -1 : 0;
    if (delta !== 0) this.addCounter(TRACE_LAYOUT.hostPid, `CPU ${r.cpu}`, delta);
  }

  private onUncoreCounter(r: RecordOf<"uncore_counter">): void {
    const tr = this.uncoreCounterTrack(r.pmu, r.idx);
    const delta = this.setSlice(tr, r.owner);
    if (delta !== 0) this.addCounter(TRACE_LAYOUT.hostPid, r.pmu, delta);
  }

  private onPerfGuest(r: RecordOf<"perf_guest">): void {
    const tr = this.track(
      `g${r.cpu}`,
      this.hostProcess(),
      TRACE_LAYOUT.cpuGuest(r.cpu),
      `CPU ${r.cpu} / guest`,
      "guest",
    );
    if (r.what === "enter") this.setSlice(tr, "guest (perf_guest_enter)");
    else if (r.what === "load") this.setSlice(tr, "guest context loaded");
    else this.setSlice(tr, null);
    const g = this.guestCpu(r.cpu);
    g.loaded = r.what === "enter" || r.what === "load";
    this.markGuestCpu(r.cpu, g);
  }

  private onKvmEntry(r: RecordOf<"kvm_entry">): void {
    const v = this.vcpu(r.vm, r.vcpu);
    v.running = true;
    this.setSlice(v.track, "in guest", `,"args":{"cpu":${r.cpu}}`);
    this.setGuestVcpu(r.cpu, v.label);
  }

  private onKvmExit(r: RecordOf<"kvm_exit">): void {
    const v = this.vcpu(r.vm, r.vcpu);
    // A preempted vCPU exits before its task is switched out; should a record order
    // ever put the exit after the switch-out, it stays "not running".
    if (v.running === false) this.setSlice(v.track, "not running");
    else this.setSlice(v.track, "in host", `,"args":{"cpu":${r.cpu}}`);
    this.setGuestVcpu(r.cpu, v.label);
    this.instant(v.track, r.reason, { cpu: r.cpu, reason: r.reason });
  }

  /**
   * Ends the trace: closes every open slice at the end of the run (`endTime`, or `end`, or
   * the last record's time, whichever is latest), writes the footer and flushes. Later
   * calls do nothing. Throws {@link TraceSizeCapError} if the last instant does not fit
   * (the JSON is then closed before it).
   */
  close(end?: Ns): void {
    if (this.finished) return;
    this.start();
    this.flushInstant();
    this.finish(Math.max(this.now, end ?? 0, this.endTime ?? 0));
  }

  // --- tracks -------------------------------------------------------------------------

  private processMeta(pid: number, name: string, sort: number): void {
    if (this.processes.has(pid)) return;
    this.processes.add(pid);
    const tid = pid * TRACE_LAYOUT.tidStride;
    this.emit(
      `{"ph":"M","name":"process_name","pid":${pid},"tid":${tid},"args":{"name":${JSON.stringify(name)}}}`,
    );
    this.emit(
      `{"ph":"M","name":"process_sort_index","pid":${pid},"tid":${tid},"args":{"sort_index":${sort}}}`,
    );
  }

  /**
   * The process of the VM named `vm`: VMs get `TRACE_LAYOUT.vmPid(n)` in the order they are
   * first seen, and a `VM <name>` process name. The vCPU tracks of a VM go at
   * `TRACE_LAYOUT.vcpuState(vcpu)` in this process.
   */
  vmProcess(vm: string): number {
    let n = this.vms.get(vm);
    if (n === undefined) this.vms.set(vm, (n = this.vms.size));
    const pid = TRACE_LAYOUT.vmPid(n);
    if (this.finished) return pid;
    this.start();
    this.processMeta(pid, `VM ${vm}`, 1 + n);
    return pid;
  }

  /** The vCPU `id` of VM `vm`: its track (and its VM's process) created on first use. */
  private vcpu(vm: string, id: number): VcpuInfo {
    const label = `${vm}/${id}`;
    let v = this.vcpus.get(label);
    if (!v) {
      const pid = this.vmProcess(vm);
      const track = this.track(`v${label}`, pid, TRACE_LAYOUT.vcpuState(id), `vCPU ${id}`, "kvm");
      v = { track, label, running: null };
      this.vcpus.set(label, v);
    }
    return v;
  }

  /** The vCPU whose host task has comm `comm` (`<vm>/vcpu<id>`), or null. */
  private vcpuOfComm(comm: string): VcpuInfo | null {
    let v = this.vcpuComms.get(comm);
    if (v === undefined) {
      const m = VCPU_COMM.exec(comm);
      v = m ? this.vcpu(m[1]!, Number(m[2])) : null;
      this.vcpuComms.set(comm, v);
    }
    return v;
  }

  private guestCpu(cpu: number): GuestCpu {
    let g = this.guestCpus.get(cpu);
    if (!g) {
      g = { loaded: false, vcpu: null, dirty: false, slotsMade: false };
      this.guestCpus.set(cpu, g);
    }
    return g;
  }

  private markGuestCpu(cpu: number, g: GuestCpu): void {
    if (g.dirty) return;
    g.dirty = true;
    this.dirtyGuestCpus.push(cpu);
  }

  /** The vCPU running on `cpu` names the guest on its counter slots. */
  private setGuestVcpu(cpu: number, label: string): void {
    const g = this.guestCpu(cpu);
    if (g.vcpu === label) return;
    g.vcpu = label;
    if (g.loaded) this.markGuestCpu(cpu, g);
  }

  /**
   * End of an instant: every counter slot of a CPU whose guest window changed shows the
   * guest while its context is loaded, else the host holder. With the machine known, the
   * guest's first load creates every core counter slot track of the CPU.
   */
  private flushGuestCpus(): void {
    for (const cpu of this.dirtyGuestCpus) {
      const g = this.guestCpus.get(cpu)!;
      g.dirty = false;
      if (g.loaded && !g.slotsMade) {
        g.slotsMade = true;
        const type = this.machine?.cpus[cpu]?.coreType;
        const pmu = this.machine?.coreTypes.find((c) => c.name === type)?.pmu;
        if (pmu) {
          for (let i = 0; i < pmu.nrGp; i++) this.cpuCounterTrack(cpu, pmu.name, i);
          for (const f of pmu.fixed) this.cpuCounterTrack(cpu, pmu.name, f.idx);
        }
      }
      const guest = g.vcpu === null ? "guest" : `guest ${g.vcpu}`;
      for (const tr of this.cpuSlots.get(cpu) ?? []) this.setSlice(tr, g.loaded ? guest : tr.host);
    }
    this.dirtyGuestCpus.length = 0;
  }

  private hostProcess(): number {
    const pid = TRACE_LAYOUT.hostPid;
    this.processMeta(pid, this.machine ? `host (${this.machine.name})` : "host", 0);
    return pid;
  }

  /** The track `key`, created (with its metadata) on first use. */
  private track(key: string, pid: number, local: number, name: string, cat: string): Track {
    const have = this.tracks.get(key);
    if (have) return have;
    const band = local >= 0 && local < TRACE_LAYOUT.tidStride;
    let tid = pid * TRACE_LAYOUT.tidStride + local;
    if (!band || this.usedTids.has(tid)) {
      while (this.usedTids.has(pid * TRACE_LAYOUT.tidStride + this.nextOverflow))
        this.nextOverflow++;
      local = this.nextOverflow++;
      tid = pid * TRACE_LAYOUT.tidStride + local;
    }
    this.usedTids.add(tid);
    const endBytes = utf8Length(`,\n{"ph":"E","pid":${pid},"tid":${tid},"ts":}`) + TS_RESERVE;
    const tr: Track = {
      pid,
      tid,
      cat,
      committed: null,
      committedArgs: "",
      current: null,
      currentArgs: "",
      dirty: false,
      endBytes,
      host: null,
    };
    this.tracks.set(key, tr);
    this.emit(
      `{"ph":"M","name":"thread_name","pid":${pid},"tid":${tid},"args":{"name":${JSON.stringify(name)}}}`,
    );
    this.emit(
      `{"ph":"M","name":"thread_sort_index","pid":${pid},"tid":${tid},"args":{"sort_index":${local}}}`,
    );
    return tr;
  }

  private hostTrack(local: number, name: string, cat: string): Track {
    return this.track(`h${local}`, this.hostProcess(), local, name, cat);
  }

  private cpuTasksTrack(cpu: number): Track {
    return this.track(
      `t${cpu}`,
      this.hostProcess(),
      TRACE_LAYOUT.cpuTasks(cpu),
      `CPU ${cpu} / tasks`,
      "sched",
    );
  }

  private perfTrack(cpu: number): Track {
    if (cpu < 0) return this.hostTrack(TRACE_LAYOUT.hostPerf, "host / perf (no CPU)", "perf");
    return this.track(
      `p${cpu}`,
      this.hostProcess(),
      TRACE_LAYOUT.cpuPerf(cpu),
      `CPU ${cpu} / perf`,
      "perf",
    );
  }

  private cpuCounterTrack(cpu: number, pmu: string, idx: number): Track {
    const key = `c${cpu}/${pmu}/${idx}`;
    const have = this.tracks.get(key);
    if (have) return have;
    let ord = this.pmuOrdinals.get(pmu);
    if (ord === undefined) this.pmuOrdinals.set(pmu, (ord = this.pmuOrdinals.size));
    const local = idx < 100 && ord < 9 ? TRACE_LAYOUT.cpuCounter(cpu, ord, idx) : -1;
    const label = this.counterLabel(pmu, idx);
    const name = `CPU ${cpu} / ${pmu} ctr ${idx}${label ? ` (${label})` : ""}`;
    const tr = this.track(key, this.hostProcess(), local, name, "counter");
    let slots = this.cpuSlots.get(cpu);
    if (!slots) this.cpuSlots.set(cpu, (slots = []));
    slots.push(tr);
    return tr;
  }

  private uncoreCounterTrack(pmu: string, idx: number): Track {
    const key = `u${pmu}/${idx}`;
    const have = this.tracks.get(key);
    if (have) return have;
    let ord = this.uncoreOrdinals.get(pmu);
    if (ord === undefined) this.uncoreOrdinals.set(pmu, (ord = this.uncoreOrdinals.size));
    const local = idx < 100 && ord < 9 ? TRACE_LAYOUT.uncoreCounter(ord, idx) : -1;
    return this.track(key, this.hostProcess(), local, `${pmu} ctr ${idx}`, "uncore");
  }

  /** `fixed1`, `gp3` (x86) or `ccnt`, `evcnt2` (arm64); "" when the PMU is unknown. */
  private counterLabel(pmu: string, idx: number): string {
    const desc = this.machine?.coreTypes.find((c) => c.pmu.name === pmu)?.pmu;
    if (!desc) return "";
    if (desc.arch === "x86")
      return idx >= X86_FIXED_BASE ? `fixed${idx - X86_FIXED_BASE}` : `gp${idx}`;
    return idx === ARMV8_IDX_CYCLE_COUNTER ? "ccnt" : `evcnt${idx}`;
  }

  // --- slices, instants, counters -----------------------------------------------------

  /**
   * Sets the slice a track shows from now on (null: none). Returns +1 when the track went
   * from empty to held, -1 from held to empty, else 0 (for "counters in use").
   */
  private setSlice(tr: Track, name: string | null, args = ""): number {
    const before = tr.current;
    tr.current = name;
    tr.currentArgs = args;
    if (!tr.dirty) {
      tr.dirty = true;
      this.dirtyTracks.push(tr);
    }
    if (before === null && name !== null) return 1;
    if (before !== null && name === null) return -1;
    return 0;
  }

  private instant(tr: Track, name: string, args: Record<string, string | number>): void {
    this.emit(
      `{"ph":"i","s":"t","cat":"${tr.cat}","name":${JSON.stringify(name)},"pid":${tr.pid},"tid":${tr.tid},"ts":${usTs(this.now)},"args":${JSON.stringify(args)}}`,
    );
  }

  private addCounter(pid: number, name: string, delta: number): void {
    let c = this.counters.get(name);
    if (!c) {
      c = { pid, name, key: "counters in use", written: null, value: 0, dirty: false };
      this.counters.set(name, c);
    }
    c.value += delta;
    if (!c.dirty) {
      c.dirty = true;
      this.dirtyCounters.push(c);
    }
  }

  /** Writes what changed during the instant `now`: slice ends and begins, counter values. */
  private flushInstant(): void {
    if (this.dirtyGuestCpus.length > 0) this.flushGuestCpus();
    const ts = usTs(this.now);
    for (const tr of this.dirtyTracks) {
      tr.dirty = false;
      if (tr.current === tr.committed && tr.currentArgs === tr.committedArgs) continue;
      if (tr.committed !== null) this.endSlice(tr, ts);
      if (tr.current !== null) {
        this.emit(
          `{"ph":"B","cat":"${tr.cat}","name":${JSON.stringify(tr.current)},"pid":${tr.pid},"tid":${tr.tid},"ts":${ts}${tr.currentArgs}}`,
          tr.endBytes,
        );
        tr.committed = tr.current;
        tr.committedArgs = tr.currentArgs;
        this.reserve += tr.endBytes;
      }
    }
    this.dirtyTracks.length = 0;
    for (const c of this.dirtyCounters) {
      c.dirty = false;
      if (c.value === c.written) continue;
      this.emit(
        `{"ph":"C","cat":"counter","name":${JSON.stringify(c.name)},"pid":${c.pid},"tid":${c.pid * TRACE_LAYOUT.tidStride},"ts":${ts},"args":{${JSON.stringify(c.key)}:${c.value}}}`,
      );
      c.written = c.value;
    }
    this.dirtyCounters.length = 0;
  }

  private endSlice(tr: Track, ts: string): void {
    this.reserve -= tr.endBytes;
    tr.committed = null;
    tr.committedArgs = "";
    this.put(`{"ph":"E","pid":${tr.pid},"tid":${tr.tid},"ts":${ts}}`);
  }

  // --- output ---------------------------------------------------------------------------

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.bytes += utf8Length(HEADER);
    this.buf.push(HEADER);
    this.bufChars += HEADER.length;
    this.hostProcess();
  }

  /**
   * Writes one event unless it (plus `extraReserve`, the closing event it will need, plus
   * the closing events already owed) would pass the cap; then ends the trace and throws.
   */
  private emit(ev: string, extraReserve = 0): void {
    const need = utf8Length(ev) + (this.first ? 0 : 2);
    if (this.bytes + need + this.reserve + extraReserve > this.maxBytes) {
      this.finish(this.now);
      throw new TraceSizeCapError(this.maxBytes, this.now as Ns);
    }
    this.put(ev);
  }

  /** Appends an event without the cap check (closing events are reserved for). */
  private put(ev: string): void {
    const s = this.first ? ev : `,\n${ev}`;
    this.first = false;
    this.events++;
    this.bytes += utf8Length(s);
    this.buf.push(s);
    this.bufChars += s.length;
    if (this.bufChars >= this.chunkChars) this.flushBuffer();
  }

  private flushBuffer(): void {
    if (this.buf.length === 0) return;
    const s = this.buf.join("");
    this.buf = [];
    this.bufChars = 0;
    this.writeChunk(s);
  }

  /** Ends every committed slice at `end`, writes the footer and flushes. */
  private finish(end: number): void {
    this.finished = true;
    const ts = usTs(end);
    for (const tr of this.tracks.values()) if (tr.committed !== null) this.endSlice(tr, ts);
    this.bytes += utf8Length(FOOTER);
    this.buf.push(FOOTER);
    this.flushBuffer();
  }
}
