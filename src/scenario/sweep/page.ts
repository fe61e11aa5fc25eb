import { scriptJson } from "../../report/html.js";
import { label } from "./chart.js";
import { type ChartLayout, chartLayout, chartValues, type LayoutFlags } from "./layout.js";
import { chartSections, esc, layoutFlags } from "./page-charts.js";
import { headerPoints, type ReadRecord, type SweepHeader } from "./results.js";

/** What `vpmu report RESULTS.jsonl` draws: the flags of `vpmu sweep chart`, all optional. */
export interface SweepPageOptions extends LayoutFlags {
  /** Collected values to draw (default: every numeric one, see `chartValues`). */
  y?: string[];
  /** The most inline JSON the page carries, default MAX_INLINE_DATA. */
  maxInlineData?: number;
}

export type SweepPage = { ok: true; html: string; charts: number } | { ok: false; message: string };

/** Each record has the settings of every axis and its values (or an error). */
function checkRecords(file: string, h: SweepHeader, records: ReadRecord[]): string | undefined {
  for (const r of records) {
    const s = r.data.settings;
    if (s === null || typeof s !== "object")
      return `${file}:${r.at}: point ${r.index}: no "settings" mapping`;
    const missing = h.axes.find((a) => !(a.name in s));
    if (missing) return `${file}:${r.at}: point ${r.index}: settings has no "${missing.name}"`;
    const v = r.data.values;
    if (v === null || typeof v !== "object")
      return `${file}:${r.at}: point ${r.index}: no "values" mapping`;
  }
  return undefined;
}

/** The page's header: the file, its sweep, its points, axes and values, and the layout. */
function headerHtml(
  file: string,
  h: SweepHeader,
  records: ReadRecord[],
  layout: ReturnType<typeof chartLayout>,
  values: { drawn: string[]; skipped: string[] },
): string {
  const wanted = headerPoints(h).length;
  const failed = records.filter((r) => r.data.error !== undefined);
  const c = layout.choice;
  const flags = layoutFlags(c);
  const dd = (k: string, v: string) => `<dt>${esc(k)}</dt><dd>${v}</dd>`;
  return [
    `<h1>vpmu sweep: ${esc(h.name)}</h1>`,
    "<dl>",
    dd("results", `<code>${esc(file)}</code>`),
    dd("sweep hash", `<code>${esc(h.sweep)}</code> (vpmu ${esc(h.vpmu)})`),
    dd(
      "points",
      `${records.length} of ${wanted}${h.seeds > 1 ? ` (${h.seeds} seeds each; lines are means, bands min..max)` : ""}${failed.length > 0 ? `, ${failed.length} with an error (no values)` : ""}`,
    ),
    dd(
      "axes",
      h.axes
        .map(
          (a) => `<code>${esc(a.name)}</code> (${a.values.map((v) => esc(label(v))).join(", ")})`,
        )
        .join("<br>"),
    ),
    dd("values", h.collect.map((n) => `<code>${esc(n)}</code>`).join(", ")),
    dd(
      "layout",
      `<code id="vpmu-sweep-layout">${esc(flags)}</code>${layout.defaulted.length > 0 ? ` (fixed at the first value: ${layout.defaulted.map(esc).join(", ")})` : ""}`,
    ),
    ...(values.skipped.length > 0
      ? [dd("not drawn", `${values.skipped.map(esc).join(", ")} (not numbers)`)]
      : []),
    "</dl>",
  ].join("\n");
}

const CSS = `body{font-family:sans-serif;margin:1.5em;color:#222}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}
section{margin-top:2em}svg{max-width:100%;height:auto}
#vpmu-sweep-controls{display:flex;flex-wrap:wrap;gap:.3em 1.2em;margin-top:1em}
#vpmu-sweep-controls label{white-space:nowrap}.vpmu-sweep-problem{color:#b00}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}`;

/** The most inline JSON a page carries (a browser parses it at load): 16 MiB. */
export const MAX_INLINE_DATA = 16 << 20;

/**
 * The page's inline results and script, with the CSP the script needs; results past
 * MAX_INLINE_DATA are left out (the charts are in the page anyway), and with them the controls.
 */
function inlineParts(
  data: SweepPageData,
  viewerJs: string | undefined,
  max: number,
): { csp: string; controls: string; scripts: string[] } {
  const json = scriptJson(data);
  if (json.length > max)
    return {
      csp: "",
      controls: `<p>The results (${(json.length / 2 ** 20).toFixed(1)} MiB as JSON) are too big to carry in the page: no layout controls; choose the layout with --x, --lines, --facet and --where.</p>`,
      scripts: [],
    };
  return {
    csp: viewerJs ? "script-src 'unsafe-inline'; " : "",
    controls: '<div id="vpmu-sweep-controls"></div>',
    scripts: [
      `<script type="application/json" id="vpmu-sweep-data">${json}</script>`,
      ...(viewerJs ? [`<script>${viewerJs.replace(/<\/(script)/gi, "<\\/$1")}</script>`] : []),
    ],
  };
}

/** The inline data of a sweep page: what its script needs to draw the charts again. */
export interface SweepPageData {
  kind: "vpmu-sweep";
  file: string;
  header: SweepHeader;
  records: ReadRecord[];
  choice: ChartLayout["choice"];
  /** The values the page draws (its `--y`, or every numeric one). */
  ys: string[];
}

/**
 * A sweep's results as one self-contained HTML page: a header (file, sweep hash, points,
 * axes, values), then one line chart per drawn value (the SVG of `lineChartSvg`, inline)
 * with its numbers in a table below, and the results as inline JSON. With `viewerJs` (the
 * report viewer bundle) the page also lets the reader change the layout; without it the
 * page has no script. No network either way.
 */
export function sweepPage(
  file: string,
  h: SweepHeader,
  records: ReadRecord[],
  o: SweepPageOptions,
  viewerJs?: string,
): SweepPage {
  if (records.length === 0) return { ok: false, message: `${file}: no points (only the header)` };
  const bad = checkRecords(file, h, records);
  if (bad) return { ok: false, message: bad };
  const layout = chartLayout(h, o);
  const values = chartValues(h, records);
  const ys = o.y && o.y.length > 0 ? o.y : values.drawn;
  if (ys.length === 0)
    return { ok: false, message: `${file}: no collected value is a number; nothing to draw` };
  const charts = chartSections(h, records, layout.choice, ys);
  if (!charts.ok) return { ok: false, message: `${file}: ${charts.message}` };
  const data: SweepPageData = {
    kind: "vpmu-sweep",
    file,
    header: h,
    records: records.map(({ line: _l, ...r }) => ({ ...r, line: "" })),
    choice: layout.choice,
    ys,
  };
  const inline = inlineParts(data, viewerJs, o.maxInlineData ?? MAX_INLINE_DATA);
  const html = [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No network: the page may only use what it carries.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; ${inline.csp}style-src 'unsafe-inline'; img-src data:">`,
    `<title>vpmu sweep: ${esc(h.name)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    headerHtml(file, h, records, layout, values),
    inline.controls,
    `<div id="vpmu-sweep-charts">\n${charts.html}\n</div>`,
    ...inline.scripts,
    "</body>",
    "</html>",
    "",
  ].join("\n");
  return { ok: true, html, charts: ys.length };
}
