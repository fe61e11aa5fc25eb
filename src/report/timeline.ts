import type { MachineDesc } from "../hw/machine.js";
import { ARMV8_IDX_CYCLE_COUNTER, X86_FIXED_BASE } from "../hw/pmu-desc.js";
import type { Ns } from "../sim/time.js";
import type { TraceRecord, TraceSink } from "../sim/trace.js";

/**
 * The timeline of a run, as the HTML report draws it: per CPU, who held each hardware
 * counter when, when a guest context was loaded, which task ran, and the instants (VM
 * entries and exits, PMIs, rotations, switches, migrations); per event, its state changes.
 * Built from the trace records, by {@link TimelineSink}, with a {@link TimelineProbe} that
 * reads each event's count and times as its state changes. Compact: intervals and instants
 * are flat number arrays, and every name is an index into `strings`.
 */
export interface TimelineData {
  version: 2;
  /**
   * True: the arrays' times are delta-encoded ({@link packTimeline}), as the report page
   * carries them; {@link unpackTimeline} restores them.
   */
  packed?: boolean;
  /** End of the run (ns). */
  end_ns: number;
  /** Every name the arrays refer to. */
  strings: string[];
  /** Mark kinds, indexed by a mark's kind number. */
  mark_kinds: readonly MarkKind[];
  cpus: TimelineCpu[];
  /** Uncore PMU counters (CPU-wide, not per CPU). */
  uncore: TimelineLane[];
  /** One entry per (event, CPU) that changed state. */
  events: TimelineEvent[];
  /** Every event that held a counter or changed state: lanes' intervals index this. */
  holders: TimelineHolder[];
}

/**
 * One event (or, for an uncore counter's owner, one event name): who it is and what it had
 * counted when. `values` are [t, count, time_enabled, time_running] samples taken at each of
 * its state changes and PMIs, where the perf core has brought them up to date; between two
 * samples they grow linearly (exact at the samples; samples on one line are left out).
 */
export interface TimelineHolder {
  /** The perf event id; -1: known by name only (uncore counters). */
  id: number;
  /** String index of the event's name. */
  name: number;
  /** String index of the host measurement that opened it; -1: none (KVM, the watchdog, an action). */
  measurement: number;
  /** [t, count, enabled ns, running ns] per sample, in time order. */
  values: number[];
}

/**
 * What the sink reads from the simulated system besides the trace records (none of it
 * changes the run): an event's count and times, which event holds a counter, and which
 * measurement opened an event.
 */
export interface TimelineProbe {
  /** The count, time_enabled and time_running of event `id` now (null: unknown). */
  values(id: number): readonly [number, number, number] | null;
  /** The id of the event holding counter `idx` of `pmu` on `cpu` now, or -1. */
  counterHolder(cpu: number, pmu: string, idx: number): number;
  /** The name of the measurement that opened event `id`, or null. */
  measurement(id: number): string | null;
  /**
   * Event `id` read as read(2) reads it (the counter folded into the count): only after the
   * run's result is built, as it changes the event. Null: unknown, or nothing to read.
   */
  readFinal?(id: number): readonly [number, number, number] | null;
}

/** The kinds of instant the timeline marks. */
export type MarkKind = "vm entry" | "vm exit" | "PMI" | "rotation" | "switch" | "migration";
const MARK_KINDS: readonly MarkKind[] = [
  "vm entry",
  "vm exit",
  "PMI",
  "rotation",
  "switch",
  "migration",
];
const MARK = { entry: 0, exit: 1, pmi: 2, rotate: 3, switch: 4, migrate: 5 } as const;

/** One hardware counter slot. */
export interface TimelineLane {
  pmu: string;
  idx: number;
  /** `gp0`, `fixed1`, `ccnt`, `evcnt2`: the counter's name. */
  label: string;
  /** Holders: [t0, t1, index into `holders`] per interval. */
  segs: number[];
}

/** One CPU's lanes and instants. */
export interface TimelineCpu {
  cpu: number;
  lanes: TimelineLane[];
  /** Guest context loaded: [t0, t1, vCPU label string index] per interval. */
  guest: number[];
  /** Running task: [t0, t1, comm string index] per interval. */
  tasks: number[];
  /** Instants: [t, kind, label string index] each. */
  marks: number[];
}

