import type { HwCounter } from "../../hw/counter.js";
import {
  AMD_EVENT_HI_SHIFT,
  amdEventSelectHi,
  counterMaskFor,
  eventNames,
  isAmdPmu,
  PERF_COUNT_HW_MAX,
  type PmuHwDesc,
  quantityOf,
} from "../../hw/pmu-desc.js";
import type { CpuPmuHw } from "../../hw/pmu-hw.js";
import { modeMaskFromExcludes, Q, Q_NONE } from "../../hw/quantity.js";
import { ERRNO } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import type { PerfEvent } from "../event.js";
import { PERF_EVENT_STATE } from "../event.js";
import { perfEventOverflow } from "../overflow.js";
import { PERF_PMU_CAP, Pmu } from "../pmu.js";
import { PERF_TYPE_HARDWARE, PERF_TYPE_HW_CACHE, PERF_TYPE_RAW } from "../uapi.js";

/** Generic cache events vpmu models: (cache | op << 8 | result << 16) → quantity. */
const CACHE_EVENTS = new Map<number, number>([
  [0x000000, Q.L1D_CACHE], // L1D read access
  [0x010000, Q.L1D_CACHE_REFILL], // L1D read miss
  [0x000001, Q.L1I_CACHE], // L1I read access
  [0x010001, Q.L1I_CACHE_REFILL], // L1I read miss
  [0x000002, Q.CACHE_REFERENCES], // LL read access
  [0x010002, Q.CACHE_MISSES], // LL read miss
  [0x000005, Q.BRANCHES], // BPU read access
  [0x010005, Q.BRANCH_MISSES], // BPU read miss
]);
const CACHE_ENCODING_BASE = 0x100000;

declare module "../../sim/trace.js" {
  interface TraceRecordMap {
    perf_pmi: { id: number; name: string; cpu: number; pmu: string };
  }
}

/**
 * The core CPU PMU driver of one core type: x86 (arch/x86/events/core.c) or arm64
 * (drivers/perf/arm_pmu.c + arm_pmuv3.c). It places events on the counters of the CPU it
 * runs on, honouring counter constraints, and on hybrid or big.LITTLE machines it covers
 * only its own CPUs: event_init refuses other CPUs with ENOENT and the filter hides the
 * PMU from scheduling passes elsewhere.
 */
export class CorePmu extends Pmu {
  /** Counter indices an encoding may use, in preference order (cached per encoding). */
  private readonly candidateCache = new Map<number, Candidates>();
  /** The last lookup: events of one encoding are scheduled in runs. */
  private lastCandidates: Candidates | null = null;

  constructor(
    readonly desc: PmuHwDesc,
    readonly cpus: readonly number[],
    /** True when several core PMUs exist (hybrid x86, big.LITTLE arm64). */
    readonly heterogeneous: boolean,
    capabilities: number,
  ) {
    super(desc.name, capabilities, "hw");
  }

  /** The counter add() gives an event of `encoding` on `hw` (pickCounter() on the occupancy bits), or -1. */
  private freeCounterFor(hw: CpuPmuHw, encoding: number): number {
    const cand = this.candidates(encoding);
    return hw.occupancy.firstFree(cand.fixed, cand.gpMask);
  }

  override supportedCpus(): readonly number[] {
    return this.cpus;
  }

  /** kernel: armpmu_filter() / x86 hybrid filter. */
  override filter(cpu: number): boolean {
    return this.heterogeneous && !this.cpus.includes(cpu);
  }

  private get arm(): boolean {
    return this.desc.arch === "arm64";
  }

