import { GuestPmuOps, type KvmVcpu } from "../kvm/vcpu.js";
import { EVENTSEL } from "../kvm/x86/msr.js";
import { checkObject } from "../sim/argument.js";
import { Timer } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import { checkGuestEvents, checkGuestNow, checkMuxInterval } from "./check.js";
import {
  type GuestEvent,
  type GuestPmuMsrs,
  type GuestPmuView,
  guestPmuView,
  guestTruth,
} from "./perf-stat.js";

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
  /**
   * What is left of the period beyond the value in the counter: a period longer than the
   * counter's max_period goes on in several overflows, only the last of which is a sample.
   */
  rest: number;
  /** Samples since the last guest tick, and whether perf throttled the event. */
  interrupts: number;
  throttled: boolean;
  running: number;
  on: number;
}

/** Initial period in frequency mode, before the first PMIs adapt it (model parameter). */
const INITIAL_FREQ_PERIOD = 100_000;

const NOOP = (_now: Ns): void => {};

/**
 * perf's max_samples_per_tick with the default perf_event_max_sample_rate (100000) and a
 * guest HZ of 250 (its tick is the 4 ms multiplexing interval): an event that takes more
 * samples in one tick is throttled (stopped) until the next.
 */
const MAX_SAMPLES_PER_TICK = 400;

/**
 * perf_cpu_time_max_percent (25) of the guest's 4 ms tick: when PMI handlers take longer
 * than this per tick on average, perf_sample_event_took() lowers max_samples_per_tick.
 */
const ALLOWED_NMI_NS_PER_TICK = 1_000_000;

/** NR_ACCUMULATED_SAMPLES: the handler time is averaged over this many. */
const NR_ACCUMULATED_SAMPLES = 128;

/**
 * `perf record -F <freq>` (or `-c <period>`) inside the guest: each counter is preset to
 * -period with the INT bit. Its PMI handler is Linux's for the guest's PMU:
 * intel_pmu_handle_irq() (Intel, version 2 and up), amd_pmu_v2_handle_irq() (AMD with
 * PerfCtrExtCore and PerfMonV2) or x86_pmu_handle_irq() (the others: no global registers).
 * In frequency mode the next period is the count rate times 1/freq, as perf's period
 * adjustment converges to. What exits, and what each PMI costs, is up to the vPMU. The
 * handler's own work (kernel.kvm.costs guest_pmi_ns, guest_sample_ns) and perf record's
 * draining (guest_drain_ns) take guest time from the workload, in every mode.
 *
 * The handler is an NMI: its instructions go through `nmiOps`, which the vCPU runs before
 * any other guest instruction, and everything else (the multiplexing rotation, the stop,
 * another tool) waits for its IRET.
 */
export class GuestPerfRecord {
  private readonly ops: GuestPmuOps;
  /** The same instructions issued from the PMI handler. */
  private readonly nmiOps: GuestPmuOps;
  private readonly view: GuestPmuView;
  private readonly slots: Slot[];
  private onCounter: number[] = [];
  /**
   * perf's cpuc->events[] with active_mask: the slot whose period counter i holds now (or
   * -1). Set when the counter is loaded and cleared when it is read for a rotation, which
   * can be later than `onCounter` changes; the PMI handler goes by this.
   */
  private active: number[] = [];
  /** A rotation's accesses are under way. */
  private rotating = false;
  /** The guest's tick interrupt is pending (it does not queue up). */
  private tickPending = false;
  /** perf's max_samples_per_tick, and the running handler time it is derived from. */
  private maxSamplesPerTick = MAX_SAMPLES_PER_TICK;
  private runningLen = 0;
  private handlerStart = 0;
  private next = 0;
  private readonly timer: Timer;
  private startNs = 0;
  private truthStart: number[] = [];
  private truthEnd: number[] = [];
  /** PMIs the guest handled. */
  pmis = 0;
  noPmu = false;
  private stopped = false;
  /**
   * perf's cpuc->enabled: the counters are globally on. A rotation or the stop turns them
   * off; a PMI handler re-enables them at its end only if they were on when it began.
   */
  private enabled = false;

