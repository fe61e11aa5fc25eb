import type {
  CounterAttr,
  CounterResult,
  MeasurementResult,
  RunResult,
} from "../../src/report/result.js";
import { lineChart } from "./chart.js";
import { el, fmtTime, thousands } from "./format.js";

/** The HTML tables of one run: header, expectations, perf stat, VMs, actions. */

/**
 * An event's attr as perf's `-vv` prints perf_event_attr, on one line:
 * `type 0, config 0x0, exclude_guest 1`.
 */
export function attrSyntax(a: CounterAttr): string {
  return [`type ${a.type}`, `config ${a.config}`, ...a.exclude.map((x) => `exclude_${x} 1`)].join(
    ", ",
  );
}

/** A <table> from a header and rows of cells (strings or ready cells). */
export function table(
  head: string[],
  rows: Array<Array<string | HTMLTableCellElement>>,
  attrs: Record<string, string> = {},
): HTMLTableElement {
  const t = el("table", attrs);
  t.append(el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))));
  const body = el("tbody");
  for (const r of rows)
    body.append(el("tr", {}, ...r.map((c) => (typeof c === "string" ? el("td", {}, c) : c))));
  t.append(body);
  return t;
}

/** A numeric cell: the formatted number, the raw value in data-value. */
function num(v: number | null, field: string, text?: string): HTMLTableCellElement {
  return el(
    "td",
    { class: "num", "data-field": field, "data-value": v === null ? "null" : String(v) },
    text ?? (v === null ? "-" : thousands(v)),
  );
}

