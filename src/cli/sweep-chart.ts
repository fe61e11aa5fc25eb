import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { lineChartSvg } from "../report/svg-chart.js";
import { sweepChart } from "../scenario/sweep/chart.js";
import { chartLayout, chartValues } from "../scenario/sweep/layout.js";
import { fail, whereFlags } from "./flags.js";
import { resultsOrExit } from "./io.js";

interface ChartOpts {
  x?: string;
  lines?: string;
  facet?: string;
  y?: string;
  where: string[];
  output: string;
}

/** `vpmu sweep chart RESULTS.jsonl [--x A] [--lines B] [--facet C] [--y VALUE] -o out.svg`. */
function chartCommand(file: string, o: ChartOpts): void {
  const m = resultsOrExit(file, "sweep chart: ");
  const where = whereFlags(o.where);
  // Roles left open are filled as `vpmu report RESULTS.jsonl` fills them (chartLayout).
  const layout = chartLayout(m.header, {
    ...(o.x !== undefined ? { x: o.x } : {}),
    ...(o.lines !== undefined ? { lines: o.lines } : {}),
    ...(o.facet !== undefined ? { facet: o.facet } : {}),
    where,
  });
  const y = o.y ?? chartValues(m.header, m.records).drawn[0];
  if (y === undefined) fail(`sweep chart: ${file}: no collected value is a number to draw`);
  const c = sweepChart(m.header, m.records, { ...layout.choice, y });
  if (!c.ok) fail(`sweep chart: ${c.message}`);
  writeFileSync(o.output, lineChartSvg(c.chart));
}

/** Registers `vpmu sweep chart`. */
export function registerSweepChart(sweep: Command): void {
  sweep
    .command("chart")
    .description("draw sweep results as SVG line charts (one line per value of an axis)")
    .argument("<results>", "results file (JSONL) of vpmu sweep or sweep merge")
    .option("--x <axis>", "the axis along x (default: the one with the most numeric values)")
    .option(
      "--lines <axis>",
      "one line per value of this axis (default: picked as vpmu report does)",
    )
    .option("--facet <axis>", "one panel per value of this axis (small multiples)")
    .option(
      "--y <value>",
      "a collected value (name, or name.key of a mapping; default: the first error-like one)",
    )
    .option(
      "--where <axis=value>",
      "fix another axis at one value (repeatable)",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .requiredOption("-o, --output <file>", "the SVG file to write")
    .action(chartCommand);
}
