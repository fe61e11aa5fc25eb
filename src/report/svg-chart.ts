/**
 * A dependency-free SVG line chart: one panel or a grid of small multiples, each with one
 * line per series over a shared x and y scale. Plain data in, SVG text out (deterministic:
 * the same data give the same bytes), usable in a browser or written to a file.
 */

/** One point; `lo`..`hi` (both or neither) is a band drawn around y, e.g. min..max over seeds. */
export interface ChartPoint {
  x: number;
  y: number | null;
  lo?: number;
  hi?: number;
}

/** A series' points; a null y leaves a gap in its line. */
export interface ChartSeries {
  label: string;
  points: ChartPoint[];
}

/** One panel (one small multiple). */
export interface ChartPanel {
  title: string;
  series: ChartSeries[];
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Tick labels for an x of categories (x = 0, 1, ...), or undefined for numbers. */
  xCategories?: string[];
  panels: ChartPanel[];
}

/**
 * The palette of lines in series order: Okabe and Ito's colours, told apart with the
 * common colour-vision deficiencies (their yellow left out: too pale on white). Each
 * lap of the palette gets the next dash pattern, so no two lines look alike.
 */
const COLORS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"];
const DASHES = ["", "6 3", "2 2", "8 3 2 3"];

/** The stroke of series `i`: its colour and dash pattern. */
function strokeOf(i: number): { color: string; dash: string } {
  return {
    color: COLORS[i % COLORS.length]!,
    dash: DASHES[Math.floor(i / COLORS.length) % DASHES.length]!,
  };
}

const dashAttr = (dash: string) => (dash ? ` stroke-dasharray="${dash}"` : "");

const W = 360;
const H = 240;
const M = { left: 56, right: 12, top: 28, bottom: 40 };

function esc(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** Numbers as ticks print them: at most 4 significant digits, no trailing zeros. */
function num(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(1).replace(/\.0e/, "e");
  return String(Number(v.toPrecision(4)));
}

/** About five round ticks, the first at or below lo, the last at or above hi. */
export function niceTicks(lo: number, hi: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  const last = Math.ceil(hi / step - 1e-9) * step;
  for (let t = Math.floor(lo / step + 1e-9) * step; t <= last + step * 1e-9; t += step)
    out.push(Number(t.toPrecision(12)));
  return out;
}

/** The shared extent of every point of every panel, padded when flat. */
function extent(values: number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= lo === 0 ? 1 : Math.abs(lo) * 0.1;
    hi += hi === 0 ? 1 : Math.abs(hi) * 0.1;
  }
  return [lo, hi];
}

interface Scales {
  x: (v: number) => number;
  y: (v: number) => number;
  xTicks: Array<{ v: number; label: string }>;
  yTicks: number[];
}

function scales(c: LineChart): Scales {
  const pts = c.panels.flatMap((p) => p.series.flatMap((s) => s.points));
  const xTicks = c.xCategories ? [] : niceTicks(...extent(pts.map((p) => p.x)));
  const [x0, x1] = c.xCategories
    ? [0, Math.max(1, c.xCategories.length - 1)]
    : [xTicks[0]!, xTicks[xTicks.length - 1]!];
  const ys = pts
    .flatMap((p) => (p.y === null ? [] : [p.y, p.lo ?? p.y, p.hi ?? p.y]))
    .filter((y) => Number.isFinite(y));
  const [yl, yh] = extent([...ys, ...(ys.length > 0 && Math.min(...ys) >= 0 ? [0] : [])]);
  const yTicks = niceTicks(yl, yh);
  const y0 = Math.min(yl, yTicks[0]!);
  const y1 = Math.max(yh, yTicks[yTicks.length - 1]!);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  return {
    x: (v) => M.left + ((v - x0) / (x1 - x0)) * pw,
    y: (v) => M.top + ph - ((v - y0) / (y1 - y0)) * ph,
    xTicks: c.xCategories
      ? c.xCategories.map((label, v) => ({ v, label }))
      : xTicks.map((v) => ({ v, label: num(v) })),
    yTicks,
  };
}

