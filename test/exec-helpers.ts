import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import type { RunResult } from "../src/report/result.js";
import { loadScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";
import { bin, root } from "./cli-helpers.js";

/**
 * Helpers for the tests that run the real perf tool under `vpmu exec`. CI installs
 * linux-perf and a C compiler (.ci/run sets VPMU_REQUIRE_PERF=1, so a missing tool fails
 * there); elsewhere the tests are skipped with a note when perf is missing.
 */
export const havePerf = spawnSync("perf", ["--version"], { stdio: "ignore" }).status === 0;
export const haveCc = spawnSync("cc", ["--version"], { stdio: "ignore" }).status === 0;
export const required = process.env.VPMU_REQUIRE_PERF === "1";

/** Runs `vpmu exec ARGS` and resolves with its exit code and output. */
export function vpmuExec(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, "exec", ...args], {
      cwd: root,
      env: { ...process.env, LC_ALL: "C", ...env },
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) => resolve({ code, out, err }));
  });
}

/** Compiles a test C program into a temporary directory. */
export function compile(src: string, name: string, extra: string[] = []): string {
  const out = join(mkdtempSync(join(tmpdir(), "vpmu-cc-")), name);
  const r = spawnSync("cc", ["-O1", "-o", out, join(root, src), ...extra], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
  return out;
}

/** One counter line, as perf -x, prints it or as vpmu's report gives it. */
export interface Row {
  event: string;
  /** The (scaled) count; null for <not counted> and <not supported>. */
  value: number | null;
  status: "counted" | "not counted" | "not supported";
  runNs: number;
  pct: number;
}

/** The counter lines of perf stat -x, output: value,unit,event,run,pct,metric,unit. */
export function parsePerfCsv(text: string): Row[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => {
      const f = l.split(",");
      const v = f[0]!;
      const status =
        v === "<not counted>"
          ? "not counted"
          : v === "<not supported>"
            ? "not supported"
            : "counted";
      return {
        event: f[2]!,
        value: status === "counted" ? Number(v) : null,
        status,
        runNs: Number(f[3]),
        pct: Number(f[4]),
      };
    });
}

/**
 * vpmu's own report of a measurement, as perf would print it: the scaled count, the
 * running time, and perf's percentage (100 * running / enabled; 100 when they are equal,
 * as for an ERROR event whose read returned 0 bytes).
 */
export function vpmuRows(r: RunResult, measurements: string[]): Row[] {
  return measurements.flatMap((name) => {
    const m = r.perf.find((x) => x.name === name);
    if (!m) throw new Error(`no measurement ${name}`);
    return m.counters.map((c) => ({
      event: c.event,
      value: c.status === "counted" ? c.scaled : null,
      status: c.status as Row["status"],
      runNs: c.running_ns,
      pct: c.enabled_ns === c.running_ns ? 100 : (100 * c.running_ns) / c.enabled_ns,
    }));
  });
}

/** Runs a scenario text in the model, as `vpmu run` does. */
export function runText(text: string, name = "s.yaml"): RunResult {
  return runScenario(loadScenario(text, name));
}

/** perf's rows equal vpmu's: names, statuses, counts, running times, percentages. */
export function expectSameRows(perf: Row[], vpmu: Row[]): void {
  expect(perf.map((r) => [r.event, r.status])).toEqual(vpmu.map((r) => [r.event, r.status]));
  perf.forEach((p, i) => {
    const v = vpmu[i]!;
    const what = `${p.event} (#${i})`;
    if (p.status === "counted") expect(p.value, what).toBe(Math.round(v.value!));
    if (p.status !== "not supported") expect(p.runNs, what).toBe(v.runNs);
    expect(p.pct, what).toBeCloseTo(v.pct, 2);
  });
}
