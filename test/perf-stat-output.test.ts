import { describe, expect, it } from "vitest";
import { PERF_COUNT_HW } from "../src/hw/pmu-desc.js";
import { perfScaled, shadowMetrics } from "../src/perf/tool/stat-shadow.js";
import { PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE } from "../src/perf/uapi.js";
import { cFixed, cFormat, groupedFixed } from "../src/report/format.js";
import { tmpFile, vpmu } from "./cli-helpers.js";

const hw = (config: number, mods: { excludeKernel?: boolean; excludeHv?: boolean } = {}) => ({
  type: PERF_TYPE_HARDWARE,
  config: BigInt(config),
  ...mods,
});
const taskClock = { type: PERF_TYPE_SOFTWARE, config: 1n };

describe("printf as perf's C library prints", () => {
  it("rounds the double's exact value, ties to even", () => {
    expect(cFixed(1.125, 2)).toBe("1.12");
    expect(cFixed(0.125, 2)).toBe("0.12");
    expect(cFixed(2.5, 0)).toBe("2");
    expect(cFixed(3.5, 0)).toBe("4");
    // 1.675 is 1.67500000000000004440... as a double: above the tie.
    expect(cFixed(1.675, 2)).toBe("1.68");
    expect(cFixed(-0.001, 2)).toBe("-0.00");
  });
  it("groups thousands and pads to the width", () => {
    expect(groupedFixed(123456789012, 0)).toBe("123,456,789,012");
    expect(cFormat("%'18.2f", 1234567.891)).toBe("      1,234,567.89");
    expect(cFormat("%7.2f%%", 1.678)).toBe("   1.68%");
    expect(cFormat("%8.3f %%", 10)).toBe("  10.000 %");
  });
});

describe("perf 6.1's shadow metrics", () => {
  it("pairs instructions with cycles of the same privilege context only", () => {
    const m = shadowMetrics(
      [
        { ev: hw(PERF_COUNT_HW.CPU_CYCLES, { excludeKernel: true, excludeHv: true }), value: 100 },
        { ev: hw(PERF_COUNT_HW.INSTRUCTIONS), value: 300 },
        {
          ev: hw(PERF_COUNT_HW.INSTRUCTIONS, { excludeKernel: true, excludeHv: true }),
          value: 150,
        },
      ],
      1e9,
    );
    expect(m[1]).toEqual([]);
    expect(m[2]).toEqual([{ value: 1.5, format: "%7.2f ", unit: "insn per cycle" }]);
  });
  it("takes the clock whatever its context, and the mean of repeated events", () => {
    const m = shadowMetrics(
      [
        { ev: taskClock, value: 50_000_000 },
        { ev: hw(PERF_COUNT_HW.CPU_CYCLES, { excludeKernel: true }), value: 100_000_000 },
        { ev: hw(PERF_COUNT_HW.CPU_CYCLES), value: 100_000_000 },
        { ev: hw(PERF_COUNT_HW.CPU_CYCLES), value: 200_000_000 },
        { ev: hw(PERF_COUNT_HW.INSTRUCTIONS), value: 300_000_000 },
        { ev: { type: 4, config: 0xc5n }, value: 5_000 },
      ],
      100_000_000,
    );
    expect(m[0]).toEqual([{ value: 0.5, format: "%8.3f", unit: "CPUs utilized" }]);
    expect(m[1]![0]!.value).toBe(2);
    expect(m[1]![0]!.unit).toBe("GHz");
    // Two cycles events in the same context: the instructions' IPC is over their mean.
    expect(m[4]![0]!.value).toBe(2);
    // Anything else is a rate over the clock: 5000 / 50 ms = 100 K/sec.
    expect(m[5]).toEqual([{ value: 100, format: "%8.3f", unit: "K/sec" }]);
  });
  it("prints no miss ratio without its total, and 0% against a total that never counted", () => {
    const misses = { ev: hw(PERF_COUNT_HW.BRANCH_MISSES), value: 10 };
    expect(shadowMetrics([misses], 1)[0]).toEqual([]);
    const m = shadowMetrics([{ ev: hw(PERF_COUNT_HW.BRANCH_INSTRUCTIONS), value: 0 }, misses], 1);
    expect(m[1]).toEqual([{ value: 0, format: "%7.2f%%", unit: "of all branches" }]);
    // An event that could not be opened feeds nothing.
    const u = shadowMetrics(
      [{ ev: hw(PERF_COUNT_HW.BRANCH_INSTRUCTIONS), value: 0, unsupported: true }, misses],
      1,
    );
    expect(u[1]).toEqual([]);
  });
  it("scales as perf_counts_values__scale(): truncated, null when it never ran", () => {
    expect(perfScaled(42_600_000, 100_000_000, 71_500_000)).toBe(59_580_419);
    expect(perfScaled(7, 10, 10)).toBe(7);
    expect(perfScaled(0, 10, 0)).toBeNull();
  });
});

