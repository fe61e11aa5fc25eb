import type { ReportPageData } from "../../src/report/html.js";
import type { RunResult } from "../../src/report/result.js";
import { type TimelineData, unpackTimeline } from "../../src/report/timeline.js";
import { el, thousands } from "./format.js";
import { GUEST_SHADE, MARK_STYLES, STATE_COLOURS } from "./palette.js";
import css from "./style.css?inline";
import {
  actionsView,
  attrSyntax,
  expectationsView,
  headerView,
  perfView,
  vmsView,
} from "./tables.js";
import { Timeline } from "./timeline.js";
import { variantsView } from "./variants.js";

/** What a rendered report exposes (the page's `window.vpmu`, the tests' handle). */
export interface ReportHandle {
  data: ReportPageData;
  /** The timeline of the run shown. */
  timeline: Timeline | null;
  /** Shows run i (a variant's index; 0 without variants). */
  select(i: number): void;
}

const MARK_GLYPH: Record<string, string> = {
  up: "▲",
  down: "▼",
  diamond: "◆",
  dot: "●",
  bar: "┃",
  tick: "│",
};

function runsOf(d: ReportPageData): Array<{ name: string | null; result: RunResult }> {
  return "variants" in d.result
    ? d.result.variants.map((v) => ({ name: v.name, result: v.result }))
    : [{ name: null, result: d.result }];
}

/**
 * Tooltip lines for an event: the counter of that name in the measurement that opened it,
 * with its attr and final counts (and the hovered CPU's share of a system-wide one). An
 * event no measurement opened (KVM's, the watchdog's, an action's) has none: a guest
 * measurement's `cycles` is another event.
 */
function describer(
  r: RunResult,
): (name: string, measurement: string | null, cpu: number) => string[] {
  return (name, measurement, cpu) =>
    r.perf
      .filter((m) => m.name === measurement)
      .flatMap((m) =>
        m.counters
          .filter((c) => c.event === name)
          .flatMap((c) => {
            const pc = c.per_cpu?.find((p) => p.cpu === cpu);
            return [
              `${m.name}: ${c.event}${c.attr ? ` {${attrSyntax(c.attr)}}` : ""} · final count ${thousands(c.count)}, scaled ${c.scaled === null ? "-" : thousands(c.scaled)}, ran ${c.enabled_ns ? ((100 * c.running_ns) / c.enabled_ns).toFixed(2) : "0"}% · ${c.state}`,
              ...(pc && c.per_cpu!.length > 1
                ? [`  on CPU ${cpu}: final count ${thousands(pc.count)} · ${pc.state}`]
                : []),
            ];
          }),
      );
}

/** KVM's backing events of an emulated vPMU: named `kvm:VM/VCPU:pmcN`, or the perf core's default `pmu/0xconfig`. */
function guestHolders(r: RunResult): (holder: string) => boolean {
  const host = new Set(
    r.perf
      .filter((m) => !m.target.startsWith("guest"))
      .flatMap((m) => m.counters.map((c) => c.event)),
  );
  const emulated = r.vms.some((vm) => vm.vpmu === "emulated");
  return (h) => emulated && (/^kvm:/.test(h) || /^[\w.-]+\/0x[0-9a-f]+$/.test(h)) && !host.has(h);
}

function legendView(t: Timeline): HTMLElement {
  const item = (swatch: HTMLElement, label: string) =>
    el("span", { class: "vpmu-legend-item" }, swatch, label);
  const box = (colour: string, cls = "") =>
    el("span", { class: `vpmu-swatch ${cls}`, style: `background-color:${colour}` });
  const marks = Object.entries(MARK_STYLES).map(([k, s]) =>
    item(
      el("span", { class: "vpmu-glyph", style: `color:${s.colour}` }, MARK_GLYPH[s.shape] ?? "|"),
      k,
    ),
  );
  const states = ["ACTIVE", "INACTIVE", "ERROR", "OFF", "DEAD"].map((s) =>
    item(box(STATE_COLOURS[s]!, s === "OFF" ? "vpmu-outline" : ""), s),
  );
  const holders = t
    .holders()
    .map((h) =>
      item(box(h.colour, h.guest ? "vpmu-hatch" : ""), h.guest ? `${h.name} (guest, KVM)` : h.name),
    );
  return el(
    "div",
    { class: "vpmu-legend" },
    el(
      "div",
      {},
      el("b", {}, "Counters held by: "),
      ...holders,
      holders.length ? "" : "(no counter was used)",
    ),
    el(
      "div",
      {},
      el("b", {}, "Event states: "),
      ...states,
      item(
        el("span", { class: "vpmu-swatch", style: "background:#000;width:3px" }),
        "went to ERROR",
      ),
    ),
    el(
      "div",
      {},
      el("b", {}, "Marks: "),
      ...marks,
      item(box(GUEST_SHADE), "guest context loaded (shaded)"),
    ),
    el(
      "div",
      { class: "vpmu-note" },
      "Wheel: zoom · drag: pan · double-click: whole run · hover: details",
    ),
  );
}

/** Renders the whole report into `root`. */
export function renderReport(root: HTMLElement, data: ReportPageData): ReportHandle {
  if (!document.getElementById("vpmu-style"))
    document.head.append(el("style", { id: "vpmu-style" }, css));
  root.replaceChildren();
  root.classList.add("vpmu-root");
  const runs = runsOf(data);
  const handle: ReportHandle = { data, timeline: null, select };
  if ("variants" in data.result) root.append(variantsView(data.result.variants));
  const picker = el("nav", { class: "vpmu-picker" });
  if (runs.length > 1) {
    picker.append("Variant: ");
    runs.forEach((r, i) => {
      const b = el("button", { type: "button", "data-run": String(i) }, r.name ?? "run");
      b.addEventListener("click", () => select(i));
      picker.append(b);
    });
    root.append(picker);
  }
  const body = el("div", { class: "vpmu-run" });
  root.append(body);
  root.append(
    el(
      "details",
      { class: "vpmu-text" },
      el("summary", {}, "Text report"),
      el("pre", {}, data.text),
    ),
  );

  /** The timeline with its legend and a switch for the counters no event used. */
  function timelineSection(r: RunResult, tl: TimelineData): HTMLElement {
    const sec = el("section", { class: "vpmu-timeline-section" }, el("h2", {}, "Timeline"));
    const host = el("div", { class: "vpmu-timeline-host" });
    const free = el("input", { type: "checkbox", class: "vpmu-free" });
    const make = () => {
      host.replaceChildren();
      const opts = {
        describe: describer(r),
        isGuestHolder: guestHolders(r),
        showFreeCounters: free.checked,
      };
      handle.timeline = new Timeline(host, tl, opts);
      return handle.timeline;
    };
    free.addEventListener("change", () => make());
    const t = make();
    sec.append(
      legendView(t),
      el("label", { class: "vpmu-note" }, free, " show counters no event used"),
      host,
    );
    return sec;
  }

  function select(i: number): void {
    const run = runs[i];
    if (!run) return;
    for (const b of picker.querySelectorAll("button"))
      b.classList.toggle("vpmu-on", b.dataset.run === String(i));
    const r = run.result;
    body.replaceChildren(headerView(r, data.source));
    const packed = data.timelines[i];
    if (packed) body.append(timelineSection(r, unpackTimeline(packed)));
    for (const v of [perfView(r, data.truth), expectationsView(r), vmsView(r), actionsView(r)])
      if (v) body.append(v);
  }
  select(0);
  return handle;
}
