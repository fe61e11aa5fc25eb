import type { RunResult, VariantsReport } from "./result.js";
import type { TimelineData } from "./timeline.js";

/**
 * What the HTML report and the playground draw: the result object `vpmu run --format json`
 * prints (a RunResult, or `{ variants }` for a scenario with variants), the timeline of
 * each run in the same order, and the text report. docs/html-report.md describes it.
 */
export interface ReportPageData {
  kind: "vpmu-report";
  version: 1;
  /** The scenario file the report was made from. */
  source: string;
  /** Whether the perf-stat tables show the truth column (`--truth`). */
  truth: boolean;
  result: RunResult | VariantsReport;
  /** One timeline per run: the run, or each variant in `result.variants` order. */
  timelines: TimelineData[];
  /** The text report, as `vpmu run` prints it. */
  text: string;
}

/** JSON that is safe inside a `<script>` element (no `</script>`, no line separators). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );
}

/**
 * One self-contained HTML page: the data as inline JSON and the viewer bundle (built by
 * `npm run build` into dist/viewer/viewer.js) as an inline script. No network access.
 */
export function htmlReport(data: ReportPageData, viewerJs: string): string {
  const name =
    "variants" in data.result
      ? (data.result.variants[0]?.result.scenario.name ?? data.source)
      : data.result.scenario.name;
  const js = viewerJs.replace(/<\/(script)/gi, "<\\/$1");
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No network: the page may only use what it carries.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>vpmu report: ${escapeHtml(name)}</title>`,
    "</head>",
    "<body>",
    '<div id="vpmu-report"></div>',
    `<script type="application/json" id="vpmu-data">${scriptJson(data)}</script>`,
    `<script>${js}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
