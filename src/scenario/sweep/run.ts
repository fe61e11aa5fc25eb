import { compileScenario, type Scenario } from "../compile.js";
import { formatPath } from "../diagnostics.js";
import { runScenario } from "../runner.js";
import { ScenarioSchema } from "../schema.js";
import { collectAll } from "./collect.js";
import { canonicalJson } from "./hash.js";
import {
  type Point,
  pointAt,
  pointDocument,
  pointHash,
  pointSeed,
  type SweepPlan,
  settingsHash,
} from "./plan.js";

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
  const c = compiledPoint(plan, p);
  const seed = pointSeed(c.doc, p);
  const hash = settingsHash(c.settingsJson, seed);
  const head = { index, hash, sweep: plan.hash, seed, settings: p.settings };
  if (c.error !== undefined) {
    const nulls = Object.fromEntries(plan.collect.map((col) => [col.name, null]));
    return { ...head, values: nulls, error: c.error };
  }
  const r = runScenario(c.scenario!, { seed });
  return { ...head, values: collectAll(r, plan.collect) };
}

/** A point's document, checked and compiled: its scenario, or why it has none. */
interface CompiledPoint {
  doc: Record<string, unknown>;
  /** canonicalJson() of the point's settings (for its hash). */
  settingsJson: string;
  scenario?: Scenario;
  error?: string;
}

/**
 * The last point compiled, by its axis values: the seed repetitions of a point (the
 * innermost index) share its document, and a run only reads its compiled scenario.
 */
let lastCompiled: { plan: SweepPlan; at: string; point: CompiledPoint } | null = null;

/** Point `p`'s document checked and compiled, reused from the point before when they match. */
function compiledPoint(plan: SweepPlan, p: Point): CompiledPoint {
  const at = p.at.join(",");
  if (lastCompiled !== null && lastCompiled.plan === plan && lastCompiled.at === at)
    return lastCompiled.point;
  const point = compilePoint(plan, pointDocument(plan, p), canonicalJson(p.settings));
  lastCompiled = { plan, at, point };
  return point;
}

function compilePoint(
  plan: SweepPlan,
  doc: Record<string, unknown>,
  settingsJson: string,
): CompiledPoint {
  const parsed = ScenarioSchema.safeParse(doc);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    return { doc, settingsJson, error: `${formatPath(i.path as PropertyKey[])}: ${i.message}` };
  }
  const c = compileScenario(parsed.data, undefined, plan.file);
  if (!c.ok) {
    const d = c.diagnostics[0]!;
    return { doc, settingsJson, error: `${d.path}: ${d.message}` };
  }
  return { doc, settingsJson, scenario: c.scenario };
}

/** A record as its JSONL line (with the newline). */
export function recordLine(r: SweepRecord): string {
  return `${JSON.stringify(r)}\n`;
}
