import { parentPort, workerData } from "node:worker_threads";
import type { SweepPlan } from "../scenario/sweep/plan.js";
import { recordLine, runPoint } from "../scenario/sweep/run.js";

/** A sweep worker thread: runs the points it is sent, answers each with its JSONL line. */
const plan = (workerData as { plan: SweepPlan }).plan;
parentPort!.on("message", (index: number) => {
  parentPort!.postMessage({ index, line: recordLine(runPoint(plan, index)) });
});
