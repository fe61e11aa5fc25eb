import { quantityOf } from "../hw/pmu-desc.js";
import { Mode } from "../hw/quantity.js";
import { GuestPmuOps, type KvmVcpu } from "../kvm/vcpu.js";
import { KvmAmdPmu } from "../kvm/x86/amd.js";
import { AMD_MSR, EVENTSEL, MSR } from "../kvm/x86/msr.js";
import { perfScaled } from "../perf/tool/stat-shadow.js";
import { Timer } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import { checkGuestEvents, checkGuestNow, checkMuxInterval } from "./check.js";
import { GuestEventTimes } from "./event-times.js";

/** A guest event: its name and x86 encoding (event | umask << 8). */
export interface GuestEvent {
  name: string;
  encoding: number;
}

/** The x86 architectural events by perf name. */
export const GUEST_ARCH_EVENTS: Record<string, number> = {
  cycles: 0x003c,
  instructions: 0x00c0,
  "ref-cycles": 0x013c,
  "cache-references": 0x4f2e,
  "cache-misses": 0x412e,
  branches: 0x00c4,
  "branch-misses": 0x00c5,
};

/** The same perf names on an AMD guest (Linux's amd_zen4_perfmon_event_map[]). */
export const GUEST_AMD_EVENTS: Record<string, number> = {
  cycles: 0x0076,
  instructions: 0x00c0,
  "cache-references": 0xff60,
  "cache-misses": 0x0964,
  branches: 0x00c2,
  "branch-misses": 0x00c3,
};

/**
 * perf names with no encoding on an AMD guest (the Zen 4 map has no REF_CPU_CYCLES):
 * perf_event_open() fails with ENOENT there, and perf prints `<not supported>`.
 */
export const GUEST_AMD_UNSUPPORTED: readonly string[] = ["ref-cycles"];

/** The PMU MSRs a guest kernel's perf programs counter i through. */
export interface GuestPmuMsrs {
  evtsel(i: number): number;
  ctr(i: number): number;
  /** Where a full-width value (a sampling preset, -period) is written. */
  ctrFull(i: number): number;
  globalCtrl: number;
  /** The overflow status, and where a PMI handler acknowledges it (1s clear). */
  globalStatus: number;
  statusAck: number;
}

const INTEL_GUEST_MSRS: GuestPmuMsrs = {
  evtsel: (i) => MSR.IA32_PERFEVTSEL0 + i,
  ctr: (i) => MSR.IA32_PMC0 + i,
  // IA32_PMCx writes sign-extend bit 31; perf uses the full-width aliases (FW_WRITE).
  ctrFull: (i) => MSR.IA32_A_PMC0 + i,
  globalCtrl: MSR.IA32_PERF_GLOBAL_CTRL,
  globalStatus: MSR.IA32_PERF_GLOBAL_STATUS,
  statusAck: MSR.IA32_PERF_GLOBAL_OVF_CTRL,
};

/** PerfMonV2's global registers, the same with either set of counter MSRs. */
const AMD_GLOBALS = {
  globalCtrl: AMD_MSR.GLOBAL_CTL,
  globalStatus: AMD_MSR.GLOBAL_STATUS,
  statusAck: AMD_MSR.GLOBAL_STATUS_CLR,
};

const AMD_CORE_MSRS: GuestPmuMsrs = {
  evtsel: (i) => AMD_MSR.F15H_PERF_CTL0 + 2 * i,
  ctr: (i) => AMD_MSR.F15H_PERF_CTR0 + 2 * i,
  ctrFull: (i) => AMD_MSR.F15H_PERF_CTR0 + 2 * i,
  ...AMD_GLOBALS,
};

const AMD_K7_MSRS: GuestPmuMsrs = {
  evtsel: (i) => AMD_MSR.K7_EVNTSEL0 + i,
  ctr: (i) => AMD_MSR.K7_PERFCTR0 + i,
  ctrFull: (i) => AMD_MSR.K7_PERFCTR0 + i,
  ...AMD_GLOBALS,
};

/** How the guest kernel's perf drives its PMU, as Linux decides at boot from CPUID. */
export interface GuestPmuView {
  msrs: GuestPmuMsrs;
  /** General-purpose counters perf uses. */
  nrGp: number;
  /**
   * perf uses the global control and status registers: Intel version 2 and up, AMD with
   * PerfCtrExtCore and PerfMonV2. Otherwise it enables each counter by its event select and
   * its PMI handler finds overflows by the counters' sign (x86_pmu_handle_irq()).
   */
  globals: boolean;
  /** An AMD guest (amd_pmu_v2_handle_irq()); else Intel (intel_pmu_handle_irq()). */
  amd: boolean;
}

/**
 * The guest's view: Intel's architectural MSRs; on an AMD vPMU the PerfCtrExtCore
 * PERF_CTL/PERF_CTR pairs (stride 2) with PerfMonV2's globals when it has them, or, without
 * PerfCtrExtCore, the 4 legacy K7 counters and nothing else (amd_core_pmu_init() returns
 * before looking at PerfMonV2).
 */
