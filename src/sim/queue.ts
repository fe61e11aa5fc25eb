import type { Ns } from "./time.js";

/** Timer.scope: the callback may look at anything. */
export const TIMER_SCOPE_ANY = -1;
/** Timer.scope: the callback completes or ignores deferred work on its own. */
export const TIMER_SCOPE_SELF = -2;

/**
 * A re-armable timer, the simulator's hrtimer. Timers are created once by their owner (a
 * CPU tick, a multiplexing timer, a counter-overflow prediction) and armed and cancelled
 * many times, so the queue allocates nothing per event.
 */
export class Timer {
  /** Expiry time while armed. */
  when: Ns = 0 as Ns;
  /** True while the timer is queued. */
  armed = false;
  /** Insertion order of the current arming: breaks ties between equal times. */
  seq = 0;
  /** While armed: the queue it is in, and its number there. */
  queue: EventQueue | null = null;
  qid = -1;
  /**
   * Which CPU's state the callback may look at, so the run loop knows what deferred work to
   * complete before it fires: a CPU index, TIMER_SCOPE_ANY (the default), or
   * TIMER_SCOPE_SELF for a callback that keeps its own state consistent (a vCPU's entry
   * and exit).
   */
  scope = TIMER_SCOPE_ANY;

  /**
   * @param name Label for traces and debugging.
   * @param fire Called with the expiry time when the timer fires.
   */
  constructor(
    readonly name: string,
    readonly fire: (now: Ns) => void,
  ) {}
}

/**
 * Pending timers ordered by (time, insertion order): an indexed binary heap, so a timer can
 * be re-armed or cancelled in O(log n) without leaving stale entries behind. The heap holds
 * timer numbers with their keys in typed arrays, and each number's heap position in
 * another, so moving an entry touches neither the timer objects nor an object array.
 */
export class EventQueue {
  /** Armed timers by number (a timer has a number while it is armed). */
  private timers: Array<Timer | null> = [];
  /** Numbers free for the next arming. */
  private freeIds: number[] = [];
  private times = new Float64Array(64);
  private seqs = new Float64Array(64);
  /** Timer number of each heap entry. */
  private ids = new Int32Array(64);
  /** Heap position of each timer number (valid while that timer is armed). */
  private pos = new Int32Array(64);
  private size = 0;
  private nextSeq = 0;
  /**
   * pop() leaves the root empty (a hole, still counted in `size`) instead of refilling it
   * at once: a timer callback usually arms another timer, which then takes the root with
   * one sift-down instead of a sift-down for the refill plus a sift-up for the new entry.
   * Any other operation refills it first. The order of timers is the same either way.
   */
  private hole = false;

  /** Number of armed timers. */
  get length(): number {
    return this.hole ? this.size - 1 : this.size;
  }

  /** Earliest expiry, or Infinity when nothing is armed. */
  peekTime(): number {
    if (this.hole) this.fillHole();
    return this.size > 0 ? this.times[0]! : Number.POSITIVE_INFINITY;
  }

  /** Refills the root left by pop() with the last entry. */
  private fillHole(): void {
    this.hole = false;
    const last = --this.size;
    if (last === 0) return;
    this.siftDown(0, this.times[last]!, this.seqs[last]!, this.ids[last]!);
  }

  /** Arms `timer` to fire at `when`, moving it if it was already armed. */
  arm(timer: Timer, when: Ns): void {
    if (timer.armed && timer.queue !== this) timer.queue!.cancel(timer);
    timer.when = when;
    const seq = this.nextSeq++;
    timer.seq = seq;
    let id: number;
    let i: number;
    if (!timer.armed) {
      id = this.take(timer);
      if (this.hole) {
        // The new entry takes the root pop() left.
        this.hole = false;
        this.siftDown(0, when, seq, id);
        return;
      }
      if (this.size === this.times.length) this.grow();
      i = this.size++;
    } else {
      if (this.hole) this.fillHole();
      id = timer.qid;
      i = this.pos[id]!;
    }
    this.siftUp(i, when, seq, id);
    if (this.pos[id] === i) this.siftDown(i, when, seq, id);
  }

