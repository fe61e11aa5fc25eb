import { compileScenario } from "../compile.js";
import { formatPath } from "../diagnostics.js";
import { runScenario } from "../runner.js";
import { ScenarioSchema } from "../schema.js";
import { collectAll } from "./collect.js";
import { pointAt, pointDocument, pointHash, pointSeed, type SweepPlan } from "./plan.js";

/** One line of a sweep's results: a point, what it was set to and what it gave. */
export interface SweepRecord {
  index: number;
  /** Hash of the point's settings and seed. */
  hash: string;
  /** Hash of the sweep (SweepPlan.hash). */
  sweep: string;
  seed: number;
  settings: Record<string, unknown>;
  values: Record<string, unknown>;
  /** Only when the point's scenario could not be compiled: why. */
  error?: string;
}

/** The identity of a point without running it: index, hash and seed (what --resume checks). */
export function pointIdentity(plan: SweepPlan, index: number): { hash: string; seed: number } {
  const p = pointAt(plan, index);
  const seed = pointSeed(pointDocument(plan, p), p);
  return { hash: pointHash(p, seed), seed };
}

/**
 * Runs point `index`: the base with its axis values written in, validated and compiled as
 * any scenario, run with the point's seed; its values collected. A point whose settings
 * together make an invalid scenario (each value alone was checked) gets a record with
 * `error` and null values instead.
 */
export function runPoint(plan: SweepPlan, index: number): SweepRecord {
  const p = pointAt(plan, index);
  const doc = pointDocument(plan, p);
  const seed = pointSeed(doc, p);
  const head = { index, hash: pointHash(p, seed), sweep: plan.hash, seed, settings: p.settings };
  const nulls = Object.fromEntries(plan.collect.map((c) => [c.name, null]));
  const parsed = ScenarioSchema.safeParse(doc);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const error = `${formatPath(i.path as PropertyKey[])}: ${i.message}`;
    return { ...head, values: nulls, error };
  }
  const c = compileScenario(parsed.data, undefined, plan.file);
  if (!c.ok) {
    const d = c.diagnostics[0]!;
    return { ...head, values: nulls, error: `${d.path}: ${d.message}` };
  }
  const r = runScenario(c.scenario, { seed });
  return { ...head, values: collectAll(r, plan.collect) };
}

/** A record as its JSONL line (with the newline). */
export function recordLine(r: SweepRecord): string {
  return `${JSON.stringify(r)}\n`;
}