  /** Maps attr (type, config) to an encoding; returns the encoding or a negative errno. */
  private mapEvent(e: PerfEvent): number {
    const type = e.attr.type;
    const config = e.attr.config;
    if (type === PERF_TYPE_HARDWARE) {
      if (config >= BigInt(PERF_COUNT_HW_MAX)) return -ERRNO.EINVAL;
      const enc = this.desc.genericMap[Number(config)]!;
      return enc < 0 ? -ERRNO.ENOENT : enc;
    }
    if (type === PERF_TYPE_HW_CACHE) {
      const c = Number(config & 0xffffffn);
      if ((c & 0xff) > 6 || ((c >> 8) & 0xff) > 2 || ((c >> 16) & 0xff) > 1) return -ERRNO.EINVAL;
      return CACHE_EVENTS.has(c) ? CACHE_ENCODING_BASE + c : -ERRNO.ENOENT;
    }
    if (type === this.type || type === PERF_TYPE_RAW) {
      const enc = Number(config & 0xffffn);
      // AMD64_RAW_EVENT_MASK: EventSelect[11:8] at config bits 35:32.
      return isAmdPmu(this.desc) ? enc | (amdEventSelectHi(config) << AMD_EVENT_HI_SHIFT) : enc;
    }
    return -ERRNO.ENOENT;
  }

  /** kernel: x86_pmu_event_init() / armpmu_event_init(). */
  override eventInit(e: PerfEvent): number {
    const type = e.attr.type;
    if (
      !this.arm &&
      type !== this.type &&
      type !== PERF_TYPE_HARDWARE &&
      type !== PERF_TYPE_HW_CACHE
    ) {
      return -ERRNO.ENOENT;
    }
    if (this.heterogeneous && e.cpu !== -1 && !this.cpus.includes(e.cpu)) return -ERRNO.ENOENT;
    const enc = this.mapEvent(e);
    if (enc < 0) return enc;
    if (this.arm) {
      if (enc === 0x1e) return -ERRNO.EINVAL; // CHAIN only makes sense paired
      if (e.attr.exclude_idle) return -ERRNO.EOPNOTSUPP; // armv8pmu_set_event_filter()
    }
    e.hw.config = enc;
    e.hw.modeMask = modeMaskFromExcludes({
      excludeUser: e.attr.exclude_user,
      excludeKernel: e.attr.exclude_kernel,
      excludeHost: e.attr.exclude_host,
      excludeGuest: e.attr.exclude_guest,
    });
    e.hw.quantity =
      enc >= CACHE_ENCODING_BASE
        ? CACHE_EVENTS.get(enc - CACHE_ENCODING_BASE)!
        : (quantityOf(this.desc, enc) ?? Q_NONE);
    if (!e.isLeader) return this.validateGroup(e);
    return 0;
  }

  /**
   * kernel: validate_group(): a trial placement of the whole group on an empty PMU;
   * software members do not count. A group that cannot fit fails at open with EINVAL.
   */
  private validateGroup(e: PerfEvent): number {
    const leader = e.groupLeader;
    const members: PerfEvent[] = [];
    // x86 collect_events(): the leader and the new event always count, OFF siblings do not.
    // arm64 validate_event(): any member below OFF, or OFF without enable_on_exec, passes.
    const skip = (m: PerfEvent, always: boolean): boolean =>
      this.arm
        ? m.state < PERF_EVENT_STATE.OFF ||
          (m.state === PERF_EVENT_STATE.OFF && !m.attr.enable_on_exec)
        : !always && m.state <= PERF_EVENT_STATE.OFF;
    for (const m of [leader, ...leader.siblings]) {
      if (m.pmu.taskCtxNr === "sw") continue;
      if (m.pmu !== this) return -ERRNO.EINVAL;
      if (skip(m, m === leader)) continue;
      members.push(m);
    }
    if (!skip(e, true)) members.push(e);
    const used = new Set<number>();
    for (const m of members) {
      const idx = this.pickCounter(m.hw.config, (i) => used.has(i));
      if (idx < 0) return -ERRNO.EINVAL;
      used.add(idx);
    }
    return 0;
  }

