import { parentPort, workerData } from "node:worker_threads";
import { type SweepPlan, shardPoints } from "../scenario/sweep/plan.js";
import { recordLine, runPoint } from "../scenario/sweep/run.js";
import { readSweepFile } from "./sweep-file.js";
import {
  chunkSize,
  claimChunk,
  type WorkerInit,
  type WorkerMessage,
  type WorkerTodo,
} from "./sweep-protocol.js";

/**
 * A sweep worker thread: takes chunks of points off the shared counter until none are
 * left, and answers each chunk with its JSONL lines. It ends when the points run out.
 */
const init = workerData as WorkerInit;
const port = parentPort!;

function send(m: WorkerMessage): void {
  port.postMessage(m);
}

function runClaimed(plan: SweepPlan, todo: number[]): void {
  const size = chunkSize(plan);
  for (let k = claimChunk(init.claim, size); k < todo.length; k = claimChunk(init.claim, size)) {
    const indices = todo.slice(k, k + size);
    const lines = indices.map((i) => recordLine(runPoint(plan, i)));
    send({ kind: "lines", hash: plan.hash, indices, lines });
  }
}

function readPlan(file: string): SweepPlan | undefined {
  const r = readSweepFile(file);
  return r.ok ? r.plan : undefined;
}

const plan = init.plan ?? (init.file === undefined ? undefined : readPlan(init.file));
if (!plan)
  send({ kind: "noplan" }); // the CLI reads the file too and says what is wrong
else if (init.todo) runClaimed(plan, init.todo);
else if (init.early) runClaimed(plan, shardPoints(plan, init.shard.index, init.shard.of));
else port.once("message", (m: WorkerTodo) => runClaimed(plan, m.todo));
