import { writeAt } from "../variants/derive.js";
import { canonicalJson, sha256Hex } from "./hash.js";

/**
 * A checked sweep: plain data only (it crosses to worker threads by structured clone). A
 * point is an index into the grid's cartesian product, first axis outermost, the seed
 * repetition innermost; its settings and seed follow from the index alone.
 */

/** A value as an axis records it (its `values` entry, or its level's `value`). */
export type AxisLabel = unknown;

/** One `set` entry, its path resolved against the base document. */
export interface PlanSet {
  key: string;
  path: PropertyKey[];
  value: unknown;
}

/** One axis: its labels and, for each, the entries it writes. */
export interface PlanAxis {
  name: string;
  labels: AxisLabel[];
  sets: PlanSet[][];
}

/** A collected value, compiled (collect.ts reads it from a run's result). */
export type Collector =
  | { name: string; kind: "path"; path: PathStep[] }
  | { name: string; kind: "error"; measurement: string; event?: string; stat: "mean" | "max" }
  | { name: string; kind: "running"; measurement: string; event: string }
  | { name: string; kind: "in_state"; measurement: string; event?: string; state: string }
  | { name: string; kind: "exits"; vm: string; vcpu: number; reason?: string }
  | { name: string; kind: "exit_cost"; vm: string; vcpu: number };

/** A step of a report path: a key, a list index, or the first list item whose field equals. */
export type PathStep = { key: string } | { index: number } | { field: string; equals: string };

export interface SweepPlan {
  name: string;
  /** The sweep file, as named on the command line. */
  file: string;
  /** The base scenario document (checked), without variants. */
  base: Record<string, unknown>;
  axes: PlanAxis[];
  /** Exclusion rules: axis name to the canonical JSON of each value it matches. */
  exclude: Array<Record<string, string[]>>;
  collect: Collector[];
  seeds: number;
  /** Points in the product, excluded ones included. */
  points: number;
  /** Hash of what the sweep means (base, axes, exclusions, collect, seeds, vpmu version). */
  hash: string;
}

/** One point of the grid. */
export interface Point {
  index: number;
  /** Index of each axis's value. */
  at: number[];
  /** Seed repetition, 0 .. seeds-1. */
  rep: number;
  settings: Record<string, AxisLabel>;
}

/** The point at `index` (mixed radix: the last axis changes fastest, then the repetition). */
export function pointAt(plan: SweepPlan, index: number): Point {
  let rest = Math.floor(index / plan.seeds);
  const rep = index % plan.seeds;
  const at = new Array<number>(plan.axes.length);
  for (let a = plan.axes.length - 1; a >= 0; a--) {
    const n = plan.axes[a]!.labels.length;
    at[a] = rest % n;
    rest = Math.floor(rest / n);
  }
  const settings: Record<string, AxisLabel> = {};
  plan.axes.forEach((ax, a) => {
    settings[ax.name] = ax.labels[at[a]!];
  });
  return { index, at, rep, settings };
}

/** Whether an exclusion rule leaves the point out (every axis it names matches). */
export function isExcluded(plan: SweepPlan, p: Point): boolean {
  return plan.exclude.some((rule) =>
    Object.entries(rule).every(([axis, vals]) =>
      vals.includes(canonicalJson(p.settings[axis] ?? null)),
    ),
  );
}

/** Whether shard `shard` of `of` runs point `index`: round robin over the point index. */
export function inShard(index: number, shard: number, of: number): boolean {
  return index % of === shard;
}

/** The indices a shard runs, in order, excluded points left out. */
export function shardPoints(plan: SweepPlan, shard = 0, of = 1): number[] {
  const out: number[] = [];
  for (let i = shard; i < plan.points; i += of)
    if (!isExcluded(plan, pointAt(plan, i))) out.push(i);
  return out;
}

/** The point's scenario document: the base with each axis's entries written, in axis order. */
export function pointDocument(plan: SweepPlan, p: Point): Record<string, unknown> {
  const doc = structuredClone(plan.base);
  plan.axes.forEach((ax, a) => {
    for (const s of ax.sets[p.at[a]!]!) writeAt(doc, s.path, s.value);
  });
  return doc;
}

/**
 * The seed of repetition `rep`: the document's seed for the first, then seeds derived
 * from it (splitmix32 of seed and rep), the same at every point (common random numbers).
 */
export function repSeed(docSeed: number, rep: number): number {
  if (rep === 0) return docSeed >>> 0;
  let z = (docSeed + Math.imul(rep, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** The seed a point runs with. */
export function pointSeed(doc: Record<string, unknown>, p: Point): number {
  const s = typeof doc.seed === "number" ? doc.seed : 1;
  return repSeed(s, p.rep);
}

/** The hash of a point's settings and seed (what --resume matches on). */
export function pointHash(p: Point, seed: number): string {
  return settingsHash(canonicalJson(p.settings), seed);
}

/**
 * pointHash() from the canonical JSON of the settings, which a point's seed repetitions
 * share: shortHash({ settings, seed }) without building that JSON again.
 */
export function settingsHash(settingsJson: string, seed: number): string {
  // canonicalJson() of { settings, seed }: its keys sorted, "seed" first.
  return sha256Hex(`{"seed":${canonicalJson(seed)},"settings":${settingsJson}}`).slice(0, 16);
}