const SCENARIO = `name: stat-output
machine: x86-server
duration: 100ms
tasks:
  - { name: app, workload: compute, affinity: "2" }
perf:
  - name: cpus
    cpus: "2-3"
    events: task-clock,cycles,instructions,context-switches
  - name: app
    task: app
    events: task-clock,cycles,instructions
`;

describe("vpmu run: perf's output, one measurement at a time", () => {
  it("CSV needs --measurement when there are several, and then prints perf's lines only", () => {
    const f = tmpFile("stat-output.yaml", SCENARIO);
    const all = vpmu("run", "-f", "csv", f);
    expect(all.code).toBe(2);
    expect(all.err).toContain("has 2 (cpus, app): choose one with --measurement NAME");
    const r = vpmu("run", "-f", "csv", "--measurement", "app", f);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        "100.00,msec,task-clock,100000000,100.00,1.000,CPUs utilized",
        "300000000,,cycles,100000000,100.00,3.000,GHz",
        "600000000,,instructions,100000000,100.00,2.00,insn per cycle",
        "",
      ].join("\n"),
    );
  });
  it("text with --measurement is perf stat's stderr, byte for byte", () => {
    const f = tmpFile("stat-output.yaml", SCENARIO);
    const r = vpmu("run", "--measurement", "cpus", f);
    expect(r.code).toBe(0);
    const pad = (s: string) => s.padEnd(91);
    expect(r.out).toBe(
      [
        "",
        " Performance counter stats for 'CPU(s) 2-3':",
        "",
        pad("            200.00 msec task-clock                       #    2.000 CPUs utilized"),
        pad("       300,000,000      cycles                           #    1.500 GHz"),
        pad("       600,000,000      instructions                     #    2.00  insn per cycle"),
        pad("                 0      context-switches                 #    0.000 /sec"),
        "",
        "       0.100000000 seconds time elapsed",
        "",
        "",
      ].join("\n"),
    );
  });
  it("names a measurement that does not exist, with the ones that do", () => {
    const f = tmpFile("stat-output.yaml", SCENARIO);
    const r = vpmu("run", "--measurement", "nope", f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--measurement: no measurement "nope"');
    expect(r.err).toContain("one of: cpus, app");
  });
  it("the full report titles each measurement outside perf's lines", () => {
    const f = tmpFile("stat-output.yaml", SCENARIO);
    const r = vpmu("run", f);
    expect(r.out).toContain(
      "Measurement cpus: perf stat on the host\n\n Performance counter stats for 'CPU(s) 2-3':\n",
    );
    expect(r.out).toContain(
      "Measurement app: perf stat on the host\n\n Performance counter stats for process id '1001':\n",
    );
  });
});

describe("perf 6.1's CPU maps", () => {
  const A53 = `name: a53-on-a72
machine: rk3399
duration: 50ms
tasks:
  - { name: app, workload: compute, affinity: "4" }
perf:
  - name: big
    cpus: "4"
    events: armv8_cortex_a53/cpu_cycles/,armv8_cortex_a72/cpu_cycles/
  - name: all
    cpus: "0-5"
    events: armv8_cortex_a53/cpu_cycles/,armv8_cortex_a72/cpu_cycles/
`;
  it("-C 4 opens an A53 event on the A72 CPU: ENOENT, <not supported>", () => {
    const j = JSON.parse(vpmu("run", "-f", "json", tmpFile("a53.yaml", A53)).out);
    const big = j.perf.find((m: { name: string }) => m.name === "big");
    expect(big.counters.map((c: { status: string }) => c.status)).toEqual([
      "not supported",
      "counted",
    ]);
    expect(big.counters[1].count).toBe(90_000_000);
    // -a: each PMU's events on its own CPUs only.
    const all = j.perf.find((m: { name: string }) => m.name === "all");
    expect(
      all.counters.map((c: { per_cpu: { cpu: number }[] }) => c.per_cpu.map((p) => p.cpu)),
    ).toEqual([
      [0, 1, 2, 3],
      [4, 5],
    ]);
  });
});
