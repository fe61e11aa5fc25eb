import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { root } from "./cli-helpers.js";
import {
  compile,
  expectSameRows,
  haveCc,
  havePerf,
  parsePerfCsv,
  required,
  runText,
  vpmuExec,
  vpmuRows,
} from "./exec-helpers.js";

/**
 * The unmodified perf 6.1 (Debian linux-perf) against simulated hosts, in simulated time:
 * perf's own -x, output must equal vpmu's report of the same interval, the same every run,
 * and perf's own messages must follow from the model's errnos.
 */
const run = havePerf && haveCc ? describe.concurrent : required ? describe : describe.skip;
if (!havePerf && !required)
  process.stderr.write("exec-perf: perf (linux-perf) is not installed; these tests are skipped\n");

const example = (f: string) => readFileSync(join(root, "examples", f), "utf8");

/** A scenario file: the example (or text) with `perf` replaced by one measurement. */
function scenarioWith(text: string, measurement: Record<string, unknown> | null): string {
  const doc = parse(text) as Record<string, unknown>;
  if (measurement) {
    doc.perf = [measurement];
    delete doc.expect;
  }
  const f = join(mkdtempSync(join(tmpdir(), "vpmu-exec-test-")), "s.yaml");
  writeFileSync(f, stringify(doc));
  return f;
}

const PINNED = "r00c4:D,r00c4:D,r00c4:D,r00c4:D,r00c4:D,r00c4:D,r00c4:D,r00c4:D,r00c5:D,r01c4:D";
const MUX =
  "cycles,instructions,branches,branch-misses,cache-references,cache-misses,r01c4,r81d0,r82d0,bus-cycles,ref-cycles,cycles:u,instructions:k,branches:u";

/** Runs the same vpmu exec twice at once; both must print the same, byte for byte. */
async function twice(args: string[]) {
  const [a, b] = await Promise.all([vpmuExec(args), vpmuExec(args)]);
  expect(b.err, "a second run prints the same").toBe(a.err);
  expect(b.out).toBe(a.out);
  return a;
}

