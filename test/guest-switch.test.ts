import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { Kvm } from "../src/kvm/kvm.js";
import type { KvmVcpu } from "../src/kvm/vcpu.js";
import { PERF_EVENT_STATE, stateName } from "../src/perf/event.js";
import { perfEventCount, perfEventRead } from "../src/perf/read.js";
import { textReport, variantsTextReport } from "../src/report/text.js";
import { loadScenario } from "../src/scenario/load.js";
import { runScenario, runVariants } from "../src/scenario/runner.js";
import { KernelError } from "../src/sim/errno.js";
import { msToNs, type Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

/*
 * perf_put_guest_context() replays the previous put's sched-in while nothing could have
 * changed it (src/perf/guest-switch.ts). These tests run the same random host perf activity
 * around a mediated guest twice, once with the replay and once always walking the group
 * trees, and require the two systems to agree exactly after every step: every event's state,
 * count, enabled and running time and counter, and the vCPUs' exits.
 */

const RAW = 4;
const HOST_CPU = 1;

type Op =
  | {
      kind: "open";
      cpu: number;
      task: boolean;
      pinned: boolean;
      disabled: boolean;
      exclusive: boolean;
      config: number;
      period: number;
      group: number;
      /** Open it on the vCPU's own task (a task context on the CPU at each put) instead. */
      vcpu?: boolean;
    }
  | { kind: "enable" | "disable" | "close" | "reset"; fd: number }
  | { kind: "refresh"; fd: number; n: number }
  | { kind: "period"; fd: number; period: number }
  | { kind: "affinity"; cpus: number[] }
  | { kind: "online"; cpu: number; online: boolean }
  | { kind: "run"; us: number }
  | { kind: "peek"; us: number; fd: number; ioctl: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("open" as const),
      cpu: fc.constantFrom(HOST_CPU, HOST_CPU, 2),
      task: fc.boolean(),
      pinned: fc.boolean(),
      disabled: fc.boolean(),
      exclusive: fc.boolean(),
      config: fc.constantFrom(0xc4, 0xc0, 0x3c, 0xc5),
      period: fc.constantFrom(0, 0, 0, 200_000),
      group: fc.integer({ min: -1, max: 8 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        "enable" as const,
        "disable" as const,
        "close" as const,
        "reset" as const,
      ),
      fd: fc.integer({ min: 0, max: 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("refresh" as const),
      fd: fc.integer({ min: 0, max: 20 }),
      n: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("period" as const),
      fd: fc.integer({ min: 0, max: 20 }),
      period: fc.constantFrom(50_000, 500_000),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("affinity" as const),
      cpus: fc.constantFrom([HOST_CPU], [2], [HOST_CPU, 2], [3]),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("online" as const),
      cpu: fc.constantFrom(HOST_CPU, 3),
      online: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("run" as const),
      us: fc.integer({ min: 1, max: 3000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("peek" as const),
      us: fc.integer({ min: 1, max: 400 }),
      fd: fc.integer({ min: 0, max: 20 }),
      ioctl: fc.boolean(),
    }),
  },
);

/**
 * Mostly plain counting events (a lazy load needs every group on the CPU to be one): no
 * exclusive groups, and sampling only on CPU 2.
 */
const plainOpArb: fc.Arbitrary<Op> = opArb.map((op) =>
  op.kind === "open"
    ? { ...op, exclusive: false, period: op.cpu === 2 && !op.task ? op.period : 0 }
    : op,
);

/** A plain host counting event on the vCPU's CPU (or on its host task), as perf stat opens. */
const hostEventArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant("open" as const),
  cpu: fc.constant(HOST_CPU),
  task: fc.constantFrom(false, false, false, true),
  pinned: fc.constant(false),
  disabled: fc.constant(false),
  exclusive: fc.constant(false),
  config: fc.constantFrom(0xc4, 0xc5),
  period: fc.constant(0),
  group: fc.constant(-1),
});

/**
 * More host events than the 8 GP counters on the vCPU's CPU, then random activity, each step
 * followed by a run of up to 3 multiplexing intervals, so the hrtimer rotates them.
 */
const overcommitArb: fc.Arbitrary<{ muxMs: number; ops: Op[] }> = fc.record({
  // The tick's period, and intervals that expire between ticks (the guest is then running).
  muxMs: fc.constantFrom(0, 1, 3),
  ops: fc
    .tuple(
      fc.array(hostEventArb, { minLength: 9, maxLength: 16 }),
      fc.array(fc.tuple(plainOpArb, fc.integer({ min: 500, max: 12_000 })), {
        minLength: 1,
        maxLength: 12,
      }),
    )
    .map(([opens, steps]) => [
      ...opens,
      ...steps.flatMap(([op, us]): Op[] => [op, { kind: "run", us }]),
    ]),
});

/**
 * Over the counters with a mix from the start: lone flexible events and groups, pinned
 * events, CPU events, events of a host task sharing the vCPU's CPU and of the vCPU's own
 * task (its context is on the CPU at every load and put), then random activity
 * (opens, closes, enables, disables, ioctls, affinity, hotplug, reads while the guest runs),
 * each step followed by a run of up to 3 multiplexing intervals.
 */
const mixedOvercommitArb: fc.Arbitrary<{ muxMs: number; ops: Op[] }> = fc.record({
  muxMs: fc.constantFrom(0, 1, 3),
  ops: fc
    .tuple(
      fc.array(
        fc.tuple(hostEventArb, fc.constantFrom(false, false, true)).map(([op, vcpu]) => ({
          ...op,
          vcpu,
        })),
        { minLength: 9, maxLength: 14 },
      ),
      fc.array(
        fc.record({
          kind: fc.constant("open" as const),
          cpu: fc.constant(HOST_CPU),
          task: fc.boolean(),
          vcpu: fc.boolean(),
          pinned: fc.constantFrom(false, false, false, true),
          disabled: fc.constant(false),
          exclusive: fc.constant(false),
          config: fc.constantFrom(0xc4, 0xc0, 0x3c),
          period: fc.constant(0),
          group: fc.integer({ min: 0, max: 12 }),
        }),
        { maxLength: 4 },
      ),
      fc.array(fc.tuple(plainOpArb, fc.integer({ min: 500, max: 12_000 })), {
        minLength: 1,
        maxLength: 12,
      }),
    )
    .map(([opens, groups, steps]) => [
      ...opens,
      ...groups,
      ...steps.flatMap(([op, us]): Op[] => [op, { kind: "run", us }]),
    ]),
});

interface World {
  sys: System;
  fds: number[];
  vcpus: KvmVcpu[];
  /** What the timed reads of "peek" saw. */
  seen: string[];
}

/**
 * `replay`: replay plans at put and stop flexible passes at their first failure (false: the
 * straightforward path); `lazy`: lazy loads. The invariant checker is on unless `lazy` is
 * given (its state listener turns lazy loads off).
 */
function world(replay: boolean, lazy?: boolean, muxMs = 0, recordRotations = true): World {
  const sys = new System({
    machine: preset("x86-server")!,
    profile: "7.0",
    ...(lazy === undefined ? {} : { checkInvariants: false }),
  });
  // perf_event_mux_interval_ms of the core PMU (0: 1000/HZ, the tick's period).
  sys.perf.registry.byType(RAW)!.hrtimerIntervalMs = muxMs;
  sys.perf.guest!.replayPlans = replay;
  // The straightforward path walks every group of every pass, as the kernel does.
  sys.perf.walkAllGroups = !replay;
  sys.perf.guest!.lazyLoads = lazy ?? true;
  sys.perf.guest!.recordRotations = recordRotations;
  const kvm = new Kvm(sys, { enableMediatedPmu: true });
  const vm = kvm.createVm("vm0");
  const vcpus: KvmVcpu[] = [];
  for (const [id, cpu] of [
    [0, HOST_CPU],
    [1, 2],
  ] as const) {
    const v = vm.createVcpu(
      id,
      { workload: BUILTIN_WORKLOADS.compute!, affinity: [cpu], exitRate: 20_000 },
      sys.now,
    );
    if (typeof v === "number") throw new Error(`createVcpu: ${v}`);
    vcpus.push(v);
  }
  // A host task sharing the vCPU's CPU: task contexts come and go with context switches.
  sys.spawn({ comm: "host", workload: BUILTIN_WORKLOADS.compute!, affinity: [HOST_CPU] });
  return { sys, fds: [], vcpus, seen: [] };
}

function host(w: World) {
  return [...w.sys.sched.tasks.values()].find((t) => t.comm === "host")!;
}

function apply(w: World, op: Op): string {
  const { sys } = w;
  try {
    switch (op.kind) {
      case "open": {
        const leader = op.group >= 0 && op.group < w.fds.length ? w.fds[op.group]! : -1;
        const fd = sys.perfEventOpen(
          {
            type: RAW,
            config: op.config,
            exclude_guest: true,
            pinned: leader === -1 ? op.pinned : false,
            disabled: op.disabled,
            exclusive: leader === -1 ? op.exclusive : false,
            sample_period: op.period,
          },
          op.vcpu ? w.vcpus[0]!.task.pid : op.task ? host(w).pid : -1,
          op.task || op.vcpu ? -1 : op.cpu,
          leader,
        );
        w.fds.push(fd);
        return `fd ${fd}`;
      }
      case "enable":
      case "disable":
      case "close":
      case "reset":
      case "refresh":
      case "period": {
        const fd = w.fds[op.fd % Math.max(1, w.fds.length)];
        if (fd === undefined) return "none";
        if (op.kind === "close") sys.close(fd);
        else if (op.kind === "refresh") sys.ioctl(fd, "REFRESH", op.n);
        else if (op.kind === "period") sys.ioctl(fd, "PERIOD", op.period);
        else
          sys.ioctl(
            fd,
            op.kind === "enable" ? "ENABLE" : op.kind === "reset" ? "RESET" : "DISABLE",
          );
        return "ok";
      }
      case "affinity":
        sys.schedSetaffinity(host(w).pid, op.cpus);
        return "ok";
      case "online":
        sys.setCpuOnline(op.cpu, op.online);
        return "ok";
      case "run":
        sys.run((sys.now + op.us * 1000) as Ns);
        return "ran";
      case "peek": {
        // A read (or a reset) in the middle of the next run, likely while a guest is loaded.
        const fd = w.fds[op.fd % Math.max(1, w.fds.length)];
        if (fd === undefined) return "none";
        sys.at((sys.now + op.us * 1000) as Ns, "peek", () => {
          try {
            // What a report would look at, then what a tool would do.
            const e = sys.perf.fds.get(fd);
            const c = e?.hw.counter;
            w.seen.push(`${e ? stateName(e.state) : "-"} ${c ? c.idx : "-"}`);
            const r = sys.read(fd);
            w.seen.push(`${r.bytes} ${r.words.join(",")}`);
            if (op.ioctl) sys.ioctl(fd, "DISABLE");
          } catch (err) {
            if (!(err instanceof KernelError)) throw err;
            w.seen.push(`errno ${err.errno}`);
          }
        });
        return "armed";
      }
    }
  } catch (err) {
    if (err instanceof KernelError) return `errno ${err.errno}`;
    throw err;
  }
}

/**
 * Every event as a read would see it (kernel: perf_event_read() brings an ACTIVE event's
 * count and times up to date; until then they are partial, in the kernel as here), plus
 * its state and counter, the vCPUs' exits and the scheduling statistics.
 */
function snapshot(w: World): string {
  const rows: string[] = [];
  for (const e of w.sys.perf.events.values())
    if (e.state >= PERF_EVENT_STATE.OFF) perfEventRead(w.sys.perf, e, false);
  for (const e of w.sys.perf.events.values()) {
    rows.push(
      [
        e.id,
        stateName(e.state),
        perfEventCount(e),
        e.totalTimeEnabled,
        e.totalTimeRunning,
        e.hw.counter ? e.hw.counter.idx : "-",
        e.nrSamples,
      ].join(" "),
    );
  }
  for (const v of w.vcpus) rows.push(`${v.label} ${v.nrEntries} ${JSON.stringify(v.exits)}`);
  const s = w.sys.perf.stats;
  rows.push(`ops ${s.schedOps} passes ${s.passes} rotations ${s.rotations}`);
  return rows.join("\n");
}

describe("guest PMU switch: replayed sched-in", () => {
  it("agrees exactly with walking the group trees, step by step", () => {
    let replayed = 0;
    let walked = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const fast = world(true);
        const slow = world(false);
        for (const op of ops) {
          expect(apply(fast, op)).toBe(apply(slow, op));
          expect(snapshot(fast)).toBe(snapshot(slow));
        }
        const plans = fast.sys.perf.guest!.plans;
        replayed += plans.replayed;
        walked += plans.walked;
      }),
      { numRuns: 150, seed: 7 },
    );
    // Both paths ran: most puts replay, and changes send some back to the tree walk.
    expect(replayed).toBeGreaterThan(walked);
    expect(walked).toBeGreaterThan(100);
  });

  it("lazy loads agree exactly with eager ones, including reads while the guest is loaded", () => {
    let lazyLoads = 0;
    let synced = 0;
    fc.assert(
      fc.property(fc.array(plainOpArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const lazy = world(true, true);
        const eager = world(true, false);
        for (const op of ops) {
          expect(apply(lazy, op)).toBe(apply(eager, op));
          expect(snapshot(lazy)).toBe(snapshot(eager));
          expect(lazy.seen).toEqual(eager.seen);
        }
        const plans = lazy.sys.perf.guest!.plans;
        expect(plans.nrLazy).toBe(0);
        lazyLoads += plans.lazyLoads;
        synced += plans.synced;
        expect(eager.sys.perf.guest!.plans.lazyLoads).toBe(0);
      }),
      {
        numRuns: Number(process.env.VPMU_FC_RUNS ?? 150),
        seed: Number(process.env.VPMU_FC_SEED ?? 11),
      },
    );
    // Both ways ran: most lazy loads end at the put, some are completed early.
    expect(lazyLoads).toBeGreaterThan(1000);
    expect(synced).toBeGreaterThan(50);
  });

  it("agree exactly while host events multiplex and rotate on the vCPU's CPU", () => {
    let rotations = 0;
    let timerExits = 0;
    let walked = 0;
    let replayed = 0;
    let lazyLoads = 0;
    let retried = 0;
    let lazyRetried = 0;
    let lazyRetriedLone = 0;
    fc.assert(
      fc.property(overcommitArb, ({ muxMs, ops }) => {
        // The tree walk, the replay and lazy loads, with and without the invariant checker.
        const slow = world(false, undefined, muxMs);
        const fast = world(true, undefined, muxMs);
        const lazy = world(true, true, muxMs);
        const eager = world(true, false, muxMs);
        for (const op of ops) {
          const r = apply(slow, op);
          expect(apply(fast, op)).toBe(r);
          expect(apply(lazy, op)).toBe(r);
          expect(apply(eager, op)).toBe(r);
          const want = snapshot(slow);
          expect(snapshot(fast)).toBe(want);
          expect(snapshot(lazy)).toBe(want);
          expect(snapshot(eager)).toBe(want);
          expect(fast.seen).toEqual(slow.seen);
          expect(lazy.seen).toEqual(slow.seen);
        }
        rotations += slow.sys.perf.stats.rotations;
        for (const v of slow.vcpus) timerExits += v.exits.timer ?? 0;
        walked += fast.sys.perf.guest!.plans.walked;
        replayed += eager.sys.perf.guest!.plans.replayed;
        lazyLoads += lazy.sys.perf.guest!.plans.lazyLoads;
        retried += eager.sys.perf.guest!.plans.retried;
        lazyRetried += lazy.sys.perf.guest!.plans.retried;
        lazyRetriedLone += lazy.sys.perf.guest!.plans.retriedLone;
      }),
      {
        numRuns: Number(process.env.VPMU_FC_RUNS ?? 40),
        seed: Number(process.env.VPMU_FC_SEED ?? 19),
      },
    );
    // The runs multiplexed (rotations, some of them exiting the guest first), replayed
    // multiplexed plans (retrying the group that does not fit), lazily too, walked after each
    // change (a rotation keeps the plan, guestRecordRotation()), and got back to fitting after
    // closes and disables.
    expect(rotations).toBeGreaterThan(300);
    expect(timerExits).toBeGreaterThan(100);
    expect(retried).toBeGreaterThan(5000);
    expect(lazyRetried).toBeGreaterThan(1000);
    // Lone events retried without the PMU, and groups or exclusive events through it.
    expect(lazyRetriedLone).toBeGreaterThan(500);
    expect(lazyRetried - lazyRetriedLone).toBeGreaterThan(50);
    expect(walked).toBeGreaterThan(100);
    expect(replayed).toBeGreaterThan(10_000);
    expect(lazyLoads).toBeGreaterThan(10_000);
  });

  it("a rotation that keeps the plan agrees exactly with the walk, with groups, pinned and task events", () => {
    let rotations = 0;
    let recorded = 0;
    let droppedWalks = 0;
    let keptWalks = 0;
    let lazyLoads = 0;
    let retried = 0;
    fc.assert(
      fc.property(mixedOvercommitArb, ({ muxMs, ops }) => {
        // The straightforward path; the replay with lazy loads, keeping the plan across a
        // rotation or not; and the replay without lazy loads.
        const slow = world(false, undefined, muxMs);
        const kept = world(true, true, muxMs);
        const dropped = world(true, true, muxMs, false);
        const eager = world(true, false, muxMs);
        for (const op of ops) {
          const r = apply(slow, op);
          expect(apply(kept, op)).toBe(r);
          expect(apply(dropped, op)).toBe(r);
          expect(apply(eager, op)).toBe(r);
          const want = snapshot(slow);
          expect(snapshot(kept)).toBe(want);
          expect(snapshot(dropped)).toBe(want);
          expect(snapshot(eager)).toBe(want);
          expect(kept.seen).toEqual(slow.seen);
          expect(eager.seen).toEqual(slow.seen);
          // The dense hrtimer flags a lazy put reads agree with the cpcs.
          for (const pmu of kept.sys.perf.registry.pmus)
            for (const cpc of pmu.cpcs)
              expect(pmu.hrtimerOn[cpc.cpu]).toBe(cpc.hrtimerActive ? 1 : 0);
        }
        rotations += slow.sys.perf.stats.rotations;
        recorded += kept.sys.perf.guest!.plans.rotationsRecorded;
        expect(dropped.sys.perf.guest!.plans.rotationsRecorded).toBe(0);
        keptWalks += kept.sys.perf.guest!.plans.walked;
        droppedWalks += dropped.sys.perf.guest!.plans.walked;
        lazyLoads += kept.sys.perf.guest!.plans.lazyLoads;
        retried += kept.sys.perf.guest!.plans.retried;
      }),
      {
        numRuns: Number(process.env.VPMU_FC_RUNS ?? 40),
        seed: Number(process.env.VPMU_FC_SEED ?? 23),
      },
    );
    // Most rotations kept the plan, and each kept one saved a walk at the next put.
    expect(rotations).toBeGreaterThan(300);
    expect(recorded).toBeGreaterThan(rotations / 2);
    expect(droppedWalks - keptWalks).toBeGreaterThan(recorded / 2);
    expect(lazyLoads).toBeGreaterThan(10_000);
    expect(retried).toBeGreaterThan(5000);
  });

  it("a multiplexed plan found stale at its failed group falls back to the walk", () => {
    // 10 events on 8 counters: the plan has 8 groups on and the 9th failing. One of the 8 is
    // disabled behind the plan's back (the plan made valid again without it): at the next
    // put the 9th goes on, and the rest of the pass is walked as the slow path walks it.
    const run = (replay: boolean) => {
      const w = world(replay, false);
      const fds: number[] = [];
      for (let i = 0; i < 10; i++)
        fds.push(w.sys.perfEventOpen({ type: RAW, config: 0xc4, exclude_guest: true }, -1, 2));
      w.sys.run(msToNs(1));
      const core = w.sys.perf;
      const first = core.fds.get(fds[0]!)!;
      w.sys.ioctl(fds[0]!, "DISABLE");
      const plans = core.guest!.plans;
      if (replay) {
        const epc = first.pmuCtx!;
        expect(epc.guestFailFlexible).toBe(core.fds.get(fds[8]!)!);
        epc.guestPlanFlexible = epc.guestPlanFlexible.filter((g) => g !== first);
        plans.gen[2] = core.cpuctx[2]!.ctx.schedGen;
      }
      const walked = plans.walked;
      const replayed = plans.replayed;
      w.sys.run(msToNs(1.2));
      return {
        snap: snapshot(w),
        walked: plans.walked - walked,
        replayed: plans.replayed - replayed,
      };
    };
    const fast = run(true);
    const slow = run(false);
    expect(fast.snap).toBe(slow.snap);
    // The first put replayed the stale plan and dropped it, the next walked and recorded
    // anew, and the rest replayed that.
    expect(fast.walked).toBe(1);
    expect(fast.replayed).toBeGreaterThan(2);
  });

  it("replays: 8 host events on the vCPU's CPU go back on the same counters, in order", () => {
    const w = world(true);
    const fds: number[] = [];
    for (let i = 0; i < 8; i++)
      fds.push(w.sys.perfEventOpen({ type: RAW, config: 0xc4, exclude_guest: true }, -1, HOST_CPU));
    w.sys.run(msToNs(5));
    const plans = w.sys.perf.guest!.plans;
    expect(plans.gen[HOST_CPU]).toBeGreaterThanOrEqual(0);
    const idx = fds.map((fd) => w.sys.perf.fds.get(fd)!.hw.counter?.idx ?? null);
    // The vCPU exits at 20k/s: about 100 loads and puts in 5 ms, all but the first replayed.
    expect(w.vcpus[0]!.nrEntries).toBeGreaterThan(50);
    w.sys.run(msToNs(6));
    expect(fds.map((fd) => w.sys.perf.fds.get(fd)!.hw.counter?.idx ?? null)).toEqual(idx);
  });
});

describe("guest PMU switch: lazy loads in scenarios", () => {
  // The invariant checker watches every state change, which turns lazy loads off: the
  // golden reports are made with it, and `vpmu run` runs without it. Both must agree.
  for (const name of [
    "x86-mediated",
    "x86-overhead",
    "x86-amd",
    "x86-vpmu-modes",
    "x86-host-multiplex-vcpu",
  ]) {
    it(`${name}: the same report with and without lazy loads`, () => {
      const file = join(import.meta.dirname, "..", "examples", `${name}.yaml`);
      const sc = loadScenario(readFileSync(file, "utf8"), `${name}.yaml`);
      const report = (checkInvariants: boolean): string => {
        const saved = System.defaultInvariantMode;
        System.defaultInvariantMode = false;
        try {
          return sc.variants.length > 0
            ? variantsTextReport(runVariants(sc, { checkInvariants }), { truth: true })
            : textReport(runScenario(sc, { checkInvariants }), { truth: true });
        } finally {
          System.defaultInvariantMode = saved;
        }
      };
      expect(report(false)).toBe(report(true));
    });
  }
});
