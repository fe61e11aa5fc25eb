import { ERRNO } from "../sim/errno.js";
import type { Ns } from "../sim/time.js";

/**
 * Simulated time for real processes (`vpmu exec`, the default clock). The model's clock
 * only moves when every process of the command waits: in a model sleep (nanosleep, poll
 * timeouts), blocked in wait4() and friends, or gone. Then the earliest sleeper is woken at
 * its time, one process at a time; sleepers due at the same time wake newest process first
 * (a child before the parent that polls for it), so a run is the same every time. A child's
 * exit interrupts its parent's sleep when SIGCHLD would (perf stat -I), and ends a wait4()
 * for it.
 */

type State = "running" | "sleeping" | "blocked" | "gone";

interface Proc {
  pid: number;
  ppid: number;
  /** Order of connection (the wake-up tie-break: the largest first). */
  seq: number;
  /** The live connection's id, or null between exec and the next HELLO, or before any. */
  conn: number | null;
  state: State;
  wakeAt: Ns;
  sigchld: boolean;
  reply: ((ret: number) => void) | null;
  /** The pid a wait is for (-1 or <= 0: any child). */
  waitFor: number;
  /** Seen blocked in the kernel (not on the model) by consecutive checks. */
  quiet: number;
}

/**
 * Consecutive checks (2 ms apart, so 50 ms) a process must be seen sleeping in the kernel,
 * with no request in between, before the clock moves without it: long enough that a
 * process busy with real work (page faults, file reads) is not mistaken for a blocked one.
 */
export const QUIET_CHECKS = 25;

export class SimTimeCoordinator {
  private readonly procs = new Map<number, Proc>();
  private seq = 0;
  /** Model advances made (wake-ups). */
  wakeups = 0;

  constructor(
    private readonly now: () => Ns,
    private readonly advance: (t: Ns) => void,
    private readonly onExit: (pid: number) => void,
  ) {}

  private proc(pid: number, ppid = 0): Proc {
    let p = this.procs.get(pid);
    if (!p || p.state === "gone") {
      p = {
        pid,
        ppid,
        seq: this.seq++,
        conn: null,
        state: "running",
        wakeAt: 0 as Ns,
        sigchld: false,
        reply: null,
        waitFor: -1,
        quiet: 0,
      };
      this.procs.set(pid, p);
    }
    return p;
  }

  /**
   * A process was created (the command itself, fork(), posix_spawn()): it runs until seen
   * waiting. With `ifNew`, a process already known (or gone) is left as it is.
   */
  spawned(pid: number, ppid: number, ifNew = false): void {
    if (ifNew && this.procs.has(pid)) return;
    this.proc(pid, ppid);
  }

  /** A process connected (HELLO) on connection `conn`. */
  connected(pid: number, ppid: number, conn: number): void {
    const p = this.proc(pid, ppid);
    p.ppid = ppid;
    p.conn = conn;
    p.seq = this.seq++;
    p.quiet = 0;
  }

  /** Any request from the process: it is running (unless the request puts it to sleep). */
  activity(pid: number): void {
    const p = this.procs.get(pid);
    if (p) p.quiet = 0;
  }

  /** SLEEP until `until`; `reply` answers it once. */
  sleep(pid: number, until: Ns, sigchld: boolean, reply: (ret: number) => void): void {
    const p = this.proc(pid);
    p.state = "sleeping";
    p.wakeAt = until;
    p.sigchld = sigchld;
    p.reply = reply;
    this.step();
  }

  /** CANCEL: a signal or a ready real fd ends the sleep now. */
  cancel(pid: number): void {
    const p = this.procs.get(pid);
    if (p?.state === "sleeping") this.wake(p, -ERRNO.EINTR);
  }

  /** Ends a sleep early with `ret` (a ring buffer woke a poll). */
  interrupt(pid: number, ret: number): void {
    const p = this.procs.get(pid);
    if (p?.state === "sleeping") this.wake(p, ret);
  }

  block(pid: number, waitFor: number): void {
    const p = this.proc(pid);
    if (p.state === "sleeping") return;
    p.state = "blocked";
    p.waitFor = waitFor;
    this.step();
  }

  unblock(pid: number): void {
    const p = this.procs.get(pid);
    if (p && p.state === "blocked") p.state = "running";
  }

  /** The connection `conn` of the process ended: exec, or exit (the caller checks which). */
  disconnected(pid: number, conn: number): void {
    const p = this.procs.get(pid);
    if (!p || p.conn !== conn) return;
    p.conn = null;
    if (p.state === "sleeping") p.reply = null;
    p.state = "running";
  }

  /** Processes with no connection, to be checked for their exit. */
  unconnected(): number[] {
    return [...this.procs.values()]
      .filter((p) => p.state !== "gone" && p.conn === null)
      .map((p) => p.pid);
  }

  /** Running processes that hold the clock now (for the kernel-blocked check). */
  holders(): number[] {
    return [...this.procs.values()].filter((p) => p.state === "running").map((p) => p.pid);
  }

  /** True when a sleeper waits for the clock while some process holds it. */
  stalled(): boolean {
    let sleeper = false;
    let running = false;
    for (const p of this.procs.values()) {
      if (p.state === "sleeping") sleeper = true;
      else if (p.state === "running" && p.quiet < QUIET_CHECKS) running = true;
    }
    return sleeper && running;
  }

  /** The result of one check of a running process: blocked in the kernel or not. */
  observed(pid: number, blockedInKernel: boolean): void {
    const p = this.procs.get(pid);
    if (p?.state !== "running") return;
    p.quiet = blockedInKernel ? p.quiet + 1 : 0;
    if (p.quiet >= QUIET_CHECKS) this.step();
  }

  /** The process exited (seen as a zombie or gone). */
  exited(pid: number): void {
    const p = this.procs.get(pid);
    if (!p || p.state === "gone") return;
    p.state = "gone";
    p.conn = null;
    p.reply = null;
    this.onExit(pid);
    const parent = this.procs.get(p.ppid);
    if (parent?.state === "sleeping" && parent.sigchld) this.wake(parent, -ERRNO.EINTR);
    else if (parent?.state === "blocked" && (parent.waitFor <= 0 || parent.waitFor === pid))
      parent.state = "running";
    this.step();
  }

  /** Live processes (for cleanup and tests). */
  alive(): number[] {
    return [...this.procs.values()].filter((p) => p.state !== "gone").map((p) => p.pid);
  }

  private wake(p: Proc, ret: number): void {
    const reply = p.reply;
    p.state = "running";
    p.reply = null;
    p.quiet = 0;
    reply?.(ret);
  }

  /** Moves the clock to the next sleeper when nobody holds it, and wakes that sleeper. */
  step(): void {
    let next: Proc | null = null;
    for (const p of this.procs.values()) {
      if (p.state === "running" && p.quiet < QUIET_CHECKS) return;
      if (p.state !== "sleeping") continue;
      if (!next || p.wakeAt < next.wakeAt || (p.wakeAt === next.wakeAt && p.seq > next.seq))
        next = p;
    }
    if (!next) return;
    if (next.wakeAt > this.now()) {
      this.advance(next.wakeAt);
      // The model stopped early: a ring buffer woke a poller, which runs first.
      if (this.now() < next.wakeAt) return;
    }
    this.wakeups++;
    this.wake(next, 0);
  }
}
