import {
  type TimelineData,
  type TimelineEvent,
  type TimelineHolder,
  type TimelineLane,
  valuesAt,
} from "../../src/report/timeline.js";
import { fmtTime, thousands } from "./format.js";
import {
  GUEST_LANE,
  GUEST_SHADE,
  MARK_STYLES,
  STATE_COLOURS,
  seriesColour,
  TASK_LANE,
} from "./palette.js";

/**
 * The canvas timeline: per CPU a task lane, a guest-loaded lane, a lane of marks, one lane
 * per hardware counter (coloured by the event that holds it) and one state lane per event,
 * with guest-loaded intervals shaded across the CPU's lanes. Zoom with the wheel, pan by
 * dragging, double-click to see the whole run; hovering shows what is under the pointer.
 *
 * Its only input is a {@link TimelineData} (src/report/timeline.ts, unpacked) and an optional
 * describer of events (attr, final counts), so any page can embed it.
 */
export interface TimelineOptions {
  /**
   * Extra tooltip lines for an event: its name, the measurement that opened it (null: none)
   * and the CPU hovered (the report gives attr and final counts).
   */
  describe?: (event: string, measurement: string | null, cpu: number) => string[];
  /** Whether a counter holder is a guest's (KVM's backing event); default: none. */
  isGuestHolder?: (holder: string) => boolean;
  /** Show CPUs that no counter, event or guest touched (default false). */
  showIdleCpus?: boolean;
  /** Show counters no event ever held (default false: only the used ones). */
  showFreeCounters?: boolean;
}

/** One row of the timeline. */
export type TimelineRow =
  | { kind: "cpu"; cpu: number; y: number; h: number; label: string }
  | { kind: "task" | "guest"; cpu: number; y: number; h: number; label: string; iv: number[] }
  | { kind: "marks"; cpu: number; y: number; h: number; label: string; marks: number[] }
  | { kind: "lane"; cpu: number; y: number; h: number; label: string; lane: TimelineLane }
  | { kind: "state"; cpu: number; y: number; h: number; label: string; ev: TimelineEvent };

/** What is under the pointer. */
export interface TimelineHit {
  row: TimelineRow;
  t: number;
  /** The tooltip's lines. */
  lines: string[];
  /** The holder, event or mark label under the pointer (null: nothing there). */
  subject: string | null;
}

/** A CPU's block of rows, for the guest shading. */
interface CpuBlock {
  cpu: number;
  y0: number;
  y1: number;
  guest: number[];
}

const GUTTER = 170;
const AXIS_H = 22;
const ROW_H = { cpu: 18, task: 10, guest: 8, marks: 14, lane: 13, state: 11 } as const;