  constructor(
    readonly vcpu: KvmVcpu,
    events: GuestEvent[],
    readonly opts: { freq?: number; period?: number },
    readonly muxIntervalNs: number = 4_000_000,
  ) {
    checkGuestEvents("GuestPerfRecord", events);
    checkObject("GuestPerfRecord(opts)", opts);
    checkMuxInterval("GuestPerfRecord", muxIntervalNs);
    this.ops = new GuestPmuOps(vcpu);
    this.nmiOps = new GuestPmuOps(vcpu, true);
    this.view = guestPmuView(vcpu);
    const p0 = opts.period ?? INITIAL_FREQ_PERIOD;
    this.slots = events.map((ev) => ({
      ev,
      samples: 0,
      approx: 0,
      period: p0,
      lastSampleNs: 0,
      left: 0,
      armed: 0,
      rest: 0,
      interrupts: 0,
      throttled: false,
      running: 0,
      on: -1,
    }));
    this.timer = new Timer(`guest perf record ${vcpu.label}`, (now) => this.tick(now));
  }

  private get nrGp(): number {
    return this.view.nrGp;
  }

  private get msrs(): GuestPmuMsrs {
    return this.view.msrs;
  }

  private get sys() {
    return this.vcpu.vm.kvm.sys;
  }

  /** Programs the counters and starts sampling. */
  start(now: Ns): void {
    checkGuestNow("GuestPerfRecord.start", now, this.vcpu.vm.kvm.sys.now);
    this.startNs = now;
    this.truthStart = this.slots.map((s) => this.truth(s.ev));
    if ((this.vcpu.pmu?.version ?? 0) === 0) {
      this.noPmu = true;
      return;
    }
    // No event could be opened: nothing to program.
    if (this.slots.length === 0) return;
    // A local first: see vcpuPmuHooks() in kvm/vm.ts (no closure literal assigned to a property).
    const onGuestPmi = (t: Ns) => this.handlePmi(t);
    this.vcpu.onGuestPmi = onGuestPmi;
    const n = Math.min(this.nrGp, this.slots.length);
    for (let i = 0; i < n; i++) this.program(i, i, now);
    this.next = n < this.slots.length ? n : 0;
    this.setGlobal(true, now);
    this.sys.queue.arm(this.timer, (now + this.muxIntervalNs) as Ns);
  }

  /**
   * GLOBAL_CTRL / GLOBAL_CTL: the programmed counters on, or all off (globals only). From the
   * handler (`nmi`) it leaves perf's enabled state alone.
   */
  private setGlobal(on: boolean, now: Ns, done?: () => void, nmi = false): void {
    if (!this.view.globals) {
      if (!nmi) this.enabled = on;
      done?.();
      return;
    }
    const ops = nmi ? this.nmiOps : this.ops;
    ops.wrmsr(this.msrs.globalCtrl, on ? this.enableMask() : 0n, now, () => {
      if (!nmi) this.enabled = on;
      done?.();
    });
  }

  private enableMask(): bigint {
    return BigInt(2 ** this.onCounter.length - 1);
  }

  /**
   * Puts slot `s` on counter `i` (kernel: x86_pmu_start(): the period is set, the counter
   * becomes active, then the event select enables it). Scheduling an event in ends its
   * throttling (event_sched_in()).
   */
  private program(i: number, s: number, now: Ns): void {
    this.onCounter[i] = s;
    const slot = this.slots[s]!;
    slot.throttled = false;
    slot.interrupts = 0;
    slot.armed = slot.left > 0 ? slot.left : slot.period;
    this.ops.wrmsr(this.msrs.ctrFull(i), this.preset(this.chunk(slot, slot.armed)), now, () => {
      this.active[i] = s;
    });
    slot.left = 0;
    this.ops.wrmsr(this.msrs.evtsel(i), this.selectFor(slot), now, () => {
      slot.on = this.sys.now;
      slot.lastSampleNs = this.vcpu.guestTimeAt(this.sys.now);
    });
  }

