import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_KVM_COSTS } from "../src/kvm/costs.js";
import { PERF_EVENT_STATE } from "../src/perf/event.js";
import { ACTION_KINDS, ACTION_NAMES } from "../src/scenario/actions/table.js";
import { formatDiagnostic } from "../src/scenario/diagnostics.js";
import { EXPECT_SUBJECTS } from "../src/scenario/expect/table.js";
import { KVM_COSTS_FIELDS } from "../src/scenario/kernel/schema.js";
import { loadScenario, parseScenario } from "../src/scenario/load.js";
import { runScenario, ScenarioRun } from "../src/scenario/runner.js";
import type { Ns } from "../src/sim/time.js";

/**
 * The registries of the scenario layer (actions/table.ts, expect/table.ts) against what
 * users read: every registered action kind and expectation subject is documented in
 * docs/scenario-format.md and is in the committed JSON Schema.
 */
const root = join(import.meta.dirname, "..");
const docs = readFileSync(join(root, "docs", "scenario-format.md"), "utf8");
const schema = JSON.parse(readFileSync(join(root, "schema", "scenario.schema.json"), "utf8"));

/** The `### ` headings between `## name` and the next `## ` heading. */
function headingsOf(section: string): string[] {
  const start = docs.indexOf(`\n## ${section}\n`);
  if (start < 0) return [];
  const end = docs.indexOf("\n## ", start + 1);
  return [...docs.slice(start, end < 0 ? undefined : end).matchAll(/^### (.+)$/gm)].map(
    (m) => m[1]!,
  );
}

/** The `do` values the JSON Schema accepts. */
function schemaDoValues(): string[] {
  const entries = schema.properties.actions.items.oneOf as Array<{
    properties: { do: { const?: string; enum?: string[] } };
  }>;
  return entries.flatMap((e) =>
    e.properties.do.const ? [e.properties.do.const] : e.properties.do.enum!,
  );
}

describe("every registered action kind is documented", () => {
  const headings = headingsOf("actions");
  for (const name of ACTION_NAMES) {
    it(`${name}: a section under actions in docs/scenario-format.md`, () => {
      // One heading may document a family: "cpu_online and cpu_offline".
      const h = headings.find((x) => x.split(/,? and |, /).includes(name));
      expect(h, `no "### ${name}" heading under "## actions"`).toBeDefined();
    });
  }

  it("each of them, and no other, in schema/scenario.schema.json, in table order", () => {
    expect(schemaDoValues()).toEqual(ACTION_NAMES);
  });

  it("each of them in the do column of docs/json-output.md", () => {
    const json = readFileSync(join(root, "docs", "json-output.md"), "utf8");
    const row = json.split("\n").find((l) => l.startsWith("| `do` | string | The action:"))!;
    expect(ACTION_NAMES.filter((n) => !row.includes(`\`"${n}"\``))).toEqual([]);
  });

  it("each kind's do values once", () => {
    const names = ACTION_KINDS.flatMap((k) => k.names);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("every registered expectation subject is documented", () => {
  const headings = headingsOf("expect");
  for (const s of EXPECT_SUBJECTS) {
    it(`${s.key}: a "${s.key} subject" section, and a field of expect in the JSON Schema`, () => {
      expect(headings).toContain(`${s.key} subject`);
      expect(Object.keys(schema.properties.expect.items.properties)).toContain(s.key);
    });
  }
});

describe("kernel.kvm.costs", () => {
  it("has one field per figure of the cost model, by its snake_case name", () => {
    const snake = (k: string) => k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
    expect([...KVM_COSTS_FIELDS].sort()).toEqual(Object.keys(DEFAULT_KVM_COSTS).map(snake).sort());
  });
});

describe("prctl PR_TASK_PERF_EVENTS_DISABLE / ENABLE", () => {
  const scenario = `name: prctl
machine: x86-server
duration: 100ms
kernel: { nmi_watchdog: false }
tasks:
  - { name: app, workload: compute, affinity: 1 }
perf:
  - { name: stat, cpus: "1", events: "instructions" }
actions:
  - { at: 0ms, do: perf_event_open, name: c, event: cycles, task: app }
  - { at: 0ms, do: perf_event_open, name: m, attr: { type: 0, config: 1 }, task: app, group: c }
  - { at: 20ms, do: prctl, option: PR_TASK_PERF_EVENTS_DISABLE, expect: { ret: 0 } }
  - { at: 40ms, do: read, fd: c }
  - { at: 60ms, do: prctl, option: PR_TASK_PERF_EVENTS_ENABLE, expect: { ret: 0 } }
expect:
  - { event: { fd: c, field: running }, equals: 60ms }
  - { event: { fd: c, field: enabled }, equals: 60ms }
  - { event: { fd: m, field: running }, equals: 60ms }
  - { event: { fd: c, field: state }, equals: ACTIVE }
  - { event: { measurement: stat, event: instructions, field: running }, equals: 60ms }
`;

  it("turns off, then on, every event the tool process opened, group members and measurements too", () => {
    const r = runScenario(loadScenario(scenario));
    expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
    expect(r.summary).toMatchObject({ passed: 7, failed: 0 });
    const calls = r.actions.map((a) => [a.label, a.result]);
    expect(calls).toContainEqual(["prctl(PR_TASK_PERF_EVENTS_DISABLE)", { ret: 0 }]);
    // While disabled the leader is OFF: its times stand still between the two prctls.
    const read = r.actions.find((a) => a.do === "read")!;
    expect(read.data).toMatchObject({ time_enabled: 20_000_000, time_running: 20_000_000 });
  });

  it("leaves the kernel's own events alone: the NMI watchdog keeps counting", () => {
    const text = scenario
      .replace("kernel: { nmi_watchdog: false }\n", "")
      .replace(/expect:\n[\s\S]*$/, "");
    const run = new ScenarioRun(loadScenario(text));
    const disabledAt20 = new Map<number, number>();
    run.sys.at(30_000_000 as Ns, "look", () => {
      for (const e of run.ctx.watchdog) disabledAt20.set(e.id, e.state);
      for (const [, e] of run.sys.perf.fds) disabledAt20.set(e.id, e.state);
    });
    run.run();
    const watchdog = run.ctx.watchdog.map((e) => disabledAt20.get(e.id));
    expect(watchdog.length).toBe(run.sys.machine.cpus.length);
    expect(watchdog.every((s) => s === PERF_EVENT_STATE.ACTIVE)).toBe(true);
    const user = [...run.sys.perf.fds.values()].map((e) => disabledAt20.get(e.id));
    expect(user.length).toBeGreaterThan(0);
    expect(user.every((s) => s === PERF_EVENT_STATE.OFF)).toBe(true);
  });

  it("rejects an option it does not model, at its line", () => {
    const r = parseScenario(
      "name: t\nmachine: x86-server\nactions:\n  - { at: 1ms, do: prctl, option: PR_SET_NAME }\n",
      "s.yaml",
    );
    expect(r.ok ? [] : r.diagnostics.map(formatDiagnostic)).toEqual([
      's.yaml:4:35: actions[0].option: "PR_SET_NAME" is not allowed (one of: "PR_TASK_PERF_EVENTS_DISABLE", "PR_TASK_PERF_EVENTS_ENABLE")',
    ]);
  });
});
