import { formatCpuList } from "../hw/cpulist.js";
import { formatDuration } from "../sim/time.js";
import { ms, table, thousands } from "./format.js";
import { measurementTitle, perfStatText } from "./perf-stat.js";
import type { CounterResult, RunResult, VariantRunResult } from "./result.js";

/** Options of the text report. */
export interface TextOptions {
  /** Print the ground truth and the error next to each scaled perf value. */
  truth?: boolean;
}

/** The human-readable report of a run. */
export function textReport(r: RunResult, opts: TextOptions = {}): string {
  const out: string[] = [];
  const s = r.scenario;
  out.push(
    `vpmu ${r.vpmu}: scenario "${s.name}"${s.variant !== undefined ? ` variant "${s.variant}"` : ""} on ${r.machine.name} (${r.machine.arch}), kernel ${s.kernel_profile}, HZ=${s.hz}, seed ${s.seed}, ${formatDuration(s.duration_ns)} simulated`,
  );
  if (s.description) out.push(...wrap(s.description, 96).map((l) => `  ${l}`));
  out.push("");

  // Machine: group consecutive CPUs of one core type.
  out.push("Machine");
  const groups: Array<{
    cpus: number[];
    ct: string;
    cluster: number;
    pmu: string;
    offline: number[];
  }> = [];
  for (const c of r.machine.cpus) {
    const g = groups[groups.length - 1];
    if (g && g.ct === c.core_type && g.cluster === c.cluster) {
      g.cpus.push(c.id);
      if (!c.online) g.offline.push(c.id);
    } else
      groups.push({
        cpus: [c.id],
        ct: c.core_type,
        cluster: c.cluster,
        pmu: c.pmu,
        offline: c.online ? [] : [c.id],
      });
  }
  out.push(
    ...table(
      ["CPUs", "core type", "cluster", "PMU", "offline"],
      groups.map((g) => [
        formatCpuList(g.cpus),
        g.ct,
        String(g.cluster),
        g.pmu,
        g.offline.length ? formatCpuList(g.offline) : "",
      ]),
    ),
  );
  out.push("");

  if (r.tasks.length > 0) {
    out.push("Tasks (ground truth)");
    const rows: string[][] = [];
    for (const t of r.tasks) {
      const slices = Object.entries(t.truth);
      if (slices.length === 0) {
        rows.push([
          t.name,
          String(t.pid),
          t.state,
          ms(t.runtime_ns),
          String(t.migrations),
          String(t.switches),
          "-",
          "",
          "",
          "",
          "",
        ]);
      }
      slices.forEach(([ct, sl], i) => {
        const head =
          i === 0
            ? [
                t.name,
                String(t.pid),
                t.state,
                ms(t.runtime_ns),
                String(t.migrations),
                String(t.switches),
              ]
            : ["", "", "", "", "", ""];
        const ipc = sl.cycles > 0 ? (sl.instructions / sl.cycles).toFixed(2) : "-";
        rows.push([
          ...head,
          ct,
          ms(sl.runtime_ns),
          thousands(sl.cycles),
          thousands(sl.instructions),
          ipc,
        ]);
      });
    }
    out.push(
      ...table(
        [
          "task",
          "pid",
          "state",
          "runtime",
          "migr",
          "switches",
          "on core type",
          "runtime",
          "cycles",
          "instructions",
          "IPC",
        ],
        rows,
        [1, 3, 4, 5, 7, 8, 9, 10],
      ),
    );
    out.push("");
  }

  out.push("CPUs");
  out.push(
    ...table(
      ["CPU", "busy", "idle", "switches"],
      r.cpus.map((c) => [String(c.id), ms(c.busy_ns), ms(c.idle_ns), String(c.switches)]),
      [0, 1, 2, 3],
    ),
  );
  out.push("");

  if (r.vms.length > 0) {
    // With a sampling guest, the guest's own sampling work and the slowdown it adds up to.
    const sampling = r.vms.some((vm) => vm.vcpus.some((v) => v.guest_sampling_ns > 0));
    out.push(
      sampling
        ? "VMs (exit costs, guest sampling and slowdown are model estimates)"
        : "VMs (exit costs are model estimates)",
    );
    const rows: string[][] = [];
    for (const vm of r.vms) {
      for (const v of vm.vcpus) {
        const exits =
          Object.entries(v.exits)
            .map(([k, n]) => `${k} ${n}`)
            .join(", ") || "-";
        rows.push([
          `${vm.name}/${v.id}`,
          `${vm.vpmu} v${vm.pmu_version}`,
          String(v.cpu),
          String(v.entries),
          exits,
          ms(v.guest_ns),
          ms(v.host_ns),
          `${v.overhead_pct.toFixed(2)}%`,
          ...(sampling ? [ms(v.guest_sampling_ns), `${v.slowdown_pct.toFixed(2)}%`] : []),
        ]);
      }
    }
    const head = ["vCPU", "vPMU", "CPU", "entries", "exits by reason", "in guest", "in host"];
    out.push(
      ...(sampling
        ? table([...head, "overhead", "sampling", "slowdown"], rows, [2, 3, 5, 6, 7, 8, 9])
        : table([...head, "overhead"], rows, [2, 3, 5, 6, 7])),
    );
    out.push("");
  }

  for (const m of r.perf) {
    out.push(measurementTitle(m));
    out.push(perfStatText(m, { truth: opts.truth ?? false }));
  }

  if (r.actions.length > 0) {
    out.push("Actions");
    const rows = r.actions.map((a) => {
      const res = "errno" in a.result ? `-${a.result.errno}` : String(a.result.ret);
      const exp = a.expected
        ? (a.expected.errno ??
          (a.expected.ret !== undefined
            ? String(a.expected.ret)
            : a.expected.ok
              ? "success"
              : "failure"))
        : "";
      const verdict = a.ok === undefined ? "" : a.ok ? "ok" : `FAIL (expected ${exp})`;
      return [ms(a.at_ns), a.label, `= ${res}`, verdict];
    });
    out.push(...table(["at", "call", "result", ""], rows, [0]));
    out.push("");
  }

  if (r.findings.length > 0) {
    out.push("Invariant findings");
    for (const f of r.findings) {
      out.push(
        `  ${ms(f.t_ns)} CPU ${f.cpu} ${f.rule}: ${f.subject}: ${f.before} -> ${f.after}: ${f.message}${f.expected ? " (expected)" : ""}`,
      );
    }
    out.push("");
  }

  if (r.expectations.length > 0) {
    out.push("Expectations");
    for (const e of r.expectations) {
      out.push(
        `  ${e.ok ? "ok  " : "FAIL"}  ${e.label}: ${fmtObserved(e.observed)} (expected ${e.expected})`,
      );
    }
    out.push("");
  }
  out.push(`${r.summary.passed} passed, ${r.summary.failed} failed`);
  return out.join("\n") + "\n";
}

