// Sweep throughput: `vpmu sweep` (the package's bin, dist/bin/vpmu.js, as `npx vpmu` runs
// it) on examples/sweeps/guest-accuracy.yaml (96 points) with seeds: 5 (480 points),
// --jobs 1 and --jobs 2, best of 3, and with seeds: 20 (1,920 points), best of 2, where the
// threads' fixed costs (start, module load, cold JIT) weigh less; and the per-point overhead
// of the sweep (the point's document, its check and compile, collect, the line) beyond the
// scenario run itself, in one process.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileScenario } from "../dist/scenario/compile.js";
import { runScenario } from "../dist/scenario/runner.js";
import { ScenarioSchema } from "../dist/scenario/schema.js";
import { parseSweep } from "../dist/scenario/sweep/load.js";
import { pointAt, pointDocument, pointSeed, shardPoints } from "../dist/scenario/sweep/plan.js";
import { recordLine, runPoint } from "../dist/scenario/sweep/run.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** examples/sweeps/guest-accuracy.yaml's plan with `seeds` repetitions of each point. */
export function accuracyPlan(seeds) {
  const file = join(root, "examples", "sweeps", "guest-accuracy.yaml");
  const r = parseSweep(readFileSync(file, "utf8"), file, (p) => ({
    ok: true,
    text: readFileSync(join(dirname(file), p), "utf8"),
    file: p,
  }));
  if (!r.ok) throw new Error("guest-accuracy.yaml does not check");
  return { ...r.plan, seeds, points: (r.plan.points / r.plan.seeds) * seeds };
}

/** Wall seconds of `vpmu sweep FILE --jobs N -o OUT`, the process start included. */
function sweepWall(file, jobs) {
  const out = join(mkdtempSync(join(tmpdir(), "vpmu-bench-")), "r.jsonl");
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [
    join(root, "dist", "bin", "vpmu.js"),
    "sweep",
    file,
    "--jobs",
    String(jobs),
    "-o",
    out,
  ]);
  if (r.status !== 0) throw new Error(`vpmu sweep failed: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

/**
 * Seconds of the whole pipeline of each point (`runPoint` and its line) and of its scenario
 * run alone (compiled beforehand), point by point, alternated so that load on the machine
 * falls on both alike.
 */
function pipelineVsRuns(plan) {
  let all = 0;
  let runs = 0;
  for (const i of shardPoints(plan)) {
    const p = pointAt(plan, i);
    const doc = pointDocument(plan, p);
    const sc = compileScenario(ScenarioSchema.parse(doc), undefined, "x").scenario;
    const t0 = performance.now();
    recordLine(runPoint(plan, i));
    const t1 = performance.now();
    runScenario(sc, { seed: pointSeed(doc, p) });
    const t2 = performance.now();
    all += t1 - t0;
    runs += t2 - t1;
  }
  return { all: all / 1000, runs: runs / 1000 };
}

/** The example as a file with its base by absolute path and `seeds`. */
function accuracyFile(seeds) {
  const src = join(root, "examples", "sweeps", "guest-accuracy.yaml");
  const file = join(mkdtempSync(join(tmpdir(), "vpmu-bench-")), "guest-accuracy.yaml");
  writeFileSync(
    file,
    `${readFileSync(src, "utf8").replace("base: guest-accuracy-base.yaml", `base: ${join(dirname(src), "guest-accuracy-base.yaml")}`)}seeds: ${seeds}\n`,
  );
  return file;
}

/** Points/s rows of --jobs 1 and --jobs 2, best of `rounds` each. */
function throughputRows(row, seeds, rounds) {
  const n = shardPoints(accuracyPlan(seeds)).length;
  const file = accuracyFile(seeds);
  const best = (f) => Math.min(...Array.from({ length: rounds }, f));
  const one = best(() => sweepWall(file, 1));
  const two = best(() => sweepWall(file, 2));
  const f1 = (x) => x.toFixed(1);
  row(
    `vpmu sweep guest-accuracy, seeds ${seeds}, --jobs 1`,
    f1(n / one),
    "points/s",
    `${n} points in ${one.toFixed(2)} s, process start included`,
  );
  row(
    `vpmu sweep guest-accuracy, seeds ${seeds}, --jobs 2`,
    f1(n / two),
    "points/s",
    `${n} points in ${two.toFixed(2)} s: ${(one / two).toFixed(2)}x --jobs 1`,
  );
}

export async function runSweepBenchmarks(row, quick) {
  const seeds = quick ? 1 : 5;
  const plan = accuracyPlan(seeds);
  const n = shardPoints(plan).length;
  throughputRows(row, seeds, 3);
  if (!quick) throughputRows(row, 20, 2);
  pipelineVsRuns(plan); // warm-up
  const { all, runs } = [0, 1, 2]
    .map(() => pipelineVsRuns(plan))
    .reduce((a, b) => (b.all < a.all ? b : a));
  row(
    "sweep: per-point overhead beyond the scenario run",
    (((all - runs) * 1000) / n).toFixed(2),
    "ms/point",
    `scenario runs alone ${((runs * 1000) / n).toFixed(2)} ms/point`,
  );
}
