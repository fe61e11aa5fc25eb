import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../src/scenario/diagnostics.js";
import { LIMITS } from "../src/scenario/limits.js";
import { loadScenario, parseScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";
import { tmpFile, vpmu } from "./cli-helpers.js";

/** The one-line diagnostics of a scenario (empty when it is valid). */
function diags(text: string): string[] {
  const r = parseScenario(text, "s.yaml");
  return r.ok ? [] : r.diagnostics.map(formatDiagnostic);
}

const RK = "name: t\nmachine: rk3399\n";
const X86 = "name: t\nmachine: x86-server\n";

describe("a misspelled event is an input error at load time, located at its item", () => {
  it("in a host measurement's event list", () => {
    expect(diags(`${X86}perf:\n  - name: m\n    events: [cycles, branch-mises]\n`)).toEqual([
      "s.yaml:5:22: perf[0].events[1]: unknown event 'branch-mises' (did you mean 'branch-misses'?)",
    ]);
  });

  it("in an event string, at the event's column", () => {
    expect(diags(`${X86}perf:\n  - name: m\n    events: "cycles,instrutions:u"\n`)).toEqual([
      "s.yaml:5:21: perf[0].events: unknown event 'instrutions' (did you mean 'instructions'?)",
    ]);
    // A folded string spans lines: the line of the event.
    expect(
      diags(`${X86}perf:\n  - name: m\n    events: >-\n      cycles,\n      brnches\n`),
    ).toEqual(["s.yaml:7:7: perf[0].events: unknown event 'brnches' (did you mean 'branches'?)"]);
  });

  it("a group member, a PMU, a term, a modifier, an alias, a bad syntax", () => {
    const text = `${RK}perf:\n  - name: m\n    events:\n${[
      '"{instructions,cpu-cyles}"',
      "armv8_cortex_a35/cpu_cycles/",
      "armv8_cortex_a53/cpu_cyles/",
      "inst_retird",
      '"cycles:uq"',
      '"cycles;u"',
      "Cycles",
    ]
      .map((e) => `      - ${e}\n`)
      .join("")}`;
    expect(diags(text)).toEqual([
      "s.yaml:6:24: perf[0].events[0]: unknown event 'cpu-cyles' (did you mean 'cpu-cycles'?)",
      "s.yaml:7:9: perf[0].events[1]: unknown PMU 'armv8_cortex_a35' (did you mean 'armv8_cortex_a53'?)",
      "s.yaml:8:26: perf[0].events[2]: unknown term 'cpu_cyles' for PMU 'armv8_cortex_a53' (did you mean 'cpu_cycles'?)",
      "s.yaml:9:9: perf[0].events[3]: unknown event 'inst_retird' (did you mean 'inst_retired'?)",
      `s.yaml:10:10: perf[0].events[4]: unknown modifier 'q' in ":uq" (modifiers u, k, h, G, H, p, D, e, S, I)`,
      `s.yaml:11:10: perf[0].events[5]: cannot parse event "cycles;u" (an event such as cycles, instructions:u, r003c, pmu/event=0x3c/ or {a,b})`,
      "s.yaml:12:9: perf[0].events[6]: unknown event 'Cycles' (did you mean 'cycles'?)",
    ]);
  });

  it("raw events, config terms and events the kernel refuses at open stay valid", () => {
    const sc = loadScenario(
      `${RK}tasks: [{ name: w, workload: compute, affinity: "0" }]\nperf:\n  - name: m\n    cpus: "0"\n    events: [r0011, "armv8_cortex_a53/config=0x11/", "armv8_cortex_a53/event=0x8,name=insn/", ref-cycles, "armv8_cortex_a53/cycles/u"]\n`,
    );
    const m = runScenario(sc).perf[0]!;
    expect(m.error).toBeUndefined();
    expect(m.counters.map((c) => [c.event, c.status])).toEqual([
      ["r0011", "counted"],
      ["armv8_cortex_a53/config=0x11/", "counted"],
      ["insn", "counted"],
      // Legal perf syntax with no arm64 encoding: the kernel's EOPNOTSUPP/ENOENT at open.
      ["ref-cycles", "not supported"],
      ["armv8_cortex_a53/cycles/u", "counted"],
    ]);
  });

  it("in a guest measurement, a list item or a part of a string", () => {
    const text = `${X86}vms:\n  - name: vm0\n    vcpus: [{ affinity: "1" }]\n    perf:\n      - { name: g1, events: "cycles,branch-mises" }\n      - { name: g2, events: [instrutions], start: 100ms, stop: 100ms }\n`;
    expect(diags(text)).toContain(
      "s.yaml:7:37: vms[0].perf[0].events: unknown guest event 'branch-mises' (did you mean 'branch-misses'?)",
    );
    expect(diags(text)).toContain(
      "s.yaml:8:30: vms[0].perf[1].events[0]: unknown guest event 'instrutions' (did you mean 'instructions'?)",
    );
  });

  it("in a perf_event_open action", () => {
    expect(
      diags(
        `${X86}actions:\n  - { at: 1ms, do: perf_event_open, event: "instrctions:u", cpu: 0 }\n`,
      ),
    ).toEqual([
      "s.yaml:4:45: actions[0].event: unknown event 'instrctions' (did you mean 'instructions'?)",
    ]);
  });

  it("in an event expectation, against the counters perf will name", () => {
    const text = `name: t\nmachine: x86-hybrid\nperf: [{ name: sys, events: [cycles, branch-misses] }]\nexpect:\n  - { event: { measurement: sys, event: branch-mises, field: count }, min: 0 }\n  - { event: { measurement: sys, event: cpu_atom/cycles/, field: count }, min: 0 }\n  - { event: { measurement: sys, event: cpu_core/cyc, field: count }, min: 0 }\n`;
    expect(diags(text)).toEqual([
      `s.yaml:5:41: expect[0].event.event: measurement "sys" has no event 'branch-mises' (did you mean 'branch-misses'?)`,
    ]);
  });

  it("in a variant, at the set entry that wrote it", () => {
    const text = `${X86}perf: [{ name: m, events: cycles }]\nvariants:\n  - name: a\n    set: { perf.0.events: "cycles,brnch-misses" }\n`;
    expect(diags(text)).toEqual([
      `s.yaml:6:27: variants[0].set["perf.0.events"]: unknown event 'brnch-misses' (did you mean 'branch-misses'?)`,
    ]);
  });

  it("vpmu check exits 2 with the located message and runs nothing", () => {
    const f = tmpFile(
      "typo.yaml",
      `${X86}perf:\n  - name: sys\n    events: [cycles, branch-mises]\nexpect:\n  - event: { measurement: sys, event: cycles, field: count }\n    min: 1\n`,
    );
    const r = vpmu("check", f);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `${f}:5:22: perf[0].events[1]: unknown event 'branch-mises' (did you mean 'branch-misses'?)\n`,
    );
    expect(r.out).not.toContain("FAIL");
    expect(r.out).toBe("0 passed, 0 failed, 1 file not loaded\n");
  });
});

