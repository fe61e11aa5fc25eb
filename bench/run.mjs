// vpmu benchmarks: `npm run bench`. Figures go to BENCHMARKS.md by hand, with this command.
import { Bench } from "tinybench";
import { makeExec } from "../dist/hw/exec.js";
import { x86PmuDesc } from "../dist/hw/pmu-desc.js";
import { CpuPmuHw } from "../dist/hw/pmu-hw.js";
import { preset } from "../dist/hw/presets.js";
import { BUILTIN_WORKLOADS, effectiveProfile, ratesFor } from "../dist/hw/workload.js";
import { EVENT_FLEXIBLE } from "../dist/perf/context.js";
import { ctxSchedOut, perfEventSchedIn } from "../dist/perf/schedule.js";
import { EventQueue, Timer } from "../dist/sim/queue.js";
import { Rng } from "../dist/sim/rng.js";
import { System } from "../dist/system.js";

const quick = process.argv.includes("--quick");
const out = [];
const row = (name, value, unit, note = "") => {
  out.push({ name, value, unit, note });
  console.log(
    `${name.padEnd(58)} ${String(value).padStart(14)} ${unit}${note ? `  (${note})` : ""}`,
  );
};
const fmt = (x) => Math.round(x).toLocaleString("en-US");

// 1. Event queue: hold model (pop the earliest timer, re-arm it at t + U(0,1000)).
for (const pending of [64, 1024, 65536]) {
  const q = new EventQueue();
  const rng = new Rng(1);
  const timers = [];
  let now = 0;
  for (let i = 0; i < pending; i++) {
    const t = new Timer(`t${i}`, () => {});
    timers.push(t);
    q.arm(t, rng.int(0, 1000));
  }
  const steps = quick ? 300_000 : 3_000_000;
  let best = 0;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      const t = q.pop();
      now = t.when;
      q.arm(t, now + rng.int(0, 1000));
    }
    const s = (performance.now() - t0) / 1000;
    best = Math.max(best, steps / s);
  }
  row(`event queue, ${pending} pending timers`, fmt(best), "events/s");
}

// 2. Counter accrual: 11 running counters re-rated at every execution change.
{
  const q = new EventQueue();
  const hw = new CpuPmuHw(x86PmuDesc({ name: "cpu", coreType: "core" }), q);
  const ct = preset("x86-server").coreTypes[0];
  const mk = (w) =>
    makeExec(
      w,
      ratesFor(effectiveProfile(BUILTIN_WORKLOADS[w], ct.name, ct.scaling), ct.scaling),
      [0.9, 0.1, 0, 0],
    );
  const a = mk("compute");
  const b = mk("memory");
  for (const c of hw.all) hw.configure(c, 0, 0b1111, true, 0, a);
  const bench = new Bench({ time: quick ? 200 : 1000 });
  let t = 0;
  bench.add("retarget 11 counters", () => {
    t += 1000;
    hw.retarget(t, t & 1000 ? a : b);
  });
  await bench.run();
  const r = bench.tasks[0].result;
  const hz = r.throughput?.mean ?? r.hz;
  row(
    "counter accrual: execution change with 11 running counters",
    fmt(hz),
    "changes/s",
    `${fmt(hz * 11)} counter folds/s`,
  );
}

// 3. Whole model: 8 CPUs, 2 tasks per CPU, 20 flexible events per CPU (multiplexing), plus
//    a task event per CPU; an operation is an event sched in/out, a pass or a rotation.
function wholeModel(simNs) {
  const sys = new System({ machine: preset("x86-server") });
  for (let c = 0; c < 8; c++) {
    for (let k = 0; k < 2; k++)
      sys.spawn({ comm: `t${c}.${k}`, workload: BUILTIN_WORKLOADS.compute, affinity: [c] });
    for (let i = 0; i < 20; i++)
      sys.perfEventOpen({ type: 4, config: 0xc4 + (i % 2), read_format: 3 }, -1, c);
  }
  const tasks = [...sys.sched.tasks.values()].filter((t) => t.comm.startsWith("t"));
  for (const t of tasks.slice(0, 8)) sys.perfEventOpen({ type: 4, config: 0xc0 }, t.pid, -1);
  const t0 = performance.now();
  sys.run(simNs);
  const wall = (performance.now() - t0) / 1000;
  const st = sys.perf.stats;
  return { ops: st.schedOps + st.passes + st.rotations, wall, events: sys.eventsProcessed };
}
{
  // A run is about 0.1 s of wall time, so one run after a short warm-up mostly measures the
  // JIT tiering up: two full warm-up runs, then the best of 5.
  const simNs = quick ? 1_000_000_000 : 5_000_000_000;
  wholeModel(simNs);
  wholeModel(simNs);
  let best = null;
  for (let rep = 0; rep < 5; rep++) {
    const r = wholeModel(simNs);
    if (best === null || r.wall < best.wall) best = r;
  }
  const { ops, wall, events } = best;
  row(
    "scheduling operations (8 CPUs, 20 mux events/CPU)",
    fmt(ops / wall),
    "ops/s",
    `${fmt(ops)} ops in ${simNs / 1e9} s simulated, ${fmt(events)} timer events, ${wall.toFixed(3)} s wall`,
  );
}

