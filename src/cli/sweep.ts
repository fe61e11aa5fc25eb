import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { formatDiagnostic } from "../scenario/diagnostics.js";
import { mergedCsv, mergedJsonl, mergeResults } from "../scenario/sweep/merge.js";
import { type SweepPlan, shardPoints } from "../scenario/sweep/plan.js";
import { headerKey, readResults, sweepHeader } from "../scenario/sweep/results.js";
import { pointIdentity } from "../scenario/sweep/run.js";
import { EXIT_USAGE } from "./flags.js";
import { registerSweepChart } from "./sweep-chart.js";
import { readSweepFile } from "./sweep-file.js";
import { runPoints } from "./sweep-pool.js";
import { type SweepLaunch, tuneForSweep } from "./sweep-prestart.js";
import { SweepProgress } from "./sweep-progress.js";
import type { Shard } from "./sweep-protocol.js";

const EXIT_FAIL = 1;

function usage(msg: string): never {
  process.stderr.write(`vpmu: ${msg}\n`);
  process.exit(EXIT_USAGE);
}

/** Reads and checks a sweep file; problems go to stderr at file:line:col, exit 2. */
export function loadSweepFile(file: string): SweepPlan {
  const r = readSweepFile(file);
  if (!r.ok) {
    if ("unreadable" in r) usage(r.unreadable);
    for (const d of r.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.exit(EXIT_USAGE);
  }
  return r.plan;
}

function parseJobs(v: string | undefined): number {
  if (v === undefined) return availableParallelism();
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 1024)
    usage(`--jobs: "${v}" is not a number of workers from 1 to 1024`);
  return Number(v);
}

function parseShard(v: string | undefined): Shard {
  if (v === undefined) return { index: 0, of: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
    usage(`--shard: "${v}" is not I/N with 0 <= I < N (e.g. 0/4)`);
  return { index: Number(m[1]), of: Number(m[2]) };
}

/**
 * Opens the output for appending. Without --resume it starts anew (the header line); with
 * it, the points already there are kept when their sweep and hash match, and a last line
 * cut short by a crash is cut off, to be run again.
 */
function openOutput(
  out: string,
  plan: SweepPlan,
  shard: { index: number; of: number },
  resume: boolean,
  todo: number[],
) {
  const header = `${JSON.stringify(sweepHeader(plan, shard))}\n`;
  const done = new Set<number>();
  if (!resume || !existsSync(out) || readFileSync(out, "utf8") === "") {
    writeFileSync(out, header);
    return { fd: openSync(out, "a"), done };
  }
  const r = readResults(readFileSync(out, "utf8"), out);
  if (!r.ok) usage(`--resume: ${r.message}`);
  if (!r.header) {
    writeFileSync(out, header);
    return { fd: openSync(out, "a"), done };
  }
  if (
    headerKey(r.header) !== headerKey(sweepHeader(plan)) ||
    r.header.shard !== sweepHeader(plan, shard).shard
  )
    usage(
      `--resume: ${out} holds results of another sweep or shard (${r.header.name} ${r.header.sweep}${r.header.shard ? ` shard ${r.header.shard}` : ""}); use another -o`,
    );
  const mine = new Set(todo);
  for (const rec of r.records) {
    if (
      rec.sweep !== plan.hash ||
      !mine.has(rec.index) ||
      rec.hash !== pointIdentity(plan, rec.index).hash
    )
      usage(`--resume: ${out}:${rec.at}: point ${rec.index} does not belong to this sweep`);
    done.add(rec.index);
  }
  const fd = openSync(out, "r+");
  if (r.truncated) {
    ftruncateSync(fd, r.goodBytes);
    process.stderr.write(`vpmu: ${out}: the last line was cut short; its point runs again\n`);
  }
  closeSync(fd);
  return { fd: openSync(out, "a"), done };
}

/** openOutput, an output that cannot be written or read named in one line (exit 2). */
function openOutputOrExit(...args: Parameters<typeof openOutput>): ReturnType<typeof openOutput> {
  try {
    return openOutput(...args);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    usage(`-o ${args[0]}: cannot write (${code})`);
  }
}

/** Rewrites a finished output in point order (write, fsync, rename: never half a file). */
function finalize(out: string, shard: { index: number; of: number }): void {
  const m = mergeResults([{ file: out, text: readFileSync(out, "utf8") }], false);
  if (!m.ok) usage(m.message);
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, mergedJsonl(m, shard.of > 1 ? `${shard.index}/${shard.of}` : undefined));
  const fd = openSync(tmp, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, out);
}

