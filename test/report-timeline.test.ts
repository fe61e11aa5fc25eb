import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonReport } from "../src/report/json.js";
import type { RunResult } from "../src/report/result.js";
import {
  packTimeline,
  type TimelineData,
  type TimelineProbe,
  TimelineSink,
  unpackTimeline,
  valuesAt,
} from "../src/report/timeline.js";
import { parseScenario } from "../src/scenario/load.js";
import { reportPage } from "../src/scenario/report-page.js";
import { runScenario } from "../src/scenario/runner.js";
import type { Ns } from "../src/sim/time.js";
import type { TraceRecord } from "../src/sim/trace.js";
import { root } from "./cli-helpers.js";

type Rec = TraceRecord;
const state = (t: number, id: number, cpu: number, from: string, to: string): Rec =>
  ({ kind: "perf_state", t: t as Ns, id, name: `ev${id}`, cpu, from, to }) as Rec;

/** A probe over a table of values that the test sets as it feeds records. */
function fakeProbe(): TimelineProbe & {
  now: Map<number, [number, number, number]>;
  holders: Map<string, number>;
} {
  const now = new Map<number, [number, number, number]>();
  const holders = new Map<string, number>();
  return {
    now,
    holders,
    values: (id) => now.get(id) ?? null,
    counterHolder: (cpu, pmu, idx) => holders.get(`${cpu}/${pmu}/${idx}`) ?? -1,
    measurement: (id) => (id === 1 ? "stat" : id === 2 ? "other" : null),
  };
}

