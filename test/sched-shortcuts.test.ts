import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { PERF_EVENT_STATE, stateName } from "../src/perf/event.js";
import { perfEventCount, perfEventRead } from "../src/perf/read.js";
import type { Task } from "../src/sched/task.js";
import { KernelError } from "../src/sim/errno.js";
import type { Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

/*
 * Host scheduling shortcuts against the straightforward path. A flexible pass of a hardware
 * PMU stops at its first group that does not go on (src/perf/schedule.ts); with
 * `walkAllGroups` it visits every group, as the kernel does. Both systems run the same
 * random perf activity, overcommitted: CPU and task events, pinned and flexible, groups,
 * exclusive groups, software groups a hardware event joins (move_group), enable, disable,
 * close, affinity and hotplug; every state transition (in order, with its time) and every
 * event's state, count, times and counter must agree after every step.
 */

const RAW = 4;
const SOFTWARE = 1;
const CPUS = [1, 2] as const;

type Op =
  | {
      kind: "open";
      cpu: number;
      task: boolean;
      pinned: boolean;
      disabled: boolean;
      exclusive: boolean;
      software: boolean;
      group: number;
    }
  | { kind: "enable" | "disable" | "close"; fd: number }
  | { kind: "affinity"; cpus: number[] }
  | { kind: "online"; cpu: number; online: boolean }
  | { kind: "run"; us: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.record({
      kind: fc.constant("open" as const),
      cpu: fc.constantFrom(...CPUS),
      task: fc.boolean(),
      pinned: fc.constantFrom(false, false, false, true),
      disabled: fc.constantFrom(false, false, true),
      exclusive: fc.constantFrom(false, false, false, false, true),
      software: fc.constantFrom(false, false, true),
      group: fc.integer({ min: -4, max: 30 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom("enable" as const, "disable" as const, "close" as const),
      fd: fc.nat(60),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("affinity" as const),
      cpus: fc.constantFrom([1], [2], [1, 2]),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("online" as const),
      cpu: fc.constantFrom(...CPUS),
      online: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("run" as const), us: fc.nat(20_000) }) },
);

interface World {
  sys: System;
  fds: number[];
  tasks: Task[];
  log: string[];
}

function world(walkAll: boolean): World {
  const sys = new System({ machine: preset("x86-server")! });
  sys.perf.walkAllGroups = walkAll;
  const tasks: Task[] = [];
  for (const name of ["a", "b"])
    tasks.push(sys.spawn({ comm: name, workload: BUILTIN_WORKLOADS.compute!, affinity: [1] }));
  const log: string[] = [];
  sys.perf.stateListeners.push((e, from, to, now) =>
    log.push(`${now} ${e.id} ${stateName(from)}>${stateName(to)}`),
  );
  return { sys, fds: [], tasks, log };
}

function apply(w: World, op: Op): string {
  const { sys } = w;
  try {
    switch (op.kind) {
      case "open": {
        const g = op.group >= 0 && op.group < w.fds.length ? w.fds[op.group]! : -1;
        const fd = sys.perfEventOpen(
          {
            type: op.software ? SOFTWARE : RAW,
            config: op.software ? 0 : 0xc4,
            pinned: g === -1 && op.pinned,
            exclusive: g === -1 && op.exclusive,
            disabled: op.disabled,
            read_format: 3,
          },
          op.task ? w.tasks[op.cpu - 1]!.pid : -1,
          op.task ? -1 : op.cpu,
          g,
        );
        w.fds.push(fd);
        return `fd ${fd}`;
      }
      case "enable":
      case "disable":
      case "close": {
        const fd = w.fds[op.fd % Math.max(1, w.fds.length)];
        if (fd === undefined) return "none";
        if (op.kind === "close") sys.close(fd);
        else sys.ioctl(fd, op.kind === "enable" ? "ENABLE" : "DISABLE");
        return "ok";
      }
      case "affinity":
        sys.schedSetaffinity(w.tasks[1]!.pid, op.cpus);
        return "ok";
      case "online":
        sys.setCpuOnline(op.cpu, op.online);
        return "ok";
      case "run":
        sys.run((sys.now + op.us * 1000) as Ns);
        return "ran";
    }
  } catch (err) {
    if (err instanceof KernelError) return `errno ${err.errno}`;
    throw err;
  }
}

function snapshot(w: World): string {
  const core = w.sys.perf;
  for (const e of core.events.values())
    if (e.state >= PERF_EVENT_STATE.OFF) perfEventRead(core, e, false);
  const rows = [...core.events.values()].map((e) =>
    [
      e.id,
      stateName(e.state),
      perfEventCount(e),
      e.totalTimeEnabled,
      e.totalTimeRunning,
      e.hw.counter ? e.hw.counter.idx : "-",
    ].join(" "),
  );
  const s = core.stats;
  rows.push(`ops ${s.schedOps} passes ${s.passes} rotations ${s.rotations}`);
  return rows.join("\n");
}

describe("flexible passes stop at the first failure: the same as visiting every group", () => {
  it("agrees with the full walk, transition by transition", () => {
    let rotations = 0;
    let moved = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 80 }), (ops) => {
        const fast = world(false);
        const slow = world(true);
        for (const op of ops) {
          expect(apply(fast, op)).toBe(apply(slow, op));
          expect(fast.log).toEqual(slow.log);
          expect(snapshot(fast)).toBe(snapshot(slow));
        }
        rotations += slow.sys.perf.stats.rotations;
        // Hardware events that joined a software group (move_group).
        for (const e of slow.sys.perf.events.values())
          if (
            e.groupLeader !== e &&
            e.groupLeader.pmu.taskCtxNr === "sw" &&
            e.pmu.taskCtxNr !== "sw"
          )
            moved++;
      }),
      {
        numRuns: Number(process.env.VPMU_FC_RUNS ?? 120),
        seed: Number(process.env.VPMU_FC_SEED ?? 5),
      },
    );
    expect(rotations).toBeGreaterThan(300);
    expect(moved).toBeGreaterThan(10);
  });
});
