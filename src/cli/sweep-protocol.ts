import type { SweepPlan } from "../scenario/sweep/plan.js";

/**
 * What the sweep's threads say to each other. Points are shared out by a counter in shared
 * memory (`claim`, an index into the list of points to run): each thread takes the next
 * CHUNK points when it is done with its last, so no thread waits to be handed work and a
 * slow point holds up nothing else. Workers answer each chunk with its lines in one message.
 */

/** Points a thread takes at once (about 8 ms of work: a short tail, few messages). */
export const CHUNK = 4;

/** A shard of the sweep: the points whose index is `index` mod `of`. */
export interface Shard {
  index: number;
  of: number;
}

/** A worker thread's start. */
export interface WorkerInit {
  /** The sweep file to read (a worker started with the process), or the plan itself. */
  file?: string;
  plan?: SweepPlan;
  shard: Shard;
  /** The points to run, when known at the start; otherwise see `early`. */
  todo?: number[];
  /**
   * Whether to start at once on all of the shard's points (no --resume: every point is to
   * run); otherwise the worker waits for a {@link WorkerTodo} message.
   */
  early: boolean;
  /** The shared claim counter (one Int32 on a SharedArrayBuffer). */
  claim: Int32Array;
}

/** The points to run, sent to a worker that was started before they were known. */
export interface WorkerTodo {
  todo: number[];
}

/** A worker's message: the lines of a chunk, or that it could not read the sweep. */
export type WorkerMessage =
  | { kind: "lines"; hash: string; indices: number[]; lines: string[] }
  | { kind: "noplan" };

/**
 * The points a thread takes at once for `plan`: CHUNK rounded up to whole seed
 * repetitions of a point (up to 32 of them), so that a point's repetitions stay on one
 * thread, which compiles the point once for all of them (runPoint's reuse).
 */
export function chunkSize(plan: SweepPlan): number {
  return plan.seeds > 32 ? CHUNK : Math.ceil(CHUNK / plan.seeds) * plan.seeds;
}

/** Takes the next chunk of `size` points: the position in the list of its first point. */
export function claimChunk(claim: Int32Array, size: number): number {
  return Atomics.add(claim, 0, size);
}

/** A new claim counter, at the first point. */
export function newClaim(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}
