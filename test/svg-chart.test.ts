import { describe, expect, it } from "vitest";
import { lineChartSvg, niceTicks } from "../src/report/svg-chart.js";
import { sweepChart } from "../src/scenario/sweep/chart.js";
import type { ReadRecord, SweepHeader } from "../src/scenario/sweep/results.js";

/** A results header and records made by hand: y = events x host, mediated flat. */
const header: SweepHeader = {
  vpmu_sweep: 1,
  sweep: "0123456789abcdef",
  name: "acc",
  vpmu: "0.1.0",
  points: 12,
  seeds: 1,
  axes: [
    { name: "events", values: [1, 2, 4] },
    { name: "vpmu", values: ["emulated", "mediated"] },
    { name: "host", values: [0, 8] },
  ],
  exclude: [],
  collect: ["err", "exits"],
};
const records: ReadRecord[] = [];
let i = 0;
for (const events of [1, 2, 4])
  for (const vpmu of ["emulated", "mediated"])
    for (const host of [0, 8]) {
      const err = vpmu === "mediated" ? 0 : events * host;
      const data = {
        index: i,
        settings: { events, vpmu, host },
        values: { err, exits: { msr: events } },
        seed: 1,
      };
      records.push({
        index: i,
        hash: "h",
        sweep: header.sweep,
        line: JSON.stringify(data),
        at: i + 2,
        data,
      });
      i++;
    }

describe("SVG line chart", () => {
  it("picks round ticks", () => {
    expect(niceTicks(0, 32)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(0, 90.6)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it("draws one line per value of --lines in one panel per --facet value", () => {
    const c = sweepChart(header, records, { x: "events", lines: "host", facet: "vpmu", y: "err" });
    if (!c.ok) throw new Error(c.message);
    expect(c.chart.panels.map((p) => p.title)).toEqual(["vpmu = emulated", "vpmu = mediated"]);
    expect(c.chart.panels[0]!.series.map((s) => s.label)).toEqual(["host = 0", "host = 8"]);
    expect(c.chart.panels[0]!.series[1]!.points).toEqual([
      { x: 1, y: 8 },
      { x: 2, y: 16 },
      { x: 4, y: 32 },
    ]);
    expect(c.chart.panels[1]!.series[1]!.points.map((p) => p.y)).toEqual([0, 0, 0]);
    const svg = lineChartSvg(c.chart);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="720" height="')).toBe(
      true,
    );
    // Two panels, two lines each; the same bytes every time.
    expect(svg.match(/<path /g)).toHaveLength(4);
    expect(svg).toContain('<text x="56" y="20" font-weight="bold">vpmu = mediated</text>');
    expect(lineChartSvg(c.chart)).toBe(svg);
    // The emulated, host 8 line climbs: y of x=4 is above (smaller pixel y than) x=1.
    const line = svg.match(/<path d="([^"]+)"[^>]*><title>host = 8<\/title>/)![1]!;
    const ys = [...line.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
    expect(ys[2]!).toBeLessThan(ys[0]!);
  });

  it("takes a key of a mapping value, and refuses loose axes and unknown names", () => {
    const c = sweepChart(header, records, {
      x: "events",
      lines: "vpmu",
      y: "exits.msr",
      where: { host: "8" },
    });
    if (!c.ok) throw new Error(c.message);
    expect(c.chart.panels[0]!.series[0]!.points.map((p) => p.y)).toEqual([1, 2, 4]);
    expect(c.chart.title).toBe("acc: exits.msr, host = 8");
    expect(sweepChart(header, records, { x: "events", lines: "vpmu", y: "err" })).toEqual({
      ok: false,
      message: "the axes host have several values: fix each with --where AXIS=VALUE",
    });
    expect(sweepChart(header, records, { x: "evnts", lines: "vpmu", y: "err" })).toMatchObject({
      message: '--x: no axis "evnts" (one of: events, vpmu, host)',
    });
    expect(
      sweepChart(header, records, { x: "events", lines: "vpmu", facet: "host", y: "er" }),
    ).toMatchObject({
      message: '--y: no collected value "er" (one of: err, exits)',
    });
  });
});

describe("SVG line chart, bands and strokes", () => {
  const chart = (points: Array<{ x: number; y: number | null; lo?: number; hi?: number }>) =>
    lineChartSvg({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      panels: [{ title: "", series: [{ label: "a", points }] }],
    });

  it("draws the lo..hi band behind a line, split at gaps, and a bar for a lone point", () => {
    const svg = chart([
      { x: 0, y: 1, lo: 0, hi: 2 },
      { x: 1, y: 3, lo: 2, hi: 4 },
      { x: 2, y: null },
      { x: 3, y: 5, lo: 4, hi: 10 },
    ]);
    expect(svg.match(/<polygon /g)).toHaveLength(1);
    // Four corners: hi at x 0 and 1, then lo back from 1 to 0.
    const poly = svg.match(/<polygon points="([^"]+)"/)![1]!.split(" ");
    expect(poly).toHaveLength(4);
    const [hi0, , , lo0] = poly.map((p) => Number(p.split(",")[1]));
    expect(lo0!).toBeGreaterThan(hi0!);
    // The lone point at x 3: a vertical bar from 4 to 10, the y axis stretched to hold 10.
    const bar = svg.match(
      /<line x1="([\d.]+)" x2="\1" y1="([\d.]+)" y2="([\d.]+)" stroke="#0072b2"/,
    )!;
    expect(Number(bar[2])).toBeGreaterThan(Number(bar[3]));
    expect(svg).toContain(">10</text>");
    // A band of no height is not drawn.
    expect(
      chart([
        { x: 0, y: 1, lo: 1, hi: 1 },
        { x: 1, y: 1, lo: 1, hi: 1 },
      ]),
    ).not.toMatch(/<polygon/);
  });

  it("cuts long category labels short, whole in a tooltip; the last ends at the edge", () => {
    const long = "cycles,branches,branch-misses,cache-misses";
    const svg = lineChartSvg({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      xCategories: ["cycles", long, long],
      panels: [{ title: "", series: [{ label: "a", points: [{ x: 0, y: 1 }] }] }],
    });
    expect(svg).toContain('text-anchor="middle">cycles</text>');
    expect(svg).toContain(
      `text-anchor="middle"><title>${long}</title>cycles,branches,bran…</text>`,
    );
    expect(svg).toContain(
      `<text x="348" y="214" text-anchor="end"><title>${long}</title>cycles,branc…</text>`,
    );
  });

  it("gives each series a colour-blind-safe colour, then a dash pattern after seven", () => {
    const svg = lineChartSvg({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      panels: [
        {
          title: "",
          series: Array.from({ length: 9 }, (_, i) => ({
            label: `s${i}`,
            points: [{ x: 0, y: i }],
          })),
        },
      ],
    });
    const strokes = [
      ...svg.matchAll(
        /<path d="[^"]*" fill="none" stroke="(#\w+)" stroke-width="1.5"( stroke-dasharray="([^"]+)")?/g,
      ),
    ].map((m) => [m[1], m[3] ?? ""]);
    expect(strokes).toEqual([
      ["#0072b2", ""],
      ["#d55e00", ""],
      ["#009e73", ""],
      ["#cc79a7", ""],
      ["#e69f00", ""],
      ["#56b4e9", ""],
      ["#000000", ""],
      ["#0072b2", "6 3"],
      ["#d55e00", "6 3"],
    ]);
  });
});
