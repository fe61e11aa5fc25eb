import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MachineDesc } from "../src/hw/machine.js";
import { x86PmuDesc } from "../src/hw/pmu-desc.js";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { stateName } from "../src/perf/event.js";
import type { PerfCpuPmuContext } from "../src/perf/pmu-context.js";
import type { DutyCycle, Task } from "../src/sched/task.js";
import { msToNs, type Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

/*
 * Differential test of the host perf core's scheduling of hardware events on ONE CPU
 * against a deliberately simple reference model written here.
 *
 * The reference keeps plain arrays per list (CPU pinned, CPU flexible, and per task pinned
 * and flexible), each in group order, and one counter of free general-purpose counters.
 * Every event is a single-event group on any GP counter (raw 0xc4), so "can the group go on"
 * is just "is a counter free". Each operation schedules out and back in exactly the lists the
 * kernel touches (kernel/events/core.c):
 *
 * - a pass (merge_sched_in over pmu_groups_sched_in) walks a list in order, skips OFF and
 *   ERROR, and stops trying the hardware after the first group that does not go on; such a
 *   pinned group goes to ERROR, a flexible one sets the context's rotate_necessary and
 *   (re)starts the multiplexing hrtimer;
 * - install and IOC_ENABLE reschedule per ctx_resched():
 *     task pinned:    out task pinned+flexible, CPU flexible; in task pinned, CPU flexible,
 *                     task flexible
 *     task flexible:  out/in task flexible
 *     CPU pinned:     out task pinned+flexible, CPU pinned+flexible; in everything in order
 *     CPU flexible:   out task flexible, CPU flexible; in CPU flexible, task flexible
 *   a task event only reschedules while its task is on the CPU; a disabled event installed
 *   in a context that already has events is added without any reschedule
 *   (perf_install_in_context()); IOC_ENABLE on ERROR goes to INACTIVE, then reschedules;
 * - IOC_DISABLE and close free the counter and refill nothing;
 * - task switch out takes the whole task context off; switch in of a task with events first
 *   takes the CPU flexible groups off if the task has any pinned group, then runs task pinned,
 *   (CPU flexible), task flexible (perf_event_context_sched_in());
 * - the mux hrtimer (4 ms at HZ=250, hrtimer_forward_now() grid) runs perf_rotate_context():
 *   task flexible out, CPU flexible out, rotate CPU, CPU flexible in, rotate task, task
 *   flexible in; the group rotated is the first active one, else the first of the tree.
 *
 * Time: an event's enabled time grows while its context clock runs (always for the CPU
 * context, only while the task is on the CPU for a task context) and it is INACTIVE or
 * ACTIVE; running time grows while it is ACTIVE.
 *
 * The real scheduler decides when the two tasks switch; a hook records each switch (and a
 * wrapper each mux-timer expiry) in order, and the reference replays them. The reference
 * predicts the mux timer itself: every expiry must happen exactly when it says.
 */

const NR_GP = 3;
const HZ = 250;
const MUX_NS = 1_000_000 * Math.floor(1000 / HZ);
const PERF_TYPE_RAW = 4;
const BR_INST_RETIRED = 0xc4;
const READ_TIMES = 0x3; // PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING
const MAX_OPEN = 10;
/** Owner of a CPU-wide event (task events use the task index). */
const CPU_OWNER = -1;

function machine(): MachineDesc {
  const m = preset("x86-server")!;
  return {
    ...m,
    coreTypes: m.coreTypes.map((ct) => ({
      ...ct,
      pmu: x86PmuDesc({ name: "cpu", coreType: ct.name, nrGp: NR_GP }),
    })),
  };
}

// --- the reference model -------------------------------------------------------------------

type RState = "OFF" | "INACTIVE" | "ACTIVE" | "ERROR";

interface REvent {
  fd: number;
  /** CPU_OWNER or a task index. */
  owner: number;
  /** attr cpu: 0, or -1 for a task event on any CPU. */
  cpu: number;
  pinned: boolean;
  state: RState;
  enabled: number;
  running: number;
}

interface RCtx {
  pinned: REvent[];
  flexible: REvent[];
  /** epc->rotate_necessary. */
  rotate: boolean;
}

/** How often the runs hit each rule (checked at the end so the test cannot pass vacuously). */
const coverage = {
  pinnedError: 0,
  flexibleWaits: 0,
  rotations: 0,
  timerStops: 0,
  taskRotations: 0,
  switchInWithPinned: 0,
  enableFromError: 0,
  disabledNoResched: 0,
  taskResched: 0,
  cpuResched: 0,
};

const newCtx = (): RCtx => ({ pinned: [], flexible: [], rotate: false });
const ctxSize = (c: RCtx): number => c.pinned.length + c.flexible.length;

class Reference {
  now = 0;
  free = NR_GP;
  readonly cpuCtx = newCtx();
  readonly taskCtx: RCtx[];
  /** Index of the task on the CPU, or null when idle. */
  current: number | null = null;
  /** Task whose context is scheduled in (cpuctx->task_ctx), or null. */
  scheduled: number | null = null;
  timerActive = false;
  timerExpires = 0;
  readonly events = new Map<number, REvent>();

  constructor(nrTasks: number) {
    this.taskCtx = Array.from({ length: nrTasks }, newCtx);
  }

  private ctxOf(e: REvent): RCtx {
    return e.owner === CPU_OWNER ? this.cpuCtx : this.taskCtx[e.owner]!;
  }

  /** Charges time up to `t`. */
  advanceTo(t: number): void {
    const dt = t - this.now;
    if (dt < 0) throw new Error(`reference: time goes back (${this.now} -> ${t})`);
    for (const e of this.events.values()) {
      const clock = e.owner === CPU_OWNER || this.current === e.owner;
      if (e.state === "ACTIVE") {
        if (!clock) throw new Error(`reference: fd ${e.fd} ACTIVE with its clock stopped`);
        e.enabled += dt;
        e.running += dt;
      } else if (e.state === "INACTIVE" && clock) {
        e.enabled += dt;
      }
    }
    this.now = t;
  }

  private schedOut(list: REvent[]): void {
    for (const e of list) {
      if (e.state === "ACTIVE") {
        e.state = "INACTIVE";
        this.free++;
      }
    }
  }

  private outPinned(c: RCtx): void {
    this.schedOut(c.pinned);
  }

  private outFlexible(c: RCtx): void {
    this.schedOut(c.flexible);
    c.rotate = false;
  }

  /** One scheduling pass over a list. */
  private pass(c: RCtx, pinned: boolean): void {
    let canAddHw = true;
    for (const e of pinned ? c.pinned : c.flexible) {
      if (e.state === "OFF" || e.state === "ERROR") continue;
      if (e.state === "ACTIVE") throw new Error(`reference: pass over ACTIVE fd ${e.fd}`);
      if (canAddHw && this.free > 0) {
        e.state = "ACTIVE";
        this.free--;
        continue;
      }
      canAddHw = false;
      if (pinned) {
        e.state = "ERROR";
        coverage.pinnedError++;
      } else {
        coverage.flexibleWaits++;
        c.rotate = true;
        this.timerRestart();
      }
    }
  }

  /** perf_mux_hrtimer_restart() with hrtimer_forward_now(). */
  private timerRestart(): void {
    if (this.timerActive) return;
    this.timerActive = true;
    if (this.timerExpires <= this.now) {
      this.timerExpires += Math.ceil((this.now - this.timerExpires + 1) / MUX_NS) * MUX_NS;
    }
  }

  /** ctx_resched() for an event of (cpuEvent, pinned); `task` is the task context involved. */
  private resched(cpuEvent: boolean, pinned: boolean, task: number | null): void {
    const t = task === null ? null : this.taskCtx[task]!;
    const taskWasIn = task !== null && this.scheduled === task;
    if (cpuEvent) coverage.cpuResched++;
    else coverage.taskResched++;
    if (t && taskWasIn) {
      if (pinned) this.outPinned(t);
      this.outFlexible(t);
    }
    if (cpuEvent) {
      if (pinned) this.outPinned(this.cpuCtx);
      this.outFlexible(this.cpuCtx);
    } else if (pinned) {
      this.outFlexible(this.cpuCtx);
    }
    // perf_event_sched_in(): only what was taken off goes back (a task context that was not
    // in comes in whole).
    if (cpuEvent && pinned) this.pass(this.cpuCtx, true);
    if (t && (!taskWasIn || pinned)) this.pass(t, true);
    if (cpuEvent || pinned) this.pass(this.cpuCtx, false);
    if (t) this.pass(t, false);
    if (t) this.scheduled = task;
  }

  open(fd: number, owner: number, cpu: number, pinned: boolean, disabled: boolean): void {
    const e: REvent = {
      fd,
      owner,
      cpu,
      pinned,
      state: disabled ? "OFF" : "INACTIVE",
      enabled: 0,
      running: 0,
    };
    const c = this.ctxOf(e);
    const wasEmpty = ctxSize(c) === 0;
    (pinned ? c.pinned : c.flexible).push(e);
    this.events.set(fd, e);
    // perf_install_in_context(): a disabled event joins a non-empty context without an IPI.
    if (disabled && !wasEmpty) {
      coverage.disabledNoResched++;
      return;
    }
    if (owner === CPU_OWNER) this.resched(true, pinned, this.scheduled);
    else if (this.current === owner) this.resched(false, pinned, owner);
  }

  enable(fd: number): void {
    const e = this.events.get(fd)!;
    if (e.state === "INACTIVE" || e.state === "ACTIVE") return;
    if (e.state === "ERROR") coverage.enableFromError++;
    e.state = "INACTIVE"; // ERROR -> OFF -> INACTIVE; no time is charged for OFF or ERROR
    if (e.owner === CPU_OWNER) this.resched(true, e.pinned, this.scheduled);
    else if (this.scheduled === e.owner) this.resched(false, e.pinned, e.owner);
  }

  disable(fd: number): void {
    const e = this.events.get(fd)!;
    if (e.state === "ACTIVE") this.free++;
    if (e.state === "ACTIVE" || e.state === "INACTIVE") e.state = "OFF";
  }

  close(fd: number): void {
    const e = this.events.get(fd)!;
    if (e.state === "ACTIVE") this.free++;
    const c = this.ctxOf(e);
    const list = e.pinned ? c.pinned : c.flexible;
    list.splice(list.indexOf(e), 1);
    this.events.delete(fd);
    if (ctxSize(c) === 0) {
      c.rotate = false;
      if (e.owner !== CPU_OWNER && this.scheduled === e.owner) this.scheduled = null;
    }
  }

  switchOut(task: number): void {
    if (this.scheduled === task) {
      const t = this.taskCtx[task]!;
      this.outPinned(t);
      this.outFlexible(t);
      this.scheduled = null;
    }
    this.current = null;
  }

  switchIn(task: number): void {
    this.current = task;
    const t = this.taskCtx[task]!;
    if (ctxSize(t) === 0 || this.scheduled === task) return;
    const hasPinned = t.pinned.length > 0;
    if (hasPinned) {
      coverage.switchInWithPinned++;
      this.outFlexible(this.cpuCtx);
    }
    this.pass(t, true);
    if (hasPinned) this.pass(this.cpuCtx, false);
    this.pass(t, false);
    this.scheduled = task;
  }

  /** ctx_event_to_rotate(). */
  private toRotate(c: RCtx, isTask: boolean): REvent | null {
    c.rotate = false;
    const active = c.flexible.find((e) => e.state === "ACTIVE");
    if (active) return active;
    if (!isTask) return c.flexible[0] ?? null;
    return c.flexible.find((e) => e.cpu === -1) ?? c.flexible.find((e) => e.cpu === 0) ?? null;
  }

  /** The mux hrtimer fires: perf_mux_hrtimer_handler() → perf_rotate_context(). */
  muxTimer(): void {
    const task = this.scheduled === null ? null : this.taskCtx[this.scheduled]!;
    const cpuRotate = this.cpuCtx.rotate;
    const taskRotate = task?.rotate ?? false;
    if (!cpuRotate && !taskRotate) {
      coverage.timerStops++;
      this.timerActive = false;
      return;
    }
    coverage.rotations++;
    if (taskRotate) coverage.taskRotations++;
    const taskEvent = taskRotate ? this.toRotate(task!, true) : null;
    const cpuEvent = cpuRotate ? this.toRotate(this.cpuCtx, false) : null;
    const touchTask = task !== null && (taskEvent !== null || cpuEvent !== null);
    if (touchTask) this.outFlexible(task);
    if (cpuEvent) {
      this.outFlexible(this.cpuCtx);
      moveToTail(this.cpuCtx.flexible, cpuEvent);
      this.pass(this.cpuCtx, false);
    }
    if (taskEvent) moveToTail(task!.flexible, taskEvent);
    if (touchTask) this.pass(task, false);
    this.timerExpires = this.now + MUX_NS;
  }
}

function moveToTail(list: REvent[], e: REvent): void {
  list.splice(list.indexOf(e), 1);
  list.push(e);
}

// --- the harness around the real System ----------------------------------------------------

type Cmd =
  | { op: "open"; owner: number; pinned: boolean; disabled: boolean; anyCpu: boolean }
  | { op: "enable" | "disable" | "close"; pick: number }
  | { op: "advance"; dt: number };

interface Setup {
  duty: [DutyCycle | null, DutyCycle | null];
  /** A third task with no events shares the CPU. */
  noise: boolean;
}

interface Snapshot {
  states: Map<number, string>;
  scheduled: number | null;
  timerActive: boolean;
  timerWhen: number | null;
}

interface LogEntry {
  kind: "out" | "in" | "mux";
  t: number;
  task: Task | null;
  snap: Snapshot;
}

function describeCmd(c: Cmd): string {
  switch (c.op) {
    case "open": {
      const who = c.owner === CPU_OWNER ? "cpu" : `task${c.owner}${c.anyCpu ? "/cpu-1" : "/cpu0"}`;
      return `open ${who} ${c.pinned ? "pinned" : "flexible"}${c.disabled ? " disabled" : ""}`;
    }
    case "advance":
      return `advance ${c.dt}`;
    default:
      return `${c.op} #${c.pick}`;
  }
}

class Harness {
  readonly sys: System;
  readonly tasks: Task[] = [];
  readonly ref: Reference;
  private readonly cpc: PerfCpuPmuContext;
  private readonly log: LogEntry[] = [];
  readonly history: string[] = [];

  constructor(setup: Setup) {
    this.sys = new System({ machine: machine(), sched: { hz: HZ } });
    expect(this.sys.perf.events.size).toBe(0); // no NMI watchdog in a bare System
    const pmu = this.sys.perf.registry.byType(PERF_TYPE_RAW)!;
    this.cpc = this.sys.perf.cpc(pmu, 0);
    const timer = this.cpc.hrtimer as unknown as { fire: (now: Ns) => void };
    const fire = timer.fire;
    timer.fire = (now) => {
      fire(now);
      this.log.push({ kind: "mux", t: now, task: null, snap: this.snapshot() });
    };
    // Tasks are matched to their index at replay: the first switch happens inside spawn().
    this.sys.sched.hooks.push({
      schedOut: (cpu, prev, _next, now) => {
        if (cpu.id === 0) this.log.push({ kind: "out", t: now, task: prev, snap: this.snapshot() });
      },
      schedIn: (cpu, _prev, next, now) => {
        if (cpu.id === 0) this.log.push({ kind: "in", t: now, task: next, snap: this.snapshot() });
      },
    });
    const compute = BUILTIN_WORKLOADS.compute!;
    const nr = setup.noise ? 3 : 2;
    this.ref = new Reference(nr);
    for (let i = 0; i < nr; i++) {
      this.tasks.push(
        this.sys.spawn({
          comm: `t${i}`,
          workload: compute,
          affinity: [0],
          duty: i < 2 ? setup.duty[i as 0 | 1] : null,
        }),
      );
    }
    this.replay(this.sys.now);
  }

  private snapshot(): Snapshot {
    const states = new Map<number, string>();
    for (const [fd, e] of this.sys.perf.fds) states.set(fd, stateName(e.state));
    const tc = this.sys.perf.cpuctx[0]!.taskCtx;
    const scheduled = tc ? this.tasks.indexOf(tc.task!) : null;
    const h = this.cpc.hrtimer;
    return {
      states,
      scheduled,
      timerActive: this.cpc.hrtimerActive,
      timerWhen: h.armed ? h.when : null,
    };
  }

  private fail(where: string, what: string): never {
    throw new Error(
      `${what}\n  at ${where} (t=${this.sys.now})\n  history:\n    ${this.history.slice(-40).join("\n    ")}`,
    );
  }

  /** Compares a snapshot of the real model with the reference. */
  private compare(snap: Snapshot, where: string): void {
    const ref = this.ref;
    const diffs: string[] = [];
    for (const [fd, e] of ref.events) {
      const got = snap.states.get(fd);
      if (got !== e.state) diffs.push(`fd ${fd} (${label(e)}): expected ${e.state}, got ${got}`);
    }
    for (const fd of snap.states.keys())
      if (!ref.events.has(fd)) diffs.push(`fd ${fd}: open in the real model only`);
    if (snap.scheduled !== ref.scheduled)
      diffs.push(`cpuctx->task_ctx: expected task ${ref.scheduled}, got ${snap.scheduled}`);
    if (snap.timerActive !== ref.timerActive)
      diffs.push(`mux hrtimer active: expected ${ref.timerActive}, got ${snap.timerActive}`);
    else if (ref.timerActive && snap.timerWhen !== ref.timerExpires)
      diffs.push(`mux hrtimer expiry: expected ${ref.timerExpires}, got ${snap.timerWhen}`);
    if (diffs.length > 0) this.fail(where, diffs.join("\n  "));
  }

  /** Compares enabled/running times of every open event. */
  private compareTimes(where: string): void {
    const diffs: string[] = [];
    for (const [fd, e] of this.ref.events) {
      const ev = this.sys.perf.fds.get(fd)!;
      let enabled = ev.totalTimeEnabled;
      let running = ev.totalTimeRunning;
      if (e.state !== "ERROR") {
        const r = this.sys.read(fd);
        enabled = r.time_enabled!;
        running = r.time_running!;
      }
      if (enabled !== e.enabled || running !== e.running)
        diffs.push(
          `fd ${fd} (${label(e)}, ${e.state}): expected enabled/running ${e.enabled}/${e.running}, got ${enabled}/${running}`,
        );
    }
    if (diffs.length > 0) this.fail(where, diffs.join("\n  "));
  }

  /** Replays what the real system did (switches, mux expiries) into the reference. */
  private replay(until: number): void {
    const ref = this.ref;
    for (const entry of this.log) {
      const task = entry.task ? this.tasks.indexOf(entry.task) : -1;
      if (entry.kind !== "mux" && task < 0)
        throw new Error(`switch of an unknown task at ${entry.t}`);
      const where = `${entry.kind === "mux" ? "mux timer" : `switch ${entry.kind} task${task}`} at ${entry.t}`;
      if (ref.timerActive && ref.timerExpires < entry.t)
        this.fail(where, `mux hrtimer due at ${ref.timerExpires} did not fire`);
      ref.advanceTo(entry.t);
      if (entry.kind === "mux") {
        if (!ref.timerActive || ref.timerExpires !== entry.t)
          this.fail(
            where,
            `unexpected mux expiry (reference: ${ref.timerActive ? `due at ${ref.timerExpires}` : "inactive"})`,
          );
        this.history.push(`  [${entry.t}] mux timer`);
        ref.muxTimer();
      } else if (entry.kind === "out") {
        this.history.push(`  [${entry.t}] switch out task${task}`);
        ref.switchOut(task);
      } else {
        this.history.push(`  [${entry.t}] switch in task${task}`);
        ref.switchIn(task);
      }
      this.compare(entry.snap, where);
    }
    this.log.length = 0;
    if (ref.timerActive && ref.timerExpires <= until)
      this.fail(`run to ${until}`, `mux hrtimer due at ${ref.timerExpires} did not fire`);
    ref.advanceTo(until);
    const cur = this.sys.sched.current(0);
    const curIdx = cur ? this.tasks.indexOf(cur) : null;
    if (curIdx !== ref.current)
      this.fail(`run to ${until}`, `current task ${curIdx}, reference ${ref.current}`);
  }

  private pickFd(pick: number): number | undefined {
    const fds = [...this.ref.events.keys()].sort((a, b) => a - b);
    return fds.length === 0 ? undefined : fds[pick % fds.length];
  }

  exec(cmd: Cmd): void {
    const sys = this.sys;
    const ref = this.ref;
    let text = describeCmd(cmd);
    switch (cmd.op) {
      case "advance": {
        const until = sys.now + cmd.dt;
        this.history.push(`[${sys.now}] ${text}`);
        sys.run(until as Ns);
        this.replay(until);
        break;
      }
      case "open": {
        if (ref.events.size >= MAX_OPEN) return;
        const task = cmd.owner === CPU_OWNER ? null : this.tasks[cmd.owner]!;
        const cpu = task && cmd.anyCpu ? -1 : 0;
        const fd = sys.perfEventOpen(
          {
            type: PERF_TYPE_RAW,
            config: BR_INST_RETIRED,
            pinned: cmd.pinned,
            disabled: cmd.disabled,
            read_format: READ_TIMES,
          },
          task ? task.pid : -1,
          cpu,
        );
        text += ` -> fd ${fd}`;
        this.history.push(`[${sys.now}] ${text}`);
        ref.open(fd, cmd.owner, cpu, cmd.pinned, cmd.disabled);
        break;
      }
      default: {
        const fd = this.pickFd(cmd.pick);
        if (fd === undefined) return;
        text = `${cmd.op} fd ${fd} (${label(ref.events.get(fd)!)}, ${ref.events.get(fd)!.state})`;
        this.history.push(`[${sys.now}] ${text}`);
        if (cmd.op === "close") {
          sys.close(fd);
          ref.close(fd);
        } else {
          sys.ioctl(fd, cmd.op === "enable" ? "ENABLE" : "DISABLE", 0);
          if (cmd.op === "enable") ref.enable(fd);
          else ref.disable(fd);
        }
      }
    }
    this.compare(this.snapshot(), `after "${text}"`);
    this.compareTimes(`after "${text}"`);
  }
}

function label(e: REvent): string {
  const who = e.owner === CPU_OWNER ? "cpu" : `task${e.owner}`;
  return `${who} ${e.pinned ? "pinned" : "flexible"}`;
}

// --- generators ----------------------------------------------------------------------------

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("open" as const),
      owner: fc.constantFrom(CPU_OWNER, 0, 1),
      pinned: fc.boolean(),
      disabled: fc.oneof(
        { weight: 3, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
      anyCpu: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("enable" as const), pick: fc.nat(31) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("disable" as const), pick: fc.nat(31) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("close" as const), pick: fc.nat(31) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("advance" as const),
      dt: fc.oneof(
        fc.integer({ min: 0, max: 12_000_000 }),
        fc.integer({ min: 0, max: 12 }).map((ms) => ms * 1_000_000),
      ),
    }),
  },
);

