import { formatCpuList } from "../hw/cpulist.js";
import { formatDuration } from "../sim/time.js";
import { ms, table, thousands } from "./format.js";
import { perfStatText } from "./perf-stat.js";
import type { RunResult } from "./result.js";

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
    `vpmu ${r.vpmu}: scenario "${s.name}" on ${r.machine.name} (${r.machine.arch}), kernel ${s.kernel_profile}, HZ=${s.hz}, seed ${s.seed}, ${formatDuration(s.duration_ns)} simulated`,
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
    out.push("VMs (exit costs are model estimates)");
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
        ]);
      }
    }
    out.push(
      ...table(
        ["vCPU", "vPMU", "CPU", "entries", "exits by reason", "in guest", "in host", "overhead"],
        rows,
        [2, 3, 5, 6, 7],
      ),
    );
    out.push("");
  }

  for (const m of r.perf) {
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
