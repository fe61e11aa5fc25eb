import { Worker } from "node:worker_threads";
import type { SweepPlan } from "../scenario/sweep/plan.js";
import { recordLine, runPoint } from "../scenario/sweep/run.js";
import { type EarlyWorker, type SweepLaunch, takePrestarted } from "./sweep-prestart.js";
import {
  chunkSize,
  claimChunk,
  newClaim,
  type WorkerInit,
  type WorkerMessage,
} from "./sweep-protocol.js";

/** Called with each point's line as it finishes, in the order they finish. */
export type OnLine = (index: number, line: string) => void;

/** Runs the points in this thread, one after the other. */
function runHere(plan: SweepPlan, todo: number[], onLine: OnLine): Promise<void> {
  for (const i of todo) onLine(i, recordLine(runPoint(plan, i)));
  return Promise.resolve();
}

/** The sweep's worker threads: those started with the process if they fit, else new ones. */
function startWorkers(
  plan: SweepPlan,
  todo: number[],
  launch: SweepLaunch,
): { claim: Int32Array; workers: EarlyWorker[] } {
  const pre = takePrestarted(launch);
  if (pre) {
    // Without --resume they took the shard's points from the start: `todo` is that list.
    if (!pre.early) for (const w of pre.workers) w.worker.postMessage({ todo });
    return pre;
  }
  const claim = newClaim();
  const url = new URL("./sweep-worker.js", import.meta.url);
  const workers: EarlyWorker[] = [];
  for (let k = 1; k < launch.jobs; k++) {
    const init: WorkerInit = { plan, shard: launch.shard, todo, early: false, claim };
    workers.push({ worker: new Worker(url, { workerData: init }), queued: [] });
  }
  return { claim, workers };
}

/**
 * Runs `todo` on `launch.jobs` threads: this one and jobs - 1 worker threads (only this
 * one when jobs is 1). All take chunks of points off one shared counter; this thread
 * yields between its chunks to take in the workers' lines.
 */
export function runPoints(
  plan: SweepPlan,
  todo: number[],
  launch: SweepLaunch,
  onLine: OnLine,
): Promise<void> {
  if (launch.jobs <= 1) {
    takePrestarted(launch); // none fit one job: any are stopped
    return runHere(plan, todo, onLine);
  }
  const { claim, workers } = startWorkers(plan, todo, launch);
  return new Promise((resolve, reject) => {
    let done = 0;
    let settled = false;
    const finish = (e?: unknown) => {
      if (settled) return;
      settled = true;
      for (const w of workers) void w.worker.terminate();
      if (e) reject(e);
      else resolve();
    };
    const finished = (index: number, line: string) => {
      onLine(index, line);
      if (++done === todo.length) finish();
    };
    const onMessage = (m: WorkerMessage) => {
      if (settled || m.kind === "noplan") return; // it read no plan, so it took no points
      if (m.hash !== plan.hash) return finish(new Error("the sweep file changed while it ran"));
      for (let j = 0; j < m.indices.length; j++) finished(m.indices[j]!, m.lines[j]!);
    };
    const onExit = (code: unknown) => {
      if (code !== 0) finish(new Error(`a sweep worker thread stopped (exit code ${code})`));
    };
    for (const { worker, queued } of workers) {
      for (const event of ["message", "error", "exit"]) worker.removeAllListeners(event);
      worker.on("message", onMessage).on("error", finish).on("exit", onExit).ref();
      for (const q of queued)
        if (q.event === "message") onMessage(q.value as WorkerMessage);
        else if (q.event === "error") finish(q.value);
        else onExit(q.value);
    }
    const size = chunkSize(plan);
    const here = () => {
      if (settled) return;
      const k = claimChunk(claim, size);
      if (k >= todo.length) return; // the rest is with the workers
      for (const i of todo.slice(k, k + size)) finished(i, recordLine(runPoint(plan, i)));
      setImmediate(here);
    };
    if (todo.length === 0) finish();
    else setImmediate(here);
  });
}