const dutyArb: fc.Arbitrary<DutyCycle | null> = fc.option(
  fc.record({
    run: fc.integer({ min: 1, max: 8 }).map((ms) => msToNs(ms)),
    sleep: fc.integer({ min: 1, max: 8 }).map((ms) => msToNs(ms)),
  }),
  { nil: null },
);

const setupArb: fc.Arbitrary<Setup> = fc.record({
  duty: fc.tuple(dutyArb, dutyArb),
  noise: fc.boolean(),
});

describe("perf core vs a simple reference model (one CPU, single-event groups)", () => {
  it("agrees on every event state, the mux timer and enabled/running times", () => {
    fc.assert(
      fc.property(
        setupArb,
        fc.array(cmdArb, { minLength: 1, maxLength: 150, size: "max" }),
        (setup, cmds) => {
          const h = new Harness(setup);
          for (const c of cmds) h.exec(c);
          // A last long run lets rotation and the task switches play out.
          h.exec({ op: "advance", dt: 40_000_000 });
        },
      ),
      { seed: 20251121, numRuns: 200 },
    );
    if (process.env.VPMU_DIFF_STATS) console.log(JSON.stringify(coverage));
    for (const [rule, n] of Object.entries(coverage)) {
      expect(n, `rule "${rule}" never exercised`).toBeGreaterThan(0);
    }
  });
});