export function guestPmuView(vcpu: KvmVcpu): GuestPmuView {
  const pmu = vcpu.pmu;
  const version = pmu?.version ?? 0;
  const nrGp = pmu?.nrGp ?? 0;
  if (!(pmu instanceof KvmAmdPmu))
    return { msrs: INTEL_GUEST_MSRS, nrGp, globals: version >= 2, amd: false };
  if (!pmu.perfCtrCore)
    return {
      msrs: AMD_K7_MSRS,
      nrGp: Math.min(nrGp, AMD_LEGACY_COUNTERS),
      globals: false,
      amd: true,
    };
  return { msrs: AMD_CORE_MSRS, nrGp, globals: version >= 2, amd: true };
}

/** The legacy AMD counters (AMD64_NUM_COUNTERS). */
const AMD_LEGACY_COUNTERS = 4;

/** Guest-mode ground truth of a vCPU for an event, now (user and kernel in the guest). */
export function guestTruth(vcpu: KvmVcpu, ev: GuestEvent): number {
  const sys = vcpu.vm.kvm.sys;
  sys.sync();
  const q = quantityOf(sys.machine.desc.coreTypes[0]!.pmu, ev.encoding) ?? -1;
  const mask = (1 << Mode.GUEST_USER) | (1 << Mode.GUEST_KERNEL);
  let s = 0;
  for (const a of vcpu.task.truth.values()) s += a.count(q, mask);
  return s;
}

/** One counter of the guest's report. */
export interface GuestCounterResult {
  event: string;
  count: number;
  enabled_ns: number;
  running_ns: number;
  scaled: number | null;
  /** The vCPU's guest-mode ground truth for the event over the same window. */
  truth: number;
}

interface Slot {
  ev: GuestEvent;
  count: number;
  /** When its event select was written (or -1): the hardware counts it from then. */
  on: number;
}

/** An RDPMC the guest issued: counter `i`, read into `slot`. */
interface PendingRead {
  i: number;
  slot: Slot;
}

/**
 * perf stat inside the guest: the guest kernel's perf programs the virtual PMU through
 * MSRs the same way in every vPMU mode (event selects, counter resets, GLOBAL_CTRL), reads
 * the counters with RDPMC, and, with more events than counters, rotates them every guest
 * tick (4 ms) like the host's multiplexing. What exits and what it costs is up to the vPMU.
 */
export class GuestPerfStat {
  private readonly ops: GuestPmuOps;
  private readonly slots: Slot[];
  /** Which slot each GP counter holds. */
  private onCounter: number[] = [];
  private next = 0;
  private readonly timer: Timer;
  private startNs = 0;
  private stopNs = 0;
  private truthStart: number[] = [];
  private truthEnd: number[] = [];
  private readonly view: GuestPmuView;
  /** "<not supported>": the guest has no PMU (version 0: the first WRMSR took #GP). */
  noPmu = false;
  /** The guest perf core's enabled and running times of the events. */
  private readonly times: GuestEventTimes;
  /** Counter reads the guest issued that have not executed yet, in issue order. */
  private readonly unread = new Set<PendingRead>();

  constructor(
    readonly vcpu: KvmVcpu,
    events: GuestEvent[],
    readonly muxIntervalNs: number = 4_000_000,
  ) {
    checkGuestEvents("GuestPerfStat", events);
    checkMuxInterval("GuestPerfStat", muxIntervalNs);
    this.ops = new GuestPmuOps(vcpu);
    this.view = guestPmuView(vcpu);
    this.slots = events.map((ev) => ({ ev, count: 0, on: -1 }));
    this.times = new GuestEventTimes(events.length, (run, t) => this.ops.code(t, run));
    this.timer = new Timer(`guest perf ${vcpu.label}`, (now) => this.rotate(now));
  }

  private get nrGp(): number {
    return this.view.nrGp;
  }

  private get msrs(): GuestPmuMsrs {
    return this.view.msrs;
  }

  /** Programs the counters and starts counting. */
  start(now: Ns): void {
    checkGuestNow("GuestPerfStat.start", now, this.vcpu.vm.kvm.sys.now);
    this.startNs = now;
    this.truthStart = this.slots.map((s) => this.truth(s.ev));
    if ((this.vcpu.pmu?.version ?? 0) === 0) {
      this.noPmu = true;
      return;
    }
    const n = Math.min(this.nrGp, this.slots.length);
    this.onCounter = [];
    this.times.enable(
      Array.from({ length: n }, (_, k) => k),
      now,
    );
    for (let i = 0; i < n; i++) this.program(i, i, now);
    this.next = n < this.slots.length ? n : 0;
    this.setGlobal(true, now);
    if (this.slots.length > this.nrGp)
      this.vcpu.vm.kvm.sys.queue.arm(this.timer, (now + this.muxIntervalNs) as Ns);
  }

