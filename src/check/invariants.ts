import type { Machine } from "../hw/machine.js";
import type { PerfCore } from "../perf/core.js";
import { PERF_EVENT_STATE, PerfEvent, stateName } from "../perf/event.js";
import { PERF_PMU_CAP } from "../perf/pmu.js";
import type { Clock } from "../sim/clock.js";
import type { Ns } from "../sim/time.js";

/**
 * What the checker watches: the perf core, the clock, the CPUs, and the hooks run after
 * each step. A System (src/system.ts, the layer above) is one.
 */
export interface CheckedHost {
  readonly perf: PerfCore;
  readonly clock: Clock;
  readonly machine: Machine;
  readonly now: Ns;
  readonly afterStep: Array<() => void>;
}

/** A violated invariant: when, where, which rule, and the state before and after. */
export interface Finding {
  t: Ns;
  cpu: number;
  /** The event or counter concerned ("cycles#12", "cpu3/ctr33"). */
  subject: string;
  rule: InvariantRule;
  before: string;
  after: string;
  message: string;
}

/** The rules the checker knows. */
export type InvariantRule =
  | "counter-owner"
  | "guest-owned-pmu"
  | "running-le-enabled"
  | "time-monotonic"
  | "legal-transition"
  | "sibling-without-leader"
  | "guest-counter-backwards"
  | "exclude-guest-in-guest";

/** All rule names (for scenario validation of expected findings). */
export const INVARIANT_RULES: readonly InvariantRule[] = [
  "counter-owner",
  "guest-owned-pmu",
  "running-le-enabled",
  "time-monotonic",
  "legal-transition",
  "sibling-without-leader",
  "guest-counter-backwards",
  "exclude-guest-in-guest",
];

const S = PERF_EVENT_STATE;

/**
 * Transitions the kernel allows (the state diagram in include/linux/perf_event.h):
 * sched_in INACTIVE → ACTIVE | ERROR, sched_out ACTIVE → INACTIVE, disable ACTIVE |
 * INACTIVE → OFF (ACTIVE → OFF also through a pending disable), enable OFF → INACTIVE and
 * ERROR → OFF, and the defunct states EXIT and DEAD from any live state.
 */
function legal(from: number, to: number): boolean {
  if (to === S.DEAD) return true;
  if (to === S.EXIT) return from >= S.ERROR;
  if (to === S.REVOKED) return from !== S.DEAD;
  switch (from) {
    case S.INACTIVE:
      return to === S.ACTIVE || to === S.ERROR || to === S.OFF;
    case S.ACTIVE:
      return to === S.INACTIVE || to === S.OFF;
    case S.OFF:
      return to === S.INACTIVE;
    case S.ERROR:
      return to === S.OFF;
    default:
      return false;
  }
}

function label(e: PerfEvent): string {
  return `${e.name || "event"}#${e.id}`;
}

/**
 * The invariant checker. Per-transition rules run at every event state change; structural
 * rules (one owner per counter, no ACTIVE sibling under a non-ACTIVE leader) run once the
 * operation that caused the change is complete, since the kernel itself passes through
 * such states inside group_sched_out(). Violations become findings; in "throw" mode (the
 * test suite's default) the first one stops the run.
 */
export class InvariantChecker {
  readonly findings: Finding[] = [];
  private dirty = false;
  private readonly reported = new Set<PerfEvent>();
  /**
   * The events not yet DEAD, which the structural rules walk: the perf core keeps released
   * events for reports, and walking them all after every step grows with every VM a run
   * ever made. New events are taken in by id (PerfCore.nextEventId), released ones leave
   * at their DEAD transition.
   */
  private readonly live = new Set<PerfEvent>();
  private nextId = 1;

  constructor(
    private readonly sys: CheckedHost,
    readonly mode: "record" | "throw" = "record",
  ) {
    sys.perf.stateListeners.push((e, from, to, now) => this.onState(e, from, to, now));
    // Through a local, as in kvm/vm.ts vcpuPmuHooks(): no function literal assigned straight
    // to a property (V8 allocates it in old space and it keeps the system alive).
    const onBackwards = (from: Ns, to: Ns) =>
      this.report({
        t: from,
        cpu: -1,
        subject: "clock",
        rule: "time-monotonic",
        before: `${from}ns`,
        after: `${to}ns`,
        message: "simulated time went backwards",
      });
    sys.clock.onBackwards = onBackwards;
    sys.afterStep.push(() => this.structural());
    sys.perf.guestListeners.push((cpu, what, now) => {
      if (what === "enter") this.afterGuestEnter(cpu, now);
    });
  }

