// Allocation and GC per sweep point, in one process: guest-accuracy.yaml's points (seeds 5,
// 480 points) through runPoint and recordLine, as a sweep's thread runs them, after a warm-up
// of 96 points. Bytes allocated by function come from V8's sampling heap profiler with the
// objects the GC already collected kept (so: allocated, not retained); GC time from the
// `gc` performance entries; CPU of the main thread and of V8's helper threads from
// /proc/self/task/*/stat at the end. Then what survives a scavenge (a second profile that
// drops what minor GCs collect): a point's objects should die young, and any that are
// promoted cost scavenge copying and stay until a full GC (a closure V8 allocated in old
// space holding a whole system did that). `node bench/sweep-alloc.mjs [top]`.
import { readdirSync, readFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { PerformanceObserver, performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";

// As `vpmu sweep` sets it for its threads (src/cli/sweep-prestart.ts).
setFlagsFromString("--interrupt-budget=540672"); // SWEEP_INTERRUPT_BUDGET
const { accuracyPlan } = await import("./sweep.mjs");
const { shardPoints } = await import("../dist/scenario/sweep/plan.js");
const { recordLine, runPoint } = await import("../dist/scenario/sweep/run.js");

const plan = accuracyPlan(5);
const points = shardPoints(plan);
const top = Number(process.argv[2] ?? 20);

for (const i of points.slice(0, 96)) recordLine(runPoint(plan, i));

/** Main thread and other threads' CPU seconds (utime + stime). */
function threadCpu() {
  let main = 0;
  let helpers = 0;
  for (const t of readdirSync("/proc/self/task")) {
    const s = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    const cpu = (Number(f[11]) + Number(f[12])) / 100;
    if (t === String(process.pid)) main += cpu;
    else helpers += cpu;
  }
  return { main, helpers };
}

// Time and GC without the profiler, then bytes with it.
let gcMs = 0;
let gcs = 0;
const obs = new PerformanceObserver((l) => {
  for (const e of l.getEntries()) {
    gcMs += e.duration;
    gcs++;
  }
});
obs.observe({ entryTypes: ["gc"] });
const cpu0 = threadCpu();
const t0 = performance.now();
for (const i of points) recordLine(runPoint(plan, i));
const ms = performance.now() - t0;
await new Promise((res) => setTimeout(res, 20));
obs.disconnect();
const cpu1 = threadCpu();

const session = new Session();
session.connect();
await session.post("HeapProfiler.enable");
await session.post("HeapProfiler.startSampling", {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
for (const i of points) recordLine(runPoint(plan, i));
const { profile } = await session.post("HeapProfiler.stopSampling");
await session.post("HeapProfiler.startSampling", {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: false,
});
for (const i of points) recordLine(runPoint(plan, i));
const survivors = (await session.post("HeapProfiler.stopSampling")).profile;

/** Bytes by allocating function (self) of a sampling profile, and their total. */
function byFunction(prof) {
  const self = new Map();
  let total = 0;
  const walk = (node) => {
    const f = node.callFrame;
    const where = f.url
      ? `${f.url.replace(/.*\/(dist|node_modules)\//, "")}:${f.lineNumber + 1}`
      : "";
    const key = `${f.functionName || "(anonymous)"} ${where}`;
    self.set(key, (self.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const c of node.children) walk(c);
  };
  walk(prof.head);
  return { self, total };
}

const n = points.length;
const kb = (b) => (b / n / 1024).toFixed(1);
console.log(
  `${n} points: ${(ms / n).toFixed(2)} ms/point, GC ${(gcMs / n).toFixed(3)} ms/point (${gcs} GCs)`,
);
console.log(
  `CPU over those points: main thread ${(cpu1.main - cpu0.main).toFixed(2)} s, other threads ${(cpu1.helpers - cpu0.helpers).toFixed(2)} s`,
);
for (const [what, prof, rows] of [
  ["allocated", profile, top],
  ["survived a scavenge", survivors, Math.min(top, 10)],
]) {
  const { self, total } = byFunction(prof);
  console.log(`${what}: ${kb(total)} KiB/point; by function (self):`);
  for (const [k, b] of [...self].sort((a, b) => b[1] - a[1]).slice(0, rows))
    console.log(`${kb(b).padStart(8)} KiB ${((100 * b) / total).toFixed(1).padStart(5)}%  ${k}`);
}
