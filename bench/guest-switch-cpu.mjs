// Guest entry/exit shapes measured by the main thread's on-CPU time, for a shared machine:
//   node bench/guest-switch-cpu.mjs [CPUSxEVENTS,...] [rounds] [simulated s at 64 CPUs] [--queue]
// e.g. `node bench/guest-switch-cpu.mjs 64x8,64x9 5`. Each round runs every shape once, vpmu
// then the limit kernel (limit-kernel.mjs), interleaved so that load from other processes
// falls on all shapes alike; a shape's figure is its best round, with the spread of the
// rounds. On Linux the time is the main thread's time on a CPU (/proc/thread-self/schedstat:
// time spent waiting for a CPU, and the GC's helper threads, are not in it), elsewhere wall
// time. --queue adds the event queue's sift work per transition (one more run per shape).
import { existsSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { EventQueue } from "../dist/sim/queue.js";
import { runGuestSwitch } from "./guest-switch.mjs";
import { runLimit } from "./limit-kernel.mjs";

const SCHEDSTAT = "/proc/thread-self/schedstat";
const onCpu = existsSync(SCHEDSTAT);
/** Milliseconds: on-CPU time of this thread, or wall time. */
function clock() {
  if (!onCpu) return performance.now();
  return Number(readFileSync(SCHEDSTAT, "utf8").split(" ")[0]) / 1e6;
}

/** ns per transition of one run of `run`. */
function measure(run, simNs) {
  const t0 = clock();
  const r = run(simNs);
  return ((clock() - t0) * 1e6) / r.transitions;
}

/**
 * Sift work of the event queue per transition at one shape: sift-down and sift-up calls and
 * the heap levels they move, and the mean heap size (buckets) and armed timers at a pop.
 */
function queueStats(simNs, nrEvents, nrCpus) {
  const P = EventQueue.prototype;
  const saved = { siftDown: P.siftDown, siftUp: P.siftUp, pop: P.pop };
  const s = { down: 0, downLv: 0, up: 0, upLv: 0, pops: 0, size: 0, armed: 0 };
  const level = (i) => 31 - Math.clz32(i + 1);
  P.siftDown = function (i, t, q, id) {
    saved.siftDown.call(this, i, t, q, id);
    s.down++;
    s.downLv += level(this.pos[id]) - level(i);
  };
  P.siftUp = function (i, t, q, id) {
    saved.siftUp.call(this, i, t, q, id);
    s.up++;
    s.upLv += level(i) - level(this.pos[id]);
  };
  P.pop = function () {
    s.pops++;
    s.size += this.size;
    s.armed += this.length;
    return saved.pop.call(this);
  };
  try {
    const { transitions: n } = runGuestSwitch(simNs, nrEvents, nrCpus);
    const f = (x) => (x / n).toFixed(2);
    return `sift-down ${f(s.down)}/transition (${f(s.downLv)} levels), sift-up ${f(s.up)} (${f(s.upLv)} levels), heap ${(s.size / s.pops).toFixed(0)} buckets, ${(s.armed / s.pops).toFixed(0)} timers armed`;
  } finally {
    Object.assign(P, saved);
  }
}

/** Simulated ns at `cpus` CPUs for the transitions of `simS` simulated s at 64 CPUs. */
function simNsAt(cpus, simS) {
  return Math.round((simS * 1e9 * 64) / cpus);
}

/** The clock this bench measures by: "on-CPU" (Linux) or "wall". */
export const clockKind = onCpu ? "on-CPU" : "wall";

/**
 * Each shape ({cpus, events}) after a warm-up, `rounds` interleaved rounds of vpmu then the
 * limit kernel, the same number of transitions at every CPU count (`simS` simulated s at
 * 64 CPUs). Per shape: the best ns/transition of each, every round's figures, the
 * transitions and the simulated ns of a run.
 */
export function measureShapes(shapes, rounds, simS) {
  for (const { cpus, events } of shapes) {
    runGuestSwitch(Math.min(simNsAt(cpus, simS), 50_000_000), events, cpus);
    runLimit(Math.min(simNsAt(cpus, simS), 50_000_000), events, cpus);
  }
  const got = shapes.map(() => ({ vpmu: [], limit: [] }));
  for (let r = 0; r < rounds; r++) {
    shapes.forEach(({ cpus, events }, i) => {
      const ns = simNsAt(cpus, simS);
      got[i].vpmu.push(measure((t) => runGuestSwitch(t, events, cpus), ns));
      got[i].limit.push(measure((t) => runLimit(t, events, cpus), ns));
    });
  }
  return got.map((g, i) => ({
    ...g,
    vpmuNs: Math.min(...g.vpmu),
    limitNs: Math.min(...g.limit),
    simNs: simNsAt(shapes[i].cpus, simS),
  }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2).filter((a) => a !== "--queue");
  const withQueue = process.argv.includes("--queue");
  const shapes = (args[0] ?? "64x8,8x8,256x8,64x9,64x32,64x100").split(",").map((s) => {
    const [cpus, events] = s.split("x").map(Number);
    return { cpus, events };
  });
  const rounds = Number(args[1] ?? 3);
  const simS = Number(args[2] ?? 0.5);
  const bad = shapes.some(
    ({ cpus, events }) =>
      !Number.isInteger(cpus) || cpus < 1 || cpus > 1024 || !Number.isInteger(events) || events < 0,
  );
  if (bad || !Number.isInteger(rounds) || rounds < 1 || !(simS > 0)) {
    console.error(
      "usage: node bench/guest-switch-cpu.mjs [CPUSxEVENTS,... (CPUs 1-1024)] [rounds >= 1] [simulated s at 64 CPUs > 0] [--queue]",
    );
    process.exit(2);
  }
  const got = measureShapes(shapes, rounds, simS);
  console.log(
    `${clockKind} ns/transition, best of ${rounds} interleaved rounds (spread: worst/best)`,
  );
  const best = [];
  shapes.forEach(({ cpus, events }, i) => {
    const v = got[i].vpmuNs;
    const l = got[i].limitNs;
    best.push(v);
    const spread = (a) => (Math.max(...a) / Math.min(...a)).toFixed(2);
    let line = `${String(cpus).padStart(4)} CPUs x ${String(events).padStart(3)} events: vpmu ${v.toFixed(0)} (spread ${spread(got[i].vpmu)}), limit ${l.toFixed(0)} (spread ${spread(got[i].limit)}), ${(v / l).toFixed(2)}x`;
    if (withQueue) line += `; ${queueStats(simNsAt(cpus, simS) / 2, events, cpus)}`;
    console.log(line);
  });
  if (shapes.length === 2)
    console.log(
      `step ${shapes[0].events} -> ${shapes[1].events}: ${(best[1] / best[0]).toFixed(2)}x`,
    );
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
}
