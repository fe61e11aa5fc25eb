import type { PerfCore } from "../../perf/core.js";
import { PERF_EVENT_STATE, type PerfEvent } from "../../perf/event.js";
import { perfEventRelease } from "../../perf/install.js";
import { perfEventDisable, perfEventEnable } from "../../perf/ioctl.js";
import { perfEventCreateKernelCounter } from "../../perf/open.js";
import { perfEventRead } from "../../perf/read.js";
import { PERF_TYPE_RAW } from "../../perf/uapi.js";
import type { Task } from "../../sched/task.js";
import type { Ns } from "../../sim/time.js";
import type { EmulatedPerfOp } from "../costs.js";
import type { KvmPmc, KvmX86Pmu, VpmuBackend } from "./pmu.js";

/** What the emulated backend tells its vCPU (costs and statistics). */
export interface EmulatedHooks {
  /** A perf event was created (the expensive part of a reprogram). */
  created(pmc: KvmPmc): void;
  /** Is the guest event allowed by the VM's PMU event filter? */
  allowed(pmc: KvmPmc): boolean;
  /** KVM performed a perf operation on a backing event (charged by the cost model). */
  perfOp?(op: EmulatedPerfOp, pmc: KvmPmc): void;
}

interface PmcState {
  event: PerfEvent | null;
  currentConfig: number;
}

function st(pmc: KvmPmc): PmcState {
  if (!pmc.backend) pmc.backend = { event: null, currentConfig: -1 } satisfies PmcState;
  return pmc.backend as PmcState;
}

/**
 * The emulated (perf-backed) vPMU (arch/x86/kvm/pmu.c): every enabled guest counter is a
 * host perf event, created by KVM as a pinned, exclude_host, task-bound kernel counter on
 * the vCPU thread, with a sample period that overflows exactly at the guest wrap. When
 * host events hold the counters, the pinned backing event goes to ERROR and the guest
 * counter silently stops.
 */
export class EmulatedBackend implements VpmuBackend {
  constructor(
    private readonly pmu: KvmX86Pmu,
    private readonly core: PerfCore,
    private readonly vcpuTask: Task,
    private readonly label: string,
    private readonly hooks: EmulatedHooks,
  ) {}

  /** Every PMU MSR exits. */
  passthrough(_msr: number): boolean {
    return false;
  }

  /** kernel: pmc_read_counter(): counter + the event's count (no scaling: "FIXME: Scaling needed?"). */
  read(pmc: KvmPmc, _now: Ns): number {
    const s = st(pmc);
    let v = pmc.counter;
    if (s.event) {
      perfEventRead(this.core, s.event, false);
      v += Math.floor(s.event.count + 1e-6);
    }
    return v % pmc.modulus;
  }

  /** kernel: pmc_write_counter(): adjust the base so the guest reads `value`; new period. */
  write(pmc: KvmPmc, value: number, now: Ns): void {
    const s = st(pmc);
    const cur = this.read(pmc, now);
    pmc.counter = (((pmc.counter + value - cur) % pmc.modulus) + pmc.modulus) % pmc.modulus;
    // kernel: pmc_update_sample_period() calls perf_event_period() only for an unpaused event.
    if (s.event && s.event.state >= PERF_EVENT_STATE.INACTIVE) this.hooks.perfOp?.("period", pmc);
    if (s.event) this.setPeriod(pmc, s.event, now);
  }

  private period(pmc: KvmPmc, value: number): number {
    const p = (pmc.modulus - value) % pmc.modulus;
    return p === 0 ? pmc.modulus : p;
  }

  private setPeriod(pmc: KvmPmc, e: PerfEvent, now: Ns): void {
    const p = this.period(pmc, this.read(pmc, now));
    e.attr.sample_period = p;
    e.hw.samplePeriod = p;
    e.hw.periodLeft = 0;
    if (e.state === PERF_EVENT_STATE.ACTIVE) e.pmu.restartPeriod(e, now);
  }