/** One event's states on one CPU. */
export interface TimelineEvent {
  id: number;
  /** String index of the event's name. */
  name: number;
  cpu: number;
  /**
   * [t, state string index] per change: the state from t on. Changes at one instant are
   * merged (the last wins; a change to ERROR is kept).
   */
  changes: number[];
}

/** A lane's open interval. */
interface OpenLane {
  lane: TimelineLane;
  holder: number;
  since: number;
}

interface CpuState {
  out: TimelineCpu;
  lanes: Map<string, OpenLane>;
  guestSince: number;
  guestLabel: number;
  task: number;
  taskSince: number;
  vcpu: string | null;
}

/** A counter's name as the hardware manuals call it. */
function slotLabel(machine: MachineDesc | undefined, pmu: string, idx: number): string {
  const desc = machine?.coreTypes.find((c) => c.pmu.name === pmu)?.pmu;
  if (desc?.fixed.some((f) => f.idx === idx))
    return idx === ARMV8_IDX_CYCLE_COUNTER ? "ccnt" : `fixed${idx - X86_FIXED_BASE}`;
  return desc && /^armv8/.test(pmu) ? `evcnt${idx}` : `gp${idx}`;
}

/**
 * Collects a {@link TimelineData} from the trace records of a run (attach it as a trace
 * sink, read `data()` after the run). Knowing the machine, every core counter of a CPU
 * gets a lane, used or not, in the PMU's order (general purpose, then fixed).
 */
export class TimelineSink implements TraceSink {
  private readonly strings: string[] = [];
  private readonly stringIdx = new Map<string, number>();
  private readonly cpus = new Map<number, CpuState>();
  private readonly uncore = new Map<string, OpenLane>();
  private readonly events = new Map<string, TimelineEvent>();
  /** The CPU an event last changed state on (its changes off any CPU go there). */
  private readonly lastCpu = new Map<number, number>();
  /**
   * The last event of each name to go ACTIVE on each CPU ("cpu/name") and anywhere ("name"):
   * what the pmu->add() that follows is for.
   */
  private readonly lastActive = new Map<string, number>();
  private readonly holders: TimelineHolder[] = [];
  private readonly holderIdx = new Map<string, number>();
  private now = 0;
  private closed: TimelineData | null = null;

  constructor(
    private readonly machine?: MachineDesc,
    private probe?: TimelineProbe,
  ) {}

  /**
   * Sets the probe (a run's system exists only after the sink is attached to it), and takes a
   * first sample of the events seen so far.
   */
  setProbe(probe: TimelineProbe): void {
    this.probe = probe;
    for (const e of this.events.values()) this.sample(e.id, this.strings[e.name]!);
  }

  /** The holder entry of event `id` (-1: of the name alone). */
  private holder(id: number, name: string): number {
    const key = id >= 0 ? `#${id}` : `=${name}`;
    let i = this.holderIdx.get(key);
    if (i === undefined) {
      i = this.holders.length;
      this.holders.push({ id, name: this.str(name), measurement: -1, values: [] });
      this.holderIdx.set(key, i);
    }
    return i;
  }

  /**
   * A value sample of event `id` now. One per instant (the last wins); a sample on the line
   * through its neighbours is dropped, so steady stretches cost two samples.
   */
  private sample(id: number, name: string, final = false): void {
    const v = final ? this.probe?.readFinal?.(id) : this.probe?.values(id);
    if (!v) return;
    const out = this.holders[this.holder(id, name)]!.values;
    const t = this.now;
    const c = Math.round(v[0]);
    const en = Math.round(v[1]);
    const run = Math.round(v[2]);
    let n = out.length;
    if (n >= 4 && out[n - 4] === t) {
      out.length = n -= 4;
    }
    if (n >= 8) {
      // Is the last sample on the line from the one before it to this one?
      const t0 = out[n - 8]!;
      const t1 = out[n - 4]!;
      const on = (k: number, x: number) =>
        (out[n - 4 + k]! - out[n - 8 + k]!) * (t - t0) === (x - out[n - 8 + k]!) * (t1 - t0);
      if (on(1, c) && on(2, en) && on(3, run)) out.length = n -= 4;
    }
    out.push(t, c, en, run);
  }