  /**
   * Counter indices an encoding may use, best first: its fixed counter (x86 instructions,
   * cycles, ref-cycles; the arm64 cycle counter for CPU_CYCLES), then the general-purpose
   * counters its constraint allows, lowest first.
   */
  private candidates(encoding: number): Candidates {
    const last = this.lastCandidates;
    if (last !== null && last.encoding === encoding) return last;
    let c = this.candidateCache.get(encoding);
    if (!c) {
      c = this.buildCandidates(encoding);
      this.candidateCache.set(encoding, c);
    }
    this.lastCandidates = c;
    return c;
  }

  private buildCandidates(encoding: number): Candidates {
    const fixed: number[] = [];
    for (const f of this.desc.fixed) if (f.encoding === encoding) fixed.push(f.idx);
    const mask = counterMaskFor(this.desc, encoding >= CACHE_ENCODING_BASE ? -1 : encoding);
    const gp: number[] = [];
    let gpMask = 0;
    for (let i = 0; i < this.desc.nrGp; i++) {
      if (mask & (2 ** i)) {
        gp.push(i);
        gpMask |= 1 << i;
      }
    }
    return { encoding, list: [...fixed, ...gp], fixed, gpMask };
  }

  /** Chooses a free counter for an encoding, or -1. */
  private pickCounter(encoding: number, busy: (idx: number) => boolean): number {
    for (const idx of this.candidates(encoding).list) if (!busy(idx)) return idx;
    return -1;
  }

  override add(e: PerfEvent, _flags: number, now: Ns): number {
    const cpu = e.oncpu;
    if (this.heterogeneous && !this.cpus.includes(cpu)) return -ERRNO.ENOENT;
    const simCpu = this.simCpus[cpu]!;
    const hw = simCpu.pmu;
    // pickCounter() on the occupancy bits: this runs on every sched-in.
    const idx = this.freeCounterFor(hw, e.hw.config);
    if (idx < 0) return -ERRNO.EAGAIN;
    const c = hw.slot[idx]!;
    e.hw.counter = c;
    if (e.hw.samplePeriod > 0) {
      c.onOverflow = e.hw.pmi ??= this.irqHandler(e);
      this.setPeriod(e, c, now);
    } else if (c.onOverflow !== null) {
      c.onOverflow = null;
    }
    c.acquire(e, e.hw.quantity, e.hw.modeMask, now, simCpu.exec);
    e.hw.prevCount = c.lifetime;
    if (this.trace.enabled) this.traceCounter(cpu, c, e.name);
    return 0;
  }

  override del(e: PerfEvent, now: Ns): void {
    const c = e.hw.counter;
    if (!c) return;
    // read() and the stop in one fold.
    this.foldCount(e, c.release(now));
    e.hw.counter = null;
    if (this.trace.enabled) this.traceCounter(e.oncpu, c, null);
  }

  override read(e: PerfEvent, now: Ns): void {
    const c = e.hw.counter;
    if (!c) return;
    this.foldCount(e, c.counted(now));
  }

  /** What the counter counted since the last update (`cur`: its lifetime count) goes to the event. */
  private foldCount(e: PerfEvent, cur: number): void {
    const delta = cur - e.hw.prevCount;
    e.hw.prevCount = cur;
    e.count += delta;
    if (e.hw.samplePeriod > 0) e.hw.periodLeft -= delta;
  }

  /**
   * The overflow callback of a sampling event. A closure of its own: a closure inside add()
   * would make V8 allocate a context on every call, sampling or not.
   */
  private irqHandler(e: PerfEvent): (c: HwCounter, now: Ns) => void {
    return (_c, t) => this.handleIrq(e, t);
  }

  /** The counter overflowed: a PMI (kernel: x86_pmu_handle_irq() / armv8pmu_handle_irq()). */
  private handleIrq(e: PerfEvent, now: Ns): void {
    const c = e.hw.counter as HwCounter;
    this.read(e, now);
    const trace = this.core.sys.trace;
    if (trace.enabled)
      trace.emit({
        kind: "perf_pmi",
        t: now,
        id: e.id,
        name: e.name,
        cpu: e.oncpu,
        pmu: this.name,
      });
    if (perfEventOverflow(this.core, e, now)) return;
    if (e.hw.counter !== c) return;
    this.setPeriod(e, c, now);
  }

