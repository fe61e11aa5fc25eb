import type { UncoreDesc } from "../../hw/machine.js";
import { ALL_MODES, Q } from "../../hw/quantity.js";
import { ERRNO } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import type { PerfEvent } from "../event.js";
import { PERF_PMU_CAP, Pmu } from "../pmu.js";

declare module "../../sim/trace.js" {
  interface TraceRecordMap {
    uncore_counter: { pmu: string; idx: number; owner: string | null };
  }
}

/**
 * An uncore PMU (a memory controller or mesh): CPU-wide only (perf_invalid_context, so
 * task events fail with EINVAL), no exclude bits, no sampling, and every event is moved to
 * the PMU's designated CPU (its sysfs cpumask). It counts machine-wide memory traffic and
 * its own clock, and is untouched by guest entry and exit.
 */
export class UncorePmu extends Pmu {
  private readonly slots: Array<PerfEvent | null>;
  /** Per event: the machine total at the last update. */
  private readonly base = new Map<PerfEvent, number>();

  constructor(readonly desc: UncoreDesc) {
    super(desc.name, PERF_PMU_CAP.NO_EXCLUDE | PERF_PMU_CAP.NO_INTERRUPT, "invalid");
    this.slots = Array.from({ length: desc.nrCounters }, () => null);
  }

  override supportedCpus(): readonly number[] {
    return this.desc.cpumask;
  }

  /** kernel: uncore_pmu_event_init(): CPU events only, remapped to the box's CPU. */
  override eventInit(e: PerfEvent): number {
    if (e.attr.type !== this.type) return -ERRNO.ENOENT;
    if (e.cpu < 0) return -ERRNO.EINVAL;
    const config = Number(e.attr.config & 0xffffn);
    if (!Object.values(this.desc.events).includes(config)) return -ERRNO.EINVAL;
    e.hw.config = config;
    e.cpu = this.desc.cpumask[0]!;
    return 0;
  }

  /** Machine-wide value of the event's source, from the ground truth. */
  total(e: PerfEvent, now: Ns): number {
    const name = Object.entries(this.desc.events).find(([, v]) => v === e.hw.config)?.[0] ?? "";
    if (/clock|cycles/.test(name)) return now;
    let s = 0;
    for (const cpu of this.core.sys.machine.cpus) {
      cpu.foldTruth(now);
      s += cpu.truth.count(Q.CACHE_MISSES, ALL_MODES);
    }
    return /write/.test(name) ? s / 3 : s;
  }

  override add(e: PerfEvent, _flags: number, now: Ns): number {
    const i = this.slots.indexOf(null);
    if (i < 0) return -ERRNO.EAGAIN;
    this.slots[i] = e;
    this.base.set(e, this.total(e, now));
    const trace = this.core.sys.trace;
    if (trace.enabled)
      trace.emit({ kind: "uncore_counter", t: now, pmu: this.name, idx: i, owner: e.name });
    return 0;
  }

  override del(e: PerfEvent, now: Ns): void {
    this.read(e, now);
    const i = this.slots.indexOf(e);
    if (i >= 0) this.slots[i] = null;
    this.base.delete(e);
    const trace = this.core.sys.trace;
    if (trace.enabled)
      trace.emit({ kind: "uncore_counter", t: now, pmu: this.name, idx: i, owner: null });
  }

  override read(e: PerfEvent, now: Ns): void {
    const b = this.base.get(e);
    if (b === undefined) return;
    const cur = this.total(e, now);
    e.count += cur - b;
    this.base.set(e, cur);
  }

  override sysfsEvents(): Record<string, string> {
    return Object.fromEntries(
      Object.entries(this.desc.events).map(([k, v]) => [
        k,
        `event=0x${(v & 0xff).toString(16)},umask=0x${((v >> 8) & 0xff).toString(16)}`,
      ]),
    );
  }

  override sysfsFormat(): Record<string, string> {
    return { event: "config:0-7", umask: "config:8-15" };
  }

  override counterSummary(): string {
    return `${this.desc.nrCounters} counters`;
  }
}

/**
 * An exclusive tracing PMU (intel_pt, arm_spe_0): PERF_PMU_CAP_EXCLUSIVE, so per-task and
 * CPU-wide events cannot coexist and two matching events cannot share a context (EBUSY).
 * It records nothing the model uses; it is here for the exclusivity rules.
 */
export class ExclusivePmu extends Pmu {
  constructor(name: string) {
    super(name, PERF_PMU_CAP.EXCLUSIVE | PERF_PMU_CAP.ITRACE | PERF_PMU_CAP.AUX_OUTPUT, "hw");
  }

  override eventInit(e: PerfEvent): number {
    if (e.attr.type !== this.type) return -ERRNO.ENOENT;
    e.hw.config = -1;
    return 0;
  }

  override add(_e: PerfEvent, _flags: number, _now: Ns): number {
    return 0;
  }
  override del(_e: PerfEvent, _now: Ns): void {}
  override read(_e: PerfEvent, _now: Ns): void {}

  override counterSummary(): string {
    return "exclusive (trace)";
  }
}