describe("preset names: a did-you-mean, wrong case included (names match exactly)", () => {
  const choices = "one of: x86-server, x86-hybrid, amd-server, rk3399, arm64-server";

  it("the scenario's machine key", () => {
    expect(diags("name: t\nmachine: RK3399\n")).toEqual([
      `s.yaml:2:10: machine: unknown preset "RK3399"; did you mean "rk3399"? (${choices})`,
    ]);
    expect(diags("name: t\nmachine: { preset: rk3339 }\n")).toEqual([
      `s.yaml:2:20: machine.preset: unknown preset "rk3339"; did you mean "rk3399"? (${choices})`,
    ]);
  });

  it("every command's --machine", () => {
    const cases: Array<[string[], string]> = [
      [["list", "pmus", "-m", "rk3339"], "rk3339"],
      [["sysfs", "--machine", "RK3399"], "RK3399"],
      [["exec", "--machine", "X86-Server", "--", "true"], "X86-Server"],
      [["kvm-unit-tests", "--machine", "rk3339"], "rk3339"],
      [["selftests", "--machine", "X86-Server"], "X86-Server"],
    ];
    for (const [args, name] of cases) {
      const r = vpmu(...args);
      const fixed = name.toLowerCase().replace("3339", "3399");
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toBe(
        `vpmu${args[0] === "exec" ? " exec" : ""}: --machine: unknown preset "${name}"; did you mean "${fixed}"? (${choices})\n`,
      );
    }
  });
});