describe("the report timeline", () => {
  it("merges state changes at one instant, keeping a change to ERROR", () => {
    const sink = new TimelineSink();
    for (const r of [
      state(10, 1, 2, "INACTIVE", "ACTIVE"),
      // Off and back on at one instant: no change at all.
      state(20, 1, 2, "ACTIVE", "INACTIVE"),
      state(20, 1, 2, "INACTIVE", "ACTIVE"),
      state(30, 1, 2, "ACTIVE", "ERROR"),
      state(30, 1, 2, "ERROR", "INACTIVE"),
      // Off any CPU: the change goes to the CPU the event was last on.
      state(40, 1, -1, "INACTIVE", "OFF"),
    ])
      sink.write(r);
    const d = sink.data();
    expect(d.events).toHaveLength(1);
    const ch = d.events[0]!.changes;
    const named: Array<number | string> = ch.map((x, i) => (i % 2 ? d.strings[x]! : x));
    expect(named).toEqual([10, "ACTIVE", 30, "ERROR", 30, "INACTIVE", 40, "OFF"]);
  });

  it("samples values at state changes and PMIs, one per instant, dropping samples on a line", () => {
    const probe = fakeProbe();
    const sink = new TimelineSink(undefined, probe);
    const feed = (r: Rec, v: [number, number, number]) => {
      probe.now.set(1, v);
      sink.write(r);
    };
    feed(state(0, 1, 0, "OFF", "INACTIVE"), [0, 0, 0]);
    feed(state(100, 1, 0, "INACTIVE", "ACTIVE"), [0, 100, 0]);
    // Steady counting: 300 and 500 lie on the line from 100 to 700, so they go.
    feed(
      { kind: "perf_pmi", t: 300 as Ns, id: 1, name: "ev1", cpu: 0, pmu: "cpu" } as Rec,
      [400, 300, 200],
    );
    feed(
      { kind: "perf_pmi", t: 500 as Ns, id: 1, name: "ev1", cpu: 0, pmu: "cpu" } as Rec,
      [800, 500, 400],
    );
    feed(state(700, 1, 0, "ACTIVE", "INACTIVE"), [1200, 700, 600]);
    // A second record at 700: the last wins.
    feed(state(700, 1, 0, "INACTIVE", "ACTIVE"), [1201, 700, 600]);
    const h = sink.data().holders.find((x) => x.id === 1)!;
    expect(h.values).toEqual([0, 0, 0, 0, 100, 0, 100, 0, 700, 1201, 700, 600]);
    expect(valuesAt(h, 50)).toEqual({ count: 0, enabled: 50, running: 0, stale: false });
    expect(valuesAt(h, 400)).toEqual({ count: 600, enabled: 400, running: 300, stale: false });
    expect(valuesAt(h, 800)).toEqual({ count: 1201, enabled: 700, running: 600, stale: true });
    expect(valuesAt(h, -1)).toEqual({ count: 0, enabled: 0, running: 0, stale: false });
  });

  it("names each counter interval's event and the measurement that opened it", () => {
    const probe = fakeProbe();
    const sink = new TimelineSink(undefined, probe);
    const counter = (t: number, idx: number, owner: string | null): Rec =>
      ({ kind: "perf_counter", t: t as Ns, cpu: 2, pmu: "cpu", idx, owner }) as Rec;
    // Two events named cycles, of two measurements, on one CPU at once.
    const s1 = state(0, 1, 2, "INACTIVE", "ACTIVE");
    const s2 = state(0, 2, 2, "INACTIVE", "ACTIVE");
    for (const r of [s1, s2]) sink.write({ ...r, name: "cycles" } as Rec);
    probe.holders.set("2/cpu/0", 2);
    sink.write(counter(0, 0, "cycles"));
    probe.holders.set("2/cpu/1", 1);
    sink.write(counter(0, 1, "cycles"));
    sink.write(counter(50, 0, null));
    sink.write(counter(60, 1, null));
    probe.holders.clear();
    // Without the probe's answer, the last event of the name to go ACTIVE on that CPU.
    sink.write({ ...state(70, 3, 2, "INACTIVE", "ACTIVE"), name: "cycles" } as Rec);
    sink.write(counter(70, 0, "cycles"));
    sink.close(100 as Ns);
    const d = sink.data();
    const lanes = new Map<number, number[]>();
    for (const l of d.cpus[0]!.lanes) lanes.set(l.idx, l.segs);
    const who = (h: number) => {
      const x = d.holders[h]!;
      return `${d.strings[x.name]}#${x.id}/${x.measurement < 0 ? "-" : d.strings[x.measurement]}`;
    };
    expect(lanes.get(0)!.map((x, i) => (i % 3 === 2 ? who(x) : x))).toEqual([
      0,
      50,
      "cycles#2/other",
      70,
      100,
      "cycles#3/-",
    ]);
    expect(lanes.get(1)!.map((x, i) => (i % 3 === 2 ? who(x) : x))).toEqual([
      0,
      60,
      "cycles#1/stat",
    ]);
  });

  it("packs losslessly", () => {
    const times = fc.array(fc.nat(1e9), { maxLength: 30 }).map((a) => a.sort((x, y) => x - y));
    const iv = times.map((t) => {
      const out: number[] = [];
      for (let i = 0; i + 1 < t.length; i += 2) out.push(t[i]!, t[i + 1]!, i % 5);
      return out;
    });
    const flat = (stride: number) =>
      times.map((t) => t.flatMap((x, i) => [x, ...Array.from({ length: stride - 1 }, () => i)]));
    fc.assert(
      fc.property(iv, iv, flat(3), flat(2), flat(4), (segs, guest, marks, changes, values) => {
        const d: TimelineData = {
          version: 2,
          end_ns: 1e9,
          strings: ["a"],
          mark_kinds: ["vm entry"],
          cpus: [
            {
              cpu: 0,
              lanes: [{ pmu: "cpu", idx: 0, label: "gp0", segs }],
              guest,
              tasks: segs,
              marks,
            },
          ],
          uncore: [{ pmu: "u", idx: 0, label: "u/0", segs: guest }],
          events: [{ id: 1, name: 0, cpu: 0, changes }],
          holders: [{ id: 1, name: 0, measurement: -1, values }],
        };
        const p = packTimeline(d);
        expect(p.packed).toBe(true);
        expect(unpackTimeline(p)).toEqual(d);
        expect(unpackTimeline(d)).toBe(d);
      }),
    );
  });

  it("does not change the run: the page's result is vpmu run's, and the page is the same each time", () => {
    const file = "examples/host-multiplexing.yaml";
    const sc = parseScenario(readFileSync(join(root, file), "utf8"), file).scenario!;
    const a = reportPage(sc, file);
    const b = reportPage(sc, file);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(jsonReport(a.result as RunResult)).toBe(jsonReport(runScenario(sc)));
    // The timeline's values end at what perf stat read.
    const tl = unpackTimeline(a.timelines[0]!);
    const r = a.result as RunResult;
    let checked = 0;
    for (const m of r.perf.filter((x) => !x.target.startsWith("guest")))
      for (const c of m.counters)
        for (const pc of c.per_cpu ?? []) {
          const h = tl.holders.find(
            (x) =>
              tl.strings[x.measurement] === m.name &&
              tl.strings[x.name] === c.event &&
              tl.events.some((e) => e.id === x.id && e.cpu === pc.cpu),
          );
          expect(h, `${m.name} ${c.event} CPU ${pc.cpu}`).toBeDefined();
          if (pc.state === "ERROR") continue; // read(2) returns nothing in ERROR
          expect(h!.values.slice(-3), `${m.name} ${c.event} CPU ${pc.cpu}`).toEqual([
            pc.count,
            pc.enabled_ns,
            pc.running_ns,
          ]);
          checked++;
        }
    expect(checked).toBeGreaterThan(10);
  });
});