interface SweepOpts {
  jobs?: string;
  shard?: string;
  output?: string;
  resume?: boolean;
}

/** `vpmu sweep FILE`: runs this shard's points, one JSON line each. */
async function sweepCommand(file: string, o: SweepOpts): Promise<void> {
  const jobs = parseJobs(o.jobs);
  const shard = parseShard(o.shard);
  if (o.resume && !o.output) usage("--resume needs -o FILE (the results to complete)");
  tuneForSweep();
  const plan = loadSweepFile(file);
  const todo = shardPoints(plan, shard.index, shard.of);
  const launch: SweepLaunch = { file, jobs, shard, resume: o.resume ?? false };
  let errors = 0;
  const count = (line: string) => {
    if (line.includes('"error":')) errors++;
  };
  if (!o.output) {
    // To a pipe: in point order, each line as soon as those before it are out.
    process.stdout.write(`${JSON.stringify(sweepHeader(plan, shard))}\n`);
    const pending = new Map<number, string>();
    let k = 0;
    await runPoints(plan, todo, launch, (i, line) => {
      count(line);
      pending.set(i, line);
      while (k < todo.length && pending.has(todo[k]!)) {
        process.stdout.write(pending.get(todo[k]!)!);
        pending.delete(todo[k++]!);
      }
    });
  } else {
    const { fd, done } = openOutputOrExit(o.output, plan, shard, o.resume ?? false, todo);
    const left = todo.filter((i) => !done.has(i));
    const progress = new SweepProgress(left.length);
    try {
      await runPoints(plan, left, launch, (_i, line) => {
        count(line);
        writeSync(fd, line);
        progress.tick();
      });
    } finally {
      progress.stop();
      closeSync(fd);
    }
    finalize(o.output, shard);
  }
  if (errors > 0) {
    process.stderr.write(`vpmu: ${errors} points could not run (see their "error")\n`);
    process.exitCode = EXIT_FAIL;
  }
}

function readPart(p: string): string {
  try {
    return readFileSync(p, "utf8");
  } catch (e) {
    usage(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** `vpmu sweep merge OUT PARTS...`. */
function mergeCommand(out: string, parts: string[], o: { format: string }): void {
  if (o.format !== "jsonl" && o.format !== "csv")
    usage(`--format: "${o.format}" is not jsonl or csv`);
  const texts = parts.map((p) => ({ file: p, text: readPart(p) }));
  const m = mergeResults(texts, true);
  if (!m.ok) usage(`sweep merge: ${m.message}`);
  writeFileSync(out, o.format === "csv" ? mergedCsv(m) : mergedJsonl(m));
}

/** `vpmu sweep`: the command and its `merge` and `chart` subcommands. */
export function registerSweepCommand(program: Command): void {
  // Options are read where they stand: sweep's -o before `merge` or `chart`, theirs after
  // (commander needs this of every command above one with positional options).
  program.enablePositionalOptions();
  const sweep = program
    .command("sweep")
    .description(
      "run a scenario over a grid of settings (a sweep file); merge and chart its results",
    )
    .argument("<file>", "sweep file (YAML or JSON), see docs/sweeps.md")
    .option("-j, --jobs <n>", "worker threads (default: the number of cores)")
    .option("--shard <i/n>", "run only shard I of N (points whose index is I mod N)")
    .option("-o, --output <file>", "write the results (JSONL) here; default standard output")
    .option("--resume", "keep the points already in -o FILE and run the others")
    .enablePositionalOptions()
    .action((file: string, o: SweepOpts) => sweepCommand(file, o));
  sweep
    .command("merge")
    .description("merge shard results into one file ordered by point index")
    .argument("<out>", "merged results file")
    .argument("<parts...>", "results of the shards")
    .option("-f, --format <format>", "jsonl or csv", "jsonl")
    .action(mergeCommand);
  registerSweepChart(sweep);
}