  private selectFor(slot: Slot): number {
    return slot.ev.encoding | EVENTSEL.USR | EVENTSEL.OS | EVENTSEL.INT | EVENTSEL.ENABLE;
  }

  /** The counters the handler considers (active_mask), in index order. */
  private activeCounters(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.active.length; i++) if (this.active[i]! >= 0) out.push(i);
    return out;
  }

  /**
   * kernel: x86_perf_event_set_period() loads at most x86_pmu.max_period (half the counter
   * range) into the counter; the rest of `left` waits in `slot.rest`.
   */
  private chunk(slot: Slot, left: number): number {
    const max = Number(this.modulus() >> 1n) - 1;
    const n = Math.min(Math.max(1, Math.round(left)), max);
    slot.rest = Math.max(0, Math.round(left) - n);
    return n;
  }

  /** -period in the counter's width. */
  private preset(period: number): bigint {
    return this.modulus() - BigInt(Math.max(1, Math.round(period)));
  }

  private modulus(): bigint {
    return BigInt(this.vcpu.pmu?.gpMask ?? 2 ** 48 - 1) + 1n;
  }

  /** The guest's PMI handler (an NMI). */
  private handlePmi(now: Ns): void {
    if (this.stopped) {
      this.vcpu.unmaskLvtpc();
      this.vcpu.nmiReturn(now);
      return;
    }
    this.pmis++;
    this.handlerStart = now;
    // x86_pmu_handle_irq() and the others keep cpuc->enabled and restore it at the end.
    const wasOn = this.enabled;
    if (!this.view.globals) {
      // x86_pmu_handle_irq() unmasks LVTPC first.
      this.vcpu.unmaskLvtpc();
      this.legacyHandler(now);
      return;
    }
    this.setGlobal(false, now, undefined, true);
    this.nmiOps.rdmsr(this.msrs.globalStatus, now, (status) => {
      const st = status ?? 0n;
      if (st === 0n) this.handlerDone(0, wasOn);
      else if (this.view.amd) this.amdHandler(st, wasOn);
      else this.intelHandler(st, 0, 1, wasOn);
    });
  }

  /**
   * kernel: intel_pmu_handle_irq(): acknowledge the status first (GLOBAL_OVF_CTRL), then
   * each flagged counter is read (x86_perf_event_update(), RDPMC) and its period set
   * (x86_perf_event_set_period(), a counter write); the status is read again and the loop
   * repeats while it is not zero.
   */
  private intelHandler(st: bigint, taken: number, loops: number, wasOn: boolean): void {
    const t = this.sys.now;
    this.nmiOps.wrmsr(this.msrs.statusAck, st, t);
    // handle_pmi_common(): only flagged counters that are active.
    const flagged = this.activeCounters().filter((i) => (st >> BigInt(i)) & 1n);
    this.service(flagged, flagged, (n) => {
      this.nmiOps.rdmsr(this.msrs.globalStatus, this.sys.now, (again) => {
        // The kernel gives up after 100 rounds (a stuck status bit).
        if (again !== null && again !== 0n && loops < 100)
          this.intelHandler(again, taken + n, loops + 1, wasOn);
        else this.handlerDone(taken + n, wasOn);
      });
    });
  }

  /**
   * kernel: amd_pmu_v2_handle_irq(): every active counter is read, and each flagged one has
   * its period set; then the status is cleared (GLOBAL_STATUS_CLR of every bit left).
   */
  private amdHandler(st: bigint, wasOn: boolean): void {
    const active = this.activeCounters();
    const flagged = active.filter((i) => (st >> BigInt(i)) & 1n);
    this.service(active, flagged, (n) => {
      this.nmiOps.wrmsr(this.msrs.statusAck, 2n ** 64n - 1n, this.sys.now);
      this.handlerDone(n, wasOn);
    });
  }

  /**
   * kernel: x86_pmu_handle_irq(), with no global registers: every active counter is read,
   * and one whose top bit is clear has wrapped: its period is set and it is sampled.
   */
  private legacyHandler(now: Ns): void {
    const active = this.activeCounters();
    let pending = active.length;
    let taken = 0;
    if (pending === 0) {
      this.handlerDone(0, false);
      return;
    }
    for (const i of active) {
      this.nmiOps.rdpmc(i, now, (v) => {
        if (v !== null && this.wrapped(v) && this.sample(i, this.sys.now)) taken++;
        if (--pending === 0) this.handlerDone(taken, false);
      });
    }
  }

  /**
   * Reads each counter of `read` (RDPMC); each of `flagged` has its period set: sampled and
   * reloaded if it wrapped, else (a status bit whose period has not run out, which
   * x86_perf_event_set_period() does not count) rewritten with what is left of its period.
   * Calls `done` with the number of samples.
   */
  private service(read: number[], flagged: number[], done: (samples: number) => void): void {
    let pending = read.length;
    let taken = 0;
    if (pending === 0) {
      done(0);
      return;
    }
    for (const i of read) {
      this.nmiOps.rdpmc(i, this.sys.now, (v) => {
        const t = this.sys.now;
        if (flagged.includes(i)) {
          if (v !== null && this.wrapped(v)) {
            if (this.sample(i, t)) taken++;
          } else if (v !== null) {
            this.nmiOps.wrmsr(this.msrs.ctrFull(i), v, t);
          }
        }
        if (--pending === 0) done(taken);
      });
    }
  }

  /**
   * The end of the handler: its work in guest kernel time (PMU disabled, so the counters do
   * not see it), the PMU enabled again if it was on, the IRET, then perf record draining the
   * samples in guest userspace with the counters counting.
   */
  private handlerDone(taken: number, wasOn: boolean): void {
    const t = this.sys.now;
    const c = this.vcpu.vm.kvm.costs;
    const iret = (): void => {
      this.sampleEventTook(this.sys.now - this.handlerStart);
      // intel_pmu_handle_irq() with late_ack unmasks LVTPC last (a no-op for the others).
      this.vcpu.unmaskLvtpc();
      this.vcpu.nmiReturn(this.sys.now);
    };
    if (this.view.globals && wasOn) {
      this.vcpu.guestWork(c.guestPmiNs + taken * c.guestSampleNs, false, t, NOOP, true);
      this.setGlobal(true, t, iret, true);
    } else {
      this.vcpu.guestWork(c.guestPmiNs + taken * c.guestSampleNs, false, t, iret, true);
    }
    this.vcpu.guestWork(taken * c.guestDrainNs, true, t);
  }

  /**
   * kernel: perf_sample_event_took(): a running average of the handler's time; if the
   * handlers of a tick's allowed samples would take more than the allowed share of it,
   * max_samples_per_tick comes down (it is not raised again).
   */
  private sampleEventTook(len: number): void {
    this.runningLen += len - this.runningLen / NR_ACCUMULATED_SAMPLES;
    const avg = this.runningLen / NR_ACCUMULATED_SAMPLES;
    if (avg * this.maxSamplesPerTick <= ALLOWED_NMI_NS_PER_TICK) return;
    this.maxSamplesPerTick = Math.max(1, Math.floor(ALLOWED_NMI_NS_PER_TICK / avg));
  }

  /** A counter preset to -period has wrapped once its top bit is clear. */
  private wrapped(v: bigint): boolean {
    return v < this.modulus() >> 1n;
  }

  /**
   * Counter i wrapped: the next part of a long period goes in (no sample), or the period has
   * run out: a sample, and the counter reloaded with the next period. True for a sample.
   */
  private sample(i: number, t: Ns): boolean {
    const s = this.active[i]!;
    const slot = this.slots[s]!;
    if (slot.rest > 0) {
      this.nmiOps.wrmsr(this.msrs.ctrFull(i), this.preset(this.chunk(slot, slot.rest)), t);
      return false;
    }
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
    this.nmiOps.wrmsr(this.msrs.ctrFull(i), this.preset(this.chunk(slot, slot.period)), t);
    // __perf_event_account_interrupt(): past max_samples_per_tick the event is throttled,
    // and the handler stops it (x86_pmu_stop(): event select cleared, counter inactive).
    if (++slot.interrupts > this.maxSamplesPerTick) {
      slot.throttled = true;
      slot.left = slot.period + slot.rest;
      slot.rest = 0;
      this.active[i] = -1;
      this.nmiOps.wrmsr(this.msrs.evtsel(i), 0, t);
    }
    return true;
  }

  private collect(i: number, now: Ns, then?: () => void): void {
    const s = this.onCounter[i];
    if (s === undefined) return;
    const slot = this.slots[s]!;
    if (slot.on >= 0) slot.running += now - slot.on;
    slot.on = -1;
    // x86_perf_event_update(): the counter is read when the event stops; what remains of the
    // period is restored when it next goes on a counter.
    const mask = this.modulus() - 1n;
    const throttled = slot.throttled;
    this.ops.rdmsr(this.msrs.ctrFull(i), now, (v) => {
      this.active[i] = -1;
      // A throttled event's counter is stopped: what is left is already kept.
      if (v !== null && !throttled) {
        const left = Number((mask + 1n - v) & mask) + slot.rest;
        slot.rest = 0;
        slot.left = left > 0 && left <= slot.period ? left : 0;
      }
      then?.();
    });
  }

  /**
   * The guest's tick (kernel: perf_event_task_tick()): throttled events go on again
   * (perf_adjust_freq_unthr_context()), every event's interrupt count restarts, and with
   * more events than counters the next ones rotate in.
   */
  private tick(now: Ns): void {
    this.sys.queue.arm(this.timer, (now + this.muxIntervalNs) as Ns);
    // The tick is a guest interrupt: it runs when the vCPU does, after any NMI handler, and
    // one still pending does not queue another.
    if (this.tickPending) return;
    this.tickPending = true;
    this.ops.code(now, (t) => this.tickWork(t));
  }

  private tickWork(now: Ns): void {
    this.tickPending = false;
    if (this.stopped) return;
    for (const s of this.slots) s.interrupts = 0;
    if (this.slots.length > this.nrGp) {
      this.rotate(now);
      return;
    }
    for (let i = 0; i < this.onCounter.length; i++) {
      const s = this.onCounter[i]!;
      if (this.slots[s]!.throttled) this.program(i, s, now);
    }
  }

  /** Multiplexing, as in perf stat: every event comes off, then the next ones go on. */
  private rotate(now: Ns): void {
    // A rotation still waiting (behind a storm of PMIs) is not started twice.
    if (this.rotating) return;
    this.rotating = true;
    this.setGlobal(false, now);
    const n = this.onCounter.length;
    let pending = n;
    const reprogram = (): void => {
      this.rotating = false;
      if (this.stopped) return;
      const t = this.sys.now;
      for (let i = 0; i < n; i++) {
        this.program(i, this.next, t);
        this.next = (this.next + 1) % this.slots.length;
      }
      this.setGlobal(true, t);
    };
    for (let i = 0; i < n; i++) this.collect(i, now, () => --pending === 0 && reprogram());
  }

  /** Stops sampling (after a PMI handler under way, which the vCPU finishes first). */
  stop(now: Ns): void {
    checkGuestNow("GuestPerfRecord.stop", now, this.vcpu.vm.kvm.sys.now);
    this.truthEnd = this.slots.map((s) => this.truth(s.ev));
    if (this.timer.armed) this.sys.queue.cancel(this.timer);
    if (this.noPmu) return;
    this.stopped = true;
    this.vcpu.onGuestPmi = null;
    if (this.onCounter.length === 0) return;
    for (let i = 0; i < this.onCounter.length; i++) this.collect(i, now);
    this.setGlobal(false, now);
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
