import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { htmlReport } from "../report/html.js";
import { reportPage } from "../scenario/report-page.js";
import { sweepPage } from "../scenario/sweep/page.js";
import { fail, parseDur, parseSeed, whereFlags } from "./flags.js";
import { resultsOrExit, scenarioOrExit } from "./io.js";
import { Progress } from "./progress.js";

interface ReportOpts {
  output?: string;
  seed?: string;
  duration?: string;
  truth?: boolean;
  variant?: string;
  x?: string;
  lines?: string;
  facet?: string;
  y: string[];
  where: string[];
}

const repeat = (v: string, acc: string[]) => [...acc, v];

/** The viewer bundle `npm run build` writes next to the CLI (dist/viewer/viewer.js). */
function viewerBundle(): string {
  const url = new URL("../viewer/viewer.js", import.meta.url);
  try {
    return readFileSync(url, "utf8");
  } catch {
    fail(`the report viewer is not built (${url.pathname} is missing): run npm run build`);
  }
}

/** Writes the page, or fails naming the file. */
function writePage(out: string, html: string): void {
  try {
    writeFileSync(out, html);
  } catch (e) {
    fail(`cannot write ${out} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  process.stdout.write(`wrote ${out} (${html.length} bytes)\n`);
}

/** A scenario's report: runs it as `vpmu run` does. */
function scenarioReport(file: string, o: ReportOpts): void {
  const sweepFlag = (["x", "lines", "facet"] as const).find((k) => o[k] !== undefined);
  if (sweepFlag) fail(`--${sweepFlag}: only for a sweep results file (${file} is a scenario)`);
  if (o.y.length > 0) fail(`--y: only for a sweep results file (${file} is a scenario)`);
  if (o.where.length > 0) fail(`--where: only for a sweep results file (${file} is a scenario)`);
  const seed = parseSeed(o.seed);
  const duration = parseDur(o.duration);
  const sc = scenarioOrExit(file, o.variant);
  const viewer = viewerBundle();
  const progress = new Progress();
  let page: ReturnType<typeof reportPage>;
  try {
    page = reportPage(sc, file, {
      seed,
      duration,
      truth: o.truth ?? false,
      onProgress: (done, total) => progress.update(done, total),
    });
  } finally {
    progress.stop();
  }
  writePage(o.output ?? "report.html", htmlReport(page, viewer));
}

/**
 * A sweep results file: named .jsonl, or its first line a sweep header. A file that
 * cannot be read is left to the scenario loader's message, unless named .jsonl.
 */
function isSweepResults(file: string): boolean {
  if (file.endsWith(".jsonl")) return true;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return false;
  }
  const nl = text.indexOf("\n");
  try {
    const head = JSON.parse(nl < 0 ? text : text.slice(0, nl)) as unknown;
    return head !== null && typeof head === "object" && "vpmu_sweep" in head;
  } catch {
    return false;
  }
}

/** A sweep's page: line charts of its results (src/scenario/sweep/page.ts), no run. */
function sweepReport(file: string, o: ReportOpts): void {
  const scenarioFlag = (["seed", "duration", "truth", "variant"] as const).find(
    (k) => o[k] !== undefined,
  );
  if (scenarioFlag)
    fail(`--${scenarioFlag}: only for a scenario (${file} is a sweep results file)`);
  const m = resultsOrExit(file, "");
  const page = sweepPage(
    file,
    m.header,
    m.records,
    {
      y: o.y,
      where: whereFlags(o.where),
      ...(o.x !== undefined ? { x: o.x } : {}),
      ...(o.lines !== undefined ? { lines: o.lines } : {}),
      ...(o.facet !== undefined ? { facet: o.facet } : {}),
    },
    viewerBundle(),
  );
  if (!page.ok) fail(page.message);
  writePage(o.output ?? "report.html", page.html);
}

/**
 * Adds `vpmu report <file> [-o report.html]`: runs a scenario as `vpmu run` does and writes
 * one self-contained HTML page (data and viewer inline) with its timeline, perf stat tables,
 * expectations and, for a scenario with variants, the variants side by side. Given a
 * sweep's results (JSONL), draws them as line charts instead (no run).
 */
export function registerReportCommand(program: Command): void {
  program
    .command("report")
    .description(
      "run a scenario and write a self-contained HTML report (timeline, perf stat tables); given sweep results, draw their line charts",
    )
    .argument("<file>", "scenario file (YAML or JSON), or sweep results (JSONL)")
    .option("-o, --output <file>", "HTML file to write", "report.html")
    .option("-s, --seed <n>", "seed (overrides the scenario's)")
    .option("-d, --duration <time>", "simulated duration (overrides the scenario's), e.g. 500ms")
    .option("--truth", "show the ground truth and the error next to each perf value")
    .option("--variant <name>", "report only this variant of a scenario with variants")
    .option("--x <axis>", "sweep results: the axis along x")
    .option("--lines <axis>", "sweep results: one line per value of this axis")
    .option("--facet <axis>", "sweep results: one panel per value of this axis")
    .option("--y <value>", "sweep results: a collected value to draw (repeatable)", repeat, [])
    .option(
      "--where <axis=value>",
      "sweep results: fix an axis at one value (repeatable)",
      repeat,
      [],
    )
    .action((file: string, o: ReportOpts) => {
      if (isSweepResults(file)) sweepReport(file, o);
      else scenarioReport(file, o);
    });
}