  /** A state change of event `id`; changes at the same instant merge (a change to ERROR stays). */
  private stateChange(id: number, name: string, cpu: number, to: string): void {
    const at = cpu >= 0 ? cpu : (this.lastCpu.get(id) ?? -1);
    if (cpu >= 0) this.lastCpu.set(id, cpu);
    if (to === "ACTIVE") {
      if (cpu >= 0) this.lastActive.set(`${cpu}/${name}`, id);
      this.lastActive.set(name, id);
    }
    const key = `${id}/${at}`;
    let e = this.events.get(key);
    if (!e) {
      e = { id, name: this.str(name), cpu: at, changes: [] };
      this.events.set(key, e);
    }
    const ch = e.changes;
    const state = this.str(to);
    const n = ch.length;
    if (n >= 2 && ch[n - 2] === this.now && this.strings[ch[n - 1]!] !== "ERROR") {
      ch.length = n - 2;
      // Back to the state before the instant: no change at all.
      if (n >= 4 && ch[n - 3] === state) return;
    }
    ch.push(this.now, state);
  }

  private str(s: string): number {
    let i = this.stringIdx.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIdx.set(s, i);
    }
    return i;
  }

  private cpu(cpu: number): CpuState {
    let c = this.cpus.get(cpu);
    if (!c) {
      c = {
        out: { cpu, lanes: [], guest: [], tasks: [], marks: [] },
        lanes: new Map(),
        guestSince: -1,
        guestLabel: -1,
        task: -1,
        taskSince: 0,
        vcpu: null,
      };
      this.cpus.set(cpu, c);
      this.makeCoreLanes(c);
    }
    return c;
  }

  private makeCoreLanes(c: CpuState): void {
    const type = this.machine?.cpus[c.out.cpu]?.coreType;
    const pmu = this.machine?.coreTypes.find((t) => t.name === type)?.pmu;
    if (!pmu) return;
    for (let i = 0; i < pmu.nrGp; i++) this.lane(c, pmu.name, i);
    for (const f of pmu.fixed) this.lane(c, pmu.name, f.idx);
  }

  private lane(c: CpuState, pmu: string, idx: number): OpenLane {
    const key = `${pmu}/${idx}`;
    let l = c.lanes.get(key);
    if (!l) {
      const lane = { pmu, idx, label: slotLabel(this.machine, pmu, idx), segs: [] };
      l = { lane, holder: -1, since: 0 };
      c.lanes.set(key, l);
      c.out.lanes.push(lane);
    }
    return l;
  }

  /** Ends the lane's interval now and starts one held by `holder` (-1: free). */
  private hold(l: OpenLane, holder: number): void {
    if (l.holder === holder) return;
    if (l.holder >= 0 && this.now > l.since) l.lane.segs.push(l.since, this.now, l.holder);
    l.holder = holder;
    l.since = this.now;
  }

  private mark(cpu: number, kind: number, label: string): void {
    this.cpu(cpu).out.marks.push(this.now, kind, this.str(label));
  }

  private setTask(c: CpuState, comm: number): void {
    if (c.task >= 0 && this.now > c.taskSince) c.out.tasks.push(c.taskSince, this.now, c.task);
    c.task = comm;
    c.taskSince = this.now;
  }

  private setGuest(c: CpuState, loaded: boolean): void {
    if (loaded && c.guestSince < 0) {
      c.guestSince = this.now;
      c.guestLabel = this.str(c.vcpu ? `guest ${c.vcpu}` : "guest");
    } else if (!loaded && c.guestSince >= 0) {
      if (this.now > c.guestSince) c.out.guest.push(c.guestSince, this.now, c.guestLabel);
      c.guestSince = -1;
    }
  }

  /** Consumes one trace record. */
  write(r: TraceRecord): void {
    if (this.closed) return;
    this.now = r.t;
    switch (r.kind) {
      case "sched_switch": {
        const c = this.cpu(r.cpu);
        this.setTask(c, r.next === 0 ? -1 : this.str(`${r.nextComm} [${r.next}]`));
        this.mark(r.cpu, MARK.switch, `${r.prevComm} [${r.prev}] -> ${r.nextComm} [${r.next}]`);
        break;
      }
      case "sched_migrate":
        this.mark(r.to, MARK.migrate, `${r.comm} [${r.pid}] from CPU ${r.from}`);
        break;
      case "perf_state":
        this.stateChange(r.id, r.name, r.cpu, r.to);
        this.sample(r.id, r.name);
        break;
      case "perf_rotate":
        this.mark(r.cpu, MARK.rotate, `rotate ${r.pmu}`);
        break;
      case "perf_pmi":
        this.mark(r.cpu, MARK.pmi, `PMI ${r.name}`);
        // The overflow handler has just folded the counter into the count.
        this.sample(r.id, r.name);
        break;
      case "perf_counter": {
        // The event on the counter; without a probe (or before it is set: booting), the
        // last event of the owner's name to go ACTIVE there (event_sched_in() sets ACTIVE
        // before pmu->add()).
        let id = -1;
        if (r.owner !== null) {
          id = this.probe?.counterHolder(r.cpu, r.pmu, r.idx) ?? -1;
          if (id < 0) id = this.lastActive.get(`${r.cpu}/${r.owner}`) ?? -1;
        }
        this.hold(
          this.lane(this.cpu(r.cpu), r.pmu, r.idx),
          r.owner === null ? -1 : this.holder(id, r.owner),
        );
        break;
      }
      case "uncore_counter": {
        const key = `${r.pmu}/${r.idx}`;
        let l = this.uncore.get(key);
        if (!l) {
          const lane = { pmu: r.pmu, idx: r.idx, label: `${r.pmu}/${r.idx}`, segs: [] };
          l = { lane, holder: -1, since: 0 };
          this.uncore.set(key, l);
        }
        // Uncore events are CPU-wide: the last of the owner's name to go ACTIVE.
        this.hold(
          l,
          r.owner === null ? -1 : this.holder(this.lastActive.get(r.owner) ?? -1, r.owner),
        );
        break;
      }
      case "perf_guest":
        this.setGuest(this.cpu(r.cpu), r.what === "enter" || r.what === "load");
        break;
      case "kvm_entry":
        this.cpu(r.cpu).vcpu = `${r.vm}/${r.vcpu}`;
        this.mark(r.cpu, MARK.entry, `${r.vm}/vcpu${r.vcpu} entry`);
        break;
      case "kvm_exit":
        this.mark(r.cpu, MARK.exit, `${r.vm}/vcpu${r.vcpu} exit: ${r.reason}`);
        break;
      default:
        break;
    }
  }

  /**
   * Ends every open interval at the end of the run, after a last value sample of every
   * event (with a probe that can read them: the run's result is built by then).
   */
  close(end?: Ns): void {
    if (this.closed) return;
    this.now = Math.max(this.now, end ?? 0);
    if (this.probe?.readFinal) {
      const last = this.now;
      for (const h of [...this.holders]) {
        this.now = last;
        if (h.id >= 0) this.sample(h.id, this.strings[h.name]!, true);
      }
      this.now = last;
    }
    for (const c of this.cpus.values()) {
      for (const l of c.lanes.values()) this.hold(l, -1);
      this.setGuest(c, false);
      this.setTask(c, -1);
    }
    for (const l of this.uncore.values()) this.hold(l, -1);
    for (const h of this.holders) {
      const m = h.id >= 0 ? this.probe?.measurement(h.id) : null;
      if (m) h.measurement = this.str(m);
    }
    this.closed = {
      version: 2,
      end_ns: this.now,
      strings: this.strings,
      mark_kinds: MARK_KINDS,
      cpus: [...this.cpus.values()].map((c) => c.out).sort((a, b) => a.cpu - b.cpu),
      uncore: [...this.uncore.values()].map((l) => l.lane),
      events: [...this.events.values()],
      holders: this.holders,
    };
  }

  /** The timeline, after `close()`. */
  data(): TimelineData {
    if (!this.closed) this.close();
    return this.closed!;
  }
}

