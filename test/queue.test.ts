import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventQueue, Timer } from "../src/sim/queue.js";
import { Rng } from "../src/sim/rng.js";
import type { Ns } from "../src/sim/time.js";

describe("event queue", () => {
  // Times from a small range make many timers share a time, some in one bucket (armed one
  // after another), some in buckets made apart.
  it.each([
    [50, 16],
    [3, 40],
  ])(
    "pops in (time, arming order) against a sorted-list reference, with re-arms and cancels (times 0-%i, %i timers)",
    (maxT, nrTimers) => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc.record({
                op: fc.constant("arm" as const),
                id: fc.nat(nrTimers - 1),
                t: fc.nat(maxT),
              }),
              fc.record({ op: fc.constant("cancel" as const), id: fc.nat(nrTimers - 1) }),
              fc.record({ op: fc.constant("pop" as const) }),
              fc.record({ op: fc.constant("peek" as const) }),
            ),
            { maxLength: 200 },
          ),
          (cmds) => {
            const q = new EventQueue();
            const timers = Array.from({ length: nrTimers }, (_, i) => new Timer(`t${i}`, () => {}));
            // Reference: id -> (time, seq); pop takes the minimum.
            const ref = new Map<number, [number, number]>();
            let seq = 0;
            for (const c of cmds) {
              if (c.op === "arm") {
                q.arm(timers[c.id]!, c.t as Ns);
                ref.set(c.id, [c.t, seq++]);
              } else if (c.op === "cancel") {
                q.cancel(timers[c.id]!);
                ref.delete(c.id);
              } else if (c.op === "peek") {
                const times = [...ref.values()].map(([t]) => t);
                expect(q.peekTime()).toBe(times.length ? Math.min(...times) : Infinity);
              } else {
                const got = q.pop();
                let best: number | undefined;
                for (const [id, [t, s]] of ref) {
                  const b = best === undefined ? undefined : ref.get(best)!;
                  if (!b || t < b[0] || (t === b[0] && s < b[1])) best = id;
                }
                if (best === undefined) expect(got).toBeUndefined();
                else {
                  expect(got).toBe(timers[best]);
                  ref.delete(best);
                }
              }
              expect(q.length).toBe(ref.size);
              expect(timers.filter((t) => t.armed).length).toBe(ref.size);
            }
          },
        ),
        { seed: 42, numRuns: 300 },
      );
    },
  );

  it("keeps equal times in arming order", () => {
    const q = new EventQueue();
    const order: string[] = [];
    const ts = ["a", "b", "c", "d"].map((n) => new Timer(n, () => order.push(n)));
    for (const t of [ts[2]!, ts[0]!, ts[3]!, ts[1]!]) q.arm(t, 10 as Ns);
    for (let t = q.pop(); t; t = q.pop()) t.fire(t.when);
    expect(order).toEqual(["c", "a", "d", "b"]);
  });
});

describe("rng", () => {
  it("is deterministic per seed and roughly uniform", () => {
    const a = new Rng(5);
    const b = new Rng(5);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.next()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(new Rng(6).next()).not.toBe(xs[0]);
  });
});