run("perf stat -x, equals vpmu's report (simulated time)", () => {
  it("perf list pmu on rk3399: each cluster's PMU and its sysfs aliases", async () => {
    const r = await vpmuExec(["--machine", "rk3399", "--", "perf", "list", "pmu"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/cpu_cycles OR armv8_cortex_a53\/cpu_cycles\/\s+\[Kernel PMU event\]/);
    expect(r.out).toMatch(/inst_spec OR armv8_cortex_a72\/inst_spec\//);
    // The A53 has no INST_SPEC, and its sysfs does not list it.
    expect(r.out).not.toMatch(/armv8_cortex_a53\/inst_spec\//);
  });

  it("rk3399 -a: legacy cycles and instructions over both clusters", async () => {
    const text = example("big-little-counts.yaml");
    const f = scenarioWith(text, {
      name: "m",
      cpus: "0-5",
      events: "cycles,instructions",
      generic_events: "legacy",
    });
    const r = await twice([
      f,
      "--",
      "perf",
      "stat",
      "-x,",
      "-a",
      "-e",
      "cycles,instructions",
      "sleep",
      "0.1",
    ]);
    expect(r.code, r.err).toBe(0);
    const perf = parsePerfCsv(r.err);
    expectSameRows(perf, vpmuRows(runText(readFileSync(f, "utf8")), ["m"]));
    expect(perf[0]!.value).toBeGreaterThan(0);
  });

  it("rk3399 task event: a legacy cycles counts only on the first-probed cluster (A53), 50%", async () => {
    const r = await twice([
      "examples/big-little-task-event.yaml",
      "--task",
      "app",
      "--",
      "perf",
      "stat",
      "-x,",
      "-e",
      "cycles",
      "--",
      "sleep",
      "0.2",
    ]);
    expect(r.code, r.err).toBe(0);
    const perf = parsePerfCsv(r.err);
    const want = vpmuRows(runText(example("big-little-task-event.yaml")), ["legacy"]);
    expectSameRows(perf, want);
    expect(perf[0]).toMatchObject({ value: 283200000, pct: 50 });
  });

  it("x86-hybrid -a: perf 6.1 splits cycles into cpu_core/cycles/ and cpu_atom/cycles/", async () => {
    const text =
      "name: hybrid\nmachine: x86-hybrid\ntasks:\n  - { name: p, workload: compute, affinity: '1' }\n  - { name: e, workload: compute, affinity: '6' }\n";
    const f = scenarioWith(text, { name: "m", cpus: "0-7", events: "cycles,instructions" });
    const r = await twice([
      f,
      "--",
      "perf",
      "stat",
      "-x,",
      "-a",
      "-e",
      "cycles,instructions",
      "sleep",
      "0.1",
    ]);
    expect(r.code, r.err).toBe(0);
    const perf = parsePerfCsv(r.err);
    expect(perf.map((p) => p.event)).toEqual([
      "cpu_core/cycles/",
      "cpu_atom/cycles/",
      "cpu_core/instructions/",
      "cpu_atom/instructions/",
    ]);
    const want = vpmuRows(runText(readFileSync(f, "utf8")), ["m"]);
    // vpmu's report lists the same PMU split; compare by name.
    const byName = new Map(want.map((w) => [w.event, w]));
    expectSameRows(
      perf,
      perf.map((p) => byName.get(p.event) ?? { ...p, status: "missing" as never }),
    );
  });

  it("rk3399 -C 0,4: an A53 event that CPU 4 refuses (ENOENT) is <not supported> as a whole", async () => {
    // perf 6.1's stat_handle_error() marks the event unsupported at its first ENOENT,
    // though CPU 0 opened it; the A72's event fails on CPU 0 the same way.
    const f = scenarioWith(example("big-little-cpu-list.yaml"), {
      name: "m",
      cpus: "0,4",
      events: "armv8_cortex_a53/inst_retired/,armv8_cortex_a72/inst_retired/",
    });
    const r = await twice([
      f,
      "--",
      "perf",
      "stat",
      "-x,",
      "-C",
      "0,4",
      "-e",
      "armv8_cortex_a53/inst_retired/,armv8_cortex_a72/inst_retired/",
      "sleep",
      "0.05",
    ]);
    expect(r.code, r.err).toBe(0);
    const perf = parsePerfCsv(r.err);
    expect(perf.map((p) => p.status)).toEqual(["not supported", "not supported"]);
    expectSameRows(perf, vpmuRows(runText(readFileSync(f, "utf8")), ["m"]));
  });

  it("rk3399: a bare PMU alias (inst_retired) opens on both clusters' PMUs and prints as one line", async () => {
    const text =
      "name: alias\nmachine: rk3399\nduration: 50ms\ntasks:\n  - { name: a, workload: compute, affinity: '0' }\n  - { name: b, workload: compute, affinity: '4' }\n";
    for (const [cpus, args] of [
      ["0-5", ["-a"]],
      ["0,4", ["-C", "0,4"]],
    ] as const) {
      const f = scenarioWith(text, { name: "m", cpus, events: "inst_retired,cpu_cycles" });
      const r = await twice([
        f,
        "--",
        "perf",
        "stat",
        "-x,",
        ...args,
        "-e",
        "inst_retired,cpu_cycles",
        "sleep",
        "0.05",
      ]);
      expect(r.code, r.err).toBe(0);
      const perf = parsePerfCsv(r.err);
      expect(perf.map((p) => p.event)).toEqual(["inst_retired", "cpu_cycles"]);
      expectSameRows(perf, vpmuRows(runText(readFileSync(f, "utf8")), ["m"]));
    }
    // In a group: perf warns that the members' CPUs differ and opens them ungrouped.
    const g = scenarioWith(text, { name: "m", cpus: "0-5", events: "{cycles,inst_retired}" });
    const r = await twice([
      g,
      "--",
      "perf",
      "stat",
      "-x,",
      "-a",
      "-e",
      "{cycles,inst_retired}",
      "sleep",
      "0.05",
    ]);
    expect(r.code, r.err).toBe(0);
    const [warning, group, ...csv] = r.err.split("\n");
    expect([warning, group]).toEqual([
      "WARNING: grouped events cpus do not match, disabling group:",
      "  anon group { cycles, inst_retired, inst_retired }",
    ]);
    const perf = parsePerfCsv(csv.join("\n"));
    expect(perf.map((p) => p.event)).toEqual(["cycles", "inst_retired"]);
    const model = runText(readFileSync(g, "utf8"));
    expectSameRows(perf, vpmuRows(model, ["m"]));
    expect(model.perf[0]!.warnings).toEqual([warning, group]);
  });

  it("rk3399: groups whose members' CPUs differ, as perf breaks them up (-a) or fails (-C)", async () => {
    const text =
      "name: groups\nmachine: rk3399\nduration: 50ms\ntasks:\n  - { name: a, workload: compute, affinity: '1' }\n";
    const events =
      "{inst_retired},{armv8_cortex_a53/cpu_cycles/,armv8_cortex_a53/inst_retired/},{cycles,armv8_cortex_a72/cpu_cycles/}";
    const f = scenarioWith(text, { name: "m", cpus: "0-5", events });
    const r = await twice([f, "--", "perf", "stat", "-x,", "-a", "-e", events, "sleep", "0.05"]);
    expect(r.code, r.err).toBe(0);
    const lines = r.err.split("\n");
    const model = runText(readFileSync(f, "utf8")).perf[0]!;
    expect(lines.slice(0, 3)).toEqual(model.warnings);
    expectSameRows(
      parsePerfCsv(lines.slice(3).join("\n")),
      vpmuRows(runText(readFileSync(f, "utf8")), ["m"]),
    );
    // x86 hybrid: the generic events expand into one group of both PMUs' events.
    const hy = scenarioWith(
      "name: hy\nmachine: x86-hybrid\nduration: 20ms\ntasks:\n  - { name: a, workload: compute, affinity: '0' }\n",
      { name: "m", cpus: "0-7", events: "{cycles,instructions}" },
    );
    const h = await twice([
      hy,
      "--",
      "perf",
      "stat",
      "-x,",
      "-a",
      "-e",
      "{cycles,instructions}",
      "sleep",
      "0.02",
    ]);
    const hLines = h.err.split("\n");
    const hModel = runText(readFileSync(hy, "utf8"));
    expect(hLines.slice(0, 3)).toEqual(hModel.perf[0]!.warnings);
    expectSameRows(parsePerfCsv(hLines.slice(3).join("\n")), vpmuRows(hModel, ["m"]));
    // EINVAL (exclude bits on an uncore PMU) is <not supported>, not the end of perf.
    const inv = scenarioWith("name: inv\nmachine: x86-server\nduration: 20ms\n", {
      name: "m",
      cpus: "0-7",
      events: "uncore_imc_0/cas_count_read/u,cycles",
    });
    const iv = await twice([
      inv,
      "--",
      "perf",
      "stat",
      "-x,",
      "-a",
      "-e",
      "uncore_imc_0/cas_count_read/u,cycles",
      "sleep",
      "0.02",
    ]);
    expect(iv.code, iv.err).toBe(0);
    expectSameRows(parsePerfCsv(iv.err), vpmuRows(runText(readFileSync(inv, "utf8")), ["m"]));
    // An offline CPU in a -C list: ENODEV, and perf stops with evsel__open_strerror()'s words.
    const off = scenarioWith(
      "name: off\nmachine:\n  preset: x86-server\n  offline: [3]\nduration: 20ms\n",
      { name: "m", cpus: "1,3", events: "cycles" },
    );
    const o = await twice([
      off,
      "--",
      "perf",
      "stat",
      "-x,",
      "-C",
      "1,3",
      "-e",
      "cycles",
      "sleep",
      "0.02",
    ]);
    const oErr = runText(readFileSync(off, "utf8")).perf[0]!.error;
    expect(o.err.trim().split("\n")).toEqual(["Error:", oErr]);
    // -C 0,4: the maps match, the group stays, its leader fails on CPU 4: perf stops.
    const c = scenarioWith(text, { name: "m", cpus: "0,4", events: "{inst_retired,cpu_cycles}" });
    const e = await twice([
      c,
      "--",
      "perf",
      "stat",
      "-x,",
      "-C",
      "0,4",
      "-e",
      "{inst_retired,cpu_cycles}",
      "sleep",
      "0.05",
    ]);
    const err = runText(readFileSync(c, "utf8")).perf[0]!.error;
    expect(e.err.trim().split("\n")).toEqual(["Error:", err]);
  });

  it("pinned-overcommit: pinned events beyond the counters read <not counted>", async () => {
    const r = await twice([
      "examples/pinned-overcommit.yaml",
      "--",
      "perf",
      "stat",
      "-x,",
      "-C",
      "3",
      "-e",
      `${PINNED},r00c5`,
      "sleep",
      "0.1",
    ]);
    expect(r.code, r.err).toBe(0);
    const perf = parsePerfCsv(r.err);
    expectSameRows(
      perf,
      vpmuRows(runText(example("pinned-overcommit.yaml")), ["pinned", "flexible"]),
    );
    expect(perf.slice(8).map((p) => [p.status, p.pct])).toEqual([
      ["not counted", 100],
      ["not counted", 100],
      ["not counted", 0],
    ]);
  });

  it("host-multiplexing: perf's own percentages from the model's enabled and running times", async () => {
    const args = [
      "examples/host-multiplexing.yaml",
      "--",
      "perf",
      "stat",
      "-x,",
      "-C",
      "2",
      "-e",
      MUX,
      "sleep",
      "0.4",
    ];
    const a = await twice(args);
    expect(a.code, a.err).toBe(0);
    const perf = parsePerfCsv(a.err);
    expectSameRows(perf, vpmuRows(runText(example("host-multiplexing.yaml")), ["stat"]));
    expect(perf.find((p) => p.event === "cycles")!.pct).toBe(71);
  });

  it("a 7.0 host with a mediated VM: cycles opens (exclude_guest), cycles:G and cycles:GH are EOPNOTSUPP", async () => {
    const f = scenarioWith(example("x86-mediated.yaml"), {
      name: "m",
      cpus: "0-7",
      // perf 6.1 opens a plain `cycles` with exclude_guest = 1, which is vpmu's `cycles:H`
      // (src/perf/tool/parse-events.ts keeps both exclude bits 0 without a G/H modifier).
      events: "cycles:H,cycles:G,cycles:GH",
      start: "20ms",
      stop: "70ms",
    });
    const cmd = ["perf", "stat", "-x,", "-a", "-e", "cycles,cycles:G,cycles:GH", "sleep", "0.05"];
    const r = await twice([f, "--at", "20ms", "--", ...cmd]);
    expect(r.code, r.err).toBe(0);
    const perf = parsePerfCsv(r.err);
    const want = vpmuRows(runText(readFileSync(f, "utf8")), ["m"]);
    want[0]!.event = "cycles";
    expectSameRows(perf, want);
    expect(perf.map((p) => p.status)).toEqual(["counted", "not supported", "not supported"]);
    const v = await vpmuExec([
      f,
      "--at",
      "20ms",
      "--",
      "perf",
      "stat",
      "-v",
      "-a",
      "-e",
      "cycles:G",
      "sleep",
      "0.01",
    ]);
    expect(v.err).toContain("cycles:G event is not supported by the kernel.");
  });

  it("perf stat -I 100: intervals at the model's 100 ms, the same every run", async () => {
    const args = [
      "--machine",
      "x86-server",
      "--",
      "perf",
      "stat",
      "-I",
      "100",
      "-x,",
      "-e",
      "task-clock",
      "--",
      "sleep",
      "0.3",
    ];
    const [a, b] = await Promise.all([vpmuExec(args), vpmuExec(args)]);
    expect(a.code, a.err).toBe(0);
    const lines = a.err.trim().split("\n");
    expect(lines.map((l) => l.trim().split(",").slice(0, 4).join(","))).toEqual([
      "0.100000000,100.00,msec,task-clock",
      "0.200000000,100.00,msec,task-clock",
      "0.300000000,100.00,msec,task-clock",
    ]);
    expect(b.err).toBe(a.err);
  });

  it("several processes share the simulated clock: sh -c with two sleeps, perf stat -p", async () => {
    const [a, b] = await Promise.all([
      vpmuExec([
        "--machine",
        "x86-server",
        "--",
        "perf",
        "stat",
        "-x,",
        "-e",
        "task-clock",
        "--",
        "sh",
        "-c",
        "sleep 0.1; sleep 0.1",
      ]),
      vpmuExec([
        "--machine",
        "x86-server",
        "--",
        "sh",
        "-c",
        "sleep 5 & perf stat -x, -p $! -e cycles -- sleep 0.5; kill $!",
      ]),
    ]);
    expect(a.code, a.err).toBe(0);
    expect(a.err.split(",").slice(0, 3)).toEqual(["200.00", "msec", "task-clock"]);
    expect(b.code, b.err).toBe(0);
    // The -p target maps to a compute task on a 3 GHz core: 0.5 s of cycles.
    expect(parsePerfCsv(b.err)[0]).toMatchObject({ event: "cycles", value: 1500000000 });
  });

  it("perf stat -- sleep 1: one simulated second, user/sys from the model task", async () => {
    const r = await vpmuExec([
      "--machine",
      "rk3399",
      "--",
      "perf",
      "stat",
      "-e",
      "task-clock",
      "--",
      "sleep",
      "1",
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^\s+1000\.00 msec task-clock /m);
    expect(r.err).toMatch(/^\s+1\.000000000 seconds time elapsed$/m);
    const user = Number(/([\d.]+) seconds user/.exec(r.err)![1]);
    const sys = Number(/([\d.]+) seconds sys/.exec(r.err)![1]);
    expect(user + sys).toBeCloseTo(1, 6);
  });
});

run("the errno path: perf's own messages", () => {
  it("EBUSY: an exclusive PMU held by a task event", async () => {
    const f = scenarioWith(
      "name: ebusy\nmachine: x86-server\ntasks:\n  - { name: w, workload: compute, affinity: '1' }\nactions:\n  - { at: 1ms, do: perf_event_open, name: pt, attr: { type: 7 }, task: w, expect: { ok: true } }\n",
      null,
    );
    const r = await vpmuExec([
      f,
      "--at",
      "1ms",
      "--",
      "perf",
      "stat",
      "-a",
      "-e",
      "intel_pt//",
      "sleep",
      "0.01",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(
      "The sys_perf_event_open() syscall returned with 16 (Device or resource busy) for event (intel_pt//).",
    );
  });

  it("EOPNOTSUPP: sampling an uncore PMU (no interrupt)", async () => {
    const r = await vpmuExec([
      "--machine",
      "x86-server",
      "--",
      "perf",
      "record",
      "-a",
      "-e",
      "uncore_imc_0/cas_count_read/",
      "-o",
      "/dev/null",
      "sleep",
      "0.01",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(
      "uncore_imc_0/cas_count_read/: PMU Hardware doesn't support sampling/overflow-interrupts. Try 'perf stat'",
    );
  });

  it("ENOENT: a Cortex-A53 event on an A72 CPU", async () => {
    const ev = "armv8_cortex_a53/cpu_cycles/";
    const [rec, stat] = await Promise.all([
      vpmuExec([
        "--machine",
        "rk3399",
        "--",
        "perf",
        "record",
        "-C",
        "4",
        "-e",
        ev,
        "-o",
        "/dev/null",
        "sleep",
        "0.01",
      ]),
      vpmuExec([
        "--machine",
        "rk3399",
        "--",
        "perf",
        "stat",
        "-x,",
        "-C",
        "4",
        "-e",
        `${ev},armv8_cortex_a72/cpu_cycles/`,
        "sleep",
        "0.01",
      ]),
    ]);
    expect(rec.err).toContain(`The ${ev} event is not supported.`);
    expect(parsePerfCsv(stat.err).map((p) => p.status)).toEqual(["not supported", "counted"]);
  });

  it("EINVAL: exclude bits on an uncore PMU", async () => {
    const ev = "uncore_imc_0/cas_count_read/u";
    const r = await vpmuExec([
      "--machine",
      "x86-server",
      "--",
      "perf",
      "record",
      "-a",
      "-e",
      ev,
      "-o",
      "/dev/null",
      "sleep",
      "0.01",
    ]);
    expect(r.err).toContain(
      `The sys_perf_event_open() syscall returned with 22 (Invalid argument) for event (${ev}).`,
    );
  });

  it("E2BIG: a group whose read() would pass 16 KiB", async () => {
    const group = `{${Array(1030).fill("cpu-clock").join(",")}}`;
    const r = await vpmuExec([
      "--machine",
      "x86-server",
      "--",
      "perf",
      "stat",
      "-C",
      "0",
      "-e",
      group,
      "sleep",
      "0.01",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(
      "The sys_perf_event_open() syscall returned with 7 (Argument list too long) for event (cpu-clock).",
    );
  });

  it("EACCES: -a without CAP_PERFMON at perf_event_paranoid 2 makes perf read the sysctl", async () => {
    const r = await vpmuExec([
      "--unprivileged",
      "--machine",
      "x86-server",
      "--",
      "perf",
      "stat",
      "-a",
      "-e",
      "cycles",
      "sleep",
      "0.01",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("perf_event_paranoid setting is 2:");
  });
});

run("the shim's ABI, seen from C", () => {
  let probe = "";
  beforeAll(() => {
    probe = compile("test/exec/abi-probe.c", "abi-probe");
  });

  it("read formats, groups, ioctls, attr sizes, descriptors, fork and exec", async () => {
    const f = scenarioWith(
      "name: probe\nmachine: x86-server\ntasks:\n  - { name: w, workload: compute, affinity: '1' }\n",
      null,
    );
    const r = await vpmuExec([f, "--", probe, "checks"]);
    expect(r.code, r.err).toBe(0);
    const got = Object.fromEntries(
      r.out
        .trim()
        .split(/\s+/)
        .map((kv) => kv.split("=") as [string, string]),
    );
    expect(got).toEqual({
      read_rf0: "8",
      read_rf1: "16",
      read_rf2: "16",
      read_rf4: "16",
      read_rf23: "40",
      ioctl_id: "0",
      ioctl_enable_group: "0",
      slept_ns: "5000000",
      group_read_short: "ENOSPC",
      group_read: "72",
      group_nr: "3",
      ena: "5000000",
      run: "5000000",
      group_id_match: "1",
      group_counting: "1",
      ioctl_disable: "0",
      ioctl_reset: "0",
      after_reset: "0",
      ioctl_notty: "ENOTTY",
      ioctl_pause_output: "EINVAL",
      ioctl_set_filter: "EINVAL",
      ioctl_id_null: "EFAULT",
      ioctl_period_counting: "EINVAL",
      ioctl_set_output_none: "0",
      ioctl_set_output_int_minus1: "EBADF",
      ioctl_set_output_pipe: "EBADF",
      group_fd_pipe: "EBADF",
      attr_tail_nonzero: "E2BIG",
      attr_size_written: "136",
      attr_tail_zero: "0",
      attr_size_32: "E2BIG",
      attr_size_0: "0",
      attr_size_ver5: "0",
      attr_reserved_bit: "EINVAL",
      attr_bad_flags: "EINVAL",
      attr_null: "EFAULT",
      read_after_dup_close: "8",
      fcntl_dupfd_ge_100: "1",
      cloexec: "1",
      read_dup2: "8",
      poll: "1",
      poll_revents_hup: "1",
      mmap: "0",
      pread: "ESPIPE",
      read_closed: "EBADF",
      fork_child_read: "0",
      read_error_event: "0",
      read_plain_after_closefrom: "8",
      open_after_closefrom: "0",
      read_after_exec: "8",
    });
  });

  it("a process that outlives the server gets EIO and one message, never the real kernel", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vpmu-orphan-"));
    const out = join(dir, "result");
    const r = await vpmuExec([
      "--machine",
      "x86-server",
      "--",
      "sh",
      "-c",
      `${probe} orphan ${out} 2>${dir}/err &`,
    ]);
    expect(r.code).toBe(0);
    for (let i = 0; i < 200 && !existsSync(out); i++)
      await new Promise((res) => setTimeout(res, 25));
    expect(readFileSync(out, "utf8")).toBe("orphan=EIO\n");
    const err = readFileSync(join(dir, "err"), "utf8");
    expect(err.match(/vpmu exec server is gone/g)).toHaveLength(1);
  });
});

run("bad input and process handling", () => {
  it("without the shim (no C compiler at build time), vpmu exec says how to get one", async () => {
    const r = await vpmuExec(["--machine", "rk3399", "--", "true"], {
      VPMU_SHIM: "/nonexistent/shim.so",
    });
    expect(r.code).toBe(2);
    expect(r.err).toContain("the preload shim /nonexistent/shim.so is missing");
    expect(r.err).toContain("Install a C compiler (Debian, Ubuntu: apt-get install gcc");
  });

  it("a command that does not exist exits 127, as a shell would", async () => {
    const r = await vpmuExec(["--machine", "rk3399", "--", "no-such-command-vpmu"]);
    expect(r.code).toBe(127);
    expect(r.err).toBe("vpmu exec: no-such-command-vpmu: command not found\n");
  });

  it("a statically linked binary gets a clear message and exit 2", async () => {
    const r = await vpmuExec(["--machine", "rk3399", "--", "/sbin/ldconfig", "-p"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/ldconfig is statically linked: the preload shim cannot interpose it/);
  });

  it("a scenario error exits 2 with file:line:col", async () => {
    const f = join(mkdtempSync(join(tmpdir(), "vpmu-bad-")), "bad.yaml");
    writeFileSync(f, "name: bad\nmachine: rk3399\ntasks:\n  - { name: a, workload: nope }\n");
    const r = await vpmuExec([f, "--", "true"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^${f}:4:\\d+: tasks\\[0\\]\\.workload: `, "m"));
  });

  it("usage errors: no --machine or scenario, --time-scale without --wall-clock, an unknown --task, no --variant", async () => {
    const [a, b, c, d] = await Promise.all([
      vpmuExec(["--", "true"]),
      vpmuExec(["--machine", "rk3399", "--time-scale", "2", "--", "true"]),
      vpmuExec(["examples/big-little-counts.yaml", "--task", "nope", "--", "true"]),
      vpmuExec(["examples/x86-vpmu-modes.yaml", "--", "true"]),
    ]);
    expect([a.code, b.code, c.code, d.code]).toEqual([2, 2, 2, 2]);
    expect(d.err).toContain("has variants (one of: emulated, mediated, rfc-v1)");
    expect(a.err).toContain("give a scenario file or --machine PRESET");
    expect(b.err).toContain("--time-scale: only with --wall-clock");
    expect(c.err).toContain('--task: no task "nope"');
  });

  it("a killed command: its status is 128+signal and the server removes everything", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "vpmu-killed-"));
    const r = await vpmuExec(["--machine", "x86-server", "--", "sh", "-c", "kill -9 $$"], {
      TMPDIR: tmp,
    });
    expect(r.code).toBe(137);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it("the exit status is the command's; two vpmu exec at once are independent", async () => {
    const [a, b, c] = await Promise.all([
      vpmuExec([
        "--machine",
        "rk3399",
        "--",
        "perf",
        "stat",
        "-x,",
        "-e",
        "cycles",
        "--",
        "sleep",
        "0.1",
      ]),
      vpmuExec([
        "--machine",
        "x86-server",
        "--",
        "perf",
        "stat",
        "-x,",
        "-e",
        "cycles",
        "--",
        "sleep",
        "0.1",
      ]),
      vpmuExec(["--machine", "rk3399", "--", "sh", "-c", "exit 3"]),
    ]);
    expect(parsePerfCsv(a.err)[0]!.value).toBe(141600000);
    expect(parsePerfCsv(b.err)[0]!.value).toBe(300000000);
    expect(c.code).toBe(3);
  });

  it("--wall-clock: the model follows the monotonic clock", async () => {
    const r = await vpmuExec([
      "--wall-clock",
      "--machine",
      "x86-server",
      "--",
      "perf",
      "stat",
      "-x,",
      "-e",
      "task-clock",
      "--",
      "sleep",
      "0.2",
    ]);
    expect(r.code, r.err).toBe(0);
    const ms = Number(r.err.split(",")[0]);
    // A real 0.2 s sleep: the model task ran for as long (the bounds allow a slow machine).
    expect(ms).toBeGreaterThan(150);
    expect(ms).toBeLessThan(2000);
  });
});