/** The polyline paths of one series: a new segment after each gap. */
function seriesPath(s: ChartSeries, sc: Scales): string {
  let d = "";
  let pen = false;
  for (const p of [...s.points].sort((a, b) => a.x - b.x)) {
    if (p.y === null) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${sc.x(p.x).toFixed(1)},${sc.y(p.y).toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** The band of one series: a polygon over each run of points with lo..hi, hi forward, lo back. */
function seriesBand(s: ChartSeries, sc: Scales, color: string): string {
  const runs: ChartPoint[][] = [[]];
  for (const p of [...s.points].sort((a, b) => a.x - b.x)) {
    if (p.y !== null && p.lo !== undefined && p.hi !== undefined) runs[runs.length - 1]!.push(p);
    else if (runs[runs.length - 1]!.length > 0) runs.push([]);
  }
  const xy = (x: number, y: number) => `${sc.x(x).toFixed(1)},${sc.y(y).toFixed(1)}`;
  return runs
    .filter((r) => r.length > 0 && r.some((p) => p.hi! > p.lo!))
    .map((r) => {
      // A lone point gets a short vertical bar instead of a polygon of no width.
      if (r.length === 1)
        return `<line x1="${sc.x(r[0]!.x).toFixed(1)}" x2="${sc.x(r[0]!.x).toFixed(1)}" y1="${sc.y(r[0]!.lo!).toFixed(1)}" y2="${sc.y(r[0]!.hi!).toFixed(1)}" stroke="${color}" stroke-opacity="0.5"/>`;
      const pts = [...r.map((p) => xy(p.x, p.hi!)), ...[...r].reverse().map((p) => xy(p.x, p.lo!))];
      return `<polygon points="${pts.join(" ")}" fill="${color}" fill-opacity="0.18" stroke="none"/>`;
    })
    .join("");
}

type Strokes = Map<string, { color: string; dash: string }>;

function panelSvg(p: ChartPanel, c: LineChart, sc: Scales, strokes: Strokes): string {
  const out: string[] = [];
  const bottom = H - M.bottom;
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${bottom - M.top}" fill="none" stroke="#999"/>`,
  );
  for (const t of sc.yTicks) {
    const y = sc.y(t).toFixed(1);
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    out.push(
      `<text x="${M.left - 4}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(num(t))}</text>`,
    );
  }
  // Category labels share the width: a long one is cut short, whole in its tooltip. The
  // first may reach into the left margin, the last ends at the right edge.
  const gap = (W - M.left - M.right) / Math.max(1, sc.xTicks.length - 1);
  const chars = (px: number) => Math.max(3, Math.floor(px / 6.5));
  sc.xTicks.forEach((t, i) => {
    const x = sc.x(t.v).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 4}" stroke="#999"/>`);
    const last = c.xCategories !== undefined && i > 0 && i === sc.xTicks.length - 1;
    const room = !c.xCategories
      ? Infinity
      : last
        ? chars(gap / 2 + M.right)
        : chars(i === 0 ? Math.min(gap, 2 * M.left) : gap) - 1;
    const cut = t.label.length > room ? `${t.label.slice(0, room - 1)}…` : t.label;
    const tip = cut === t.label ? "" : `<title>${esc(t.label)}</title>`;
    const anchor = last ? "end" : "middle";
    out.push(
      `<text x="${last ? W - M.right : x}" y="${bottom + 14}" text-anchor="${anchor}">${tip}${esc(cut)}</text>`,
    );
  });
  out.push(
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 6}" text-anchor="middle">${esc(c.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(12,${(M.top + bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`,
  );
  out.push(`<text x="${M.left}" y="${M.top - 8}" font-weight="bold">${esc(p.title)}</text>`);
  for (const s of p.series) out.push(seriesBand(s, sc, strokes.get(s.label)!.color));
  for (const s of p.series) {
    const { color, dash } = strokes.get(s.label)!;
    out.push(
      `<path d="${seriesPath(s, sc)}" fill="none" stroke="${color}" stroke-width="1.5"${dashAttr(dash)}><title>${esc(s.label)}</title></path>`,
    );
    for (const q of s.points)
      if (q.y !== null)
        out.push(
          `<circle cx="${sc.x(q.x).toFixed(1)}" cy="${sc.y(q.y).toFixed(1)}" r="2" fill="${color}"/>`,
        );
  }
  return out.join("");
}

/**
 * The chart as an SVG document: panels in rows of up to three, a legend (one entry per
 * series label, the same color in every panel) and the title above them.
 */
export function lineChartSvg(c: LineChart): string {
  const sc = scales(c);
  const labels = [...new Set(c.panels.flatMap((p) => p.series.map((s) => s.label)))];
  const strokes: Strokes = new Map(labels.map((l, i) => [l, strokeOf(i)]));
  const cols = Math.min(3, Math.max(1, c.panels.length));
  const rows = Math.ceil(c.panels.length / cols);
  const perRow = Math.max(1, Math.floor((cols * W) / 180));
  const legendH = 18 * Math.ceil(labels.length / perRow);
  const top = 30 + legendH;
  const width = cols * W;
  const height = top + rows * H;
  const legend = labels
    .map((l, i) => {
      const x = 10 + (i % perRow) * 180;
      const y = 36 + Math.floor(i / perRow) * 18;
      const { color, dash } = strokes.get(l)!;
      return `<line x1="${x}" x2="${x + 16}" y1="${y - 4}" y2="${y - 4}" stroke="${color}" stroke-width="2"${dashAttr(dash)}/><text x="${x + 20}" y="${y - 4}" dominant-baseline="middle">${esc(l)}</text>`;
    })
    .join("");
  const panels = c.panels
    .map(
      (p, i) =>
        `<g transform="translate(${(i % cols) * W},${top + Math.floor(i / cols) * H})">${panelSvg(p, c, sc, strokes)}</g>`,
    )
    .join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(c.title)}</text>`,
    legend,
    panels,
    "</svg>",
    "",
  ].join("\n");
}
