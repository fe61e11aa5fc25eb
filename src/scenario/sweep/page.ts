import { scriptJson } from "../../report/html.js";
import { type LineChart, lineChartSvg } from "../../report/svg-chart.js";
import { label, sweepChart } from "./chart.js";
import { chartLayout, chartValues, type LayoutFlags } from "./layout.js";
import { headerPoints, type ReadRecord, type SweepHeader } from "./results.js";

/** What `vpmu report RESULTS.jsonl` draws: the flags of `vpmu sweep chart`, all optional. */
export interface SweepPageOptions extends LayoutFlags {
  /** Collected values to draw (default: every numeric one, see `chartValues`). */
  y?: string[];
}

export type SweepPage = { ok: true; html: string; charts: number } | { ok: false; message: string };

function esc(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );
}

/** A table cell's number: up to 6 significant digits. */
const fmt = (v: number) => String(Number(v.toPrecision(6)));

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

/** The chart's numbers as a table: a row per (facet, x), a column per line. */
function valuesTable(c: LineChart, facetName: string | undefined): string {
  const series = c.panels[0]?.series.map((s) => s.label) ?? [];
  const xName = (x: number) => (c.xCategories ? c.xCategories[x]! : fmt(x));
  const head = `<tr>${facetName ? `<th>${esc(facetName)}</th>` : ""}<th>${esc(c.xLabel)}</th>${series.map((s) => `<th>${esc(s)}</th>`).join("")}</tr>`;
  const rows: string[] = [];
  for (const p of c.panels) {
    const xs = [...new Set(p.series.flatMap((s) => s.points.map((q) => q.x)))].sort(
      (a, b) => a - b,
    );
    const facet = p.title.slice(p.title.indexOf(" = ") + 3);
    for (const x of xs) {
      const cells = p.series.map((s) => {
        const q = s.points.find((z) => z.x === x);
        if (!q || q.y === null) return "<td>-</td>";
        const band = q.lo !== undefined ? ` <small>(${fmt(q.lo)}..${fmt(q.hi!)})</small>` : "";
        return `<td data-series="${esc(s.label)}" data-x="${esc(xName(x))}">${fmt(q.y)}${band}</td>`;
      });
      rows.push(
        `<tr>${facetName ? `<td>${esc(facet)}</td>` : ""}<td>${esc(xName(x))}</td>${cells.join("")}</tr>`,
      );
    }
  }
  return `<table><thead>${head}</thead><tbody>${rows.join("\n")}</tbody></table>`;
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
  const flags = [
    `--x ${c.x}`,
    ...(c.lines ? [`--lines ${c.lines}`] : []),
    ...(c.facet ? [`--facet ${c.facet}`] : []),
    ...Object.entries(c.where ?? {}).map(([a, v]) => `--where ${a}=${v}`),
  ].join(" ");
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
      `<code>${esc(flags)}</code>${layout.defaulted.length > 0 ? ` (fixed at the first value: ${layout.defaulted.map(esc).join(", ")})` : ""}`,
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
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}`;

/**
 * A sweep's results as one self-contained HTML page: a header (file, sweep hash, points,
 * axes, values), then one line chart per drawn value (the SVG of `lineChartSvg`, inline)
 * with its numbers in a table below, and the results as inline JSON. No script, no network.
 */
export function sweepPage(
  file: string,
  h: SweepHeader,
  records: ReadRecord[],
  o: SweepPageOptions,
): SweepPage {
  if (records.length === 0) return { ok: false, message: `${file}: no points (only the header)` };
  const bad = checkRecords(file, h, records);
  if (bad) return { ok: false, message: bad };
  const layout = chartLayout(h, o);
  const values = chartValues(h, records);
  const ys = o.y && o.y.length > 0 ? o.y : values.drawn;
  if (ys.length === 0)
    return { ok: false, message: `${file}: no collected value is a number; nothing to draw` };
  const sections: string[] = [];
  for (const y of ys) {
    const c = sweepChart(h, records, { ...layout.choice, y });
    if (!c.ok) return { ok: false, message: `${file}: ${c.message}` };
    sections.push(
      [
        `<section data-y="${esc(y)}">`,
        `<h2>${esc(y)}</h2>`,
        lineChartSvg(c.chart).replace(
          /^<svg /,
          `<svg role="img" aria-label="${esc(c.chart.title)}" `,
        ),
        `<details><summary>values of ${esc(y)}</summary>`,
        valuesTable(c.chart, layout.choice.facet),
        "</details>",
        "</section>",
      ].join("\n"),
    );
  }
  const data = { header: h, records: records.map((r) => r.data) };
  const html = [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No network: the page may only use what it carries.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>vpmu sweep: ${esc(h.name)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    headerHtml(file, h, records, layout, values),
    ...sections,
    `<script type="application/json" id="vpmu-sweep-data">${scriptJson(data)}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
  return { ok: true, html, charts: ys.length };
}