  /** kernel: pmc_pause_counter(): disable the event and fold its count into the counter. */
  private pause(pmc: KvmPmc, now: Ns): void {
    const s = st(pmc);
    if (!s.event) return;
    // kernel: perf_event_pause() only when the counter is not already paused.
    if (s.event.state >= PERF_EVENT_STATE.INACTIVE) this.hooks.perfOp?.("pause", pmc);
    perfEventRead(this.core, s.event, false);
    perfEventDisable(this.core, s.event, now);
    pmc.counter = (pmc.counter + Math.floor(s.event.count + 1e-6)) % pmc.modulus;
    s.event.count = 0;
  }

  /** kernel: reprogram_counter(). */
  reprogram(pmc: KvmPmc, now: Ns): void {
    const s = st(pmc);
    this.pause(pmc, now);
    if (!this.pmu.counting(pmc) || !this.hooks.allowed(pmc)) return;
    const { usr, os, int } = this.pmu.controls(pmc);
    const raw = pmc.fixed ? this.pmu.encoding(pmc) : this.pmu.rawEventConfig(pmc);
    const config = raw + (usr ? 1 << 16 : 0) + (os ? 1 << 17 : 0) + (int ? 1 << 20 : 0);
    if (s.event && s.currentConfig === config) {
      // kernel: pmc_resume_counter(): new period, then enable.
      this.hooks.perfOp?.("period", pmc);
      this.setPeriod(pmc, s.event, now);
      perfEventEnable(this.core, s.event, now);
      this.hooks.perfOp?.("enable", pmc);
      return;
    }
    if (s.event) {
      perfEventRelease(this.core, s.event, now);
      s.event = null;
    }
    const e = perfEventCreateKernelCounter(
      this.core,
      {
        type: PERF_TYPE_RAW,
        config: raw,
        pinned: true,
        exclude_idle: true,
        exclude_host: true,
        exclude_user: !usr,
        exclude_kernel: !os,
        sample_period: this.period(pmc, pmc.counter),
      },
      -1,
      this.vcpuTask,
      `${this.label}:pmc${pmc.idx}`,
      (ev, t) => this.overflow(pmc, ev, t),
    );
    if (typeof e === "number") {
      // kernel: the reprogram_pmi bit stays set and the next KVM_REQ_PMU retries it.
      this.pending.add(pmc);
      return;
    }
    this.pending.delete(pmc);
    s.event = e;
    s.currentConfig = config;
    this.hooks.created(pmc);
  }

  /** kernel: kvm_perf_overflow(): GLOBAL_STATUS, a PMI if INT, and a new full period. */
  private overflow(pmc: KvmPmc, e: PerfEvent, now: Ns): void {
    // kernel: the host NMI that found the backing event overflowed; then, before the next
    // entry, kvm_pmu_handle_event() reprograms the counter for its KVM_REQ_PMU (pause,
    // new period, enable). Charged before the PMI exit the overflow causes.
    const op = this.hooks.perfOp;
    if (op) {
      op("host_pmi", pmc);
      op("pause", pmc);
      op("period", pmc);
      op("enable", pmc);
    }
    this.pmu.overflow(pmc);
    // The next overflow is the next guest wrap: a full period from here.
    e.hw.samplePeriod = pmc.modulus;
    e.attr.sample_period = pmc.modulus;
    void now;
  }

  /** Counters whose perf event could not be created, retried before each VM-entry. */
  private readonly pending = new Set<KvmPmc>();

  /** kernel: kvm_pmu_handle_event() on KVM_REQ_PMU before VM-entry: retry failed reprograms. */
  retryPending(now: Ns): void {
    if (this.pending.size === 0) return;
    for (const pmc of [...this.pending]) this.reprogram(pmc, now);
  }

  /** The backing perf event of a counter, if any (for reports and tests). */
  eventOf(pmc: KvmPmc): PerfEvent | null {
    return st(pmc).event;
  }

  /** Releases every backing event (vCPU destruction). */
  destroy(now: Ns): void {
    for (const pmc of this.pmu.all()) {
      const s = st(pmc);
      if (s.event) perfEventRelease(this.core, s.event, now);
      s.event = null;
    }
  }
}