/** Intervals [t0, t1, x]: t0 as the gap since the previous interval's t1, t1 as a length. */
function packIntervals(iv: number[]): number[] {
  const out = iv.slice();
  let end = 0;
  for (let i = 0; i < iv.length; i += 3) {
    out[i] = iv[i]! - end;
    out[i + 1] = iv[i + 1]! - iv[i]!;
    end = iv[i + 1]!;
  }
  return out;
}

function unpackIntervals(iv: number[]): number[] {
  const out = iv.slice();
  let end = 0;
  for (let i = 0; i < iv.length; i += 3) {
    out[i] = end + iv[i]!;
    out[i + 1] = end = out[i]! + iv[i + 1]!;
  }
  return out;
}

/** Columns [0, cols) of each `stride`-long record as the difference from the previous record's. */
function packDeltas(a: number[], stride: number, cols: number): number[] {
  const out = a.slice();
  for (let i = a.length - stride; i >= stride; i -= stride)
    for (let k = 0; k < cols; k++) out[i + k] = a[i + k]! - a[i - stride + k]!;
  return out;
}

function unpackDeltas(a: number[], stride: number, cols: number): number[] {
  const out = a.slice();
  for (let i = stride; i < a.length; i += stride)
    for (let k = 0; k < cols; k++) out[i + k] = out[i - stride + k]! + a[i + k]!;
  return out;
}

