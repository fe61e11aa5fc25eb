import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseEventList } from "../../src/perf/tool/parse-events.js";
import { attachMetrics, counterAttr, perfScaled } from "../../src/perf/tool/stat-shadow.js";
import { perfStatCsv, perfStatText } from "../../src/report/perf-stat.js";
import type { CounterResult, MeasurementResult } from "../../src/report/result.js";

// The real perf 6.1 tool's output for fixed counts (captured/ holds it, made by capture.sh
// with the commands in captured/COMMANDS.txt). Each case's counts go through vpmu's
// aggregation, metrics and rendering; the output must be perf's, byte for byte. The
// captured files are perf's output and are never edited to match vpmu.

const DIR = join(import.meta.dirname, "");
const ELAPSED_NS = 100_000_000;
/** The capture machine's CPUs (perf -a opened the events on each). */
const CAPTURE_CPUS = 2;

interface Spec {
  kind: "count" | "error" | "errno";
  value: number;
  ena: number;
  run: number;
}

function parseSpec(line: string): Spec {
  if (line === "error") return { kind: "error", value: 0, ena: 0, run: 0 };
  if (line.startsWith("errno ")) return { kind: "errno", value: 0, ena: 0, run: 0 };
  const [value, ena, run] = line.split(/\s+/).map(Number);
  return { kind: "count", value: value!, ena: ena!, run: run! };
}

function cpuList(args: string): { cpus: number; target: string; perCpu: boolean } {
  if (/(^|\s)-a(\s|$)/.test(args))
    return { cpus: CAPTURE_CPUS, target: "'system wide'", perCpu: false };
  const m = /-C (\S+)/.exec(args)!;
  const [lo, hi] = m[1]!.split("-").map(Number);
  return { cpus: (hi ?? lo!) - lo! + 1, target: `'CPU(s) ${m[1]}'`, perCpu: hi !== undefined };
}

/** The measurement the captured command saw: perf opened every event on every CPU. */
function measurementOf(caseText: string): MeasurementResult {
  const [args, ...specLines] = caseText.trim().split("\n");
  const events = /-e (?:'([^']+)'|(\S+))/.exec(args!)!;
  const list = events[1] ?? events[2]!;
  // perf's -e list: commas split events except inside braces.
  const items = list.match(/\{[^}]*\}|[^,]+/g)!;
  const groups = parseEventList(items);
  if (typeof groups === "string") throw new Error(groups);
  const parsed = groups.flatMap((g) => g.events.map((e) => ({ e, leader: g.events[0]! })));
  const specs = specLines.map(parseSpec);
  const { cpus, target, perCpu } = cpuList(args!);
  const counters: CounterResult[] = parsed.map(({ e }, k) => {
    let count = 0;
    let ena = 0;
    let run = 0;
    for (let cpu = 0; cpu < cpus; cpu++) {
      // The shim hands out spec lines in open order (CPU by CPU with -C A-B).
      const openIdx = cpu * parsed.length + k;
      const s = perCpu
        ? specs[k]!
        : (specs[openIdx] ?? { kind: "count", value: 0, ena: 0, run: 0 });
      // A group's members read the leader's times (PERF_FORMAT_GROUP).
      const leaderIdx = parsed.findIndex((p) => p.e === parsed[k]!.leader);
      const times = perCpu ? specs[leaderIdx]! : (specs[cpu * parsed.length + leaderIdx] ?? s);
      count += s.value;
      ena += times.ena;
      run += times.run;
    }
    const unsupported = specs[k]!.kind === "errno";
    const scaled = unsupported ? null : perfScaled(count, ena, run);
    return {
      event: e.text,
      attr: counterAttr({
        type: e.type,
        config: e.config,
        exclude_user: e.excludeUser,
        exclude_kernel: e.excludeKernel,
        exclude_hv: e.excludeHv,
        exclude_host: e.excludeHost,
        exclude_guest: e.excludeGuest,
      }),
      count,
      enabled_ns: ena,
      running_ns: run,
      scaled,
      status: unsupported ? "not supported" : scaled === null ? "not counted" : "counted",
      truth: 0,
      state: "",
    };
  });
  attachMetrics(counters, ELAPSED_NS);
  return {
    name: "parity",
    target,
    start_ns: 0,
    stop_ns: ELAPSED_NS,
    counters,
    intervals: [],
  };
}

const cases = readdirSync(join(DIR, "cases"))
  .filter((f) => f.endsWith(".case"))
  .map((f) => f.replace(/\.case$/, ""))
  .sort();

describe("perf stat output is perf 6.1's for the same counts", () => {
  it("has the captured cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(11);
  });
  for (const name of cases) {
    const m = measurementOf(readFileSync(join(DIR, "cases", `${name}.case`), "utf8"));
    it(`${name}: text`, () => {
      expect(perfStatText(m, { truth: false })).toBe(
        readFileSync(join(DIR, "captured", `${name}.txt`), "utf8"),
      );
    });
    it(`${name}: -x,`, () => {
      expect(perfStatCsv(m)).toBe(readFileSync(join(DIR, "captured", `${name}.csv`), "utf8"));
    });
  }
});
