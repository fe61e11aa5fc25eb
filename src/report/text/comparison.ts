import { formatDuration } from "../../sim/time.js";
import { ms, table, thousands } from "../format.js";
import type { CounterResult, MeasurementResult, VariantRunResult, VmResult } from "../result.js";
import { type TextOptions, wrap } from "./section.js";

/**
 * The rows of the side-by-side table, keyed, in first-seen order over the variants; a
 * variant without a row's value shows "-", a heading row shows nothing.
 */
class Rows {
  readonly list: Array<{ label: string; cells: Map<number, string> }> = [];
  private readonly byKey = new Map<string, { label: string; cells: Map<number, string> }>();

  put(key: string, label: string, col: number, value: string | undefined): void {
    let row = this.byKey.get(key);
    if (!row) {
      row = { label, cells: new Map() };
      this.byKey.set(key, row);
      this.list.push(row);
    }
    if (value !== undefined) row.cells.set(col, value);
  }

  /** A heading row: no cells. */
  head(key: string, label: string): void {
    this.put(key, label, 0, undefined);
  }
}

/** What the row builders of the comparison share. */
interface Comparison {
  runs: VariantRunResult[];
  rows: Rows;
  opts: TextOptions;
  /** Some guest samples: the sampling rows are shown. */
  sampling: boolean;
}

/** The row builders, in the order their rows appear. */
const ROW_BUILDERS: ReadonlyArray<(c: Comparison) => void> = [
  profileRows,
  vcpuRows,
  (c) => measurementRows(c, true),
  (c) => measurementRows(c, false),
  checkRows,
];

/**
 * The variants side by side: one column per variant; rows for each vCPU (entries, exits
 * by reason, time in guest and host, overhead; with a sampling guest, its sampling time and
 * the guest work lost), each guest counter with its error against
 * the ground truth, each host counter, and the checks.
 */
export function variantsComparison(runs: VariantRunResult[], opts: TextOptions = {}): string {
  if (!runs[0]) return "";
  const c: Comparison = { runs, rows: new Rows(), opts, sampling: anySampling(runs) };
  for (const build of ROW_BUILDERS) build(c);
  const out = [...variantsHeader(runs), ...sideBySide(c), ""];
  return out.join("\n") + "\n";
}

/** The title, and each variant's `set` entries and description. */
function variantsHeader(runs: VariantRunResult[]): string[] {
  const first = runs[0]!.result.scenario;
  const seeds = [...new Set(runs.map((v) => v.result.scenario.seed))];
  const durations = [...new Set(runs.map((v) => v.result.scenario.duration_ns))];
  const out = [
    `vpmu ${runs[0]!.result.vpmu}: scenario "${first.name}", ${runs.length} variants, seed ${seeds.join("/")}, ${durations.map((d) => formatDuration(d)).join("/")} simulated each`,
  ];
  if (first.description) out.push(...wrap(first.description, 96).map((l) => `  ${l}`));
  out.push("", "Variants");
  const nameW = Math.max(...runs.map((v) => v.name.length));
  for (const v of runs) {
    const set = Object.entries(v.set)
      .map(([k, x]) => `${k}: ${JSON.stringify(x)}`)
      .join(", ");
    out.push(`  ${v.name.padEnd(nameW)}  ${set || "(the scenario as written)"}`);
    for (const l of wrap(v.description, 92)) out.push(`  ${" ".repeat(nameW)}  ${l}`);
  }
  out.push("");
  return out;
}

function sideBySide(c: Comparison): string[] {
  const { runs, rows } = c;
  return [
    c.sampling
      ? "Side by side (time in host, overhead, guest sampling and guest work lost are model estimates)"
      : "Side by side (time in host and overhead are model estimates)",
    ...table(
      ["", ...runs.map((v) => v.name)],
      rows.list.map((r) => [
        r.label,
        ...runs.map((_, i) => (r.cells.size === 0 ? "" : (r.cells.get(i) ?? "-"))),
      ]),
      runs.map((_, i) => i + 1),
    ),
  ];
}

function anySampling(runs: VariantRunResult[]): boolean {
  return runs.some((v) => v.result.vms.some((vm) => vm.vcpus.some((c) => c.guest_sampling_ns > 0)));
}

function profileRows({ runs, rows }: Comparison): void {
  runs.forEach((v, col) => {
    const r = v.result;
    rows.put("profile", "kernel profile", col, r.scenario.kernel_profile);
    for (const vm of r.vms)
      rows.put(`vpmu ${vm.name}`, `vPMU of ${vm.name}`, col, `${vm.vpmu} v${vm.pmu_version}`);
  });
}

