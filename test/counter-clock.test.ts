import { describe, expect, it } from "vitest";
import { makeExec } from "../src/hw/exec.js";
import { x86PmuDesc } from "../src/hw/pmu-desc.js";
import { CpuPmuHw } from "../src/hw/pmu-hw.js";
import { EventQueue } from "../src/sim/queue.js";
import type { Ns } from "../src/sim/time.js";

/*
 * A PMU's counting clock (hw/counter.ts): freezing stops every running counter at once and
 * thawing starts them again, without visiting them; overflow predictions stay in real time.
 */

const rates = new Float64Array(18);
rates[0] = 2; // 2 counts per ns of quantity 0, all in host user mode
const exec = makeExec("w", rates, [1, 0, 0, 0]);

function pmu() {
  const q = new EventQueue();
  const hw = new CpuPmuHw(x86PmuDesc({ name: "cpu", coreType: "core" }), q);
  return { q, hw };
}

describe("a PMU's counting clock", () => {
  it("counts nothing while frozen, and resumes where it stopped", () => {
    const { hw } = pmu();
    const [a, b] = hw.gp;
    a!.acquire("a", 0, 1, 0 as Ns, exec);
    b!.acquire("b", 0, 1, 500 as Ns, exec);
    hw.occupancy.freeze(1000);
    expect(a!.counted(1500 as Ns)).toBe(2000);
    expect(b!.counted(1500 as Ns)).toBe(1000);
    hw.occupancy.thaw(3000);
    expect(a!.counted(3500 as Ns)).toBe(3000);
    expect(b!.counted(3500 as Ns)).toBe(2000);
    // A counter taken while frozen starts counting at the thaw.
    hw.occupancy.freeze(4000);
    const c = hw.gp[2]!;
    c.acquire("c", 0, 1, 4500 as Ns, exec);
    hw.occupancy.thaw(6000);
    expect(c.counted(7000 as Ns)).toBe(2000);
    // Counting 0-1000, 3000-4000 and 6000-7000 ns.
    expect(a!.counted(7000 as Ns)).toBe(3 * 2000);
  });

  it("predicts an overflow in real time after the clock stood still", () => {
    const { q, hw } = pmu();
    hw.occupancy.freeze(100);
    hw.occupancy.thaw(10_100); // 10 us not counted
    const c = hw.gp[0]!;
    let at = -1;
    c.onOverflow = (_c, t) => {
      at = t;
    };
    c.write(2 ** 48 - 2000, 20_000 as Ns);
    c.acquire("a", 0, 1, 20_000 as Ns, exec);
    // 2000 counts at 2 per ns: 1000 ns from the acquire.
    const t = q.pop()!;
    expect(t.when).toBe(21_000);
    t.fire(t.when);
    expect(at).toBe(21_000);
    expect(c.value(21_000 as Ns)).toBe(0);
  });

  it("a frozen clock arms no overflow; the counter reads as stopped", () => {
    const { q, hw } = pmu();
    const c = hw.gp[0]!;
    c.onOverflow = () => {};
    c.write(2 ** 48 - 2000, 0 as Ns);
    c.acquire("a", 0, 1, 0 as Ns, exec);
    expect(q.length).toBe(1);
    hw.occupancy.freeze(500);
    c.predict();
    expect(q.length).toBe(0);
    expect(c.value(900 as Ns)).toBe(2 ** 48 - 1000);
  });
});