/** "#RRGGBB" as one RGBA pixel of an ImageData (little-endian: ABGR). */
function pixel(hex: string): number {
  const v = Number.parseInt(hex.slice(1, 7), 16);
  return ((0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
}
const WHITE = pixel("#FFFFFF");
const LANE_BG = pixel("#FAFAFA");
const CPU_ROW = pixel("#F2F2F2");
const TASK_PX = pixel(TASK_LANE);
const GUEST_PX = pixel(GUEST_LANE);

/** [start, end) column runs where mask is set. */
function runsOf(mask: Uint8Array): number[] {
  const out: number[] = [];
  let start = -1;
  for (let x = 0; x <= mask.length; x++) {
    const on = x < mask.length && mask[x] === 1;
    if (on && start < 0) start = x;
    else if (!on && start >= 0) {
      out.push(start, x);
      start = -1;
    }
  }
  return out;
}

/** First interval (stride 3: t0, t1, x) whose end is after t. */
function firstEndingAfter(iv: number[], t: number, stride: number, endOff: number): number {
  let lo = 0;
  let hi = iv.length / stride;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (iv[mid * stride + endOff]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Last state change at or before t (changes: [t, state] pairs), or -1. */
function changeAt(ch: number[], t: number): number {
  let lo = 0;
  let hi = ch.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ch[mid * 2]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** The canvas timeline view. */
export class Timeline {
  readonly rows: TimelineRow[] = [];
  private readonly blocks: CpuBlock[] = [];
  private readonly canvas: HTMLCanvasElement;
  private readonly tip: HTMLDivElement;
  /** Colour by holder index; holders of one name in one measurement share one. */
  private readonly holderColour = new Map<number, string>();
  private readonly keyColour = new Map<string, string>();
  private readonly guestHolder = new Set<number>();
  /** Holder index by event id. */
  private readonly holderById = new Map<number, number>();
  private readonly errors = new Map<TimelineEvent, number[]>();
  /** Pixel colours by string index: of the holders, and of the states. */
  private readonly holderPx: Uint32Array;
  private readonly statePx: Uint32Array;
  private width = 800;
  private height = 100;
  /** The visible time range (ns). */
  t0 = 0;
  t1 = 1;
  /** Wall time of the last draw (ms). */
  lastDrawMs = 0;
  /** What the pointer was last over. */
  lastHit: TimelineHit | null = null;

  constructor(
    private readonly host: HTMLElement,
    readonly data: TimelineData,
    private readonly opts: TimelineOptions = {},
  ) {
    this.t1 = Math.max(1, data.end_ns);
    this.layout();
    this.colourHolders();
    this.holderPx = new Uint32Array(data.holders.length).fill(pixel("#999999"));
    for (const [h, c] of this.holderColour) this.holderPx[h] = pixel(c);
    this.statePx = new Uint32Array(data.strings.length).fill(pixel("#999999"));
    data.strings.forEach((s, i) => {
      const c = STATE_COLOURS[s];
      if (c) this.statePx[i] = pixel(c);
    });
    this.canvas = document.createElement("canvas");
    this.canvas.className = "vpmu-timeline-canvas";
    this.tip = document.createElement("div");
    this.tip.className = "vpmu-tip";
    this.tip.hidden = true;
    host.classList.add("vpmu-timeline");
    host.append(this.canvas, this.tip);
    this.bindInput();
    this.resize();
  }

  private str(i: number): string {
    return this.data.strings[i] ?? "?";
  }

  /** A holder's label: its event name, and the measurement that opened it when one did. */
  holderLabel(h: number): string {
    const x = this.data.holders[h];
    if (!x) return "?";
    return x.measurement >= 0
      ? `${this.str(x.name)} (${this.str(x.measurement)})`
      : this.str(x.name);
  }

  /** The measurement that opened event `id`, or null. */
  private measurementOf(id: number): string | null {
    const h = this.data.holders.find((x) => x.id === id);
    return h && h.measurement >= 0 ? this.str(h.measurement) : null;
  }

  /** Rows per CPU: task, guest, marks, counters (GP then fixed, per PMU), event states. */
  private layout(): void {
    let y = AXIS_H;
    const push = (r: TimelineRow) => {
      this.rows.push(r);
      y += r.h;
    };
    for (const c of this.data.cpus) {
      const events = this.data.events.filter((e) => e.cpu === c.cpu);
      const used =
        c.lanes.some((l) => l.segs.length > 0) || c.guest.length > 0 || events.length > 0;
      if (!used && !this.opts.showIdleCpus) continue;
      const y0 = y;
      const pmus = [...new Set(c.lanes.map((l) => l.pmu))];
      push({
        kind: "cpu",
        cpu: c.cpu,
        y,
        h: ROW_H.cpu,
        label: `CPU ${c.cpu} (${pmus.join(", ") || "no PMU"})`,
      });
      push({ kind: "task", cpu: c.cpu, y, h: ROW_H.task, label: "task", iv: c.tasks });
      push({ kind: "guest", cpu: c.cpu, y, h: ROW_H.guest, label: "guest loaded", iv: c.guest });
      push({ kind: "marks", cpu: c.cpu, y, h: ROW_H.marks, label: "marks", marks: c.marks });
      for (const lane of c.lanes) {
        if (lane.segs.length === 0 && !this.opts.showFreeCounters) continue;
        const label =
          pmus.length > 1 || !/^cpu$/.test(lane.pmu) ? `${lane.pmu} ${lane.label}` : lane.label;
        push({ kind: "lane", cpu: c.cpu, y, h: ROW_H.lane, label, lane });
      }
      // The guest shading covers the CPU's counters, not its event states.
      this.blocks.push({ cpu: c.cpu, y0: y0 + ROW_H.cpu, y1: y, guest: c.guest });
      for (const ev of events) {
        const m = this.measurementOf(ev.id);
        push({
          kind: "state",
          cpu: c.cpu,
          y,
          h: ROW_H.state,
          label: `${this.str(ev.name)}${m ? ` (${m})` : ""} #${ev.id}`,
          ev,
        });
      }
    }
    if (this.data.uncore.length > 0) {
      // Uncore counters count for the whole machine: one block, CPU -1.
      push({ kind: "cpu", cpu: -1, y, h: ROW_H.cpu, label: "Uncore (machine-wide)" });
      for (const lane of this.data.uncore)
        push({ kind: "lane", cpu: -1, y, h: ROW_H.lane, label: lane.label, lane });
    }
    this.height = y + 4;
  }

  /**
   * One colour per event name and measurement, in order of first appearance: `cycles` of two
   * measurements (or of the host and KVM) get two colours, the per-CPU events of one
   * system-wide measurement share one.
   */
  private colourHolders(): void {
    this.data.holders.forEach((h, i) => {
      if (h.id >= 0) this.holderById.set(h.id, i);
    });
    const lanes = [...this.data.cpus.flatMap((c) => c.lanes), ...this.data.uncore];
    for (const l of lanes)
      for (let i = 2; i < l.segs.length; i += 3) {
        const h = l.segs[i]!;
        if (this.holderColour.has(h)) continue;
        const key = this.holderLabel(h);
        let colour = this.keyColour.get(key);
        if (!colour) this.keyColour.set(key, (colour = seriesColour(this.keyColour.size)));
        this.holderColour.set(h, colour);
        if (this.opts.isGuestHolder?.(this.str(this.data.holders[h]?.name ?? -1)))
          this.guestHolder.add(h);
      }
  }

  /** Holders with their colours, for the legend: one entry per name and measurement. */
  holders(): Array<{ name: string; colour: string; guest: boolean }> {
    const seen = new Set<string>();
    const out: Array<{ name: string; colour: string; guest: boolean }> = [];
    for (const [h, colour] of this.holderColour) {
      const name = this.holderLabel(h);
      if (seen.has(name)) continue;
      seen.add(name);
      out.push({ name, colour, guest: this.guestHolder.has(h) });
    }
    return out;
  }

  /** The holder entry of event `id`, if it has one. */
  holderOf(id: number): TimelineHolder | undefined {
    const i = this.holderById.get(id);
    return i === undefined ? undefined : this.data.holders[i];
  }

  /** Tooltip lines: an event's count and times at t, from its value samples. */
  private valuesLines(h: TimelineHolder | undefined, t: number): string[] {
    const v = h && valuesAt(h, t);
    if (!v) return [];
    const pct = v.enabled > 0 ? ` (${((v.running / v.enabled) * 100).toFixed(2)}%)` : "";
    const scaled =
      v.running > 0 && v.running < v.enabled
        ? `, scaled ${thousands(Math.floor((v.count * v.enabled) / v.running))}`
        : "";
    const stale = v.stale ? " (as of its last state change; it may have counted on)" : "";
    return [
      `at this instant: count ${thousands(v.count)}${scaled}`,
      `  time_enabled ${thousands(v.enabled)} ns, time_running ${thousands(v.running)} ns${pct}${stale}`,
    ];
  }

  private x(t: number): number {
    return GUTTER + ((t - this.t0) / (this.t1 - this.t0)) * (this.width - GUTTER);
  }

  private tAt(x: number): number {
    return this.t0 + ((x - GUTTER) / (this.width - GUTTER)) * (this.t1 - this.t0);
  }

  /** The x pixel (CSS px) of an instant in the current view. */
  xOf(t: number): number {
    return this.x(t);
  }

  /** Shows [t0, t1] (clamped to the run). */
  setRange(t0: number, t1: number): void {
    const end = Math.max(1, this.data.end_ns);
    const span = Math.min(end, Math.max(100, t1 - t0));
    const a = Math.min(Math.max(0, t0), end - span);
    this.t0 = a;
    this.t1 = a + span;
    this.draw();
  }

  /** Fits the canvas to its container and redraws. */
  resize(): void {
    this.width = Math.max(GUTTER + 200, this.host.clientWidth || 900);
    const dpr = globalThis.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.draw();
  }

  /**
   * Redraws everything; returns the time it took (ms). The lanes are rasterised into one
   * pixel buffer, a colour per device pixel column per lane, so a redraw costs the visible
   * width times the lanes (plus one pass over the visible intervals), not a canvas call per
   * interval. Text, marks and shading go on top with the canvas API.
   */
  draw(): number {
    const start = performance.now();
    const g = this.canvas.getContext("2d");
    if (!g) return 0;
    const dpr = globalThis.devicePixelRatio || 1;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.fillStyle = "#FFFFFF";
    g.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.rasterLanes(g, dpr);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.drawAxis(g);
    this.drawGuestShade(g);
    this.drawLabels(g);
    for (const r of this.rows) this.drawRowOverlay(g, r);
    this.lastDrawMs = performance.now() - start;
    return this.lastDrawMs;
  }

  private scratch = {
    img: null as ImageData | null,
    strip: null as HTMLCanvasElement | null,
    mask: new Uint8Array(0),
  };

  /**
   * The lanes' pixels: one line of pixel columns per row in an offscreen strip (one
   * putImageData), each line then stretched to its row's height (one drawImage per row).
   */
  private rasterLanes(g: CanvasRenderingContext2D, dpr: number): void {
    const x0 = Math.round(GUTTER * dpr);
    const pw = this.canvas.width - x0;
    const n = this.rows.length;
    if (pw <= 0 || n === 0) return;
    let img = this.scratch.img;
    if (!img || img.width !== pw || img.height !== n) {
      img = this.scratch.img = new ImageData(pw, n);
      this.scratch.strip = document.createElement("canvas");
      this.scratch.strip.width = pw;
      this.scratch.strip.height = n;
      this.scratch.mask = new Uint8Array(pw);
    }
    const buf = new Uint32Array(img.data.buffer);
    const mask = this.scratch.mask;
    const hatch: Array<{ r: TimelineRow; runs: number[] }> = [];
    this.rows.forEach((r, i) => {
      const col = buf.subarray(i * pw, (i + 1) * pw);
      if (r.kind === "cpu" || r.kind === "marks") {
        col.fill(r.kind === "cpu" ? CPU_ROW : WHITE);
        return;
      }
      const bg = r.kind === "lane" ? LANE_BG : WHITE;
      col.fill(0);
      mask.fill(0);
      if (r.kind === "state") this.stateColumns(r.ev.changes, col, pw);
      else if (r.kind === "lane") this.intervalColumns(r.lane.segs, col, pw, this.holderPx, mask);
      else this.intervalColumns(r.iv, col, pw, r.kind === "task" ? TASK_PX : GUEST_PX, mask);
      for (let x = 0; x < pw; x++) if (col[x] === 0) col[x] = bg;
      if (r.kind === "lane" && this.guestHolder.size > 0) hatch.push({ r, runs: runsOf(mask) });
    });
    const strip = this.scratch.strip!;
    strip.getContext("2d")!.putImageData(img, 0, 0);
    g.imageSmoothingEnabled = false;
    this.rows.forEach((r, i) => {
      const inset = r.kind === "cpu" ? 0 : 1;
      const y0 = Math.round((r.y + inset) * dpr);
      const y1 = Math.round((r.y + r.h - inset) * dpr);
      if (y1 > y0) g.drawImage(strip, 0, i, pw, 1, x0, y0, pw, y1 - y0);
    });
    // Guest counters (KVM's backing events) are hatched.
    g.strokeStyle = "rgba(255,255,255,0.85)";
    g.lineWidth = 1;
    g.beginPath();
    for (const { r, runs } of hatch)
      for (let k = 0; k < runs.length; k += 2) {
        const a = x0 + runs[k]!;
        const b = x0 + runs[k + 1]!;
        const h = r.h * dpr;
        for (let x = a; x < b; x += 5 * dpr) {
          g.moveTo(x, (r.y + r.h - 1) * dpr);
          g.lineTo(Math.min(x + h, b), (r.y + 1) * dpr);
        }
      }
    g.stroke();
  }

  /** Device x of an instant within the plot area. */
  private px(t: number, pw: number): number {
    return ((t - this.t0) / (this.t1 - this.t0)) * pw;
  }

  /** Colours the columns of [t0, t1, value] intervals; `mask` marks guest holders. */
  private intervalColumns(
    iv: number[],
    col: Uint32Array,
    pw: number,
    colour: Uint32Array | number,
    mask: Uint8Array,
  ): void {
    let last = -1;
    for (let i = firstEndingAfter(iv, this.t0, 3, 1) * 3; i < iv.length; i += 3) {
      const a = iv[i]!;
      if (a > this.t1) break;
      const c1 = Math.min(pw, Math.floor(this.px(iv[i + 1]!, pw)));
      if (c1 <= last) continue;
      const c0 = Math.max(0, Math.floor(this.px(a, pw)), last + 1);
      const end = Math.max(c0 + 1, c1);
      const v = iv[i + 2]!;
      const px = typeof colour === "number" ? colour : colour[v]!;
      for (let x = c0; x < end; x++) col[x] = px;
      if (this.guestHolder.has(v)) for (let x = c0; x < end; x++) mask[x] = 1;
      last = end - 1;
    }
  }

  /** Colours the columns of [t, state] changes (each state lasts to the next change). */
  private stateColumns(ch: number[], col: Uint32Array, pw: number): void {
    let last = -1;
    for (let i = Math.max(0, changeAt(ch, this.t0)) * 2; i < ch.length; i += 2) {
      const a = ch[i]!;
      if (a > this.t1) break;
      const b = i + 2 < ch.length ? ch[i + 2]! : this.data.end_ns;
      if (b <= a) continue;
      const c1 = Math.min(pw, Math.floor(this.px(b, pw)));
      if (c1 <= last) continue;
      const c0 = Math.max(0, Math.floor(this.px(a, pw)), last + 1);
      const end = Math.max(c0 + 1, c1);
      const px = this.statePx[ch[i + 1]!]!;
      for (let x = c0; x < end; x++) col[x] = px;
      last = end - 1;
    }
  }

  private drawAxis(g: CanvasRenderingContext2D): void {
    const span = this.t1 - this.t0;
    const step = 10 ** Math.floor(Math.log10(span / 6));
    const mult = span / step > 30 ? 5 : span / step > 12 ? 2 : 1;
    const tick = step * mult;
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#333333";
    g.strokeStyle = "rgba(0, 0, 0, 0.12)";
    g.lineWidth = 1;
    g.beginPath();
    for (let t = Math.ceil(this.t0 / tick) * tick; t <= this.t1; t += tick) {
      const x = Math.round(this.x(t)) + 0.5;
      g.moveTo(x, AXIS_H - 4);
      g.lineTo(x, this.height);
      g.fillText(fmtTime(t), x + 2, 12);
    }
    g.stroke();
  }

  /** The rows' labels in the gutter (the font is set once per kind: setting it is costly). */
  private drawLabels(g: CanvasRenderingContext2D): void {
    g.font = "bold 12px system-ui, sans-serif";
    g.fillStyle = "#000000";
    for (const r of this.rows) if (r.kind === "cpu") g.fillText(r.label, 4, r.y + 13);
    g.font = "10px system-ui, sans-serif";
    g.fillStyle = "#444444";
    for (const r of this.rows)
      if (r.kind !== "cpu")
        g.fillText(r.label.length > 26 ? `${r.label.slice(0, 25)}…` : r.label, 8, r.y + r.h - 2);
  }

  /** What goes on top of a row's pixels (marks, ERROR bars). */
  private drawRowOverlay(g: CanvasRenderingContext2D, r: TimelineRow): void {
    if (r.kind === "marks") {
      g.save();
      g.beginPath();
      g.rect(GUTTER, r.y, this.width - GUTTER, r.h);
      g.clip();
      this.drawMarks(g, r);
      g.restore();
    } else if (r.kind === "state") {
      // A state change to ERROR is a mark of its own: a black bar the lane's height.
      g.fillStyle = "#000000";
      const errs = this.errorTimes(r.ev);
      let lastX = Number.NEGATIVE_INFINITY;
      for (let k = firstEndingAfter(errs, this.t0 - 1, 1, 0); k < errs.length; k++) {
        const t = errs[k]!;
        if (t > this.t1) break;
        const x = Math.round(this.x(t));
        if (x - lastX < 3) continue;
        g.fillRect(x - 1, r.y, 2, r.h);
        lastX = x;
      }
    }
  }

  /** Guest-loaded intervals shaded over the CPU's lanes, one rectangle per run of columns. */
  private drawGuestShade(g: CanvasRenderingContext2D): void {
    g.fillStyle = GUEST_SHADE;
    for (const b of this.blocks) {
      let runStart = -1;
      let runEnd = -1;
      const flush = () => {
        if (runEnd > runStart) g.fillRect(runStart, b.y0, runEnd - runStart, b.y1 - b.y0);
      };
      for (let i = firstEndingAfter(b.guest, this.t0, 3, 1) * 3; i < b.guest.length; i += 3) {
        if (b.guest[i]! > this.t1) break;
        const c0 = Math.max(GUTTER, Math.floor(this.x(b.guest[i]!)));
        const c1 = Math.min(this.width, Math.floor(this.x(b.guest[i + 1]!)));
        if (c1 <= c0) continue;
        if (c0 <= runEnd) runEnd = Math.max(runEnd, c1);
        else {
          flush();
          runStart = Math.max(c0, runEnd);
          runEnd = c1;
        }
      }
      flush();
    }
  }

  /** When an event went to ERROR. */
  errorTimes(ev: TimelineEvent): number[] {
    const cached = this.errors.get(ev);
    if (cached) return cached;
    const out: number[] = [];
    const ch = ev.changes;
    for (let i = 0; i < ch.length; i += 2)
      if (this.str(ch[i + 1]!) === "ERROR" && (i === 0 || this.str(ch[i - 1]!) !== "ERROR"))
        out.push(ch[i]!);
    this.errors.set(ev, out);
    return out;
  }

  private drawMarks(g: CanvasRenderingContext2D, r: Extract<TimelineRow, { kind: "marks" }>): void {
    const m = r.marks;
    let lastCol = -1;
    let lastKind = -1;
    for (let i = firstEndingAfter(m, this.t0, 3, 0) * 3; i < m.length; i += 3) {
      const t = m[i]!;
      if (t > this.t1) break;
      const kind = m[i + 1]!;
      const x = Math.round(this.x(t));
      if (x === lastCol && kind === lastKind) continue;
      lastCol = x;
      lastKind = kind;
      const style = MARK_STYLES[this.data.mark_kinds[kind] ?? ""] ?? {
        colour: "#000",
        shape: "tick",
      };
      markShape(g, style.shape, style.colour, x, r.y, r.h);
    }
  }

  /** What is at (x, y) in CSS pixels of the canvas. */
  hit(x: number, y: number): TimelineHit | null {
    const row = this.rows.find((r) => y >= r.y && y < r.y + r.h);
    if (!row || x < GUTTER) return null;
    const t = this.tAt(x);
    const head = [`${row.cpu < 0 ? "uncore" : `CPU ${row.cpu}`} · ${fmtTime(t)}`];
    switch (row.kind) {
      case "cpu":
        return { row, t, lines: head, subject: null };
      case "task":
      case "guest": {
        const i = this.intervalAt(row.iv, t);
        const name = i < 0 ? null : this.str(row.iv[i + 2]!);
        const what = row.kind === "task" ? "task" : "guest context loaded";
        const lines = name ? [`${what}: ${name}`, this.span(row.iv, i)] : [`no ${what}`];
        return { row, t, lines: [...head, ...lines], subject: name };
      }
      case "lane":
        return this.hitLane(row, t, head);
      case "state":
        return this.hitState(row, t, head);
      case "marks":
        return this.hitMark(row, x, t, head);
    }
  }

  private intervalAt(iv: number[], t: number): number {
    const i = firstEndingAfter(iv, t, 3, 1) * 3;
    return i < iv.length && iv[i]! <= t ? i : -1;
  }

  private span(iv: number[], i: number): string {
    return `${fmtTime(iv[i]!)} – ${fmtTime(iv[i + 1]!)} (${fmtTime(iv[i + 1]! - iv[i]!)})`;
  }

  private hitLane(
    row: Extract<TimelineRow, { kind: "lane" }>,
    t: number,
    head: string[],
  ): TimelineHit {
    const segs = row.lane.segs;
    const i = this.intervalAt(segs, t);
    const lines = [...head, `counter ${row.lane.pmu} ${row.label} (idx ${row.lane.idx})`];
    if (i < 0) return { row, t, lines: [...lines, "free"], subject: null };
    const hi = segs[i + 2]!;
    const h = this.data.holders[hi];
    const label = this.holderLabel(hi);
    const guest = this.guestHolder.has(hi) ? " (guest counter, KVM's backing event)" : "";
    const id = h && h.id >= 0 ? `, id ${h.id}` : "";
    lines.push(`held by ${label}${guest}${id}`, this.span(segs, i));
    const guestIv = this.data.cpus.find((c) => c.cpu === row.cpu)?.guest ?? [];
    if (this.intervalAt(guestIv, t) >= 0) lines.push("guest context loaded on this CPU");
    lines.push(...this.valuesLines(h, t));
    const name = h ? this.str(h.name) : label;
    const m = h && h.measurement >= 0 ? this.str(h.measurement) : null;
    return {
      row,
      t,
      lines: [...lines, ...(this.opts.describe?.(name, m, row.cpu) ?? [])],
      subject: label,
    };
  }

  private hitState(
    row: Extract<TimelineRow, { kind: "state" }>,
    t: number,
    head: string[],
  ): TimelineHit {
    const ch = row.ev.changes;
    const i = changeAt(ch, t);
    const name = this.str(row.ev.name);
    const state = i < 0 ? "(not yet created)" : this.str(ch[i * 2 + 1]!);
    const h = this.holderOf(row.ev.id);
    const m = h && h.measurement >= 0 ? this.str(h.measurement) : null;
    let values = this.valuesLines(h, t);
    if (values.length === 0) {
      // No value samples: enabled and running time up to t from the state changes alone.
      let enabled = 0;
      let running = 0;
      for (let k = 0; k < ch.length; k += 2) {
        const a = ch[k]!;
        if (a >= t) break;
        const b = Math.min(t, k + 2 < ch.length ? ch[k + 2]! : this.data.end_ns);
        const s = this.str(ch[k + 1]!);
        if (s === "ACTIVE" || s === "INACTIVE") enabled += b - a;
        if (s === "ACTIVE") running += b - a;
      }
      values = [
        `at this instant: enabled ${fmtTime(enabled)}, running ${fmtTime(running)}${enabled > 0 ? ` (${((running / enabled) * 100).toFixed(2)}%)` : ""}`,
      ];
    }
    const lines = [
      ...head,
      `event ${m ? `${name} (${m})` : name} (id ${row.ev.id}): ${state}`,
      i >= 0 ? `since ${fmtTime(ch[i * 2]!)}` : "",
      ...values,
      // kernel: __perf_read() returns no data for an event in ERROR.
      state === "ERROR" ? "in ERROR, read(2) returns 0 bytes: these are the event's own" : "",
      ...(this.opts.describe?.(name, m, row.cpu) ?? []),
    ].filter((s) => s !== "");
    return { row, t, lines, subject: name };
  }

  private hitMark(
    row: Extract<TimelineRow, { kind: "marks" }>,
    x: number,
    t: number,
    head: string[],
  ): TimelineHit {
    const m = row.marks;
    const tol = ((this.t1 - this.t0) / (this.width - GUTTER)) * 4;
    const found: string[] = [];
    for (let i = firstEndingAfter(m, t - tol, 3, 0) * 3; i < m.length && m[i]! <= t + tol; i += 3)
      if (found.length < 6)
        found.push(
          `${this.data.mark_kinds[m[i + 1]!]} at ${fmtTime(m[i]!)}: ${this.str(m[i + 2]!)}`,
        );
    void x;
    return {
      row,
      t,
      lines: [...head, ...(found.length ? found : ["no mark here"])],
      subject: found[0] ?? null,
    };
  }

  private showTip(ev: MouseEvent): void {
    const rect = this.canvas.getBoundingClientRect();
    const h = this.hit(ev.clientX - rect.left, ev.clientY - rect.top);
    this.lastHit = h;
    if (!h) {
      this.tip.hidden = true;
      return;
    }
    this.tip.textContent = h.lines.join("\n");
    this.tip.hidden = false;
    const hostRect = this.host.getBoundingClientRect();
    const left = ev.clientX - hostRect.left + 14;
    this.tip.style.left = `${Math.min(left, this.width - 320)}px`;
    this.tip.style.top = `${ev.clientY - hostRect.top + 14}px`;
  }

  private bindInput(): void {
    const c = this.canvas;
    let drag: { x: number; t0: number; t1: number } | null = null;
    c.addEventListener(
      "wheel",
      (ev) => {
        ev.preventDefault();
        const rect = c.getBoundingClientRect();
        const x = Math.max(GUTTER, ev.clientX - rect.left);
        const at = this.tAt(x);
        const k = Math.exp(ev.deltaY * 0.002);
        this.setRange(at - (at - this.t0) * k, at + (this.t1 - at) * k);
      },
      { passive: false },
    );
    c.addEventListener("mousedown", (ev) => {
      drag = { x: ev.clientX, t0: this.t0, t1: this.t1 };
    });
    window.addEventListener("mouseup", () => {
      drag = null;
    });
    c.addEventListener("mousemove", (ev) => {
      if (drag) {
        const dt = ((ev.clientX - drag.x) / (this.width - GUTTER)) * (drag.t1 - drag.t0);
        this.setRange(drag.t0 - dt, drag.t1 - dt);
      }
      this.showTip(ev);
    });
    c.addEventListener("mouseleave", () => {
      this.tip.hidden = true;
    });
    c.addEventListener("dblclick", () => this.setRange(0, this.data.end_ns));
    if (typeof ResizeObserver !== "undefined")
      new ResizeObserver(() => this.resize()).observe(this.host);
  }
}

/** One mark: a shape per kind, so marks differ by more than colour. */
export function markShape(
  g: CanvasRenderingContext2D,
  shape: string,
  colour: string,
  x: number,
  y: number,
  h: number,
): void {
  g.fillStyle = colour;
  g.beginPath();
  const m = y + h / 2;
  switch (shape) {
    case "up":
      g.moveTo(x, y + 1);
      g.lineTo(x + 4, y + h - 2);
      g.lineTo(x - 4, y + h - 2);
      break;
    case "down":
      g.moveTo(x, y + h - 1);
      g.lineTo(x + 4, y + 2);
      g.lineTo(x - 4, y + 2);
      break;
    case "diamond":
      g.moveTo(x, y + 1);
      g.lineTo(x + 4, m);
      g.lineTo(x, y + h - 1);
      g.lineTo(x - 4, m);
      break;
    case "dot":
      g.arc(x, m, 3, 0, Math.PI * 2);
      break;
    case "bar":
      g.rect(x - 1, y, 2, h);
      break;
    default:
      g.rect(x - 0.5, y + 3, 1, h - 6);
  }
  g.closePath();
  g.fill();
}