describe("an event of a PMU on a CPU it does not cover is <not supported>", () => {
  // perf 6.1 opens armv8_cortex_a53/... on CPU 4 as the user asked; the kernel's
  // armpmu_event_init() answers ENOENT for a CPU outside supported_cpus.
  const text = `${RK}perf:\n  - name: m\n    cpus: 4\n    events: "armv8_cortex_a53/cycles/,armv8_cortex_a53/inst_retired/,armv8_cortex_a72/cycles/"\nactions:\n  - { at: 1ms, do: perf_event_open, event: "armv8_cortex_a53/cycles/", cpu: 4, expect: { errno: ENOENT } }\n`;

  it("in the result, and the open answers ENOENT", () => {
    const r = runScenario(loadScenario(text));
    expect(r.perf[0]!.counters.map((c) => [c.event, c.status, c.count])).toEqual([
      ["armv8_cortex_a53/cycles/", "not supported", 0],
      ["armv8_cortex_a53/inst_retired/", "not supported", 0],
      ["armv8_cortex_a72/cycles/", "counted", 0],
    ]);
    expect(r.actions[0]!.ok).toBe(true);
  });

  it("in text, CSV and JSON", () => {
    const f = tmpFile("a53.yaml", text);
    const txt = vpmu("run", f);
    expect(txt.code).toBe(0);
    expect(txt.out).toMatch(/^ {3}<not supported> {6}armv8_cortex_a53\/cycles\/ *$/m);
    const csv = vpmu("run", "--format", "csv", f);
    expect(csv.out.split("\n")[0]).toBe("<not supported>,,armv8_cortex_a53/cycles/,0,100.00,,");
    const json = JSON.parse(vpmu("run", "--format", "json", f).out) as {
      perf: Array<{ counters: Array<{ event: string; status: string }> }>;
    };
    expect(json.perf[0]!.counters[0]).toMatchObject({
      event: "armv8_cortex_a53/cycles/",
      status: "not supported",
    });
  });
});

describe("a quoted value is cut to a readable length", () => {
  it("a 1 MB string is not echoed whole", () => {
    const big = "x".repeat(1_000_000);
    const ds = diags(`${X86}perf: [{ name: m, events: "${big}" }]\n`);
    expect(ds).toHaveLength(1);
    expect(ds[0]!.length).toBeLessThan(300);
    expect(ds[0]).toBe(
      `s.yaml:3:27: perf[0].events: "${"x".repeat(60)}…" (1000000 characters) is too large (at most 65536 characters)`,
    );
  });

  it("a long key and a long event", () => {
    const long = "k".repeat(1000);
    const [d] = diags(`${X86}${long}: 1\n`);
    expect(d).toBe(
      `s.yaml:3:1: ["${"k".repeat(60)}…" (1000 characters)]: unknown key "${"k".repeat(60)}…" (1000 characters) (one of: name, description, seed, duration, machine, kernel, workloads, tasks, perf, vms, actions, expect, expected_findings, variants)`,
    );
    const [e] = diags(`${X86}perf: [{ name: m, events: [${"e".repeat(4000)}] }]\n`);
    expect(e).toBe(
      `s.yaml:3:28: perf[0].events[0]: unknown event '${"e".repeat(60)}…' (4000 characters) (an event such as cycles, instructions:u, r003c, pmu/event=0x3c/ or {a,b})`,
    );
  });
});