// 4. Cost of one scheduling pass with N flexible events on one CPU (8 go on; the flexible
//    pass stops at the first group that does not, schedule.ts visitGroupsMerge()).
for (const n of [10, 100, 1000, 10000]) {
  const sys = new System({ machine: preset("x86-server"), perf: { nrOpen: 20000 } });
  sys.spawn({ comm: "w", workload: BUILTIN_WORKLOADS.compute, affinity: [0] });
  for (let i = 0; i < n; i++) sys.perfEventOpen({ type: 4, config: 0xc4 }, -1, 0);
  const core = sys.perf;
  const cpuctx = core.cpuctx[0];
  const reps = Math.max(20, Math.floor((quick ? 2e5 : 2e6) / n));
  let now = sys.now;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    now += 1000;
    ctxSchedOut(core, cpuctx, cpuctx.ctx, null, EVENT_FLEXIBLE, now);
    perfEventSchedIn(core, cpuctx, null, null, now);
  }
  const ns = ((performance.now() - t0) * 1e6) / reps;
  row(
    `scheduling pass (out + in), ${n} flexible events on the CPU`,
    fmt(ns),
    "ns/pass",
    `${(ns / n).toFixed(1)} ns per event on the CPU`,
  );
}

// 5. Guest entry/exit: one mediated vCPU pinned per CPU exiting 10,000 times per simulated
//    second, N host exclude_guest events per CPU; beside the limit kernel (limit-kernel.mjs)
//    on the same shape in this process. On-CPU time of this thread (guest-switch-cpu.mjs:
//    the machine is a shared VM, and wall time counts the time it waits for a CPU), best of
//    3 rounds that run every shape in turn, after a warm-up. Each run makes about 1.28 M
//    transitions (1 s simulated at 64 CPUs).
{
  const { clockKind, measureShapes } = await import("./guest-switch-cpu.mjs");
  const shapes = [
    [64, 8],
    [8, 8],
    [256, 8],
    [64, 9],
    [64, 32],
    [64, 100],
  ].map(([cpus, events]) => ({ cpus, events }));
  const got = measureShapes(shapes, 3, quick ? 0.2 : 1);
  const spread = (a) => (Math.max(...a) / Math.min(...a)).toFixed(2);
  shapes.forEach(({ cpus, events }, i) => {
    const g = got[i];
    row(
      `guest entry/exit, ${cpus} CPUs, ${events} host events/CPU`,
      fmt(g.vpmuNs),
      "ns/transition",
      `limit ${fmt(g.limitNs)} ns, ${(g.vpmuNs / g.limitNs).toFixed(1)}x; ${clockKind}, rounds spread ${spread(g.vpmu)}/${spread(g.limit)}; ${(g.simNs / 1e9).toFixed(2)} s simulated`,
    );
  });
  row(
    "guest entry/exit, 64 CPUs: 8 -> 9 host events/CPU",
    (got[3].vpmuNs / got[0].vpmuNs).toFixed(2),
    "x",
  );
}

// 6. perf_event_open scaling: CPU-bound counting events round-robin over 64 CPUs; the mean of
//    the 1,000 opens ending at 1k, 10k and 100k events, and the time of all 100k (best of 3).
{
  const { runOpenScaling } = await import("./open-scale.mjs");
  runOpenScaling(2000); // warm-up
  const total = quick ? 10_000 : 100_000;
  // Best of 3 for each figure: the machine is shared, and one pause skews a window's mean.
  const means = {};
  let wall = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 3; rep++) {
    const r = runOpenScaling(total);
    for (const [n, ns] of Object.entries(r.means)) means[n] = Math.min(means[n] ?? ns, ns);
    wall = Math.min(wall, r.wall);
  }
  for (const [n, ns] of Object.entries(means))
    row(`perf_event_open, 64 CPUs, mean of opens ${fmt(n - 999)}-${fmt(n)}`, fmt(ns), "ns/open");
  row(`perf_event_open, ${fmt(total)} opens over 64 CPUs`, (wall / 1000).toFixed(3), "s");
}

// 6. vpmu exec: the preload shim's round trips, and perf stat -a on a 64-CPU simulated host.
{
  const { runExecBenchmarks } = await import("./exec.mjs");
  runExecBenchmarks(row, quick);
}

// 7. vpmu sweep: points/s on 1 and 2 workers, per-point overhead beyond the scenario run.
{
  const { runSweepBenchmarks } = await import("./sweep.mjs");
  await runSweepBenchmarks(row, quick);
}

// 8. The HTML report and the playground (Chromium).
{
  const { runReportBenchmarks } = await import("./report.mjs");
  await runReportBenchmarks(row, quick);
}

console.log(`\nnode ${process.version}, ${process.platform}/${process.arch}`);
