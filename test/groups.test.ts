import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PerfEvent } from "../src/perf/event.js";
import { PERF_EV_CAP_SOFTWARE } from "../src/perf/event.js";
import { PerfEventGroups } from "../src/perf/groups.js";

/*
 * rotate_ctx() moves a group to the tail of its (cpu, pmu) subtree in place
 * (PerfEventGroups.moveToTail()); it must leave the tree exactly as delete() then insert() do.
 */

/** Just the fields the group tree reads. */
function fakeGroup(id: number, cpu: number, pmuOrder: number, software: boolean): PerfEvent {
  const pmu = { order: pmuOrder, taskCtxNr: pmuOrder === 0 ? "sw" : "hw" };
  return {
    id,
    cpu,
    groupIndex: 0,
    groupCaps: software ? PERF_EV_CAP_SOFTWARE : 0,
    pmuCtx: { pmu },
  } as unknown as PerfEvent;
}

type Op =
  | { kind: "insert"; cpu: number; pmu: number; sw: boolean }
  | { kind: "rotate" | "delete"; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      cpu: fc.integer({ min: -1, max: 2 }),
      pmu: fc.integer({ min: 0, max: 2 }),
      sw: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("rotate" as const), pick: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
  },
);

/** The tree as (id, groupIndex) in order, and its software-on-hardware count. */
function view(t: PerfEventGroups): string {
  const rows = t.all().map((e) => `${e.id}:${e.groupIndex}`);
  return `${rows.join(" ")} | ${t.softwareOnHardware}`;
}

describe("perf event groups: rotation in place", () => {
  it("moveToTail() leaves the tree as delete() then insert() do", () => {
    let rotated = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 80, size: "large" }), (ops) => {
        // Two trees of distinct group objects with the same ids.
        const fast = new PerfEventGroups();
        const slow = new PerfEventGroups();
        const inFast: PerfEvent[] = [];
        const inSlow: PerfEvent[] = [];
        let next = 0;
        for (const op of ops) {
          if (op.kind === "insert") {
            const a = fakeGroup(next, op.cpu, op.pmu, op.sw);
            const b = fakeGroup(next, op.cpu, op.pmu, op.sw);
            next++;
            fast.insert(a);
            slow.insert(b);
            inFast.push(a);
            inSlow.push(b);
          } else if (inFast.length > 0) {
            const i = op.pick % inFast.length;
            if (op.kind === "rotate") {
              fast.moveToTail(inFast[i]!);
              slow.delete(inSlow[i]!);
              slow.insert(inSlow[i]!);
              rotated++;
            } else {
              fast.delete(inFast[i]!);
              slow.delete(inSlow[i]!);
              inFast.splice(i, 1);
              inSlow.splice(i, 1);
            }
          }
          expect(view(fast)).toBe(view(slow));
          // Each subtree stays in group_index order, so delete()'s search finds every group.
          for (const e of inFast) expect(fast.all().indexOf(e)).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 300, seed: 5 },
    );
    expect(rotated).toBeGreaterThan(3000);
  });

  it("a group moves to its own subtree's tail, the others of the subtree keep their order", () => {
    const t = new PerfEventGroups();
    const gs = [
      fakeGroup(0, 1, 1, false),
      fakeGroup(1, 0, 1, false),
      fakeGroup(2, 1, 1, false),
      fakeGroup(3, 1, 2, false),
      fakeGroup(4, 1, 1, false),
    ];
    for (const g of gs) t.insert(g);
    expect(t.all().map((e) => e.id)).toEqual([1, 0, 2, 4, 3]);
    t.moveToTail(gs[0]!);
    expect(t.all().map((e) => e.id)).toEqual([1, 2, 4, 0, 3]);
    expect(gs[0]!.groupIndex).toBe(6);
    t.moveToTail(gs[4]!);
    expect(t.all().map((e) => e.id)).toEqual([1, 2, 0, 4, 3]);
  });
});