/**
 * The timeline as the report page carries it: every time (and every value sample) as the
 * difference from the one before, which makes the page's JSON about half as long (times are
 * nanoseconds since the start; differences are short numbers). Lossless: unpackTimeline()
 * gives back the same data.
 */
export function packTimeline(d: TimelineData): TimelineData {
  if (d.packed) return d;
  return { ...mapTimes(d, packIntervals, packDeltas), packed: true };
}

/** The timeline with absolute times again (a timeline that is not packed is returned as is). */
export function unpackTimeline(d: TimelineData): TimelineData {
  if (!d.packed) return d;
  const { packed: _, ...rest } = d;
  return mapTimes(rest, unpackIntervals, unpackDeltas);
}

/** `d` with every array of times passed through `intervals` or `deltas` (pack or unpack). */
function mapTimes(
  d: TimelineData,
  intervals: (iv: number[]) => number[],
  deltas: (a: number[], stride: number, cols: number) => number[],
): TimelineData {
  const lane = (l: TimelineLane): TimelineLane => ({ ...l, segs: intervals(l.segs) });
  return {
    ...d,
    cpus: d.cpus.map((c) => ({
      ...c,
      lanes: c.lanes.map(lane),
      guest: intervals(c.guest),
      tasks: intervals(c.tasks),
      marks: deltas(c.marks, 3, 1),
    })),
    uncore: d.uncore.map(lane),
    events: d.events.map((e) => ({ ...e, changes: deltas(e.changes, 2, 1) })),
    holders: d.holders.map((h) => ({ ...h, values: deltas(h.values, 4, 4) })),
  };
}

/**
 * Event `h`'s count, time_enabled and time_running at `t`: interpolated between the samples
 * around t (counts and times grow linearly between them); before the first sample all are 0;
 * after the last, the last (`stale`: the event may have counted on since).
 */
export function valuesAt(
  h: TimelineHolder,
  t: number,
): { count: number; enabled: number; running: number; stale: boolean } | null {
  const v = h.values;
  if (v.length === 0) return null;
  let lo = 0;
  let hi = v.length / 4;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v[mid * 4]! <= t) lo = mid + 1;
    else hi = mid;
  }
  // Sample lo - 1 is at or before t, sample lo after it.
  if (lo === 0) return { count: 0, enabled: 0, running: 0, stale: false };
  const a = (lo - 1) * 4;
  if (lo * 4 >= v.length || v[a] === t)
    return { count: v[a + 1]!, enabled: v[a + 2]!, running: v[a + 3]!, stale: v[a] !== t };
  const b = lo * 4;
  const f = (t - v[a]!) / (v[b]! - v[a]!);
  const at = (k: number) => Math.floor(v[a + k]! + (v[b + k]! - v[a + k]!) * f);
  return { count: at(1), enabled: at(2), running: at(3), stale: false };
}
