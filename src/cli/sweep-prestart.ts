import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import { newClaim, type Shard, type WorkerInit } from "./sweep-protocol.js";

/** What a `vpmu sweep` command line asks for, as far as its worker threads need to know. */
export interface SweepLaunch {
  file: string;
  jobs: number;
  shard: Shard;
  resume: boolean;
}

/** A worker thread started with the process; what it said before the sweep took it over. */
export interface EarlyWorker {
  worker: Worker;
  /** Its messages, errors and exit until then, in order. */
  queued: Array<{ event: "message" | "error" | "exit"; value: unknown }>;
}

/** The workers started with the process, and their claim counter. */
export interface Prestarted {
  launch: SweepLaunch;
  early: boolean;
  claim: Int32Array;
  workers: EarlyWorker[];
}

let prestarted: Prestarted | undefined;

/**
 * The sweep a command line runs, read the way the CLI reads it; undefined for anything
 * else or anything unusual (then nothing starts early, and the CLI judges the arguments).
 */
export function sweepLaunch(args: string[]): SweepLaunch | undefined {
  if (args[0] !== "sweep") return undefined;
  let file: string | undefined;
  let jobs: string | undefined;
  let shard: string | undefined;
  let resume = false;
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    const inline = name === a ? undefined : a.slice(eq + 1);
    const value = () => inline ?? args[++i];
    if (name === "-j" || name === "--jobs") jobs = value();
    else if (/^-j\d+$/.test(a)) jobs = a.slice(2);
    else if (name === "--shard") shard = value();
    else if (name === "-o" || name === "--output") value();
    else if (/^-o./.test(a)) continue;
    else if (a === "--resume") resume = true;
    else if (a.startsWith("-") || file !== undefined) return undefined;
    else file = a;
  }
  if (file === undefined || file === "merge" || file === "chart") return undefined;
  if (jobs !== undefined && !/^\d+$/.test(jobs)) return undefined;
  const n = jobs === undefined ? availableParallelism() : Number(jobs);
  const m = /^(\d+)\/(\d+)$/.exec(shard ?? "0/1");
  if (!m || n < 1 || n > 1024 || Number(m[1]) >= Number(m[2])) return undefined;
  return { file, jobs: n, shard: { index: Number(m[1]), of: Number(m[2]) }, resume };
}

/**
 * V8's budget before it optimizes a function, 8 times its default (67,584 in Node 20). A
 * sweep's points run the whole simulator a few thousand times, short-lived: with the
 * default, optimizing compiles (on background threads, per thread that runs points) cost
 * about as much CPU as the points themselves, and take the second core that `--jobs 2`
 * needs. Later tier-up optimizes only what stays hot (BENCHMARKS.md, vpmu sweep).
 */
const SWEEP_INTERRUPT_BUDGET = 540_672;

let tuned = false;

/** Sets the V8 budget for a sweep, once, before its threads run points. */
export function tuneForSweep(): void {
  if (tuned) return;
  tuned = true;
  setFlagsFromString(`--interrupt-budget=${SWEEP_INTERRUPT_BUDGET}`);
}

/**
 * Starts a sweep's worker threads (jobs - 1) before the CLI's modules load: each reads the
 * sweep file itself and, without --resume, starts on its points at once, while this thread
 * is still loading. They do not keep the process alive until the sweep takes them.
 */
export function prestartSweep(args: string[]): void {
  const launch = sweepLaunch(args);
  if (!launch) return;
  tuneForSweep();
  if (launch.jobs < 2) return;
  const url = new URL("./sweep-worker.js", import.meta.url);
  const claim = newClaim();
  const early = !launch.resume;
  const workers: EarlyWorker[] = [];
  for (let k = 1; k < launch.jobs; k++) {
    const init: WorkerInit = { file: launch.file, shard: launch.shard, early, claim };
    const worker = new Worker(url, { workerData: init });
    const queued: EarlyWorker["queued"] = [];
    for (const event of ["message", "error", "exit"] as const)
      worker.on(event, (value: unknown) => queued.push({ event, value }));
    worker.unref();
    workers.push({ worker, queued });
  }
  prestarted = { launch, early, claim, workers };
}

/**
 * The workers started with the process, if they were started for this very sweep (the
 * same file, jobs, shard and --resume); otherwise they are stopped. Taken once.
 */
export function takePrestarted(want: SweepLaunch): Prestarted | undefined {
  const p = prestarted;
  prestarted = undefined;
  if (!p) return undefined;
  const l = p.launch;
  if (
    l.file === want.file &&
    l.jobs === want.jobs &&
    l.shard.index === want.shard.index &&
    l.shard.of === want.shard.of &&
    l.resume === want.resume
  )
    return p;
  for (const w of p.workers) void w.worker.terminate();
  return undefined;
}