function fmtObserved(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
  return JSON.stringify(v);
}

function wrap(text: string, width: number): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let cur = "";
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines;
}

/**
 * The report of a scenario with variants: the variants side by side, then each variant's
 * full report under a `=== variant NAME ===` heading, then the totals.
 */
export function variantsTextReport(runs: VariantRunResult[], opts: TextOptions = {}): string {
  const out = [variantsComparison(runs, opts)];
  for (const v of runs) out.push(`=== variant ${v.name} ===\n\n${textReport(v.result, opts)}\n`);
  const passed = runs.reduce((n, v) => n + v.result.summary.passed, 0);
  const failed = runs.reduce((n, v) => n + v.result.summary.failed, 0);
  out.push(`${runs.length} variants: ${passed} passed, ${failed} failed\n`);
  return out.join("");
}

/**
 * The variants side by side: one column per variant; rows for each vCPU (entries, exits
 * by reason, time in guest and host, overhead; with a sampling guest, its sampling time and
 * the guest work lost), each guest counter with its error against
 * the ground truth, each host counter, and the checks.
 */
export function variantsComparison(runs: VariantRunResult[], opts: TextOptions = {}): string {
  const out: string[] = [];
  const first = runs[0]?.result.scenario;
  if (!first) return "";
  const seeds = [...new Set(runs.map((v) => v.result.scenario.seed))];
  const durations = [...new Set(runs.map((v) => v.result.scenario.duration_ns))];
  out.push(
    `vpmu ${runs[0]!.result.vpmu}: scenario "${first.name}", ${runs.length} variants, seed ${seeds.join("/")}, ${durations.map((d) => formatDuration(d)).join("/")} simulated each`,
  );
  if (first.description) out.push(...wrap(first.description, 96).map((l) => `  ${l}`));
  out.push("");
  out.push("Variants");
  const nameW = Math.max(...runs.map((v) => v.name.length));
  for (const v of runs) {
    const set = Object.entries(v.set)
      .map(([k, x]) => `${k}: ${JSON.stringify(x)}`)
      .join(", ");
    out.push(`  ${v.name.padEnd(nameW)}  ${set || "(the scenario as written)"}`);
    for (const l of wrap(v.description, 92)) out.push(`  ${" ".repeat(nameW)}  ${l}`);
  }
  out.push("");

  // Rows keyed by label, in first-seen order over the variants; a variant without one shows "-".
  const rows: Array<{ label: string; cells: Map<number, string> }> = [];
  const byKey = new Map<string, { label: string; cells: Map<number, string> }>();
  const put = (key: string, label: string, col: number, value: string | undefined): void => {
    let row = byKey.get(key);
    if (!row) {
      row = { label, cells: new Map() };
      byKey.set(key, row);
      rows.push(row);
    }
    if (value !== undefined) row.cells.set(col, value);
  };
  /** A heading row: no cells. */
  const head = (key: string, label: string) => put(key, label, 0, undefined);
  // Exit reasons of each vCPU over every variant, so each variant shows 0 for the others'.
  const reasons = new Map<string, Set<string>>();
  runs.forEach((v) => {
    for (const vm of v.result.vms)
      for (const c of vm.vcpus) {
        const k = `${vm.name}/${c.id}`;
        const set = reasons.get(k) ?? new Set<string>();
        for (const x of Object.keys(c.exits)) set.add(x);
        reasons.set(k, set);
      }
  });
  const sampling = runs.some((v) =>
    v.result.vms.some((vm) => vm.vcpus.some((c) => c.guest_sampling_ns > 0)),
  );
  runs.forEach((v, col) => {
    const r = v.result;
    put("profile", "kernel profile", col, r.scenario.kernel_profile);
    for (const vm of r.vms)
      put(`vpmu ${vm.name}`, `vPMU of ${vm.name}`, col, `${vm.vpmu} v${vm.pmu_version}`);
  });
  runs.forEach((v, col) => {
    for (const vm of v.result.vms) {
      for (const c of vm.vcpus) {
        const k = `vcpu ${vm.name}/${c.id}`;
        head(k, `vCPU ${vm.name}/${c.id}`);
        put(`${k} cpu`, "  on CPU", col, String(c.cpu));
        put(`${k} entries`, "  entries", col, thousands(c.entries));
        const total = Object.values(c.exits).reduce((a, b) => a + b, 0);
        put(`${k} exits`, "  exits", col, thousands(total));
        for (const x of [...(reasons.get(`${vm.name}/${c.id}`) ?? [])].sort())
          put(`${k} exits.${x}`, `    ${x}`, col, thousands(c.exits[x] ?? 0));
        put(`${k} guest`, "  in guest", col, ms(c.guest_ns));
        put(`${k} host`, "  in host (model estimate)", col, ms(c.host_ns));
        put(`${k} overhead`, "  overhead (model estimate)", col, `${c.overhead_pct.toFixed(2)}%`);
        if (sampling) {
          put(`${k} sampling`, "  guest sampling (model estimate)", col, ms(c.guest_sampling_ns));
          put(
            `${k} slowdown`,
            "  guest work lost (model estimate)",
            col,
            `${c.slowdown_pct.toFixed(2)}%`,
          );
        }
      }
    }
  });
  const measurements = (guest: boolean) =>
    runs.forEach((v, col) => {
      for (const m of v.result.perf) {
        if (m.target.startsWith("guest ") !== guest) continue;
        const k = `perf ${m.name}`;
        // A guest perf record's target ends with its PMI count, which differs by variant:
        // the heading drops it and a row of its own shows each.
        const pmis = /^(.*), (\d+) PMIs\)$/.exec(m.target);
        head(k, `${guest ? "guest" : "host"} perf [${m.name}] ${pmis ? `${pmis[1]})` : m.target}`);
        if (pmis) put(`${k} pmis`, "  PMIs handled", col, thousands(Number(pmis[2])));
        if (m.error) put(`${k} error`, "  error", col, m.error);
        // Counter names need not be unique: the n-th counter of a name is its own row.
        const seen = new Map<string, number>();
        for (const c of m.counters) {
          const n = (seen.get(c.event) ?? 0) + 1;
          seen.set(c.event, n);
          const ck = `${k}\u0000${c.event}\u0000${n}`;
          put(ck, `  ${c.event}`, col, countCell(c));
          if (guest || opts.truth) put(`${ck} err`, "    error vs truth", col, errorCell(c));
        }
      }
    });
  measurements(true);
  measurements(false);
  runs.forEach((v, col) => {
    const s = v.result.summary;
    put("checks", "checks", col, `${s.passed} passed, ${s.failed} failed`);
  });

  out.push(
    sampling
      ? "Side by side (time in host, overhead, guest sampling and guest work lost are model estimates)"
      : "Side by side (time in host and overhead are model estimates)",
  );
  out.push(
    ...table(
      ["", ...runs.map((v) => v.name)],
      rows.map((r) => [
        r.label,
        ...runs.map((_, i) => (r.cells.size === 0 ? "" : (r.cells.get(i) ?? "-"))),
      ]),
      runs.map((_, i) => i + 1),
    ),
  );
  out.push("");
  return out.join("\n") + "\n";
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
