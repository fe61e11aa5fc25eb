import { PERF_EV_CAP_SOFTWARE, type PerfEvent } from "./event.js";

/** A group with software caps in a hardware PMU's subtree (can go on after a failure). */
function softwareOnHardware(e: PerfEvent, caps: number): boolean {
  return (caps & PERF_EV_CAP_SOFTWARE) !== 0 && e.pmuCtx!.pmu.taskCtxNr !== "sw";
}

/**
 * The group tree of a context (struct perf_event_groups): group leaders ordered by
 * {cpu, pmu, group_index} (the pmu of the event's pmu context, so a software event in a
 * hardware group sorts with that hardware PMU), so a scheduling pass visits one (cpu, pmu) subtree in insertion
 * order and a rotated group goes to the tail. vpmu models no cgroups, so the cgroup part of
 * the kernel's key is always "none". A sorted array keeps the subtree walk linear.
 */
export class PerfEventGroups {
  private readonly items: PerfEvent[] = [];
  /** Last group_index handed out (kernel: groups->index). */
  private index = 0;
  /**
   * Groups with PERF_EV_CAP_SOFTWARE in a hardware PMU's subtree: only while a hardware event
   * moves a software group over (its leader is reinstalled before the event joins it).
   */
  softwareOnHardware = 0;

  get size(): number {
    return this.items.length;
  }

  /** True if the tree holds no group. */
  get empty(): boolean {
    return this.items.length === 0;
  }

  /** kernel: perf_event_groups_insert(): gives the event a new group_index (so it sorts last). */
  insert(e: PerfEvent): void {
    e.groupIndex = ++this.index;
    const i = this.upperBound(e.cpu, e.pmuCtx!.pmu.order);
    this.items.splice(i, 0, e);
    if (softwareOnHardware(e, e.groupCaps)) this.softwareOnHardware++;
  }

  /** A group in the tree whose caps were `before` has new caps. */
  capsChanged(e: PerfEvent, before: number): void {
    this.softwareOnHardware +=
      (softwareOnHardware(e, e.groupCaps) ? 1 : 0) - (softwareOnHardware(e, before) ? 1 : 0);
  }

  /** kernel: perf_event_groups_delete(). */
  delete(e: PerfEvent): void {
    const i = this.indexOf(e);
    if (i < 0) return;
    this.items.splice(i, 1);
    if (softwareOnHardware(e, e.groupCaps)) this.softwareOnHardware--;
  }

  /**
   * delete() then insert() of a group in the tree (rotate_ctx()), without allocating: the
   * group gets a new group_index and moves to the tail of its (cpu, pmu) subtree, the groups
   * after it in the subtree shift down one place.
   */
  moveToTail(e: PerfEvent): void {
    const order = e.pmuCtx!.pmu.order;
    const i = this.indexOf(e);
    const end = this.upperBound(e.cpu, order);
    if (i < this.lowerBound(e.cpu, order) || i >= end) {
      // Not where its key puts it (or not in the tree): the general way.
      if (i >= 0) this.delete(e);
      this.insert(e);
      return;
    }
    e.groupIndex = ++this.index;
    const items = this.items;
    for (let j = i; j < end - 1; j++) items[j] = items[j + 1]!;
    items[end - 1] = e;
  }

  /** Where `e` is in the tree, or -1 (the search of delete()). */
  private indexOf(e: PerfEvent): number {
    // A subtree is in group_index order (insert appends with a new, higher index).
    let lo = this.lowerBound(e.cpu, e.pmuCtx!.pmu.order);
    let hi = this.upperBound(e.cpu, e.pmuCtx!.pmu.order);
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.items[mid]!.groupIndex < e.groupIndex) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.items.length; i++) if (this.items[i] === e) return i;
    return -1;
  }

  /** First index of the (cpu, pmu) subtree and one past its end. */
  range(cpu: number, pmuOrder: number): [number, number] {
    return [this.lowerBound(cpu, pmuOrder), this.upperBound(cpu, pmuOrder)];
  }

  /** The group at an index. */
  at(i: number): PerfEvent {
    return this.items[i]!;
  }

  /** kernel: perf_event_groups_first(). */
  first(cpu: number, pmuOrder: number): PerfEvent | null {
    const lo = this.lowerBound(cpu, pmuOrder);
    return lo < this.upperBound(cpu, pmuOrder) ? this.items[lo]! : null;
  }

  /** Every group, in tree order. */
  all(): readonly PerfEvent[] {
    return this.items;
  }

  /** First index of the (cpu, pmu) subtree. */
  lowerBound(cpu: number, pmu: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = this.items[mid]!;
      if (e.cpu < cpu || (e.cpu === cpu && e.pmuCtx!.pmu.order < pmu)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** One past the last index of the (cpu, pmu) subtree. */
  upperBound(cpu: number, pmu: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = this.items[mid]!;
      if (e.cpu < cpu || (e.cpu === cpu && e.pmuCtx!.pmu.order <= pmu)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
