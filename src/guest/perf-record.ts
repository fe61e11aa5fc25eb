import { GuestPmuOps, type KvmVcpu } from "../kvm/vcpu.js";
import { EVENTSEL } from "../kvm/x86/msr.js";
import { Timer } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import { type GuestEvent, type GuestPmuMsrs, guestPmuMsrs, guestTruth } from "./perf-stat.js";

/** One event's result of a guest `perf record`. */
export interface GuestRecordResult {
  event: string;
  /** Samples taken (PMIs that found this counter overflowed). */
  samples: number;
  /** perf report's "Event count (approx.)": the sum of the periods that elapsed. */
  approx: number;
  /** The period in use at the end (frequency mode adapts it). */
  period: number;
  /** Time the event was on a counter (ns); with more events than counters it rotates. */
  running_ns: number;
  /** The vCPU's guest-mode ground truth for the event over the window. */
  truth: number;
}

interface Slot {
  ev: GuestEvent;
  samples: number;
  approx: number;
  period: number;
  /** Guest time of the last sample (frequency mode: the period follows the rate). */
  lastSampleNs: number;
  /** What was left of the period when the event came off its counter (perf's period_left). */
  left: number;
  /** Events programmed at the last (re)start of the counter: what elapsed by its overflow. */
  armed: number;
  running: number;
  on: number;
}

/** Initial period in frequency mode, before the first PMIs adapt it (model parameter). */
const INITIAL_FREQ_PERIOD = 100_000;

/**
 * `perf record -F <freq>` (or `-c <period>`) inside the guest: each counter is preset to
 * -period with the INT bit, and the guest PMI handler (as Linux's intel_pmu_handle_irq for
 * version 2+, or amd_pmu_v2_handle_irq on an AMD PerfMonV2 guest) disables the PMU through
 * the global control, reads the global status, reloads every overflowed counter with the
 * next period, acknowledges the status (GLOBAL_OVF_CTRL, AMD GLOBAL_STATUS_CLR) and
 * re-enables. In frequency mode the next period is the count rate times 1/freq, as perf's
 * period adjustment converges to. What exits, and what each PMI costs, is up to the vPMU.
 * The handler's own work (kernel.kvm.costs guest_pmi_ns, guest_sample_ns) and perf
 * record's draining (guest_drain_ns) take guest time from the workload, in every mode.
 */
export class GuestPerfRecord {
  private readonly ops: GuestPmuOps;
  private readonly msrs: GuestPmuMsrs;
  private readonly slots: Slot[];
  private onCounter: number[] = [];
  private next = 0;
  private readonly timer: Timer;
  private startNs = 0;
  private truthStart: number[] = [];
  private truthEnd: number[] = [];
  /** PMIs the guest handled. */
  pmis = 0;
  noPmu = false;
  private stopped = false;

  constructor(
    readonly vcpu: KvmVcpu,
    events: GuestEvent[],
    readonly opts: { freq?: number; period?: number },
    readonly muxIntervalNs: number = 4_000_000,
  ) {
    this.ops = new GuestPmuOps(vcpu);
    this.msrs = guestPmuMsrs(vcpu);
    const p0 = opts.period ?? INITIAL_FREQ_PERIOD;
    this.slots = events.map((ev) => ({
      ev,
      samples: 0,
      approx: 0,
      period: p0,
      lastSampleNs: 0,
      left: 0,
      armed: 0,
      running: 0,
      on: -1,
    }));
    this.timer = new Timer(`guest perf record ${vcpu.label}`, (now) => this.rotate(now));
  }

  private get nrGp(): number {
    return this.vcpu.pmu?.nrGp ?? 0;
  }

  private get sys() {
    return this.vcpu.vm.kvm.sys;
  }

  /** Programs the counters and starts sampling. */
  start(now: Ns): void {
    this.startNs = now;
    this.truthStart = this.slots.map((s) => this.truth(s.ev));
    if ((this.vcpu.pmu?.version ?? 0) < 2) {
      this.noPmu = true;
      return;
    }
    this.vcpu.onGuestPmi = (t) => this.handlePmi(t);
    const n = Math.min(this.nrGp, this.slots.length);
    for (let i = 0; i < n; i++) this.program(i, i, now);
    this.next = n < this.slots.length ? n : 0;
    this.ops.wrmsr(this.msrs.globalCtrl, this.enableMask(), now);
    if (this.slots.length > this.nrGp)
      this.sys.queue.arm(this.timer, (now + this.muxIntervalNs) as Ns);
  }

  private enableMask(): bigint {
    return BigInt(2 ** this.onCounter.length - 1);
  }

  private program(i: number, s: number, now: Ns): void {
    this.onCounter[i] = s;
    const slot = this.slots[s]!;
    slot.armed = slot.left > 0 ? slot.left : slot.period;
    this.ops.wrmsr(this.msrs.ctrFull(i), this.preset(slot.armed), now);
    slot.left = 0;
    const sel = slot.ev.encoding | EVENTSEL.USR | EVENTSEL.OS | EVENTSEL.INT | EVENTSEL.ENABLE;
    this.ops.wrmsr(this.msrs.evtsel(i), sel, now, () => {
      slot.on = this.sys.now;
      slot.lastSampleNs = this.vcpu.guestTimeAt(this.sys.now);
    });
  }

  /** -period in the counter's width. */
  private preset(period: number): bigint {
    const mask = BigInt(this.vcpu.pmu?.gpMask ?? 2 ** 48 - 1);
    return mask + 1n - BigInt(Math.max(1, Math.round(period)));
  }

