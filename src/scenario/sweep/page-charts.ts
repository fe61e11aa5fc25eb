// The charts part of a sweep's page, apart from page.ts so that the page's script (the
// report viewer bundle) carries only the chart code, not the sweep loader.
import { type LineChart, lineChartSvg } from "../../report/svg-chart.js";
import { sweepChart } from "./chart.js";
import type { ChartLayout } from "./layout.js";
import type { ReadRecord, SweepHeader } from "./results.js";

/** HTML text: the characters that would be markup escaped. */
export function esc(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );
}

/** A layout as the flags of `vpmu report` that give it. */
export function layoutFlags(c: ChartLayout["choice"]): string {
  return [
    `--x ${c.x}`,
    ...(c.lines ? [`--lines ${c.lines}`] : []),
    ...(c.facet ? [`--facet ${c.facet}`] : []),
    ...Object.entries(c.where ?? {}).map(([a, v]) => `--where ${a}=${v}`),
  ].join(" ");
}

/** A table cell's number: up to 6 significant digits. */
const fmt = (v: number) => String(Number(v.toPrecision(6)));

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

/**
 * The charts of `ys` under one layout: per value a section with its SVG and its table.
 * The page's script calls it again when the reader changes the layout.
 */
export function chartSections(
  h: SweepHeader,
  records: ReadRecord[],
  choice: ChartLayout["choice"],
  ys: string[],
): { ok: true; html: string } | { ok: false; message: string } {
  const sections: string[] = [];
  for (const y of ys) {
    const c = sweepChart(h, records, { ...choice, y });
    if (!c.ok) return c;
    sections.push(
      [
        `<section data-y="${esc(y)}">`,
        `<h2>${esc(y)}</h2>`,
        lineChartSvg(c.chart).replace(
          /^<svg /,
          `<svg role="img" aria-label="${esc(c.chart.title)}" `,
        ),
        `<details><summary>values of ${esc(y)}</summary>`,
        valuesTable(c.chart, choice.facet),
        "</details>",
        "</section>",
      ].join("\n"),
    );
  }
  return { ok: true, html: sections.join("\n") };
}
