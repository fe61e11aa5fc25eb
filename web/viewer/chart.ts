import { seriesColour } from "./palette.js";

/**
 * Small SVG charts with no dependency: a grouped bar chart (variants side by side) and a
 * line chart (interval counts; sweeps of a parameter). Both take plain numbers and return
 * an SVG element; colours come from the colour-blind-safe palette, and every series also
 * differs by its marker or pattern.
 */
export interface Series {
  name: string;
  values: number[];
  colour?: string;
}

export interface ChartOptions {
  width?: number;
  height?: number;
  title?: string;
  /** Formats a value for the axis and the hover titles. */
  format?: (v: number) => string;
  yLabel?: string;
  xLabel?: string;
}

const NS = "http://www.w3.org/2000/svg";

function svgEl(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Compact axis numbers: 1.2k, 3.4M, 5.6G. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  for (const [d, s] of [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
  ] as const)
    if (a >= d) return `${Number((v / d).toPrecision(3))}${s}`;
  return String(Number(v.toPrecision(3)));
}

/** About five round ticks from 0 (or min) to max. */
export function niceTicks(min: number, max: number, n = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(v);
  return out;
}

interface Frame {
  svg: SVGElement;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  scaleY: (v: number) => number;
}

function frame(o: ChartOptions, lo: number, hi: number): Frame {
  const width = o.width ?? 520;
  const height = o.height ?? 220;
  const svg = svgEl("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: "vpmu-chart",
    role: "img",
  });
  const fmt = o.format ?? shortNumber;
  const f: Frame = {
    svg,
    x0: 56,
    x1: width - 10,
    y0: height - 40,
    y1: o.title ? 24 : 10,
    scaleY: (v) => v,
  };
  const ticks = niceTicks(lo, hi);
  const top = Math.max(hi, ticks[ticks.length - 1] ?? hi);
  f.scaleY = (v) => f.y0 - ((v - lo) / (top - lo || 1)) * (f.y0 - f.y1);
  if (o.title) svg.append(svgEl("text", { x: 4, y: 14, class: "vpmu-chart-title" }, o.title));
  for (const t of ticks) {
    const y = f.scaleY(t);
    svg.append(svgEl("line", { x1: f.x0, x2: f.x1, y1: y, y2: y, stroke: "#E4E4E4" }));
    svg.append(
      svgEl("text", { x: f.x0 - 4, y: y + 3, "text-anchor": "end", class: "vpmu-axis" }, fmt(t)),
    );
  }
  if (o.yLabel)
    svg.append(
      svgEl(
        "text",
        {
          x: 10,
          y: f.y1 + (f.y0 - f.y1) / 2,
          class: "vpmu-axis",
          transform: `rotate(-90 10 ${f.y1 + (f.y0 - f.y1) / 2})`,
          "text-anchor": "middle",
        },
        o.yLabel,
      ),
    );
  if (o.xLabel)
    svg.append(
      svgEl(
        "text",
        { x: (f.x0 + f.x1) / 2, y: height - 4, "text-anchor": "middle", class: "vpmu-axis" },
        o.xLabel,
      ),
    );
  return f;
}

function legend(f: Frame, series: Series[]): void {
  let x = f.x0;
  const y = f.y0 + 28;
  series.forEach((s, i) => {
    const colour = s.colour ?? seriesColour(i);
    f.svg.append(svgEl("rect", { x, y: y - 8, width: 10, height: 10, fill: colour }));
    const t = svgEl("text", { x: x + 13, y, class: "vpmu-axis" }, s.name);
    f.svg.append(t);
    x += 22 + s.name.length * 6;
  });
}

/**
 * Grouped bars: one group per category, one bar per series in each group (for example a
 * counter's count and its truth, per variant).
 */
export function barChart(categories: string[], series: Series[], o: ChartOptions = {}): SVGElement {
  const hi = Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const f = frame(o, 0, hi || 1);
  const fmt = o.format ?? shortNumber;
  const groupW = (f.x1 - f.x0) / Math.max(1, categories.length);
  const barW = Math.min(28, (groupW * 0.8) / Math.max(1, series.length));
  categories.forEach((cat, ci) => {
    const gx = f.x0 + ci * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === undefined || !Number.isFinite(v)) return;
      const y = f.scaleY(v);
      const bar = svgEl("rect", {
        x: gx + si * barW,
        y,
        width: barW - 1,
        height: Math.max(0, f.y0 - y),
        fill: s.colour ?? seriesColour(si),
        "data-series": s.name,
        "data-category": cat,
        "data-value": v,
      });
      bar.append(svgEl("title", {}, `${cat} · ${s.name}: ${fmt(v)}`));
      f.svg.append(bar);
    });
    f.svg.append(
      svgEl(
        "text",
        {
          x: f.x0 + ci * groupW + groupW / 2,
          y: f.y0 + 13,
          "text-anchor": "middle",
          class: "vpmu-axis",
        },
        cat,
      ),
    );
  });
  legend(f, series);
  return f.svg;
}

/** Lines over a numeric x axis (one x per point, shared by every series). */
export function lineChart(
  xs: number[],
  series: Series[],
  o: ChartOptions & { formatX?: (v: number) => string } = {},
): SVGElement {
  const vals = series.flatMap((s) => s.values.filter(Number.isFinite));
  const lo = Math.min(0, ...vals);
  const hi = Math.max(lo + 1, ...vals);
  const f = frame(o, lo, hi);
  const xmin = Math.min(...xs);
  const xmax = Math.max(xmin + 1, ...xs);
  const sx = (v: number) => f.x0 + ((v - xmin) / (xmax - xmin)) * (f.x1 - f.x0);
  const fmtX = o.formatX ?? shortNumber;
  for (const t of niceTicks(xmin, xmax))
    f.svg.append(
      svgEl(
        "text",
        { x: sx(t), y: f.y0 + 13, "text-anchor": "middle", class: "vpmu-axis" },
        fmtX(t),
      ),
    );
  series.forEach((s, si) => {
    const colour = s.colour ?? seriesColour(si);
    const pts = xs
      .map((x, i) => [sx(x), f.scaleY(s.values[i] ?? Number.NaN)] as const)
      .filter(([, y]) => Number.isFinite(y));
    f.svg.append(
      svgEl("polyline", {
        points: pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "),
        fill: "none",
        stroke: colour,
        "stroke-width": 2,
        "stroke-dasharray": ["", "6 3", "2 2", "8 2 2 2"][si % 4]!,
        "data-series": s.name,
      }),
    );
  });
  legend(f, series);
  return f.svg;
}
