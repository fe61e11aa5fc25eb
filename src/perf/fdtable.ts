import type { PerfEvent } from "./event.js";

/** The first fd a process gets: 0-2 are stdio. */
export const FIRST_FD = 3;

/**
 * The fd table of the monitoring process: fd -> event, and the lowest free fd in O(log n)
 * (kernel: alloc_fd() finds the lowest clear bit of open_fds from files->next_fd). Fds past
 * every fd ever used are free from `top` up; the freed ones below it wait in a min-heap.
 * The heap may still hold fds that were handed out again (set() of an fd other than the
 * lowest free one, which open never does); they are dropped when they reach its top.
 */
export class FdTable extends Map<number, PerfEvent> {
  /** Every fd from here up is free. */
  private top = FIRST_FD;
  /** Freed fds below `top`, a binary min-heap. */
  private readonly free: number[] = [];

  /** kernel: alloc_fd()'s search: the lowest fd not in use. */
  lowestFree(): number {
    const free = this.free;
    while (free.length > 0 && super.has(free[0]!)) this.pop();
    return free.length > 0 ? free[0]! : this.top;
  }

  override set(fd: number, e: PerfEvent): this {
    if (fd >= this.top) {
      // Fds skipped over become free ones below the new top.
      for (let f = this.top; f < fd; f++) this.push(f);
      this.top = fd + 1;
    } else if (this.free.length > 0 && this.free[0] === fd) {
      this.pop();
    }
    return super.set(fd, e);
  }

  override delete(fd: number): boolean {
    if (!super.delete(fd)) return false;
    if (fd === this.top - 1 && this.free.length === 0) this.top = fd;
    else if (fd >= FIRST_FD) this.push(fd);
    return true;
  }

  override clear(): void {
    super.clear();
    this.free.length = 0;
    this.top = FIRST_FD;
  }

  private push(fd: number): void {
    const h = this.free;
    let i = h.length;
    h.push(fd);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]! <= fd) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = fd;
  }

  private pop(): void {
    const h = this.free;
    const last = h.pop()!;
    const n = h.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let m = 2 * i + 1;
      if (m >= n) break;
      if (m + 1 < n && h[m + 1]! < h[m]!) m++;
      if (h[m]! >= last) break;
      h[i] = h[m]!;
      i = m;
    }
    h[i] = last;
  }
}