  /**
   * kernel: x86_perf_event_set_period() / armpmu_event_set_period(): what was counted past
   * the period carries into the next one, and the counter is written to -left.
   */
  private setPeriod(e: PerfEvent, c: HwCounter, now: Ns): void {
    const period = e.hw.samplePeriod;
    let left = e.hw.periodLeft;
    if (left <= -period) left = period;
    else if (left <= 0) left += period;
    e.hw.periodLeft = left;
    const n = Math.min(Math.max(1, Math.ceil(left)), c.modulus - 1);
    // 2^64 - n is not exact as a double: wide counters (the arm64 cycle counter) take a bigint.
    if (c.modulus > 2 ** 53) c.write((1n << BigInt(c.width)) - BigInt(n), now);
    else c.write(c.modulus - n, now);
  }

  override restartPeriod(e: PerfEvent, now: Ns): void {
    const c = e.hw.counter;
    if (!c) return;
    this.read(e, now);
    e.hw.periodLeft = 0;
    this.setPeriod(e, c, now);
  }

  private traceCounter(cpu: number, c: HwCounter, owner: string | null): void {
    const trace = this.core.sys.trace;
    if (trace.enabled)
      trace.emit({
        kind: "perf_counter",
        t: this.core.now(),
        cpu,
        pmu: this.name,
        idx: c.idx,
        owner,
      });
  }

  override sysfsEvents(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, enc] of eventNames(this.desc)) {
      // kernel: armv8pmu_events_sysfs_show() prints "event=0x%04llx".
      if (this.arm) out[name] = `event=0x${enc.toString(16).padStart(4, "0")}`;
      else if (enc === 0x0300) out[name] = "event=0x00,umask=0x03";
      else
        out[name] =
          `event=0x${(enc & 0xff).toString(16).padStart(2, "0")},umask=0x${((enc >> 8) & 0xff).toString(16).padStart(2, "0")}`;
    }
    return out;
  }

  override sysfsFormat(): Record<string, string> {
    if (this.arm) return { event: "config:0-15", long: "config1:0" };
    // kernel: amd_format_attr[]: the 12-bit AMD event select is split over 0-7 and 32-35.
    if (isAmdPmu(this.desc))
      return {
        event: "config:0-7,32-35",
        umask: "config:8-15",
        edge: "config:18",
        inv: "config:23",
        cmask: "config:24-31",
      };
    return {
      event: "config:0-7",
      umask: "config:8-15",
      edge: "config:18",
      inv: "config:23",
      cmask: "config:24-31",
    };
  }

  override counterSummary(): string {
    if (isAmdPmu(this.desc))
      return `${this.desc.nrGp} x ${this.desc.gpWidth}-bit, no fixed counters`;
    const fixed = this.arm ? "cycle counter" : `${this.desc.fixed.length} fixed`;
    return `${this.desc.nrGp} x ${this.desc.gpWidth}-bit + ${fixed} (${this.desc.fixedWidth}-bit)`;
  }
}

/** The counters an encoding may use (CorePmu.candidates()). */
interface Candidates {
  readonly encoding: number;
  /** Every candidate, best first: the fixed counters, then the general-purpose ones, lowest first. */
  readonly list: readonly number[];
  readonly fixed: readonly number[];
  /** The general-purpose candidates as bits (all have an index below 32). */
  readonly gpMask: number;
}

/** Capabilities of a core PMU (both vPMU capabilities are added by kernel profiles). */
export const CORE_PMU_CAPS = PERF_PMU_CAP.EXTENDED_REGS | PERF_PMU_CAP.EXTENDED_HW_TYPE;