  private setGlobal(on: boolean, now: Ns): void {
    // Nothing to enable when no event could be opened.
    if (!this.view.globals || this.slots.length === 0) return;
    this.ops.wrmsr(this.msrs.globalCtrl, on ? BigInt(2 ** this.nrGp - 1) : 0n, now);
  }

  /** Puts slot `s` on GP counter `i`: counter reset, then the event select. */
  private program(i: number, s: number, now: Ns): void {
    this.onCounter[i] = s;
    const slot = this.slots[s]!;
    this.ops.wrmsr(this.msrs.ctr(i), 0, now);
    const sel = slot.ev.encoding | EVENTSEL.USR | EVENTSEL.OS | EVENTSEL.ENABLE;
    this.ops.wrmsr(this.msrs.evtsel(i), sel, now, () => {
      slot.on = this.vcpu.vm.kvm.sys.now;
    });
  }

  /** Reads counter `i` into its slot (RDPMC) and takes the slot off. */
  private collect(i: number, now: Ns): void {
    const s = this.onCounter[i];
    if (s === undefined) return;
    const read: PendingRead = { i, slot: this.slots[s]! };
    this.unread.add(read);
    this.ops.rdpmc(i, now, (v) => {
      // Already taken at the end of the run (finishReads()).
      if (this.unread.delete(read)) this.take(read.slot, v);
    });
  }

  /** A counter read completed with `v` (null: it faulted): the slot comes off the counter. */
  private take(slot: Slot, v: bigint | null): void {
    if (v !== null) slot.count += Number(v);
    slot.on = -1;
  }

  /**
   * The end of the run: the counter reads the guest issued and has not executed yet (an
   * RDPMC that exits waits for the next VM entry, which comes after the run; so do reads
   * queued while the vCPU is out) take the counters' values now, as KVM would return them
   * (kernel: kvm_pmu_rdpmc() -> pmc_read_counter(): the counter plus the backing perf
   * event's count up to now). A counter the stop already disabled would read the same later.
   * A read queued behind a reprogramming that has not run finds its event never went on the
   * counter, and counts nothing. The guest perf core's time steps still waiting take their
   * times now too.
   */
  finishReads(now: Ns): void {
    checkGuestNow("GuestPerfStat.finishReads", now, this.vcpu.vm.kvm.sys.now);
    const pmu = this.vcpu.pmu;
    for (const read of this.unread) {
      const { i, slot } = read;
      const r = pmu && slot.on >= 0 ? pmu.rdpmc(i, now) : null;
      this.take(slot, typeof r === "bigint" ? r : null);
    }
    this.unread.clear();
    this.times.flush(now);
  }

  /** The guest's multiplexing tick: the events on the counters give way to the next ones. */
  private rotate(now: Ns): void {
    // kernel: perf_rotate_context(): the outgoing events' times stop and the incoming ones'
    // start at one timestamp, before the PMU is touched.
    const active: number[] = [];
    for (let i = 0, k = this.next; i < this.onCounter.length; i++) {
      active.push(k);
      k = (k + 1) % this.slots.length;
    }
    this.times.rotate(active, now);
    this.setGlobal(false, now);
    for (let i = 0; i < this.onCounter.length; i++) {
      this.collect(i, now);
      this.program(i, this.next, now);
      this.next = (this.next + 1) % this.slots.length;
    }
    this.setGlobal(true, now);
    this.vcpu.vm.kvm.sys.queue.arm(this.timer, (now + this.muxIntervalNs) as Ns);
  }

  /** Stops: reads every counter. */
  stop(now: Ns): void {
    checkGuestNow("GuestPerfStat.stop", now, this.vcpu.vm.kvm.sys.now);
    this.stopNs = now;
    this.truthEnd = this.slots.map((s) => this.truth(s.ev));
    const q = this.vcpu.vm.kvm.sys.queue;
    if (this.timer.armed) q.cancel(this.timer);
    if (this.noPmu) return;
    this.times.disable(now);
    this.setGlobal(false, now);
    for (let i = 0; i < this.onCounter.length; i++) this.collect(i, now);
  }

  private truth(ev: GuestEvent): number {
    return guestTruth(this.vcpu, ev);
  }

  /**
   * The report (after stop): enabled and running times as the guest perf core accounted them
   * (GuestEventTimes), in guest time from the guest's enable to its stop. Without a vPMU no
   * event opened: running is 0 and enabled the window asked for.
   */
  result(): GuestCounterResult[] {
    const now = this.vcpu.vm.kvm.sys.now;
    const enabled = this.noPmu ? this.stopNs - this.startNs : this.times.enabledNs(now);
    return this.slots.map((s, k) => {
      const running = this.noPmu ? 0 : this.times.runningNs(k, now);
      const scaled = perfScaled(s.count, enabled, running);
      return {
        event: s.ev.name,
        count: s.count,
        enabled_ns: enabled,
        running_ns: running,
        scaled,
        truth: Math.round((this.truthEnd[k] ?? this.truth(s.ev)) - (this.truthStart[k] ?? 0)),
      };
    });
  }
}
