import { ERRNO } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import type { PerfEvent } from "../event.js";
import { PERF_PMU_CAP, Pmu } from "../pmu.js";
import {
  PERF_COUNT_SW_CONTEXT_SWITCHES,
  PERF_COUNT_SW_CPU_CLOCK,
  PERF_COUNT_SW_CPU_MIGRATIONS,
  PERF_COUNT_SW_DUMMY,
  PERF_COUNT_SW_MAX,
  PERF_COUNT_SW_TASK_CLOCK,
  PERF_TYPE_SOFTWARE,
} from "../uapi.js";

/** Software events the model generates; the others exist and count zero. */
const TIME_BASED = new Set([PERF_COUNT_SW_CPU_CLOCK, PERF_COUNT_SW_TASK_CLOCK]);

/**
 * The software PMU ("software", type 1): cpu-clock, task-clock, context-switches,
 * cpu-migrations and the rest. Software events never fail to go on (PERF_EV_CAP_SOFTWARE),
 * so they may join any hardware group. cpu-clock and task-clock count nanoseconds while
 * ACTIVE (vpmu keeps them in this PMU; newer kernels give them PMUs of their own).
 */
export class SoftwarePmu extends Pmu {
  /** Active software events per CPU. */
  private readonly active: PerfEvent[][];

  constructor(nrCpus: number) {
    super("software", PERF_PMU_CAP.NO_NMI, "sw");
    this.active = Array.from({ length: nrCpus }, () => []);
  }

  override eventInit(e: PerfEvent): number {
    if (e.attr.type !== PERF_TYPE_SOFTWARE) return -ERRNO.ENOENT;
    const config = Number(e.attr.config);
    if (config >= PERF_COUNT_SW_MAX) return -ERRNO.ENOENT;
    e.hw.config = config;
    return 0;
  }

  override add(e: PerfEvent, _flags: number, now: Ns): number {
    e.hw.swStart = now;
    this.active[e.oncpu]!.push(e);
    return 0;
  }

  override del(e: PerfEvent, now: Ns): void {
    this.read(e, now);
    const list = this.active[e.oncpu]!;
    const i = list.indexOf(e);
    if (i >= 0) list.splice(i, 1);
  }

  override read(e: PerfEvent, now: Ns): void {
    if (TIME_BASED.has(e.hw.config) && e.oncpu >= 0) {
      e.count += now - e.hw.swStart;
      e.hw.swStart = now;
    }
  }

  /** kernel: perf_swevent_event(): add one occurrence to the matching active events. */
  countEvent(cpu: number, config: number, _now: Ns): void {
    for (const e of this.active[cpu]!) if (e.hw.config === config) e.count += 1;
  }

  override sysfsEvents(): Record<string, string> {
    return {
      "cpu-clock": `config=${PERF_COUNT_SW_CPU_CLOCK}`,
      "task-clock": `config=${PERF_COUNT_SW_TASK_CLOCK}`,
      "context-switches": `config=${PERF_COUNT_SW_CONTEXT_SWITCHES}`,
      "cpu-migrations": `config=${PERF_COUNT_SW_CPU_MIGRATIONS}`,
      dummy: `config=${PERF_COUNT_SW_DUMMY}`,
    };
  }

  override counterSummary(): string {
    return "software";
  }
}