  /**
   * The guest's PMI handler. Each counter with its status bit set is read first (kernel:
   * x86_perf_event_update(), an RDPMC), and only one whose period has run out, so that the
   * counter wrapped, gives a sample and is reloaded (x86_perf_event_set_period() returns 0
   * otherwise): a status bit that outlived a rotation onto another event takes no sample.
   */
  private handlePmi(now: Ns): void {
    if (this.stopped) {
      this.vcpu.nmiReturn(now);
      return;
    }
    this.pmis++;
    this.ops.wrmsr(this.msrs.globalCtrl, 0n, now);
    this.ops.rdmsr(this.msrs.globalStatus, now, (status) => {
      const st = status ?? 0n;
      const bits: number[] = [];
      for (let i = 0; i < this.onCounter.length; i++) if ((st >> BigInt(i)) & 1n) bits.push(i);
      let taken = 0;
      let pending = bits.length;
      const finish = (): void => {
        const t = this.sys.now;
        // perf_event_overflow() and the ring-buffer write of each sample, plus the handler
        // itself: guest kernel time with the PMU disabled, so the counters do not see it.
        const c = this.vcpu.vm.kvm.costs;
        this.vcpu.guestWork(c.guestPmiNs + taken * c.guestSampleNs, false, t);
        this.ops.wrmsr(this.msrs.statusAck, st, t);
        // The handler returns (IRET) once the PMU is enabled again.
        this.ops.wrmsr(this.msrs.globalCtrl, this.enableMask(), t, () =>
          this.vcpu.nmiReturn(this.sys.now),
        );
        // perf record drains the new samples in guest userspace, counters enabled again.
        this.vcpu.guestWork(taken * c.guestDrainNs, true, t);
      };
      if (pending === 0) {
        finish();
        return;
      }
      for (const i of bits) {
        this.ops.rdpmc(i, this.sys.now, (v) => {
          if (v !== null && this.wrapped(v)) {
            this.sample(i, this.sys.now);
            taken++;
          }
          if (--pending === 0) finish();
        });
      }
    });
  }

  /** A counter preset to -period has wrapped once its top bit is clear. */
  private wrapped(v: bigint): boolean {
    const half = (BigInt(this.vcpu.pmu?.gpMask ?? 2 ** 48 - 1) + 1n) >> 1n;
    return v < half;
  }

  /** One sample of the event on counter i, and the counter reloaded with the next period. */
  private sample(i: number, t: Ns): void {
    const slot = this.slots[this.onCounter[i]!]!;
    slot.samples++;
    slot.approx += slot.period;
    if (this.opts.freq) {
      // perf_adjust_period(): aim at freq samples per second of guest time.
      const g = this.vcpu.guestTimeAt(t);
      const dt = Math.max(1, g - slot.lastSampleNs);
      slot.lastSampleNs = g;
      const rate = slot.armed / dt;
      slot.period = Math.max(1, Math.round((rate * 1e9) / this.opts.freq));
    }
    slot.armed = slot.period;
    this.ops.wrmsr(this.msrs.ctrFull(i), this.preset(slot.period), t);
  }

  private collect(i: number, now: Ns, then?: () => void): void {
    const s = this.onCounter[i];
    if (s === undefined) return;
    const slot = this.slots[s]!;
    if (slot.on >= 0) slot.running += now - slot.on;
    slot.on = -1;
    // x86_perf_event_update(): the counter is read when the event stops; what remains of the
    // period is restored when it next goes on a counter.
    const mask = BigInt(this.vcpu.pmu?.gpMask ?? 2 ** 48 - 1);
    this.ops.rdmsr(this.msrs.ctrFull(i), now, (v) => {
      if (v !== null) {
        const left = Number((mask + 1n - v) & mask);
        slot.left = left > 0 && left <= slot.period ? left : 0;
      }
      then?.();
    });
  }

  /** Multiplexing tick, as in perf stat: every event comes off, then the next ones go on. */
  private rotate(now: Ns): void {
    this.ops.wrmsr(this.msrs.globalCtrl, 0n, now);
    const n = this.onCounter.length;
    let pending = n;
    const reprogram = (): void => {
      const t = this.sys.now;
      for (let i = 0; i < n; i++) {
        this.program(i, this.next, t);
        this.next = (this.next + 1) % this.slots.length;
      }
      this.ops.wrmsr(this.msrs.globalCtrl, this.enableMask(), t);
    };
    for (let i = 0; i < n; i++) this.collect(i, now, () => --pending === 0 && reprogram());
    this.sys.queue.arm(this.timer, (now + this.muxIntervalNs) as Ns);
  }

  /** Stops sampling. */
  stop(now: Ns): void {
    this.truthEnd = this.slots.map((s) => this.truth(s.ev));
    if (this.timer.armed) this.sys.queue.cancel(this.timer);
    if (this.noPmu) return;
    this.stopped = true;
    this.vcpu.onGuestPmi = null;
    for (let i = 0; i < this.onCounter.length; i++) this.collect(i, now);
    this.ops.wrmsr(this.msrs.globalCtrl, 0n, now);
    for (let i = 0; i < this.onCounter.length; i++) this.ops.wrmsr(this.msrs.evtsel(i), 0, now);
  }

  private truth(ev: GuestEvent): number {
    return guestTruth(this.vcpu, ev);
  }

  /** Per-event results (after stop). */
  result(): GuestRecordResult[] {
    return this.slots.map((s, k) => ({
      event: s.ev.name,
      samples: s.samples,
      approx: Math.round(s.approx),
      period: s.period,
      running_ns: s.running,
      truth: Math.round((this.truthEnd[k] ?? this.truth(s.ev)) - (this.truthStart[k] ?? 0)),
    }));
  }

  /** Window start (ns). */
  get start_ns(): number {
    return this.startNs;
  }
}
