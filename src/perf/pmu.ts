import type { Cpu } from "../hw/cpu.js";
import type { Ns } from "../sim/time.js";
import type { TraceBus } from "../sim/trace.js";
import type { PerfCore } from "./core.js";
import type { PerfEvent } from "./event.js";
import type { PerfCpuPmuContext } from "./pmu-context.js";

/** struct pmu capabilities (PERF_PMU_CAP_*, include/linux/perf_event.h). */
export const PERF_PMU_CAP = {
  NO_INTERRUPT: 0x0001,
  NO_NMI: 0x0002,
  AUX_NO_SG: 0x0004,
  EXTENDED_REGS: 0x0008,
  EXCLUSIVE: 0x0010,
  ITRACE: 0x0020,
  NO_EXCLUDE: 0x0040,
  AUX_OUTPUT: 0x0080,
  EXTENDED_HW_TYPE: 0x0100,
  AUX_PAUSE: 0x0200,
  /** Mediated vPMU capability (Linux 7.0). */
  MEDIATED_VPMU: 0x0800,
  /**
   * Passthrough capability of the 2024 RFC (PERF_PMU_CAP_VPMU_PASSTHROUGH). It never had a
   * mainline value; vpmu gives it a bit of its own so both profiles can coexist.
   */
  VPMU_PASSTHROUGH: 0x10000,
} as const;

/** Capability names for reports. */
export function capabilityNames(caps: number): string[] {
  return Object.entries(PERF_PMU_CAP)
    .filter(([, v]) => (caps & v) !== 0)
    .map(([k]) => k.toLowerCase());
}

/** pmu->task_ctx_nr: hardware, software, or CPU-only (uncore). */
export type TaskCtxNr = "hw" | "sw" | "invalid";

/** Flags of pmu->add(). */
export const PERF_EF_START = 0x01;

/**
 * struct pmu: a PMU driver. Return values follow the kernel: 0 or a negative errno.
 */
export abstract class Pmu {
  /** perf type id (assigned at registration). */
  type = -1;
  /** Registration order: the group tree sorts PMUs by it. */
  order = 0;
  /** sysfs perf_event_mux_interval_ms (0: the default 1000/HZ). */
  hrtimerIntervalMs = 0;
  /** pmu->exclusive_cnt: < 0 CPU-wide events, > 0 per-task events (exclusive PMUs). */
  exclusiveCnt = 0;
  core!: PerfCore;
  /** The machine's CPUs and the trace bus, from the core at registration (hot-path shortcuts). */
  simCpus: readonly Cpu[] = [];
  trace!: TraceBus;
  /** Per-CPU contexts of this PMU (kernel: pmu->cpu_pmu_context), indexed by CPU. */
  cpcs: PerfCpuPmuContext[] = [];
  /**
   * Per CPU: 1 while the cpc's multiplexing hrtimer is active (its hrtimerActive, kept beside
   * it in one dense array so a lazy guest put can look without touching the cpc).
   */
  hrtimerOn: Uint8Array = new Uint8Array(0);

  constructor(
    readonly name: string,
    public capabilities: number,
    readonly taskCtxNr: TaskCtxNr,
  ) {}

  /** CPUs the PMU covers (sysfs `cpus`), or null for all. */
  supportedCpus(): readonly number[] | null {
    return null;
  }

  /** kernel: pmu->filter(): true means "skip this PMU on this CPU". */
  filter(_cpu: number): boolean {
    return false;
  }

  /** kernel: pmu->event_init(). */
  abstract eventInit(event: PerfEvent): number;
  /** kernel: pmu->add(): put the event on the hardware of `event.oncpu`. */
  abstract add(event: PerfEvent, flags: number, now: Ns): number;
  /** kernel: pmu->del(). */
  abstract del(event: PerfEvent, now: Ns): void;
  /** kernel: pmu->read(): fold the hardware count into event.count. */
  abstract read(event: PerfEvent, now: Ns): void;

  /** kernel: event->destroy(): undo what event_init took (exclusive counts). */
  destroy?(event: PerfEvent): void;

  /** kernel: pmu->start_txn() / commit_txn() / cancel_txn(). */
  startTxn(_cpu: number): void {}
  commitTxn(_cpu: number): number {
    return 0;
  }
  cancelTxn(_cpu: number): void {}

  /** kernel: pmu->check_period(). */
  checkPeriod(_event: PerfEvent, _value: number): number {
    return 0;
  }

  /** Reprograms the sampling period of an ACTIVE event (after IOC_PERIOD). */
  restartPeriod(_event: PerfEvent, _now: Ns): void {}

  /** The sysfs `events/` and `format/` view. */
  sysfsEvents(): Record<string, string> {
    return {};
  }
  sysfsFormat(): Record<string, string> {
    return {};
  }

  /** Number of counters, for listings. */
  counterSummary(): string {
    return "";
  }
}
