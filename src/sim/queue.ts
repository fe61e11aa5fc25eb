import type { Ns } from "./time.js";

/**
 * A re-armable timer, the simulator's hrtimer. Timers are created once by their owner (a
 * CPU tick, a multiplexing timer, a counter-overflow prediction) and armed and cancelled
 * many times, so the queue allocates nothing per event.
 */
export class Timer {
  /** Expiry time while armed. */
  when: Ns = 0 as Ns;
  /** Position in the heap, or -1 when not armed. */
  heapIndex = -1;
  /** Insertion order of the current arming: breaks ties between equal times. */
  seq = 0;

  /**
   * @param name Label for traces and debugging.
   * @param fire Called with the expiry time when the timer fires.
   */
  constructor(
    readonly name: string,
    readonly fire: (now: Ns) => void,
  ) {}

  /** True while the timer is queued. */
  get armed(): boolean {
    return this.heapIndex >= 0;
  }
}

/**
 * Pending timers ordered by (time, insertion order): an indexed binary heap, so a timer can
 * be re-armed or cancelled in O(log n) without leaving stale entries behind. The keys live
 * in typed arrays next to the timer table to keep comparisons cache-friendly.
 */
export class EventQueue {
  private items: Timer[] = [];
  private times = new Float64Array(64);
  private seqs = new Float64Array(64);
  private size = 0;
  private nextSeq = 0;

  /** Number of armed timers. */
  get length(): number {
    return this.size;
  }

  /** Earliest expiry, or Infinity when nothing is armed. */
  peekTime(): number {
    return this.size > 0 ? this.times[0]! : Number.POSITIVE_INFINITY;
  }

  /** Arms `timer` to fire at `when`, moving it if it was already armed. */
  arm(timer: Timer, when: Ns): void {
    timer.when = when;
    timer.seq = this.nextSeq++;
    let i = timer.heapIndex;
    if (i < 0) {
      if (this.size === this.times.length) this.grow();
      i = this.size++;
      this.items[i] = timer;
      timer.heapIndex = i;
    }
    this.times[i] = when;
    this.seqs[i] = timer.seq;
    this.siftUp(i);
    if (timer.heapIndex === i) this.siftDown(i);
  }

  /** Disarms `timer` if it is armed. */
  cancel(timer: Timer): void {
    const i = timer.heapIndex;
    if (i < 0) return;
    const last = --this.size;
    timer.heapIndex = -1;
    if (i !== last) {
      this.move(last, i);
      const moved = this.items[i]!;
      this.siftUp(i);
      if (moved.heapIndex === i) this.siftDown(i);
    }
    this.items[last] = undefined as unknown as Timer;
  }

  /** Removes and returns the earliest timer, or undefined when empty. */
  pop(): Timer | undefined {
    if (this.size === 0) return undefined;
    const top = this.items[0]!;
    this.cancel(top);
    return top;
  }

  private grow(): void {
    const n = this.times.length * 2;
    const t = new Float64Array(n);
    t.set(this.times);
    this.times = t;
    const s = new Float64Array(n);
    s.set(this.seqs);
    this.seqs = s;
  }

  private move(from: number, to: number): void {
    const timer = this.items[from]!;
    this.items[to] = timer;
    this.times[to] = this.times[from]!;
    this.seqs[to] = this.seqs[from]!;
    timer.heapIndex = to;
  }

  /** Moves the entry at `i` up to its place (hole-based: one write per level). */
  private siftUp(i: number): void {
    const items = this.items;
    const times = this.times;
    const seqs = this.seqs;
    const timer = items[i]!;
    const t = times[i]!;
    const s = seqs[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const tp = times[p]!;
      if (tp < t || (tp === t && seqs[p]! < s)) break;
      const pt = items[p]!;
      items[i] = pt;
      times[i] = tp;
      seqs[i] = seqs[p]!;
      pt.heapIndex = i;
      i = p;
    }
    items[i] = timer;
    times[i] = t;
    seqs[i] = s;
    timer.heapIndex = i;
  }

  /** Moves the entry at `i` down to its place. */
  private siftDown(i: number): void {
    const items = this.items;
    const times = this.times;
    const seqs = this.seqs;
    const n = this.size;
    const timer = items[i]!;
    const t = times[i]!;
    const s = seqs[i]!;
    for (;;) {
      let m = 2 * i + 1;
      if (m >= n) break;
      const r = m + 1;
      if (r < n) {
        const tr = times[r]!;
        const tm = times[m]!;
        if (tr < tm || (tr === tm && seqs[r]! < seqs[m]!)) m = r;
      }
      const tm = times[m]!;
      if (t < tm || (t === tm && s < seqs[m]!)) break;
      const mt = items[m]!;
      items[i] = mt;
      times[i] = tm;
      seqs[i] = seqs[m]!;
      mt.heapIndex = i;
      i = m;
    }
    items[i] = timer;
    times[i] = t;
    seqs[i] = s;
    timer.heapIndex = i;
  }
}
