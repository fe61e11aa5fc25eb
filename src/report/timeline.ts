import type { MachineDesc } from "../hw/machine.js";
import { ARMV8_IDX_CYCLE_COUNTER, X86_FIXED_BASE } from "../hw/pmu-desc.js";
import type { Ns } from "../sim/time.js";
import type { TraceRecord, TraceSink } from "../sim/trace.js";

/**
 * The timeline of a run, as the HTML report draws it: per CPU, who held each hardware
 * counter when, when a guest context was loaded, which task ran, and the instants (VM
 * entries and exits, PMIs, rotations, switches, migrations); per event, its state changes.
 * Built from the trace records alone, by {@link TimelineSink}. Compact: intervals and
 * instants are flat number arrays, and every name is an index into `strings`.
 */
export interface TimelineData {
  version: 1;
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
  /** Host holders: [t0, t1, holder string index] per interval. */
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
  /** [t, state string index] per change: the state from t on. */
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
  private now = 0;
  private closed: TimelineData | null = null;

  constructor(private readonly machine?: MachineDesc) {}

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
      case "perf_state": {
        const key = `${r.id}/${r.cpu}`;
        let e = this.events.get(key);
        if (!e) {
          e = { id: r.id, name: this.str(r.name), cpu: r.cpu, changes: [] };
          this.events.set(key, e);
        }
        e.changes.push(this.now, this.str(r.to));
        break;
      }
      case "perf_rotate":
        this.mark(r.cpu, MARK.rotate, `rotate ${r.pmu}`);
        break;
      case "perf_pmi":
        this.mark(r.cpu, MARK.pmi, `PMI ${r.name}`);
        break;
      case "perf_counter":
        this.hold(
          this.lane(this.cpu(r.cpu), r.pmu, r.idx),
          r.owner === null ? -1 : this.str(r.owner),
        );
        break;
      case "uncore_counter": {
        const key = `${r.pmu}/${r.idx}`;
        let l = this.uncore.get(key);
        if (!l) {
          const lane = { pmu: r.pmu, idx: r.idx, label: `${r.pmu}/${r.idx}`, segs: [] };
          l = { lane, holder: -1, since: 0 };
          this.uncore.set(key, l);
        }
        this.hold(l, r.owner === null ? -1 : this.str(r.owner));
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

  /** Ends every open interval at the end of the run. */
  close(end?: Ns): void {
    if (this.closed) return;
    this.now = Math.max(this.now, end ?? 0);
    for (const c of this.cpus.values()) {
      for (const l of c.lanes.values()) this.hold(l, -1);
      this.setGuest(c, false);
      this.setTask(c, -1);
    }
    for (const l of this.uncore.values()) this.hold(l, -1);
    this.closed = {
      version: 1,
      end_ns: this.now,
      strings: this.strings,
      mark_kinds: MARK_KINDS,
      cpus: [...this.cpus.values()].map((c) => c.out).sort((a, b) => a.cpu - b.cpu),
      uncore: [...this.uncore.values()].map((l) => l.lane),
      events: [...this.events.values()],
    };
  }

  /** The timeline, after `close()`. */
  data(): TimelineData {
    if (!this.closed) this.close();
    return this.closed!;
  }
}
