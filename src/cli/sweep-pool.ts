import { Worker } from "node:worker_threads";
import type { SweepPlan } from "../scenario/sweep/plan.js";
import { recordLine, runPoint } from "../scenario/sweep/run.js";

/** Called with each point's line as it finishes, in the order they finish. */
export type OnLine = (index: number, line: string) => void;

/** Points each worker has in flight: one running, one queued behind it (no idle gap). */
const IN_FLIGHT = 2;

/** Runs the points in this thread, one after the other. */
function runHere(plan: SweepPlan, todo: number[], onLine: OnLine): Promise<void> {
  for (const i of todo) onLine(i, recordLine(runPoint(plan, i)));
  return Promise.resolve();
}

/**
 * Runs `todo` on `jobs` threads: this one and jobs - 1 worker threads (only this one when
 * jobs is 1). Each takes the next point when it finishes one, so a slow point holds up
 * nothing else; this thread yields between its points to hand the workers theirs.
 */
export function runPoints(
  plan: SweepPlan,
  todo: number[],
  jobs: number,
  onLine: OnLine,
): Promise<void> {
  if (jobs <= 1 || todo.length <= 1) return runHere(plan, todo, onLine);
  const url = new URL("./sweep-worker.js", import.meta.url);
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    let failed = false;
    const workers: Worker[] = [];
    const finish = (e?: unknown) => {
      for (const w of workers) void w.terminate();
      failed = e !== undefined;
      if (e) reject(e);
      else resolve();
    };
    const finished = (index: number, line: string) => {
      onLine(index, line);
      if (++done === todo.length) finish();
    };
    const feed = (w: Worker) => {
      if (next < todo.length) w.postMessage(todo[next++]);
    };
    for (let k = 1; k < jobs; k++) {
      const w = new Worker(url, { workerData: { plan } });
      workers.push(w);
      w.on("message", (m: { index: number; line: string }) => {
        finished(m.index, m.line);
        feed(w);
      });
      w.on("error", finish);
      for (let j = 0; j < IN_FLIGHT; j++) feed(w);
    }
    const here = () => {
      if (failed || next >= todo.length) return;
      const i = todo[next++]!;
      finished(i, recordLine(runPoint(plan, i)));
      setImmediate(here);
    };
    setImmediate(here);
  });
}
