import { quantityOf } from "../hw/pmu-desc.js";
import { Mode } from "../hw/quantity.js";
import { KvmArmVcpu } from "../kvm/arm64/kvm.js";
import { CYCLE_IDX, PMCR, type PmuReg } from "../kvm/arm64/pmuv3.js";
import { perfScaled } from "../perf/tool/stat-shadow.js";
import { ArgumentError } from "../sim/argument.js";
import { Timer } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import { checkGuestEventNames, checkGuestNow, checkMuxInterval } from "./check.js";
import { GuestEventTimes } from "./event-times.js";
import type { GuestCounterResult } from "./perf-stat.js";

/** PMUv3 events the arm64 guest perf stat knows by name. */
export const GUEST_ARM_EVENTS: Record<string, number> = {
  cycles: 0x11,
  cpu_cycles: 0x11,
  instructions: 0x08,
  inst_retired: 0x08,
  mem_access: 0x13,
  branch_misses: 0x10,
  br_mis_pred: 0x10,
  l1d_cache: 0x04,
  l1d_cache_refill: 0x03,
  stall_frontend: 0x23,
  stall_backend: 0x24,
};

/** One event of the guest perf stat, and what it has counted so far. */
interface ArmSlot {
  name: string;
  event: number;
  /** On the cycle counter for the whole run (the first cycles event). */
  cycleCounter: boolean;
  count: number;
  /** When its counter was reset to count it, or -1 while off: the hardware counts it from then. */
  on: number;
}

/** A counter read the guest issued (an MRS of PMCCNTR_EL0 or PMEVCNTR<n>_EL0). */
interface ArmPendingRead {
  reg: PmuReg;
  i: number;
  slot: ArmSlot;
}

/**
 * perf stat inside an arm64 guest: cycles on the cycle counter (PMCCNTR), other events on
 * the PMCR_EL0.N event counters, programmed through PMEVTYPER/PMEVCNTR/PMCNTENSET/PMCR.
 * Every PMU system register access traps to KVM (an exit). With more events than event
 * counters the guest's perf multiplexes them, rotating at `muxIntervalNs` like the host's
 * perf_rotate_context(), and scales each count by enabled/running time. Counters of a vCPU
 * running where the VM's PMU does not reach simply stop: the guest reads what was counted
 * before.
 */
export class ArmGuestPerfStat {
  private readonly slots: ArmSlot[] = [];
  /** Event counter i holds slots[onCounter[i]]. */
  private onCounter: number[] = [];
  /** The next event slot to go on at a rotation. */
  private next = 0;
  private readonly timer: Timer;
  private startNs = 0;
  private stopNs = 0;
  /** The guest perf core's enabled and running times of the events. */
  private readonly times: GuestEventTimes;
  /** Counter reads the guest issued that have not executed yet, in issue order. */
  private readonly unread = new Set<ArmPendingRead>();
  private truth0: number[] = [];
  private truth1: number[] = [];
  noPmu = false;

  constructor(
    readonly vcpu: KvmArmVcpu,
    events: string[],
    readonly muxIntervalNs: number = 4_000_000,
  ) {
    if (!(vcpu instanceof KvmArmVcpu))
      throw new ArgumentError("ArmGuestPerfStat(vcpu)", "a KvmArmVcpu", vcpu);
    checkGuestEventNames("ArmGuestPerfStat", events);
    checkMuxInterval("ArmGuestPerfStat", muxIntervalNs);
    let cycleTaken = false;
    for (const name of events) {
      const ev = GUEST_ARM_EVENTS[name] ?? Number.parseInt(name.replace(/^r/, ""), 16);
      const cycleCounter = ev === 0x11 && !cycleTaken;
      if (cycleCounter) cycleTaken = true;
      this.slots.push({ name, event: ev, cycleCounter, count: 0, on: -1 });
    }
    // kernel: the guest's perf stamps times in guest kernel code, which does not trap.
    this.times = new GuestEventTimes(this.slots.length, (run, now) =>
      vcpu.run.guestOp({ intercepted: false, reason: "sysreg", costNs: 0, run }, now),
    );
    this.timer = new Timer(`guest perf ${vcpu.run.label}`, (now) => this.rotate(now));
  }

