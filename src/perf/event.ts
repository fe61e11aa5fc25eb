import type { HwCounter } from "../hw/counter.js";
import type { Task } from "../sched/task.js";
import type { Ns } from "../sim/time.js";
import type { PerfEventContext } from "./context.js";
import type { Pmu } from "./pmu.js";
import type { PerfEventPmuContext } from "./pmu-context.js";
import type { KernelAttr } from "./uapi.js";

/** enum perf_event_state (include/linux/perf_event.h). */
export const PERF_EVENT_STATE = {
  DEAD: -5,
  REVOKED: -4,
  EXIT: -3,
  ERROR: -2,
  OFF: -1,
  INACTIVE: 0,
  ACTIVE: 1,
} as const;

/** An event state value. */
export type PerfEventState = (typeof PERF_EVENT_STATE)[keyof typeof PERF_EVENT_STATE];

/** State names as reports and expectations spell them. */
export function stateName(s: number): string {
  switch (s) {
    case -5:
      return "DEAD";
    case -4:
      return "REVOKED";
    case -3:
      return "EXIT";
    case -2:
      return "ERROR";
    case -1:
      return "OFF";
    case 0:
      return "INACTIVE";
    case 1:
      return "ACTIVE";
    default:
      return String(s);
  }
}

/** event_caps / group_caps bits. */
export const PERF_EV_CAP_SOFTWARE = 1 << 0;

/** attach_state bits. */
export const PERF_ATTACH_CONTEXT = 0x01;
export const PERF_ATTACH_GROUP = 0x02;
export const PERF_ATTACH_TASK = 0x04;
export const PERF_ATTACH_EXCLUSIVE = 0x10;

/** One recorded sample (what perf script would print). */
export interface PerfSample {
  t: Ns;
  cpu: number;
  pid: number;
  period: number;
}

/** Per-event hardware state (struct hw_perf_event). */
export interface HwPerfEvent {
  /** The counter the event occupies while ACTIVE. */
  counter: HwCounter | null;
  /** Encoding programmed (x86 event|umask<<8, arm64 event number). */
  config: number;
  /** What the encoding counts (-1: nothing). */
  quantity: number;
  /** Modes it counts in (from the exclude bits). */
  modeMask: number;
  /** Driver bookkeeping: counter's lifetime total at the last update. */
  prevCount: number;
  /** Sampling period in use and what is left of it. */
  samplePeriod: number;
  periodLeft: number;
  lastPeriod: number;
  /** Frequency mode: time of the last period adjustment. */
  freqStamp: Ns;
  /** Software events: time the event was started. */
  swStart: number;
  interrupts: number;
  /** The core PMU driver's overflow callback for this event, made at its first add. */
  pmi: ((c: HwCounter, now: Ns) => void) | null;
}

/** PerfEvent.hot: attr.exclude_guest, attr.freq with a sample_freq, attr.exclusive, attr.pinned. */
export const EVENT_HOT_EXCLUDE_GUEST = 1;
export const EVENT_HOT_FREQ = 2;
export const EVENT_HOT_EXCLUSIVE = 4;
export const EVENT_HOT_PINNED = 8;

/** A perf event (struct perf_event). */
export class PerfEvent {
  state: number = PERF_EVENT_STATE.INACTIVE;
  pmu!: Pmu;
  ctx: PerfEventContext | null = null;
  pmuCtx: PerfEventPmuContext | null = null;
  groupLeader: PerfEvent = this;
  siblings: PerfEvent[] = [];
  eventCaps = 0;
  groupCaps = 0;
  attachState = 0;
  /** Key in the group tree (assigned on insertion). */
  groupIndex = 0;
  /** CPU the event is ACTIVE on, or -1. */
  oncpu = -1;
  /** The count (fractional internally; reads truncate). */
  count = 0;
  totalTimeEnabled = 0;
  totalTimeRunning = 0;
  tstamp = 0;
  /** Remaining overflows before auto-disable (PERF_EVENT_IOC_REFRESH). */
  eventLimit = 0;
  pendingDisable = false;
  readonly hw: HwPerfEvent = {
    counter: null,
    config: 0,
    quantity: -1,
    modeMask: 0,
    prevCount: 0,
    samplePeriod: 0,
    periodLeft: 0,
    lastPeriod: 0,
    freqStamp: 0 as Ns,
    swStart: 0,
    interrupts: 0,
    pmi: null,
  };
  /** Samples recorded (bounded by the core's sample limit). */
  readonly samples: PerfSample[] = [];
  nrSamples = 0;
  /** Kernel counters: called on each overflow (KVM, the watchdog). */
  overflowHandler: ((e: PerfEvent, now: Ns) => void) | null = null;
  /** Who created it: a user fd, or a kernel subsystem. */
  owner: "user" | "kernel" = "user";
  /** Readable name for traces and reports ("cycles", "kvm:pmc0", "watchdog"). */
  name = "";
  /** Anything the creator wants to attach (KVM: its pmc). */
  ownerData: unknown = null;
  /** Counted in nr_include_guest_events (mediated vPMU accounting). */
  mediatedAccounted = false;

  /**
   * attr bits the scheduling paths read on every transition (EVENT_HOT_*), copied here so
   * they do not touch the attr object; they cannot change after creation.
   */
  readonly hot: number;

  constructor(
    readonly id: number,
    readonly attr: KernelAttr,
    /** Requested CPU (-1: any). */
    public cpu: number,
    readonly task: Task | null,
  ) {
    this.hot =
      (attr.exclude_guest ? EVENT_HOT_EXCLUDE_GUEST : 0) |
      (attr.freq && attr.sample_freq ? EVENT_HOT_FREQ : 0) |
      (attr.exclusive ? EVENT_HOT_EXCLUSIVE : 0) |
      (attr.pinned ? EVENT_HOT_PINNED : 0);
  }

  /** True if this event is its group's leader. */
  get isLeader(): boolean {
    return this.groupLeader === this;
  }
}

/** kernel: __perf_effective_state(): a disabled or ERROR leader imposes its state on siblings. */
export function effectiveState(e: PerfEvent): number {
  const leader = e.groupLeader;
  return leader.state <= PERF_EVENT_STATE.OFF ? leader.state : e.state;
}

/** kernel: is_software_event(). */
export function isSoftwareEvent(e: PerfEvent): boolean {
  return e.pmu.taskCtxNr === "sw";
}

/** Undoes what allocation took (kernel: _free_event() → exclusive_event_destroy()). */
export function freeEvent(e: PerfEvent): void {
  if (e.attachState & PERF_ATTACH_EXCLUSIVE) {
    e.attachState &= ~PERF_ATTACH_EXCLUSIVE;
    if (e.task) e.pmu.exclusiveCnt--;
    else e.pmu.exclusiveCnt++;
  }
}
