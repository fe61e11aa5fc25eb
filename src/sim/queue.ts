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
 * Pending timers ordered by (time, insertion order). Timers armed one after another for the
 * same time (every vCPU of a VM exiting at the same period, ticks of all CPUs) share a
 * bucket, a FIFO list in arming order; the buckets are the entries of an indexed binary
 * heap keyed by (time, first arming), so popping the next timer of a bucket and arming one
 * at the time of the last bucket armed are O(1), and a timer can be re-armed or cancelled
 * without leaving stale entries behind. A timer is only appended to the bucket created or
 * appended to last: every bucket of the same time made before it then holds only earlier
 * armings, so the order is exactly (time, insertion order). The heap holds bucket numbers
 * with their keys in typed arrays, so moving an entry touches no object.
 */
export class EventQueue {
  /** Armed timers by number (a timer has a number while it is armed). */
  private timers: Array<Timer | null> = [];
  /** Timer numbers free for the next arming. */
  private freeIds: number[] = [];
  /** Per timer number: its bucket and its neighbours in the bucket (-1: none). */
  private tBucket = new Int32Array(64);
  private tNext = new Int32Array(64);
  private tPrev = new Int32Array(64);
  /** Per bucket number: its time, first and last timer, and heap position. */
  private bTime = new Float64Array(64);
  private bHead = new Int32Array(64);
  private bTail = new Int32Array(64);
  private pos = new Int32Array(64);
  /** Bucket numbers in use or free. */
  private nrBuckets = 0;
  private freeBuckets: number[] = [];
  /** The bucket created or appended to last, the only one an arming may join (-1: none). */
  private lastBucket = -1;
  /** Heap of buckets: key (time, seq of the first arming) and bucket number. */
  private times = new Float64Array(64);
  private seqs = new Float64Array(64);
  private ids = new Int32Array(64);
  private size = 0;
  private nextSeq = 0;
  private armedCount = 0;
  /**
   * pop() that empties the root bucket leaves the root empty (a hole, still counted in
   * `size`) instead of refilling it at once: a timer callback usually arms another timer,
   * which then takes the root with one sift-down instead of a sift-down for the refill plus
   * a sift-up for the new entry. Any other heap operation refills it first. The order of
   * timers is the same either way.
   */
  private hole = false;

  /** Number of armed timers. */
  get length(): number {
    return this.armedCount;
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
    if (timer.armed) timer.queue!.cancel(timer);
    timer.when = when;
    const seq = this.nextSeq++;
    timer.seq = seq;
    const id = this.take(timer);
    const lb = this.lastBucket;
    if (lb >= 0 && this.bTime[lb] === when) {
      // Join the last bucket at its tail.
      const tail = this.bTail[lb]!;
      this.tBucket[id] = lb;
      this.tPrev[id] = tail;
      this.tNext[id] = -1;
      this.tNext[tail] = id;
      this.bTail[lb] = id;
      return;
    }
    const b = this.newBucket(when, id);
    this.lastBucket = b;
    if (this.hole) {
      // The new bucket takes the root pop() left.
      this.hole = false;
      this.siftDown(0, when, seq, b);
      return;
    }
    if (this.size === this.times.length) this.growHeap();
    this.siftUp(this.size++, when, seq, b);
  }

  /** Arms a timer that was not: gives it a number. */
  private take(timer: Timer): number {
    let id = this.freeIds.pop();
    if (id === undefined) {
      id = this.timers.length;
      this.timers.push(null);
      if (id === this.tBucket.length) {
        this.tBucket = grown(this.tBucket);
        this.tNext = grown(this.tNext);
        this.tPrev = grown(this.tPrev);
      }
    }
    this.timers[id] = timer;
    timer.queue = this;
    timer.qid = id;
    timer.armed = true;
    this.armedCount++;
    return id;
  }

  /** A bucket at `when` holding timer `id` alone. */
  private newBucket(when: number, id: number): number {
    let b = this.freeBuckets.pop();
    if (b === undefined) {
      b = this.nrBuckets++;
      if (b === this.bTime.length) {
        this.bTime = grown(this.bTime);
        this.bHead = grown(this.bHead);
        this.bTail = grown(this.bTail);
        this.pos = grown(this.pos);
      }
    }
    this.bTime[b] = when;
    this.bHead[b] = id;
    this.bTail[b] = id;
    this.tBucket[id] = b;
    this.tNext[id] = -1;
    this.tPrev[id] = -1;
    return b;
  }

  /** Disarms a timer: its number is free again. */
  private release(timer: Timer): void {
    timer.armed = false;
    this.timers[timer.qid] = null;
    this.freeIds.push(timer.qid);
    this.armedCount--;
  }

  /**
   * Takes timer `id` out of its bucket; returns the bucket when that left it empty (it is
   * still in the heap), else -1.
   */
  private unlink(id: number): number {
    const b = this.tBucket[id]!;
    const prev = this.tPrev[id]!;
    const next = this.tNext[id]!;
    if (prev >= 0) this.tNext[prev] = next;
    else this.bHead[b] = next;
    if (next >= 0) this.tPrev[next] = prev;
    else this.bTail[b] = prev;
    if (prev >= 0 || next >= 0) return -1;
    if (this.lastBucket === b) this.lastBucket = -1;
    this.freeBuckets.push(b);
    return b;
  }

  /** Disarms `timer` if it is armed. */
  cancel(timer: Timer): void {
    if (!timer.armed || timer.queue !== this) return;
    const id = timer.qid;
    this.release(timer);
    const empty = this.unlink(id);
    if (empty < 0) return;
    if (this.hole) this.fillHole();
    this.removeAt(this.pos[empty]!);
  }

  /** Removes and returns the earliest timer, or undefined when empty. */
  pop(): Timer | undefined {
    if (this.hole) this.fillHole();
    if (this.size === 0) return undefined;
    const id = this.bHead[this.ids[0]!]!;
    const top = this.timers[id]!;
    this.release(top);
    if (this.unlink(id) >= 0) this.hole = true;
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

  private growHeap(): void {
    this.times = grown(this.times);
    this.seqs = grown(this.seqs);
    this.ids = grown(this.ids);
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

/** A typed array twice as long holding `a`'s entries. */
function grown<T extends Int32Array | Float64Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a);
  return b;
}
