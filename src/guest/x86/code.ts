import type { Cpu } from "../../hw/cpu.js";
import { type ExecState, makeExec } from "../../hw/exec.js";
import { NQ, Q } from "../../hw/quantity.js";
import type { CodeBlock } from "./program.js";

/**
 * How a block of guest code executes on a CPU: a constant rate of each quantity for a
 * duration that is a power of two nanoseconds, so every rate is a binary fraction and the
 * counts a PMU accrues over the block (in any number of pieces between exits) are exact.
 * The duration is the block's cycles at the CPU's clock rounded up to that power of two
 * (a model simplification: time runs up to 2x slow, counts are unchanged).
 */
export function blockExec(block: CodeBlock, cpu: Cpu): { exec: ExecState; ns: number } {
  // Programs repeat the same blocks (a one-instruction WRMSR, a loop) thousands of times:
  // one ExecState per block shape and core type keeps the ledgers and the heap small.
  let byShape = CACHE.get(cpu.coreType);
  if (!byShape) {
    byShape = new Map();
    CACHE.set(cpu.coreType, byShape);
  }
  const key = shapeKey(block);
  const hit = byShape.get(key);
  if (hit) return hit;
  const made = buildExec(block, cpu);
  byShape.set(key, made);
  return made;
}

const CACHE = new WeakMap<Cpu["coreType"], Map<string, { exec: ExecState; ns: number }>>();

function shapeKey(b: CodeBlock): string {
  return `${b.insns},${b.branches ?? 0},${b.branchMisses ?? 0},${b.loads ?? 0},${b.stores ?? 0},${b.memInsns ?? ""},${b.ldStOps ?? 0},${b.llcRefs ?? 0},${b.llcMisses ?? 0},${b.cycles ?? ""},${b.cpl ?? 0}`;
}

function buildExec(block: CodeBlock, cpu: Cpu): { exec: ExecState; ns: number } {
  const cycles = block.cycles ?? block.insns;
  const freqGHz = cpu.coreType.scaling.freqMHz / 1000;
  const ns = 2 ** Math.max(0, Math.ceil(Math.log2(Math.max(1, cycles / freqGHz))));
  const loads = block.loads ?? 0;
  const stores = block.stores ?? 0;
  const mem = block.memInsns ?? loads + stores;
  const r = new Float64Array(NQ);
  const refGHz = cpu.coreType.scaling.refMHz / 1000;
  r[Q.CYCLES] = cycles / ns;
  r[Q.INSTRUCTIONS] = block.insns / ns;
  // The reference clock runs whatever the code does; bus cycles are a quarter of it (as
  // hw/workload.ts models them).
  r[Q.REF_CYCLES] = refGHz;
  r[Q.BUS_CYCLES] = refGHz / 4;
  r[Q.BRANCHES] = (block.branches ?? 0) / ns;
  r[Q.BRANCH_MISSES] = (block.branchMisses ?? 0) / ns;
  r[Q.CACHE_REFERENCES] = (block.llcRefs ?? 0) / ns;
  r[Q.CACHE_MISSES] = (block.llcMisses ?? 0) / ns;
  r[Q.MEM_ACCESS] = mem / ns;
  r[Q.L1D_CACHE] = mem / ns;
  r[Q.L1D_CACHE_REFILL] = (block.llcRefs ?? 0) / ns;
  r[Q.LD_RETIRED] = loads / ns;
  r[Q.ST_RETIRED] = stores / ns;
  r[Q.LD_ST_OPS] = (block.ldStOps ?? 0) / ns;
  const user = block.cpl === 3;
  return { exec: makeExec("guest code", r, user ? [0, 0, 1, 0] : [0, 0, 0, 1]), ns };
}

/** A guest that executes nothing (waiting for its next request): every rate zero. */
export function haltedExec(label: string): ExecState {
  return makeExec(label, new Float64Array(NQ), [0, 0, 0, 1]);
}