  private get sys() {
    return this.vcpu.vm.kvm.sys;
  }

  private op(
    reg: PmuReg,
    idx: number,
    value: bigint | null,
    now: Ns,
    done?: (v: bigint | null) => void,
  ): void {
    const v = this.vcpu;
    v.run.guestOp(
      {
        intercepted: true,
        reason: "sysreg",
        costNs: v.vm.kvm.costs.pmuMsrNs,
        run: (t) => {
          const pmu = v.pmu;
          if (!pmu) {
            done?.(null);
            return;
          }
          if (value === null) {
            const r = pmu.read(reg, idx, v.run.task.cpu);
            done?.(typeof r === "bigint" ? r : null);
          } else {
            pmu.write(reg, idx, value, t);
            done?.(value);
          }
        },
      },
      now,
    );
  }

  /** Indices of the event slots (not on the cycle counter). */
  private eventSlots(): number[] {
    const out: number[] = [];
    this.slots.forEach((s, k) => {
      if (!s.cycleCounter) out.push(k);
    });
    return out;
  }

  /** The slots on a counter: the cycle counter's, and those on event counters (default: now). */
  private activeSlots(onEventCounters: readonly number[] = this.onCounter): number[] {
    const out: number[] = [];
    this.slots.forEach((s, k) => {
      if (s.cycleCounter) out.push(k);
    });
    return out.concat(onEventCounters);
  }

  /** Puts slot `k` on event counter `i`: PMEVTYPER, then the counter reset. */
  private program(i: number, k: number, now: Ns): void {
    this.onCounter[i] = k;
    const slot = this.slots[k]!;
    this.op("PMEVTYPER_EL0", i, BigInt(slot.event), now);
    this.op("PMEVCNTR_EL0", i, 0n, now, () => {
      slot.on = this.sys.now;
    });
  }

  /** Reads a counter into its slot and takes the slot off. */
  private collect(reg: PmuReg, i: number, slot: ArmSlot, now: Ns): void {
    const read: ArmPendingRead = { reg, i, slot };
    this.unread.add(read);
    this.op(reg, i, null, now, (v) => {
      // Already taken at the end of the run (finishReads()).
      if (this.unread.delete(read)) this.take(slot, v);
    });
  }

  /** A counter read completed with `v` (null: no value): the slot comes off its counter. */
  private take(slot: ArmSlot, v: bigint | null): void {
    if (v !== null) slot.count += Number(v);
    slot.on = -1;
  }

  /**
   * The end of the run: the counter reads the guest issued and has not executed yet (each
   * traps, and the next one waits for the VM entry after it, which comes after the run) take
   * the counters' values now, as KVM would return them (kernel: access_pmu_evcntr() ->
   * kvm_pmu_get_counter_value(): the counter plus its backing perf event's count up to now).
   * A read queued behind a reprogramming that has not run counts nothing. The guest perf
   * core's time steps still waiting take their times now too.
   */
  finishReads(now: Ns): void {
    checkGuestNow("ArmGuestPerfStat.finishReads", now, this.sys.now);
    const v = this.vcpu;
    for (const { reg, i, slot } of this.unread) {
      const r = v.pmu && slot.on >= 0 ? v.pmu.read(reg, i, v.run.task.cpu) : null;
      this.take(slot, typeof r === "bigint" ? r : null);
    }
    this.unread.clear();
    this.times.flush(now);
  }

  /** The event counters' bits in PMCNTENSET/PMCNTENCLR. */
  private eventMask(): bigint {
    return (1n << BigInt(this.onCounter.length)) - 1n;
  }

