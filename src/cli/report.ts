import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { htmlReport } from "../report/html.js";
import { formatDiagnostic } from "../scenario/diagnostics.js";
import { reportPage } from "../scenario/report-page.js";
import { EXIT_USAGE, fail, parseDur, parseSeed } from "./flags.js";
import { loadScenarioFile } from "./io.js";
import { Progress } from "./progress.js";

interface ReportOpts {
  output?: string;
  seed?: string;
  duration?: string;
  truth?: boolean;
  variant?: string;
}

/** The viewer bundle `npm run build` writes next to the CLI (dist/viewer/viewer.js). */
function viewerBundle(): string {
  const url = new URL("../viewer/viewer.js", import.meta.url);
  try {
    return readFileSync(url, "utf8");
  } catch {
    fail(`the report viewer is not built (${url.pathname} is missing): run npm run build`);
  }
}

/**
 * Adds `vpmu report <file> [-o report.html]`: runs a scenario as `vpmu run` does and writes
 * one self-contained HTML page (data and viewer inline) with its timeline, perf stat tables,
 * expectations and, for a scenario with variants, the variants side by side.
 */
export function registerReportCommand(program: Command): void {
  program
    .command("report")
    .description(
      "run a scenario and write a self-contained HTML report (timeline, perf stat tables)",
    )
    .argument("<file>", "scenario file (YAML or JSON)")
    .option("-o, --output <file>", "HTML file to write", "report.html")
    .option("-s, --seed <n>", "seed (overrides the scenario's)")
    .option("-d, --duration <time>", "simulated duration (overrides the scenario's), e.g. 500ms")
    .option("--truth", "show the ground truth and the error next to each perf value")
    .option("--variant <name>", "report only this variant of a scenario with variants")
    .action((file: string, o: ReportOpts) => {
      const seed = parseSeed(o.seed);
      const duration = parseDur(o.duration);
      const loaded = loadScenarioFile(file);
      if (!loaded.ok) {
        for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
        process.exit(EXIT_USAGE);
      }
      let sc = loaded.scenario;
      if (o.variant !== undefined) {
        if (sc.variants.length === 0) fail(`--variant: ${file} has no variants`);
        const v = sc.variants.find((x) => x.name === o.variant);
        if (!v)
          fail(
            `--variant: no variant "${o.variant}" in ${file} (one of: ${sc.variants.map((x) => x.name).join(", ")})`,
          );
        sc = v.scenario;
      }
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
      const html = htmlReport(page, viewer);
      const out = o.output ?? "report.html";
      try {
        writeFileSync(out, html);
      } catch (e) {
        fail(`cannot write ${out} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
      }
      process.stdout.write(`wrote ${out} (${html.length} bytes)\n`);
    });
}
