import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../src/scenario/diagnostics.js";
import { loadScenario, parseScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";

/**
 * A bare PMU event alias (`inst_retired`), as perf 6.1 takes it: opened on every PMU whose
 * sysfs events name it, printed as one line with the counts and times summed.
 */
const scenario = (machine: string, cpus: string, events: string) =>
  `name: alias\nmachine: ${machine}\nduration: 50ms\ntasks:\n  - { name: a, workload: compute, affinity: "0" }\n  - { name: b, workload: compute, affinity: "4" }\nperf:\n  - { name: m, cpus: "${cpus}", events: "${events}" }\n`;

describe("a bare PMU alias in perf stat", () => {
  it("on rk3399 -a: one line, the sum of both clusters' events, equal to the truth", () => {
    const whole = runScenario(loadScenario(scenario("rk3399", "0-5", "inst_retired"))).perf[0]!;
    const split = runScenario(
      loadScenario(
        scenario("rk3399", "0-5", "armv8_cortex_a53/inst_retired/,armv8_cortex_a72/inst_retired/"),
      ),
    ).perf[0]!;
    expect(whole.counters.map((c) => c.event)).toEqual(["inst_retired"]);
    const [a53, a72] = split.counters;
    const c = whole.counters[0]!;
    expect(c.status).toBe("counted");
    expect(c.count).toBe(a53!.count + a72!.count);
    expect(c.count).toBeGreaterThan(a53!.count);
    expect(c.enabled_ns).toBe(a53!.enabled_ns + a72!.enabled_ns);
    expect(c.truth).toBe(c.count);
  });

  it("on rk3399 -C 0,4: each cluster's event fails on the other's CPU, so <not supported>", () => {
    const m = runScenario(loadScenario(scenario("rk3399", "0,4", "inst_retired"))).perf[0]!;
    expect(m.counters.map((c) => [c.event, c.status])).toEqual([["inst_retired", "not supported"]]);
  });

  it("in a group: opened ungrouped, as perf after its cpus-do-not-match warning", () => {
    const m = runScenario(loadScenario(scenario("rk3399", "0-5", "{cycles,inst_retired}")))
      .perf[0]!;
    const split = runScenario(loadScenario(scenario("rk3399", "0-5", "cycles,inst_retired")))
      .perf[0]!;
    expect(m.counters.map((c) => c.event)).toEqual(["cycles", "inst_retired"]);
    expect(m.counters.map((c) => c.count)).toEqual(split.counters.map((c) => c.count));
    // perf 6.1's lines for this command under `vpmu exec` (test/exec-perf.test.ts).
    expect(m.warnings).toEqual([
      "WARNING: grouped events cpus do not match, disabling group:",
      "  anon group { cycles, inst_retired, inst_retired }",
    ]);
    expect(split.warnings).toBeUndefined();
  });
});

describe("perf stat groups whose members' CPUs differ (evlist__check_cpu_maps())", () => {
  it("with -a, a group of two clusters' events is broken up with perf's warning, both counted", () => {
    const ev = "armv8_cortex_a53/inst_retired/,armv8_cortex_a72/cpu_cycles/";
    const m = runScenario(loadScenario(scenario("rk3399", "0-5", `{${ev}}`))).perf[0]!;
    const split = runScenario(loadScenario(scenario("rk3399", "0-5", ev))).perf[0]!;
    expect(m.warnings).toEqual([
      "WARNING: grouped events cpus do not match, disabling group:",
      `  anon group { ${ev.replace(",", ", ")} }`,
    ]);
    expect(m.counters.map((c) => [c.event, c.status, c.count])).toEqual(
      split.counters.map((c) => [c.event, c.status, c.count]),
    );
    expect(m.counters[0]!.count).toBeGreaterThan(0);
  });

  it("the warning comes once, then one description per broken group; a matching group stays", () => {
    const m = runScenario(
      loadScenario(
        scenario(
          "rk3399",
          "0-5",
          "{inst_retired},{armv8_cortex_a53/cpu_cycles/,armv8_cortex_a53/inst_retired/},{cycles,armv8_cortex_a72/cpu_cycles/}",
        ),
      ),
    ).perf[0]!;
    expect(m.warnings).toEqual([
      "WARNING: grouped events cpus do not match, disabling group:",
      "  anon group { inst_retired, inst_retired }",
      "  anon group { cycles, armv8_cortex_a72/cpu_cycles/ }",
    ]);
  });

  it("with -C 0,4 the maps match: the alias stays in the group and its leader's ENOENT on CPU 4 ends perf", () => {
    // stat_handle_error(): a group leader that fails with members is COUNTER_FATAL, with
    // evsel__open_strerror()'s "The %s event is not supported." (perf 6.1 under vpmu exec).
    const m = runScenario(loadScenario(scenario("rk3399", "0,4", "{inst_retired,cpu_cycles}")))
      .perf[0]!;
    expect(m.error).toBe("The inst_retired event is not supported.");
    expect(m.warnings).toBeUndefined();
  });

  it("x86 hybrid: a group of generic events is one group of both PMUs' events, broken up with both warnings", () => {
    const run = (events: string) =>
      runScenario(
        loadScenario(
          `name: hy\nmachine: x86-hybrid\nduration: 20ms\ntasks:\n  - { name: a, workload: compute, affinity: "0" }\nperf:\n  - { name: m, cpus: "0-7", events: "${events}" }\n`,
        ),
      ).perf[0]!;
    // perf 6.1's lines for these commands under `vpmu exec` (test/exec-perf.test.ts).
    const m = run("{cycles,instructions}");
    expect(m.warnings).toEqual([
      "WARNING: events in group from different hybrid PMUs!",
      "WARNING: grouped events cpus do not match, disabling group:",
      "  anon group { cycles, cycles, instructions, instructions }",
    ]);
    expect(m.counters.map((c) => c.event)).toEqual([
      "cpu_core/cycles/",
      "cpu_atom/cycles/",
      "cpu_core/instructions/",
      "cpu_atom/instructions/",
    ]);
    expect(m.counters[0]!.count).toBeGreaterThan(0);
    const one = run("{cpu_core/cycles/,cpu_core/instructions/}");
    expect(one.warnings).toBeUndefined();
    expect(one.counters.map((c) => [c.event, c.status])).toEqual([
      ["cpu_core/cycles/", "counted"],
      ["cpu_core/instructions/", "counted"],
    ]);
  });

  it("EINVAL is <not supported> for the event, as stat_handle_error() takes it (not the end of perf)", () => {
    const m = runScenario(
      loadScenario(
        `name: e\nmachine: x86-server\nduration: 10ms\nperf:\n  - { name: m, cpus: "0-7", events: "uncore_imc_0/cas_count_read/u,cycles" }\n`,
      ),
    ).perf[0]!;
    expect(m.error).toBeUndefined();
    expect(m.counters.map((c) => [c.event, c.status])).toEqual([
      ["uncore_imc_0/cas_count_read/u", "not supported"],
      ["cycles", "counted"],
    ]);
  });

  it("an offline CPU: -a leaves it out, a -C list naming it ends perf with ENODEV's message", () => {
    const run = (cpus: string) =>
      runScenario(
        loadScenario(
          `name: off\nmachine:\n  preset: x86-server\n  offline: [3]\nduration: 20ms\ntasks:\n  - { name: a, workload: compute, affinity: "1" }\nperf:\n  - { name: m, cpus: "${cpus}", events: "cycles" }\n`,
        ),
      ).perf[0]!;
    // perf 6.1 under `vpmu exec` (test/exec-perf.test.ts): evsel__open_strerror() for ENODEV.
    expect(run("1,3").error).toBe("No such device - did you specify an out-of-range profile CPU?");
    const all = run("0-7");
    expect(all.error).toBeUndefined();
    expect(all.counters[0]!.per_cpu!.map((p) => p.cpu)).toEqual([0, 1, 2, 4, 5, 6, 7]);
  });

  it("a lone event in braces, or an event of the A53 PMU alone on CPU 4, is not fatal", () => {
    const m = runScenario(
      loadScenario(scenario("rk3399", "0,4", "{armv8_cortex_a53/inst_retired/}")),
    ).perf[0]!;
    expect(m.error).toBeUndefined();
    expect(m.counters.map((c) => c.status)).toEqual(["not supported"]);
  });

  it("a name no PMU of the machine lists is still an unknown event, with a did-you-mean", () => {
    const r = parseScenario(scenario("rk3399", "0-5", "inst_retire"), "s.yaml");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      "s.yaml:8:38: perf[0].events: unknown event 'inst_retire' (did you mean 'inst_retired'?)",
    ]);
    const x86 = parseScenario(scenario("x86-server", "0-5", "inst_retired"), "s.yaml");
    expect(x86.ok).toBe(false);
  });
});
