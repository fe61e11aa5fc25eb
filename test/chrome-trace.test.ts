import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadScenarioFile } from "../src/cli/io.js";
import { ChromeTraceSink, TRACE_LAYOUT, TraceSizeCapError } from "../src/report/chrome-trace.js";
import type { Ns } from "../src/sim/time.js";
import type { TraceRecord } from "../src/sim/trace.js";

const root = join(import.meta.dirname, "..");
const bin = join(root, "dist", "bin", "vpmu.js");
const example = "examples/host-multiplexing.yaml";

interface TraceEvent {
  ph: string;
  name?: string;
  cat?: string;
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  s?: string;
  args?: Record<string, unknown>;
}

interface TraceFile {
  displayTimeUnit: string;
  traceEvents: TraceEvent[];
}

function vpmu(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function tmpPath(name: string): string {
  return join(mkdtempSync(join(tmpdir(), "vpmu-trace-")), name);
}

/**
 * Checks the slice discipline of a trace: per (pid, tid) B/E strictly alternate (never
 * nested, never overlapping), X intervals do not overlap, every slice is closed, and
 * timestamps never go back on a track (counters are keyed by pid and name).
 */
function checkTracks(events: TraceEvent[]): void {
  const open = new Map<string, number>();
  const lastTs = new Map<string, number>();
  const xEnd = new Map<string, number>();
  for (const e of events) {
    if (e.ph === "M") continue;
    expect(typeof e.ts).toBe("number");
    const ts = e.ts!;
    const track = e.ph === "C" ? `C ${e.pid} ${e.name}` : `${e.pid}/${e.tid}`;
    const last = lastTs.get(track);
    if (last !== undefined && ts < last)
      throw new Error(`ts goes back on ${track}: ${ts} after ${last}`);
    lastTs.set(track, ts);
    if (e.ph === "B") {
      if (open.has(track)) throw new Error(`B inside an open slice on ${track} at ${ts}`);
      open.set(track, ts);
    } else if (e.ph === "E") {
      const b = open.get(track);
      if (b === undefined) throw new Error(`E without B on ${track} at ${ts}`);
      expect(ts).toBeGreaterThanOrEqual(b);
      open.delete(track);
    } else if (e.ph === "X") {
      if (open.has(track) || ts < (xEnd.get(track) ?? -1))
        throw new Error(`overlapping X on ${track} at ${ts}`);
      xEnd.set(track, ts + (e.dur ?? 0));
    }
  }
  expect([...open.keys()]).toEqual([]);
}

describe("vpmu trace (Chrome Trace Event JSON)", () => {
  let trace: TraceFile;
  let text: string;
  let run: ReturnType<typeof vpmu>;
  const out = tmpPath("trace.json");

  beforeAll(() => {
    if (!existsSync(join(root, "dist", "cli", "trace.js")))
      throw new Error("dist/ is missing the trace command: run `npx tsc -p .` first");
    run = vpmu("trace", example, "-o", out);
    text = readFileSync(out, "utf8");
    trace = JSON.parse(text) as TraceFile;
  });

  it("exits 0 and prints a one-line summary", () => {
    expect(run.err).toBe("");
    expect(run.code).toBe(0);
    const size = statSync(out).size;
    expect(run.out).toBe(
      `wrote ${trace.traceEvents.length} trace events (${size} bytes) to ${out}\n`,
    );
  });

  it("uses the object form with ns display and µs timestamps", () => {
    expect(text.startsWith('{"displayTimeUnit":"ns","traceEvents":[')).toBe(true);
    expect(trace.displayTimeUnit).toBe("ns");
    const last = Math.max(...trace.traceEvents.map((e) => e.ts ?? 0));
    expect(last).toBe(400_000); // 400 ms in µs
  });

  it("names the host process and every track", () => {
    const meta = trace.traceEvents.filter((e) => e.ph === "M");
    const procs = meta.filter((e) => e.name === "process_name").map((e) => e.args!.name);
    expect(procs).toEqual(["host (x86-server)"]);
    const threads = meta.filter((e) => e.name === "thread_name");
    const names = threads.map((e) => e.args!.name as string);
    expect(names).toContain("CPU 2 / tasks");
    expect(names).toContain("CPU 2 / perf");
    expect(names).toContain("CPU 2 / cpu ctr 33 (fixed1)");
    expect(names).toContain("CPU 2 / cpu ctr 0 (gp0)");
    expect(names).toContain("CPU 2 / cpu ctr 7 (gp7)");
    expect(names).toContain("CPU 0 / cpu ctr 33 (fixed1)");
    // Every named track has a sort index, and no two tracks share a tid.
    const sorted = new Set(
      meta.filter((e) => e.name === "thread_sort_index").map((e) => `${e.pid}/${e.tid}`),
    );
    for (const t of threads) expect(sorted.has(`${t.pid}/${t.tid}`)).toBe(true);
    expect(new Set(threads.map((e) => e.tid)).size).toBe(threads.length);
    // Every event sits on a named track (or on the process's own tid: metadata, counters).
    const named = new Set(threads.map((e) => `${e.pid}/${e.tid}`));
    for (const e of trace.traceEvents) {
      if (e.ph === "M" || e.ph === "C") continue;
      expect(named.has(`${e.pid}/${e.tid}`)).toBe(true);
    }
  });

  it("shows counter slots held by events, named after the event", () => {
    const slotTids = new Set(
      trace.traceEvents
        .filter((e) => e.name === "thread_name" && / ctr \d+/.test(e.args!.name as string))
        .map((e) => e.tid),
    );
    const slices = trace.traceEvents.filter((e) => e.ph === "B" && slotTids.has(e.tid));
    const names = new Set(slices.map((e) => e.name));
    expect(names).toContain("nmi_watchdog");
    // Events are named as the perf core names them ("cycles", or "cpu/0x0" for an event
    // whose opener gave it no name).
    expect(names.has("cycles") || names.has("cpu/0x0")).toBe(true);
    expect(names.size).toBeGreaterThanOrEqual(10);
    // 14 events multiplexed on 10 free counters: the slots of CPU 2 change hands often.
    const cpu2 = slices.filter((e) => Math.floor((e.tid % 1_000_000) / 1000) === 3);
    expect(cpu2.length).toBeGreaterThan(200);
  });

  it("never overlaps slices on a track, closes every slice, keeps ts monotonic per track", () => {
    checkTracks(trace.traceEvents);
  });

  it("shows which task runs on each CPU", () => {
    const tasks = trace.traceEvents.filter((e) => e.ph === "B" && e.cat === "sched");
    expect(tasks.map((e) => e.name)).toEqual(["worker [1001]"]);
    expect(tasks[0]!.args).toEqual({ pid: 1001 });
  });

  it("has instants for rotations and event state changes", () => {
    const instants = trace.traceEvents.filter((e) => e.ph === "i");
    for (const e of instants) expect(e.s).toBe("t");
    const rotations = instants.filter((e) => e.name === "rotate cpu");
    expect(rotations.length).toBeGreaterThanOrEqual(90);
    expect(rotations[0]!.ts).toBe(4000);
    expect(instants.some((e) => /^nmi_watchdog OFF->INACTIVE$/.test(e.name!))).toBe(true);
    expect(instants.some((e) => / INACTIVE->ACTIVE$/.test(e.name!))).toBe(true);
  });

  it("has a 'counters in use' counter track per CPU", () => {
    const cpu2 = trace.traceEvents.filter((e) => e.ph === "C" && e.name === "CPU 2");
    expect(cpu2.length).toBeGreaterThan(2);
    const values = cpu2.map((e) => e.args!["counters in use"] as number);
    expect(Math.max(...values)).toBe(11); // 8 GP + 3 fixed, the watchdog's included
    expect(values.at(-1)).toBe(1); // the watchdog after the measurement ends
    expect(trace.traceEvents.some((e) => e.ph === "C" && e.name === "CPU 0")).toBe(true);
  });

  it("is deterministic: two runs give byte-identical files", () => {
    const again = tmpPath("again.json");
    const r = vpmu("trace", example, "-o", again);
    expect(r.code).toBe(0);
    expect(readFileSync(again).equals(readFileSync(out))).toBe(true);
  });

  it("stops at the size cap with one message, exit 2, and a valid file", () => {
    const small = tmpPath("small.json");
    const r = vpmu("trace", example, "-o", small, "--max-size", "0.02");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(
      /^vpmu: trace size cap of 0\.02 MB reached at t=\d+\.\d{9}s; raise it with --max-size\n$/,
    );
    const bytes = readFileSync(small);
    expect(bytes.length).toBeLessThanOrEqual(20_000);
    expect(bytes.length).toBeGreaterThan(10_000);
    const j = JSON.parse(bytes.toString("utf8")) as TraceFile;
    expect(j.traceEvents.length).toBeGreaterThan(10);
    checkTracks(j.traceEvents);
  });

  it("honours --duration and --seed, and rejects a bad --max-size", () => {
    const short = tmpPath("short.json");
    const r = vpmu("trace", example, "-o", short, "--duration", "20ms", "--seed", "7");
    expect(r.code).toBe(0);
    const j = JSON.parse(readFileSync(short, "utf8")) as TraceFile;
    expect(Math.max(...j.traceEvents.map((e) => e.ts ?? 0))).toBe(20_000);
    checkTracks(j.traceEvents);
    const bad = vpmu("trace", example, "-o", tmpPath("x.json"), "--max-size", "lots");
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('vpmu: --max-size: "lots" is not a positive size in MB (e.g. 100, 0.5)\n');
  });

  it("reports a missing scenario file as a diagnostic with exit 2", () => {
    const r = vpmu("trace", "no-such.yaml", "-o", tmpPath("x.json"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^no-such\.yaml:1:1: .*no such file/);
  });
});

/** `[begin, end, name]` of every B/E slice on one track, in order. */
function slicesOf(events: TraceEvent[], pid: number, tid: number): Array<[number, number, string]> {
  const out: Array<[number, number, string]> = [];
  let open: TraceEvent | null = null;
  for (const e of events) {
    if (e.pid !== pid || e.tid !== tid) continue;
    if (e.ph === "B") open = e;
    else if (e.ph === "E") {
      out.push([open!.ts!, e.ts!, open!.name!]);
      open = null;
    }
  }
  return out;
}

describe("vpmu trace of a mediated VM (x86-mediated.yaml)", () => {
  const vmExample = "examples/x86-mediated.yaml";
  const out = tmpPath("vm.json");
  let trace: TraceFile;
  let ev: TraceEvent[];
  const vcpuTid = TRACE_LAYOUT.vmPid(0) * TRACE_LAYOUT.tidStride + TRACE_LAYOUT.vcpuState(0);
  const slotTid = (cpu: number, idx: number) =>
    TRACE_LAYOUT.hostPid * TRACE_LAYOUT.tidStride + TRACE_LAYOUT.cpuCounter(cpu, 0, idx);

  beforeAll(() => {
    const r = vpmu("trace", vmExample, "-o", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    trace = JSON.parse(readFileSync(out, "utf8")) as TraceFile;
    ev = trace.traceEvents;
  });

  it("is valid JSON with well-formed tracks, every event on a named track", () => {
    expect(trace.displayTimeUnit).toBe("ns");
    checkTracks(ev);
    const threads = ev.filter((e) => e.ph === "M" && e.name === "thread_name");
    expect(new Set(threads.map((e) => e.tid)).size).toBe(threads.length);
    const named = new Set(threads.map((e) => `${e.pid}/${e.tid}`));
    for (const e of ev) {
      if (e.ph === "M" || e.ph === "C") continue;
      expect(named.has(`${e.pid}/${e.tid}`)).toBe(true);
    }
  });

  it("has a process per VM with a vCPU track", () => {
    const procs = ev.filter((e) => e.ph === "M" && e.name === "process_name");
    expect(procs.map((e) => [e.pid, e.args!.name])).toEqual([
      [1, "host (x86-server)"],
      [2, "VM vm0"],
    ]);
    const sort = ev.find((e) => e.name === "process_sort_index" && e.pid === 2);
    expect(sort!.args).toEqual({ sort_index: 1 });
    const threads = ev.filter((e) => e.ph === "M" && e.name === "thread_name" && e.pid === 2);
    expect(threads.map((e) => [e.tid, e.args!.name])).toEqual([[vcpuTid, "vCPU 0"]]);
  });

  it("shows the vCPU in guest and in host, back to back and never overlapping", () => {
    const s = slicesOf(ev, 2, vcpuTid);
    const names = new Set(s.map((x) => x[2]));
    expect([...names].sort()).toEqual(["in guest", "in host"]);
    // The vCPU task is created at 10 ms and never leaves CPU 2: its states tile the run.
    expect(s[0]).toEqual([10_000, 12_000, "in guest"]);
    expect(s.at(-1)![1]).toBe(100_000);
    for (let i = 1; i < s.length; i++) {
      expect(s[i]![0]).toBe(s[i - 1]![1]);
      expect(s[i]![2]).not.toBe(s[i - 1]![2]);
    }
    for (const e of ev.filter((x) => x.pid === 2 && x.ph === "B")) {
      expect(e.cat).toBe("kvm");
      expect(e.args).toEqual({ cpu: 2 });
    }
    const guest = s.filter((x) => x[2] === "in guest");
    expect(guest.length).toBeGreaterThanOrEqual(20); // the scenario expects >= 20 entries
  });

  it("has an instant per VM exit, named after the reason", () => {
    const exits = ev.filter((e) => e.ph === "i" && e.pid === 2);
    for (const e of exits) {
      expect(e.tid).toBe(vcpuTid);
      expect(e.s).toBe("t");
      expect(e.args).toEqual({ cpu: 2, reason: e.name });
    }
    const count = (n: string) => exits.filter((e) => e.name === n).length;
    expect(count("msr")).toBe(3); // the three event-select writes of gstat
    expect(count("rdpmc")).toBe(0);
    expect(count("tick")).toBeGreaterThan(15);
    // Every "in guest" slice ends with an exit at that time (except at the end of the run).
    const ts = new Set(exits.map((e) => e.ts));
    for (const [, end, name] of slicesOf(ev, 2, vcpuTid))
      if (name === "in guest" && end < 100_000) expect(ts.has(end)).toBe(true);
  });

  it("shows the guest on every core counter slot of CPU 2 while it is in", () => {
    const inGuest = slicesOf(ev, 2, vcpuTid)
      .filter((x) => x[2] === "in guest")
      .map(([b, e]) => [b, e]);
    const idxs = [0, 1, 2, 3, 4, 5, 6, 7, 32, 33, 34];
    const threads = ev.filter((e) => e.ph === "M" && e.name === "thread_name");
    for (const idx of idxs) {
      const tid = slotTid(2, idx);
      expect(threads.some((e) => e.tid === tid)).toBe(true);
      const s = slicesOf(ev, 1, tid);
      const guest = s.filter((x) => x[2] === "guest vm0/0").map(([b, e]) => [b, e]);
      // The mediated PMU is loaded exactly while the vCPU is in guest mode.
      expect(guest).toEqual(inGuest);
      for (const x of s)
        expect(["guest vm0/0", "cycles:H", "nmi_watchdog", "late_h"]).toContain(x[2]);
    }
    // The host's cycles:H on CPU 2 holds gp0 until the guest comes in at 10 ms, then only
    // between guest runs (on fixed1, the first counter the put gives back).
    expect(slicesOf(ev, 1, slotTid(2, 0))[0]).toEqual([0, 10_000, "cycles:H"]);
    const host = slicesOf(ev, 1, slotTid(2, 33)).filter((x) => x[2] === "cycles:H");
    expect(host.length).toBeGreaterThan(10);
    // No guest on CPU 3, which never runs the vCPU.
    const cpu3 = ev.filter(
      (e) => e.ph === "B" && Math.floor((e.tid % 1_000_000) / 1000) === 4 && /^guest/.test(e.name!),
    );
    expect(cpu3).toEqual([]);
  });

  it("is deterministic: two runs give byte-identical files", () => {
    const again = tmpPath("vm-again.json");
    expect(vpmu("trace", vmExample, "-o", again).code).toBe(0);
    expect(readFileSync(again).equals(readFileSync(out))).toBe(true);
  });

  it.each(["examples/x86-passthrough-rfc.yaml", "examples/x86-emulated-contention.yaml"])(
    "traces %s validly, with the VM's vCPU track",
    (file) => {
      const p = tmpPath("other.json");
      const r = vpmu("trace", file, "-o", p);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const j = JSON.parse(readFileSync(p, "utf8")) as TraceFile;
      checkTracks(j.traceEvents);
      const s = slicesOf(j.traceEvents, 2, vcpuTid);
      expect(s.some((x) => x[2] === "in guest")).toBe(true);
      expect(s.some((x) => x[2] === "in host")).toBe(true);
      const guestSlots = j.traceEvents.filter((e) => e.ph === "B" && e.name === "guest vm0/0");
      // The RFC passthrough guest holds the counters; the emulated vPMU uses host perf events.
      if (file.includes("passthrough")) expect(guestSlots.length).toBeGreaterThan(0);
      else expect(guestSlots).toEqual([]);
    },
  );
});

describe("ChromeTraceSink", () => {
  const rec = (r: Record<string, unknown>): TraceRecord => r as unknown as TraceRecord;
  const records: TraceRecord[] = [
    rec({
      kind: "sched_switch",
      t: 0,
      cpu: 1,
      prev: 0,
      prevComm: "swapper",
      next: 7,
      nextComm: 'a"b',
    }),
    rec({ kind: "perf_counter", t: 1000, cpu: 1, pmu: "cpu", idx: 0, owner: "cycles" }),
    // Released and taken again by the same event in the same instant: one slice.
    rec({ kind: "perf_counter", t: 1234567, cpu: 1, pmu: "cpu", idx: 0, owner: null }),
    rec({ kind: "perf_counter", t: 1234567, cpu: 1, pmu: "cpu", idx: 0, owner: "cycles" }),
    // Taken and released within one instant: no slice at all.
    rec({ kind: "perf_counter", t: 1234567, cpu: 1, pmu: "cpu", idx: 1, owner: "brief" }),
    rec({ kind: "perf_counter", t: 1234567, cpu: 1, pmu: "cpu", idx: 1, owner: null }),
    rec({ kind: "perf_pmi", t: 2000001, id: 3, name: "cycles", cpu: 1, pmu: "cpu" }),
    rec({ kind: "perf_sample", t: 2000001, id: 3, name: "cycles", cpu: 1, pid: 7, period: 10 }),
    rec({
      kind: "perf_state",
      t: 2500000,
      id: 4,
      name: "task-ev",
      cpu: -1,
      from: "OFF",
      to: "INACTIVE",
    }),
    rec({
      kind: "uncore_counter",
      t: 3000000,
      pmu: "uncore_imc_0",
      idx: 2,
      owner: "cas_count_read",
    }),
    rec({ kind: "sched_exit", t: 3500000, pid: 7, comm: 'a"b' }),
    rec({
      kind: "sched_switch",
      t: 3500000,
      cpu: 1,
      prev: 7,
      prevComm: 'a"b',
      next: 0,
      nextComm: "swapper",
    }),
    rec({ kind: "perf_counter", t: 4000000, cpu: 1, pmu: "cpu", idx: 0, owner: null }),
    rec({ kind: "perf_guest", t: 4000000, cpu: 1, what: "load" }),
    rec({ kind: "perf_guest", t: 4500000, cpu: 1, what: "put" }),
    rec({ kind: "perf_guest", t: 4600000, cpu: 1, what: "enter" }),
  ];

  const sw = (t: number, cpu: number, prev: [number, string], next: [number, string]) =>
    rec({
      kind: "sched_switch",
      t,
      cpu,
      prev: prev[0],
      prevComm: prev[1],
      next: next[0],
      nextComm: next[1],
    });
  const idle: [number, string] = [0, "swapper"];
  const vcpu1: [number, string] = [50, "vm0/vcpu1"];
  const other: [number, string] = [60, "a/vcpu01"]; // not a vCPU comm (leading zero)
  const ctr = (t: number, cpu: number, idx: number, owner: string | null) =>
    rec({ kind: "perf_counter", t, cpu, pmu: "cpu", idx, owner });
  const guest = (t: number, cpu: number, what: string) => rec({ kind: "perf_guest", t, cpu, what });
  const entry = (t: number, vm: string, vcpu: number, cpu: number) =>
    rec({ kind: "kvm_entry", t, vm, vcpu, cpu });
  const exit = (t: number, vm: string, vcpu: number, cpu: number, reason: string) =>
    rec({ kind: "kvm_exit", t, vm, vcpu, cpu, reason });
  /** Record orders as KVM emits them: see KvmVcpu.enter()/leaveGuest() and KVM's hooks. */
  const vmRecords: TraceRecord[] = [
    rec({ kind: "sched_wakeup", t: 0, pid: 50, comm: "vm0/vcpu1", cpu: 0 }),
    sw(0, 0, idle, other),
    ctr(0, 2, 1, "x"),
    ctr(1000, 0, 0, "cycles"),
    // Switched in: the host's events go, the guest context loads, VM-entry.
    sw(2000, 0, other, vcpu1),
    ctr(2000, 0, 0, null),
    guest(2000, 0, "enter"),
    entry(2000, "vm0", 1, 0),
    // A PMI exit: the host's events come back, perf_guest_exit, then kvm_exit.
    ctr(3000, 0, 0, "cycles"),
    guest(3000, 0, "exit"),
    exit(3000, "vm0", 1, 0, "pmi"),
    ctr(3500, 0, 0, null),
    guest(3500, 0, "enter"),
    entry(3500, "vm0", 1, 0),
    // Preempted (the switch-out record first, to check the order does not matter).
    sw(4000, 0, vcpu1, other),
    ctr(4000, 0, 0, "cycles"),
    guest(4000, 0, "exit"),
    exit(4000, "vm0", 1, 0, "preempt"),
    // Migrated to CPU 1 (7.0 profile), then it exits and its task exits.
    sw(4500, 1, idle, vcpu1),
    guest(4500, 1, "load"),
    entry(4500, "vm0", 1, 1),
    entry(4700, "web", 0, 3),
    guest(4800, 1, "put"),
    exit(4800, "vm0", 1, 1, "io"),
    sw(4800, 1, vcpu1, idle),
    rec({ kind: "sched_exit", t: 4800, pid: 50, comm: "vm0/vcpu1" }),
    // A guest window on a CPU where no vCPU was seen: named "guest".
    guest(5000, 2, "load"),
  ];

  function render(
    opts: ConstructorParameters<typeof ChromeTraceSink>[1] = {},
    recs: TraceRecord[] = records,
  ) {
    const chunks: string[] = [];
    const sink = new ChromeTraceSink((s) => chunks.push(s), opts);
    let error: unknown = null;
    try {
      for (const r of recs) sink.write(r);
      sink.close();
    } catch (e) {
      error = e;
    }
    return { sink, chunks, text: chunks.join(""), error };
  }

  it("streams in chunks that concatenate to the trace", () => {
    const { chunks, text, sink } = render({ chunkChars: 64, endTime: 5_000_000 as Ns });
    expect(chunks.length).toBeGreaterThan(5);
    const j = JSON.parse(text) as TraceFile;
    expect(sink.eventsWritten).toBe(j.traceEvents.length);
    expect(sink.bytesWritten).toBe(Buffer.byteLength(text));
    checkTracks(j.traceEvents);
  });

  it("writes ns-precise µs timestamps, coalesces same-instant churn, ends slices at endTime", () => {
    const { text } = render({ endTime: 5_000_000 as Ns });
    const j = JSON.parse(text) as TraceFile;
    const ev = j.traceEvents;
    expect(text).toContain('"ts":2000.001');
    const slot0 = ev.filter((e) => e.ph !== "M" && e.tid === 1_002_100);
    // cycles is released at 4 ms; the guest contexts loaded from 4 ms (7.0) and 4.6 ms (RFC)
    // then hold the slot (no kvm_entry names the vCPU here: plain "guest").
    expect(slot0.map((e) => [e.ph, e.name ?? "", e.ts])).toEqual([
      ["B", "cycles", 1],
      ["E", "", 4000],
      ["B", "guest", 4000],
      ["E", "", 4500],
      ["B", "guest", 4600],
      ["E", "", 5000],
    ]);
    expect(ev.some((e) => e.name === "brief")).toBe(false);
    const task = ev.filter((e) => e.ph === "B" || e.ph === "E").filter((e) => e.tid === 1_002_000);
    expect(task.map((e) => [e.ph, e.ts])).toEqual([
      ["B", 0],
      ["E", 3500],
    ]);
    expect(task[0]!.name).toBe('a"b [7]');
    const uncore = ev.filter((e) => e.ph === "E" && e.tid === 1_900_002);
    expect(uncore.map((e) => e.ts)).toEqual([5000]);
    const names = ev.filter((e) => e.name === "thread_name").map((e) => e.args!.name);
    expect(names).toContain("uncore_imc_0 ctr 2");
    expect(names).toContain("host / perf (no CPU)");
    expect(names).toContain("CPU 1 / cpu ctr 0"); // no machine: no slot label
    const guest = ev.filter((e) => (e.ph === "B" || e.ph === "E") && e.tid === 1_002_002);
    expect(guest.map((e) => [e.ph, e.name ?? "", e.ts])).toEqual([
      ["B", "guest context loaded", 4000],
      ["E", "", 4500],
      ["B", "guest (perf_guest_enter)", 4600],
      ["E", "", 5000],
    ]);
    expect(names).toContain("CPU 1 / guest");
    const inUse = ev.filter((e) => e.ph === "C" && e.name === "CPU 1");
    expect(inUse.map((e) => [e.ts, e.args!["counters in use"]])).toEqual([
      [1, 1],
      [4000, 0],
    ]);
  });

  /**
   * Renders `recs` under caps from tiny to past the full size. The cap keeps room for the
   * `E` of every open slice with its `ts` at its longest (20 characters), so a cap up to
   * 20 bytes per open slice above the full size may still stop the trace.
   */
  function checkCaps(recs: TraceRecord[], opts: ConstructorParameters<typeof ChromeTraceSink>[1]) {
    const full = render(opts, recs).text;
    const slack = 20 * 10;
    for (let cap = 120; cap < full.length + slack + 50; cap += 37) {
      const { text, error } = render({ ...opts, maxBytes: cap }, recs);
      const j = JSON.parse(text) as TraceFile;
      checkTracks(j.traceEvents);
      if (error === null) expect(text).toBe(full);
      else {
        expect(error).toBeInstanceOf(TraceSizeCapError);
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(cap);
        expect(cap).toBeLessThan(full.length + slack);
      }
      if (cap < full.length) expect(error).toBeInstanceOf(TraceSizeCapError);
    }
  }

  it("ends validly under any size cap, never passing it", () => {
    checkCaps(records, {});
    checkCaps(vmRecords, { endTime: 6_000 as Ns });
  });

  it("tracks vCPU states, VM exits and guest-held counter slots from KVM records", () => {
    const { text, error } = render({ endTime: 6_000 as Ns }, vmRecords);
    expect(error).toBeNull();
    const ev = (JSON.parse(text) as TraceFile).traceEvents;
    checkTracks(ev);
    const procs = ev.filter((e) => e.name === "process_name");
    expect(procs.map((e) => [e.pid, e.args!.name])).toEqual([
      [1, "host"],
      [2, "VM vm0"],
      [3, "VM web"],
    ]);
    const threads = ev.filter((e) => e.name === "thread_name" && e.pid > 1);
    expect(threads.map((e) => [e.pid, e.tid, e.args!.name])).toEqual([
      [2, 2_002_000, "vCPU 1"],
      [3, 3_001_000, "vCPU 0"],
    ]);
    const slices = (pid: number, tid: number) =>
      ev
        .filter((e) => e.pid === pid && e.tid === tid && (e.ph === "B" || e.ph === "E"))
        .map((e) => (e.ph === "B" ? [e.ts, e.name, e.args ?? null] : [e.ts]));
    expect(slices(2, 2_002_000)).toEqual([
      [0, "not running", null],
      [2],
      [2, "in guest", { cpu: 0 }],
      [3],
      [3, "in host", { cpu: 0 }],
      [3.5],
      [3.5, "in guest", { cpu: 0 }],
      [4],
      [4, "not running", null],
      [4.5],
      [4.5, "in guest", { cpu: 1 }],
      [4.8], // in host and not running for 0 ns, then the task exits
    ]);
    const exits = ev.filter((e) => e.ph === "i" && e.pid === 2);
    expect(exits.map((e) => [e.ts, e.name, e.tid, e.args])).toEqual([
      [3, "pmi", 2_002_000, { cpu: 0, reason: "pmi" }],
      [4, "preempt", 2_002_000, { cpu: 0, reason: "preempt" }],
      [4.8, "io", 2_002_000, { cpu: 1, reason: "io" }],
    ]);
    expect(slices(3, 3_001_000)).toEqual([[4.7, "in guest", { cpu: 3 }], [6]]);
    // CPU 0's slot: the host's cycles, and the guest while its context is in.
    expect(slices(1, 1_001_100)).toEqual([
      [1, "cycles", null],
      [2],
      [2, "guest vm0/1", null],
      [3],
      [3, "cycles", null],
      [3.5],
      [3.5, "guest vm0/1", null],
      [4],
      [4, "cycles", null],
      [6],
    ]);
    expect(slices(1, 1_003_101)).toEqual([[0, "x", null], [5], [5, "guest", null], [6]]);
    // "counters in use" counts the host's holders only.
    const inUse = ev.filter((e) => e.ph === "C" && e.name === "CPU 0");
    expect(inUse.map((e) => [e.ts, e.args!["counters in use"]])).toEqual([
      [1, 1],
      [2, 0],
      [3, 1],
      [3.5, 0],
      [4, 1],
    ]);
    // The comm "a/vcpu01" is a host task, not a vCPU.
    expect(ev.filter((e) => e.ph === "B" && e.tid === 1_001_000).map((e) => e.name)).toEqual([
      "a/vcpu01 [60]",
      "vm0/vcpu1 [50]",
      "a/vcpu01 [60]",
    ]);
  });

  it("creates every core counter slot of a CPU when a guest loads there (machine known)", () => {
    const machine = loadScenarioFile(join(root, "examples/x86-mediated.yaml"));
    if (!machine.ok) throw new Error("example does not load");
    const { text } = render({ machine: machine.scenario.machine }, vmRecords);
    const ev = (JSON.parse(text) as TraceFile).traceEvents;
    const names = ev
      .filter((e) => e.name === "thread_name" && /^CPU 1 \/ cpu ctr/.test(e.args!.name as string))
      .map((e) => e.args!.name);
    expect(names).toHaveLength(11);
    expect(names).toContain("CPU 1 / cpu ctr 34 (fixed2)");
    const guestOn1 = ev.filter(
      (e) => e.ph === "B" && e.name === "guest vm0/1" && e.tid < 1_003_000,
    );
    expect(guestOn1.filter((e) => e.tid >= 1_002_000)).toHaveLength(11);
  });

  it("gives each VM its own process, numbered in order of appearance", () => {
    const chunks: string[] = [];
    const sink = new ChromeTraceSink((s) => chunks.push(s));
    expect(sink.vmProcess("vm0")).toBe(TRACE_LAYOUT.vmPid(0));
    expect(sink.vmProcess("web")).toBe(3);
    expect(sink.vmProcess("vm0")).toBe(2);
    sink.close();
    const j = JSON.parse(chunks.join("")) as TraceFile;
    const procs = j.traceEvents.filter((e) => e.name === "process_name");
    expect(procs.map((e) => [e.pid, e.args!.name])).toEqual([
      [1, "host"],
      [2, "VM vm0"],
      [3, "VM web"],
    ]);
  });

  it("ignores records after close", () => {
    const chunks: string[] = [];
    const sink = new ChromeTraceSink((s) => chunks.push(s));
    sink.close();
    sink.write(records[0]!);
    sink.close();
    expect(JSON.parse(chunks.join(""))).toMatchObject({ traceEvents: [{ ph: "M" }, { ph: "M" }] });
  });
});
