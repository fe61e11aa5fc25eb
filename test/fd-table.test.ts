import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import type { PerfEvent } from "../src/perf/event.js";
import { FdTable } from "../src/perf/fdtable.js";
import { KernelError } from "../src/sim/errno.js";
import { System } from "../src/system.js";

const CYCLES = { type: 4, config: 0xc4 };
const ev = {} as PerfEvent;

/** The lowest fd from 3 up that `used` does not hold: what the kernel's alloc_fd() returns. */
function lowest(used: Set<number>): number {
  let fd = 3;
  while (used.has(fd)) fd++;
  return fd;
}

describe("perf fds: the lowest free fd first", () => {
  it("a closed fd is reused before any higher one, lowest first", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const fds = Array.from({ length: 6 }, () => sys.perfEventOpen(CYCLES, -1, 0));
    expect(fds).toEqual([3, 4, 5, 6, 7, 8]);
    sys.close(6);
    sys.close(4);
    expect(sys.perfEventOpen(CYCLES, -1, 0)).toBe(4);
    expect(sys.perfEventOpen(CYCLES, -1, 0)).toBe(6);
    expect(sys.perfEventOpen(CYCLES, -1, 0)).toBe(9);
    // Closing the highest fd: it is the next one again.
    sys.close(9);
    expect(sys.perfEventOpen(CYCLES, -1, 0)).toBe(9);
  });

  it("EMFILE at RLIMIT_NOFILE, and the freed fd after a close", () => {
    const sys = new System({ machine: preset("x86-server")!, perf: { nrOpen: 8 } });
    for (let fd = 3; fd < 8; fd++) expect(sys.perfEventOpen(CYCLES, -1, 0)).toBe(fd);
    const err = (() => {
      try {
        sys.perfEventOpen(CYCLES, -1, 0);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe("EMFILE");
    sys.close(5);
    expect(sys.perfEventOpen(CYCLES, -1, 0)).toBe(5);
  });

  it("a failed open takes no fd", () => {
    const sys = new System({ machine: preset("x86-server")! });
    expect(sys.perfEventOpen(CYCLES, -1, 0)).toBe(3);
    expect(() => sys.perfEventOpen(CYCLES, -1, 999)).toThrow(KernelError);
    expect(sys.perfEventOpen(CYCLES, -1, 0)).toBe(4);
  });

  it("agrees with a linear search for random opens and closes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 40 })), { maxLength: 300 }),
        (ops) => {
          const t = new FdTable();
          const used = new Set<number>();
          for (const op of ops) {
            if (op === -1) {
              const fd = t.lowestFree();
              expect(fd).toBe(lowest(used));
              t.set(fd, ev);
              used.add(fd);
            } else {
              const fd = [...used].sort((a, b) => a - b)[op % Math.max(1, used.size)];
              if (fd === undefined) continue;
              expect(t.delete(fd)).toBe(true);
              used.delete(fd);
            }
            expect(t.size).toBe(used.size);
          }
          expect(t.lowestFree()).toBe(lowest(used));
        },
      ),
      { numRuns: 200, seed: 13 },
    );
  });

  it("an fd set out of order (not the lowest free) keeps the search exact", () => {
    const t = new FdTable();
    t.set(7, ev);
    expect(t.lowestFree()).toBe(3);
    for (const fd of [3, 4, 5, 6]) {
      expect(t.lowestFree()).toBe(fd);
      t.set(fd, ev);
    }
    expect(t.lowestFree()).toBe(8);
    t.set(5, ev);
    t.delete(4);
    expect(t.lowestFree()).toBe(4);
    expect(t.delete(42)).toBe(false);
  });
});