  /**
   * The RFC's contract at guest entry: every event of a passthrough-capable PMU that counts
   * the guest (exclude_guest = 0) in this CPU's contexts is out of the way, in ERROR or OFF.
   */
  private afterGuestEnter(cpu: number, now: Ns): void {
    const cpuctx = this.sys.perf.cpuctx[cpu]!;
    for (const ctx of cpuctx.taskCtx ? [cpuctx.ctx, cpuctx.taskCtx] : [cpuctx.ctx]) {
      for (const e of ctx.eventList) {
        if (!(e.pmu.capabilities & PERF_PMU_CAP.VPMU_PASSTHROUGH) || e.attr.exclude_guest) continue;
        if (e.state < S.INACTIVE) continue;
        // One finding per event: the same event is found again at every later entry.
        if (this.reported.has(e)) continue;
        this.reported.add(e);
        const leader = e.isLeader
          ? ""
          : ` (its leader ${label(e.groupLeader)} is ${stateName(e.groupLeader.state)})`;
        this.report({
          t: now,
          cpu,
          subject: label(e),
          rule: "exclude-guest-in-guest",
          before: stateName(e.state),
          after: stateName(e.state),
          message: `an exclude_guest=0 event of ${e.pmu.name} is still ${stateName(e.state)} after perf_guest_enter()${leader}`,
        });
      }
    }
  }

  /** Records (or throws) a finding. */
  report(f: Finding): void {
    this.findings.push(f);
    if (this.mode === "throw") {
      throw new Error(
        `invariant ${f.rule} violated at ${f.t}ns on CPU ${f.cpu} (${f.subject}: ${f.before} -> ${f.after}): ${f.message}`,
      );
    }
  }

  private onState(e: PerfEvent, from: number, to: number, now: Ns): void {
    this.dirty = true;
    if (to === S.DEAD) this.live.delete(e);
    const cpu = e.oncpu >= 0 ? e.oncpu : e.cpu;
    const base = { t: now, cpu, subject: label(e), before: stateName(from), after: stateName(to) };
    if (!legal(from, to)) {
      this.report({
        ...base,
        rule: "legal-transition",
        message: `${stateName(from)} -> ${stateName(to)} is not a transition the kernel makes`,
      });
    }
    if (e.totalTimeRunning > e.totalTimeEnabled + 1e-6) {
      this.report({
        ...base,
        rule: "running-le-enabled",
        message: `running ${e.totalTimeRunning}ns > enabled ${e.totalTimeEnabled}ns`,
      });
    }
    if (
      to === S.ACTIVE &&
      e.pmu.taskCtxNr === "hw" &&
      this.sys.perf.pmuOwnedByGuest(e.pmu, e.oncpu, 0)
    ) {
      this.report({
        ...base,
        rule: "guest-owned-pmu",
        message: `${e.pmu.name} is owned by a guest on CPU ${e.oncpu}`,
      });
    }
  }

  /** A guest read a counter: it may not be below the previous read unless the guest wrote it or it wrapped. */
  guestCounterRead(
    vcpu: string,
    idx: number,
    cpu: number,
    prev: number,
    value: number,
    now: Ns,
  ): void {
    if (value >= prev) return;
    this.report({
      t: now,
      cpu,
      subject: `${vcpu}/pmc${idx}`,
      rule: "guest-counter-backwards",
      before: String(prev),
      after: String(value),
      message: "a guest counter went backwards with no guest write and no wrap",
    });
  }

  /** The live set, with the events created since the last look. */
  private liveEvents(): Set<PerfEvent> {
    const perf = this.sys.perf;
    for (; this.nextId < perf.nextEventId; this.nextId++) {
      const e = perf.events.get(this.nextId);
      if (e && e.state !== S.DEAD) this.live.add(e);
    }
    return this.live;
  }

  /** Rules over whole structures, checked when an operation is complete. */
  structural(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const now = this.sys.now;
    for (const cpu of this.sys.machine.cpus) {
      for (const c of cpu.pmu.all) {
        const owner = c.owner as PerfEvent | null;
        if (owner instanceof PerfEvent && (owner.state !== S.ACTIVE || owner.hw.counter !== c)) {
          const why =
            owner.state !== S.ACTIVE
              ? "an event that is not ACTIVE"
              : "an event placed on another counter";
          this.report({
            t: now,
            cpu: cpu.id,
            subject: `cpu${cpu.id}/ctr${c.idx}`,
            rule: "counter-owner",
            before: label(owner),
            after: stateName(owner.state),
            message: `the counter is held by ${why}`,
          });
        }
      }
    }
    const seen = new Map<unknown, PerfEvent>();
    for (const e of this.liveEvents()) {
      if (e.state === S.ACTIVE && e.hw.counter) {
        const other = seen.get(e.hw.counter);
        if (other) {
          this.report({
            t: now,
            cpu: e.oncpu,
            subject: label(e),
            rule: "counter-owner",
            before: label(other),
            after: label(e),
            message: "two ACTIVE events on one hardware counter",
          });
        }
        seen.set(e.hw.counter, e);
      }
      if (!e.isLeader && e.state === S.ACTIVE && e.groupLeader.state !== S.ACTIVE) {
        this.report({
          t: now,
          cpu: e.oncpu,
          subject: label(e),
          rule: "sibling-without-leader",
          before: stateName(e.groupLeader.state),
          after: "ACTIVE",
          message: `sibling ACTIVE while its leader ${label(e.groupLeader)} is ${stateName(e.groupLeader.state)}`,
        });
      }
      if (e.totalTimeRunning > e.totalTimeEnabled + 1e-6) {
        this.report({
          t: now,
          cpu: e.oncpu,
          subject: label(e),
          rule: "running-le-enabled",
          before: `${e.totalTimeEnabled}`,
          after: `${e.totalTimeRunning}`,
          message: "running time exceeds enabled time",
        });
      }
    }
  }
}