  /** Programs and enables the counters. */
  start(now: Ns): void {
    checkGuestNow("ArmGuestPerfStat.start", now, this.vcpu.vm.kvm.sys.now);
    this.startNs = now;
    this.truth0 = this.slots.map((s) => this.truth(s.event));
    const pmu = this.vcpu.pmu;
    if (!pmu) {
      this.noPmu = true;
      return;
    }
    // The guest's perf learns the number of event counters from PMCR_EL0.N; the counters
    // are programmed in the order of the events.
    const events = this.eventSlots();
    const n = Math.min(pmu.n, events.length);
    this.onCounter = events.slice(0, n);
    this.next = events.length > 0 ? n % events.length : 0;
    const multiplexed = events.length > n;
    this.times.enable(this.activeSlots(), now);
    let mask = this.eventMask();
    this.slots.forEach((slot, k) => {
      const on = () => {
        slot.on = this.sys.now;
      };
      if (slot.cycleCounter) {
        this.op("PMCCNTR_EL0", CYCLE_IDX, 0n, now, on);
        mask |= 1n << BigInt(CYCLE_IDX);
        return;
      }
      const i = this.onCounter.indexOf(k);
      if (i < 0) return;
      this.op("PMEVTYPER_EL0", i, BigInt(slot.event), now);
      this.op("PMEVCNTR_EL0", i, 0n, now, on);
    });
    this.op("PMCNTENSET_EL0", 0, mask, now);
    this.op("PMCR_EL0", 0, BigInt(PMCR.E | PMCR.LC), now);
    if (multiplexed && n > 0) this.sys.queue.arm(this.timer, (now + this.muxIntervalNs) as Ns);
  }

  /** The guest's multiplexing tick: the events on the counters give way to the next ones. */
  private rotate(now: Ns): void {
    const events = this.eventSlots();
    const moved = this.onCounter.map((_, i) => events[(this.next + i) % events.length]!);
    // kernel: perf_rotate_context(): one timestamp takes the outgoing events off and puts the
    // incoming ones on (the cycle counter's event stays), before the PMU is touched.
    this.times.rotate(this.activeSlots(moved), now);
    this.op("PMCNTENCLR_EL0", 0, this.eventMask(), now);
    for (let i = 0; i < this.onCounter.length; i++) {
      this.collect("PMEVCNTR_EL0", i, this.slots[this.onCounter[i]!]!, now);
      this.program(i, events[this.next]!, now);
      this.next = (this.next + 1) % events.length;
    }
    this.op("PMCNTENSET_EL0", 0, this.eventMask(), now);
    this.sys.queue.arm(this.timer, (now + this.muxIntervalNs) as Ns);
  }

  /** Reads every counter. */
  stop(now: Ns): void {
    checkGuestNow("ArmGuestPerfStat.stop", now, this.vcpu.vm.kvm.sys.now);
    this.stopNs = now;
    this.truth1 = this.slots.map((s) => this.truth(s.event));
    if (this.timer.armed) this.sys.queue.cancel(this.timer);
    if (this.noPmu) return;
    this.times.disable(now);
    this.slots.forEach((slot, k) => {
      if (slot.cycleCounter) {
        this.collect("PMCCNTR_EL0", CYCLE_IDX, slot, now);
        return;
      }
      const i = this.onCounter.indexOf(k);
      if (i >= 0) this.collect("PMEVCNTR_EL0", i, slot, now);
    });
  }

  private truth(event: number): number {
    const sys = this.sys;
    sys.sync();
    let s = 0;
    const mask = (1 << Mode.GUEST_USER) | (1 << Mode.GUEST_KERNEL);
    for (const [cpu, a] of this.vcpu.run.task.truth) {
      const q = quantityOf(sys.machine.cpus[cpu]!.coreType.pmu, event) ?? -1;
      s += a.count(q, mask);
    }
    return s;
  }

  /**
   * The guest's report, with enabled and running times as the guest perf core accounted them
   * (GuestEventTimes), in guest time from the guest's enable to its stop. Without multiplexing
   * every event is on a counter the whole time (running = enabled, counts as read). With it,
   * running time is each event's time on a counter and counts are scaled; an event that never
   * had a counter is not counted (scaled null). Without a vPMU no event opened: running is 0
   * and enabled the window asked for.
   */
  result(): GuestCounterResult[] {
    const now = this.sys.now;
    const enabled = this.noPmu ? this.stopNs - this.startNs : this.times.enabledNs(now);
    return this.slots.map((s, k) => {
      const running = this.noPmu ? 0 : this.times.runningNs(k, now);
      return {
        event: s.name,
        count: s.count,
        enabled_ns: enabled,
        running_ns: running,
        scaled: perfScaled(s.count, enabled, running),
        truth: Math.round((this.truth1[k] ?? 0) - (this.truth0[k] ?? 0)),
      };
    });
  }
}