/** Scenario name, description, machine, profile, seed, duration, verdict. */
export function headerView(r: RunResult, source: string): HTMLElement {
  const s = r.scenario;
  const facts: Array<[string, string]> = [
    ["file", source],
    ["machine", `${r.machine.name} (${r.machine.arch}, ${r.machine.cpus.length} CPUs)`],
    ["kernel profile", s.kernel_profile],
    ["seed", String(s.seed)],
    ["duration", fmtTime(s.duration_ns)],
    ["HZ", String(s.hz)],
    ["vpmu", r.vpmu],
  ];
  if (s.variant) facts.push(["variant", s.variant]);
  const ok = r.summary.failed === 0;
  return el(
    "header",
    { class: "vpmu-header" },
    el("h1", {}, s.name),
    el("p", { class: "vpmu-desc" }, s.description),
    el("dl", {}, ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    el(
      "p",
      { class: ok ? "vpmu-pass" : "vpmu-fail" },
      `${ok ? "✓" : "✗"} ${r.summary.passed} passed, ${r.summary.failed} failed`,
    ),
  );
}

export function expectationsView(r: RunResult): HTMLElement | null {
  if (r.expectations.length === 0 && !r.actions.some((a) => a.ok !== undefined)) return null;
  const rows = r.expectations.map((e) => [
    el("td", { class: e.ok ? "vpmu-pass" : "vpmu-fail" }, e.ok ? "✓ ok" : "✗ FAIL"),
    e.label,
    JSON.stringify(e.observed),
    e.expected,
  ]);
  for (const a of r.actions.filter((x) => x.ok !== undefined))
    rows.push([
      el("td", { class: a.ok ? "vpmu-pass" : "vpmu-fail" }, a.ok ? "✓ ok" : "✗ FAIL"),
      `${fmtTime(a.at_ns)}: ${a.label}`,
      "errno" in a.result ? a.result.errno : `ret ${a.result.ret}`,
      a.expected?.errno ??
        (a.expected?.ret !== undefined
          ? `ret ${a.expected.ret}`
          : a.expected?.ok
            ? "success"
            : "failure"),
    ]);
  return el(
    "section",
    {},
    el("h2", {}, "Expectations"),
    table(["", "check", "observed", "expected"], rows, { class: "vpmu-expect" }),
  );
}

function pct(c: { enabled_ns: number; running_ns: number }): string {
  return c.enabled_ns > 0 ? `${((100 * c.running_ns) / c.enabled_ns).toFixed(2)}%` : "-";
}

function counterRow(m: MeasurementResult, c: CounterResult, truth: boolean): HTMLTableRowElement {
  const counted = c.status === "counted";
  const cells: HTMLTableCellElement[] = [
    el("td", { "data-field": "event", title: c.attr ? attrSyntax(c.attr) : "" }, c.event),
    num(c.count, "count", counted ? undefined : `<${c.status}>`),
    num(c.scaled, "scaled"),
    num(c.enabled_ns, "enabled_ns"),
    num(c.running_ns, "running_ns"),
    el("td", { class: "num", "data-field": "percent" }, pct(c)),
    el("td", { "data-field": "state", class: `vpmu-state-${c.state}` }, c.state),
    el(
      "td",
      { "data-field": "metrics" },
      (c.metrics ?? []).map((x) => `${x.value.toFixed(2)} ${x.unit}`).join("; "),
    ),
  ];
  if (truth) {
    const err =
      c.scaled !== null && c.truth > 0
        ? `${(((c.scaled - c.truth) / c.truth) * 100).toFixed(2)}%`
        : "n/a";
    cells.push(num(c.truth, "truth"), el("td", { class: "num", "data-field": "error" }, err));
  }
  const tr = el("tr", { "data-measurement": m.name, "data-event": c.event }, ...cells);
  return tr;
}

function perCpu(c: CounterResult): HTMLElement | null {
  if (!c.per_cpu || c.per_cpu.length < 2) return null;
  return el(
    "details",
    {},
    el("summary", {}, `${c.event} per CPU`),
    table(
      ["CPU", "count", "enabled", "running", "%", "state"],
      c.per_cpu.map((p) => [
        String(p.cpu),
        num(p.count, "count"),
        num(p.enabled_ns, "enabled_ns"),
        num(p.running_ns, "running_ns"),
        pct(p),
        p.state,
      ]),
      { class: "vpmu-percpu" },
    ),
  );
}

/** The interval counts (perf stat -I) of a measurement as lines, one per event. */
function intervalsChart(m: MeasurementResult): SVGElement | null {
  if (m.intervals.length < 2) return null;
  const events = m.intervals[0]!.counters.map((c) => c.event);
  return lineChart(
    m.intervals.map((iv) => iv.t_ns),
    events.map((e) => ({
      name: e,
      values: m.intervals.map((iv) => iv.counters.find((c) => c.event === e)?.count ?? Number.NaN),
    })),
    { title: `${m.name}: counts per interval`, formatX: (v) => fmtTime(v), width: 640 },
  );
}

/** One measurement: perf stat's numbers, one row per counter. */
export function measurementView(m: MeasurementResult, truth: boolean): HTMLElement {
  const where = m.target.startsWith("guest ") ? `in ${m.target}` : `host, ${m.target}`;
  const head = [
    "event",
    "count",
    "scaled",
    "enabled ns",
    "running ns",
    "running %",
    "state",
    "metrics",
  ];
  if (truth) head.push("truth", "error");
  const t = table(head, [], { class: "vpmu-perfstat", "data-measurement": m.name });
  const body = t.tBodies[0]!;
  for (const c of m.counters) body.append(counterRow(m, c, truth));
  const sec = el(
    "section",
    { class: "vpmu-measurement" },
    el(
      "h3",
      {},
      `${m.name} `,
      el("small", {}, `${where} · ${fmtTime(m.start_ns)} – ${fmtTime(m.stop_ns)}`),
    ),
  );
  // perf's warnings about the event list (a group it broke up), as it prints them.
  if (m.warnings?.length) sec.append(el("pre", { class: "vpmu-warn" }, m.warnings.join("\n")));
  if (m.error) sec.append(el("p", { class: "vpmu-fail" }, `Error: ${m.error}`));
  sec.append(t);
  for (const c of m.counters) {
    const d = perCpu(c);
    if (d) sec.append(d);
  }
  const chart = intervalsChart(m);
  if (chart) sec.append(chart);
  return sec;
}

export function perfView(r: RunResult, truth: boolean): HTMLElement | null {
  if (r.perf.length === 0) return null;
  const host = r.perf.filter((m) => !m.target.startsWith("guest "));
  const guest = r.perf.filter((m) => m.target.startsWith("guest "));
  const sec = el("section", {}, el("h2", {}, "perf stat"));
  if (host.length)
    sec.append(
      el("h3", { class: "vpmu-sub" }, "Host"),
      ...host.map((m) => measurementView(m, truth)),
    );
  if (guest.length)
    sec.append(
      el("h3", { class: "vpmu-sub" }, "Guest"),
      ...guest.map((m) => measurementView(m, truth)),
    );
  return sec;
}

export function vmsView(r: RunResult): HTMLElement | null {
  if (r.vms.length === 0) return null;
  const rows = r.vms.flatMap((vm) =>
    vm.vcpus.map((v) => [
      `${vm.name}/${v.id}`,
      `${vm.vpmu} v${vm.pmu_version}`,
      String(v.cpu),
      String(v.entries),
      Object.entries(v.exits)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "-",
      fmtTime(v.guest_ns),
      fmtTime(v.host_ns),
      `${v.overhead_pct.toFixed(2)}%`,
    ]),
  );
  return el(
    "section",
    {},
    el("h2", {}, "VMs"),
    el("p", { class: "vpmu-note" }, "Exit costs are model estimates."),
    table(
      ["vCPU", "vPMU", "CPU", "entries", "exits by reason", "in guest", "in host", "overhead"],
      rows,
    ),
  );
}

export function actionsView(r: RunResult): HTMLElement | null {
  if (r.actions.length === 0) return null;
  return el(
    "details",
    {},
    el("summary", {}, `Actions (${r.actions.length})`),
    table(
      ["at", "action", "result"],
      r.actions.map((a) => [
        fmtTime(a.at_ns),
        a.label,
        "errno" in a.result ? a.result.errno : `ret ${a.result.ret}`,
      ]),
    ),
  );
}