  /** Arms a timer that was not: gives it a number. */
  private take(timer: Timer): number {
    let id = this.freeIds.pop();
    if (id === undefined) {
      id = this.timers.length;
      this.timers.push(null);
      if (id === this.pos.length) {
        const p = new Int32Array(this.pos.length * 2);
        p.set(this.pos);
        this.pos = p;
      }
    }
    this.timers[id] = timer;
    timer.queue = this;
    timer.qid = id;
    timer.armed = true;
    return id;
  }

  /** Disarms a timer: its number is free again. */
  private release(timer: Timer): void {
    timer.armed = false;
    this.timers[timer.qid] = null;
    this.freeIds.push(timer.qid);
  }

  /** Disarms `timer` if it is armed. */
  cancel(timer: Timer): void {
    if (!timer.armed || timer.queue !== this) return;
    if (this.hole) this.fillHole();
    const i = this.pos[timer.qid]!;
    this.release(timer);
    this.removeAt(i);
  }

  /** Removes and returns the earliest timer, or undefined when empty. */
  pop(): Timer | undefined {
    if (this.hole) this.fillHole();
    if (this.size === 0) return undefined;
    const top = this.timers[this.ids[0]!]!;
    this.release(top);
    this.hole = true;
    return top;
  }

  /** Takes the entry at `i` out; the last entry fills its place. */
  private removeAt(i: number): void {
    const last = --this.size;
    if (i === last) return;
    const t = this.times[last]!;
    const s = this.seqs[last]!;
    const id = this.ids[last]!;
    if (i > 0) {
      this.siftUp(i, t, s, id);
      if (this.pos[id] !== i) return;
    }
    this.siftDown(i, t, s, id);
  }

  private grow(): void {
    const n = this.times.length * 2;
    const t = new Float64Array(n);
    t.set(this.times);
    this.times = t;
    const s = new Float64Array(n);
    s.set(this.seqs);
    this.seqs = s;
    const d = new Int32Array(n);
    d.set(this.ids);
    this.ids = d;
  }

  /** Places entry (t, s, id) at hole `i` or above it (hole-based: one write per level). */
  private siftUp(i: number, t: number, s: number, id: number): void {
    const times = this.times;
    const seqs = this.seqs;
    const ids = this.ids;
    const pos = this.pos;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const tp = times[p]!;
      if (tp < t || (tp === t && seqs[p]! < s)) break;
      times[i] = tp;
      seqs[i] = seqs[p]!;
      const pid = ids[p]!;
      ids[i] = pid;
      pos[pid] = i;
      i = p;
    }
    times[i] = t;
    seqs[i] = s;
    ids[i] = id;
    pos[id] = i;
  }

  /** Places entry (t, s, id) at hole `i` or below it. */
  private siftDown(i: number, t: number, s: number, id: number): void {
    const times = this.times;
    const seqs = this.seqs;
    const ids = this.ids;
    const pos = this.pos;
    const n = this.size;
    for (;;) {
      let m = 2 * i + 1;
      if (m >= n) break;
      const r = m + 1;
      let tm = times[m]!;
      if (r < n) {
        const tr = times[r]!;
        if (tr < tm || (tr === tm && seqs[r]! < seqs[m]!)) {
          m = r;
          tm = tr;
        }
      }
      if (t < tm || (t === tm && s < seqs[m]!)) break;
      times[i] = tm;
      seqs[i] = seqs[m]!;
      const mid = ids[m]!;
      ids[i] = mid;
      pos[mid] = i;
      i = m;
    }
    times[i] = t;
    seqs[i] = s;
    ids[i] = id;
    pos[id] = i;
  }
}