/** Exit reasons of each vCPU over every variant, so each variant shows 0 for the others'. */
function exitReasons(runs: VariantRunResult[]): Map<string, Set<string>> {
  const reasons = new Map<string, Set<string>>();
  for (const v of runs)
    for (const vm of v.result.vms)
      for (const c of vm.vcpus) {
        const k = `${vm.name}/${c.id}`;
        const set = reasons.get(k) ?? new Set<string>();
        for (const x of Object.keys(c.exits)) set.add(x);
        reasons.set(k, set);
      }
  return reasons;
}

function vcpuRows(c: Comparison): void {
  const reasons = exitReasons(c.runs);
  c.runs.forEach((v, col) => {
    for (const vm of v.result.vms)
      for (const cpu of vm.vcpus) vcpuRow(c, vm, cpu, col, reasons.get(`${vm.name}/${cpu.id}`));
  });
}

function vcpuRow(
  { rows, sampling }: Comparison,
  vm: VmResult,
  c: VmResult["vcpus"][number],
  col: number,
  reasons: Set<string> | undefined,
): void {
  const k = `vcpu ${vm.name}/${c.id}`;
  rows.head(k, `vCPU ${vm.name}/${c.id}`);
  rows.put(`${k} cpu`, "  on CPU", col, String(c.cpu));
  rows.put(`${k} entries`, "  entries", col, thousands(c.entries));
  const total = Object.values(c.exits).reduce((a, b) => a + b, 0);
  rows.put(`${k} exits`, "  exits", col, thousands(total));
  for (const x of [...(reasons ?? [])].sort())
    rows.put(`${k} exits.${x}`, `    ${x}`, col, thousands(c.exits[x] ?? 0));
  rows.put(`${k} guest`, "  in guest", col, ms(c.guest_ns));
  rows.put(`${k} host`, "  in host (model estimate)", col, ms(c.host_ns));
  rows.put(`${k} overhead`, "  overhead (model estimate)", col, `${c.overhead_pct.toFixed(2)}%`);
  if (!sampling) return;
  rows.put(`${k} sampling`, "  guest sampling (model estimate)", col, ms(c.guest_sampling_ns));
  rows.put(
    `${k} slowdown`,
    "  guest work lost (model estimate)",
    col,
    `${c.slowdown_pct.toFixed(2)}%`,
  );
}

function measurementRows(c: Comparison, guest: boolean): void {
  c.runs.forEach((v, col) => {
    for (const m of v.result.perf)
      if (m.target.startsWith("guest ") === guest) measurementRow(c, m, guest, col);
  });
}

function measurementRow(c: Comparison, m: MeasurementResult, guest: boolean, col: number): void {
  const rows = c.rows;
  const k = `perf ${m.name}`;
  // A guest perf record's target ends with its PMI count, which differs by variant:
  // the heading drops it and a row of its own shows each.
  const pmis = /^(.*), (\d+) PMIs\)$/.exec(m.target);
  rows.head(k, `${guest ? "guest" : "host"} perf [${m.name}] ${pmis ? `${pmis[1]})` : m.target}`);
  if (pmis) rows.put(`${k} pmis`, "  PMIs handled", col, thousands(Number(pmis[2])));
  if (m.error) rows.put(`${k} error`, "  error", col, m.error);
  // Counter names need not be unique: the n-th counter of a name is its own row.
  const seen = new Map<string, number>();
  for (const ctr of m.counters) {
    const n = (seen.get(ctr.event) ?? 0) + 1;
    seen.set(ctr.event, n);
    const ck = `${k}\u0000${ctr.event}\u0000${n}`;
    rows.put(ck, `  ${ctr.event}`, col, countCell(ctr));
    if (guest || c.opts.truth) rows.put(`${ck} err`, "    error vs truth", col, errorCell(ctr));
  }
}

function checkRows({ runs, rows }: Comparison): void {
  runs.forEach((v, col) => {
    const s = v.result.summary;
    rows.put("checks", "checks", col, `${s.passed} passed, ${s.failed} failed`);
  });
}

/** A counter's value as perf stat prints it, with the running percentage when multiplexed. */
function countCell(c: CounterResult): string {
  if (c.status === "not supported") return "<not supported>";
  if (c.status === "not counted" || c.scaled === null) return "<not counted>";
  const pct =
    c.running_ns !== c.enabled_ns && c.enabled_ns > 0
      ? ` (${((100 * c.running_ns) / c.enabled_ns).toFixed(2)}%)`
      : "";
  return `${thousands(c.scaled)}${pct}`;
}

/** The relative error of the printed value against the ground truth, as the report shows it. */
function errorCell(c: CounterResult): string {
  return c.scaled !== null && c.truth > 0
    ? `${(((c.scaled - c.truth) / c.truth) * 100).toFixed(2)}%`
    : "n/a";
}