describe("size limits are checked at load time", () => {
  it("a 20,000-VM file is refused before its YAML is parsed", () => {
    const vms = Array.from(
      { length: 20_000 },
      (_, i) => `  - name: vm${i}\n    vcpus: [{ affinity: "1" }]\n`,
    ).join("");
    const f = tmpFile("vms.yaml", `name: big\nmachine: x86-server\nvms:\n${vms}`);
    const r = vpmu("run", f);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`${f}:4:3: vms: a list of 20000 items is too large (at most 64 items)\n`);
    expect(r.out).toBe("");
    // The same as JSON, located at its list.
    const doc = {
      name: "big",
      machine: "x86-server",
      vms: Array.from({ length: 20_000 }, (_, i) => ({ name: `vm${i}`, vcpus: [{}] })),
    };
    writeFileSync(f, JSON.stringify(doc));
    const j = vpmu("run", f);
    expect(j.code).toBe(2);
    expect(j.err).toBe(`${f}:1:44: vms: a list of 20000 items is too large (at most 64 items)\n`);
  });

  it("a flow list is counted before the parse too, and a short one is left to the schema", () => {
    const vms = (n: number) =>
      Array.from({ length: n }, (_, i) => `{ name: "vm${i},x", vcpus: [{}] }`).join(", ");
    expect(diags(`${X86}vms: [${vms(65)}] # 65\n`)).toEqual([
      "s.yaml:3:6: vms: a list of 65 items is too large (at most 64 items)",
    ]);
    expect(
      diags(
        `${X86}tasks: [\n  { name: a, workload: compute },\n  { name: b, workload: compute },\n]\n`,
      ),
    ).toEqual([]);
  });

  it("the file's size", () => {
    const text = `${X86}description: "${"d".repeat(LIMITS.fileBytes)}"\n`;
    expect(diags(text)).toEqual([
      `s.yaml:1:1: the file has ${text.length} characters (at most 1048576 (1 MiB))`,
    ]);
  });

  it("events of one measurement and of all, vCPUs of all VMs", () => {
    const many = Array.from({ length: 1100 }, () => "cycles").join(",");
    expect(diags(`${X86}perf: [{ name: m, events: "${many}" }]\n`)).toEqual([
      "s.yaml:3:27: perf[0].events: 1100 events (at most 1024 in one measurement)",
    ]);
    const k = Array.from({ length: 1000 }, () => "cycles").join(",");
    const perf = Array.from({ length: 5 }, (_, i) => `  - { name: m${i}, events: "${k}" }\n`);
    expect(diags(`${X86}perf:\n${perf.join("")}`)).toEqual([
      "s.yaml:8:25: perf[4].events: 5000 events in the measurements so far (at most 4096 in all)",
    ]);
    const vcpus = `[${Array.from({ length: 256 }, () => "{}").join(", ")}]`;
    const vms = Array.from({ length: 5 }, (_, i) => `  - { name: vm${i}, vcpus: ${vcpus} }\n`);
    expect(diags(`${X86}vms:\n${vms.join("")}`)).toEqual([
      "s.yaml:8:25: vms[4].vcpus: 1280 vCPUs in the VMs so far (at most 1024 in all)",
    ]);
  });

  it("the run's estimated work: duration x ticks, exits and samples", () => {
    expect(diags(`${X86}duration: 3600s\nkernel: { hz: 1000 }\n`)).toEqual([]);
    const exits = `vms:\n  - name: vm0\n    vcpus: [{ exit_rate: 1000000 }]\n`;
    expect(diags(`${X86}duration: 3600s\n${exits}`)).toEqual([
      "s.yaml:3:11: duration: the run would fire about 3.6e+9 timer events (3600s of ticks at HZ 250 on 8 CPUs, VM exits, guest samples and interval prints) (at most 5e+8: a shorter duration, fewer CPUs or VMs, lower exit_rate or record rate)",
    ]);
    expect(diags(`${X86}duration: 100s\n${exits}`)).toEqual([]);
  });
});
