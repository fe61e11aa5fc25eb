import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { bin, root } from "./cli-helpers.js";
import { compile, haveCc, havePerf, required, vpmuExec } from "./exec-helpers.js";

/**
 * perf record 6.1 against the model's ring buffers (simulated time): the samples are the
 * model's overflows (count / period, exactly), perf report and perf script read them back,
 * and two runs give the same output. The shim's mmap ABI is checked from C.
 */
const run = havePerf && haveCc ? describe.concurrent : required ? describe : describe.skip;
if (!havePerf && !required)
  process.stderr.write(
    "exec-record: perf (linux-perf) is not installed; these tests are skipped\n",
  );

/** Two compute tasks pinned to CPUs 1 and 2 of x86-server (3 GHz cycles each). */
const SCENARIO = `name: exec-record
machine: x86-server
tasks:
  - { name: app, workload: compute, affinity: "1" }
  - { name: db, workload: compute, affinity: "2" }
`;

function tmp(name: string, text?: string): string {
  const f = join(mkdtempSync(join(tmpdir(), "vpmu-record-")), name);
  if (text !== undefined) writeFileSync(f, text);
  return f;
}

/** perf report / perf script on a perf.data file (perf's own output, its random tip left out). */
function perfRead(args: string[]): string {
  const r = spawnSync("perf", args, { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .split("\n")
    .filter((l) => !l.startsWith("# (Tip:"))
    .join("\n");
}

/** The model's per-CPU cycles over the same interval, from perf stat -a -A -x, through vpmu. */
async function perCpuCycles(scenario: string, seconds: string): Promise<Map<number, number>> {
  const r = await vpmuExec([
    scenario,
    "--",
    "perf",
    "stat",
    "-a",
    "-A",
    "-x,",
    "-e",
    "cycles",
    "--",
    "sleep",
    seconds,
  ]);
  expect(r.code, r.err).toBe(0);
  const m = new Map<number, number>();
  for (const l of r.err.trim().split("\n")) {
    const f = l.split(",");
    if (f[0]?.startsWith("CPU")) m.set(Number(f[0].slice(3)), Number(f[1]));
  }
  return m;
}

async function record(scenario: string, out: string, extra: string[], seconds = "0.01") {
  const r = await vpmuExec([
    scenario,
    "--",
    "perf",
    "record",
    ...extra,
    "-o",
    out,
    "--",
    "sleep",
    seconds,
  ]);
  expect(r.code, r.err).toBe(0);
  return r;
}

run("perf record against the model's ring buffers", () => {
  let scenario = "";
  beforeAll(() => {
    scenario = tmp("s.yaml", SCENARIO);
  });

  it("-a -c 100000: one sample per 100000 cycles of each CPU, with the model's task names", async () => {
    const counts = await perCpuCycles(scenario, "0.01");
    const out = tmp("perf.data");
    const r = await record(scenario, out, ["-e", "cycles", "-c", "100000", "-a"]);
    expect(r.err).toMatch(/Captured and wrote .* \(600 samples\)/);
    const script = perfRead(["script", "-i", out, "-F", "comm,tid,cpu,period,event"]);
    const lines = script.trim().split("\n");
    const perCpu = new Map<number, number>();
    for (const l of lines) {
      const cpu = Number(/\[(\d+)\]/.exec(l)![1]);
      perCpu.set(cpu, (perCpu.get(cpu) ?? 0) + 1);
    }
    const expected = new Map(
      [...counts].filter(([, c]) => c >= 100000).map(([cpu, c]) => [cpu, Math.floor(c / 100000)]),
    );
    expect(perCpu).toEqual(expected);
    expect(expected).toEqual(
      new Map([
        [1, 300],
        [2, 300],
      ]),
    );
    expect(lines.filter((l) => /^\s*app\s+\d+ \[001\]\s+100000\s+cycles:/.test(l))).toHaveLength(
      300,
    );
    expect(lines.filter((l) => /^\s*db\s+\d+ \[002\]\s+100000\s+cycles:/.test(l))).toHaveLength(
      300,
    );
    const report = perfRead(["report", "-i", out, "--stdio", "--sort", "comm"]);
    expect(report).toContain("# Total Lost Samples: 0");
    expect(report).toContain("# Samples: 600  of event 'cycles'");
    expect(report).toContain("# Event count (approx.): 60000000");
    expect(report).toMatch(/^\s+50\.00%\s+app\s*$/m);
    expect(report).toMatch(/^\s+50\.00%\s+db\s*$/m);
  });

  it("two runs give the same perf script and perf report output (x86-server preset and the scenario)", async () => {
    for (const host of [["--machine", "x86-server"], [scenario]]) {
      const outs = [tmp("a.data"), tmp("b.data")];
      await Promise.all(
        outs.map((o) =>
          vpmuExec([
            ...host,
            "--",
            "perf",
            "record",
            "-e",
            "cycles",
            "-c",
            "100000",
            "-a",
            "-o",
            o,
            "--",
            "sleep",
            "0.01",
          ]),
        ),
      );
      const [a, b] = outs.map((o) => [
        perfRead(["script", "-i", o]),
        perfRead(["report", "-i", o, "--stdio"]),
      ]);
      expect(b).toEqual(a);
    }
  });

  it("a one-page buffer: perf is woken at each half-buffer watermark and loses nothing", async () => {
    const out = tmp("m.data");
    const r = await record(scenario, out, ["-m", "1", "-e", "cycles", "-c", "10000", "-a"]);
    const woken = Number(/Woken up (\d+) times/.exec(r.err)![1]);
    expect(woken).toBeGreaterThan(50);
    const report = perfRead(["report", "-i", out, "--stdio", "--sort", "comm"]);
    expect(report).toContain("# Total Lost Samples: 0");
    // 30 000 000 cycles per CPU / 10 000.
    expect(report).toContain("# Event count (approx.): 60000000");
    expect(perfRead(["script", "-i", out]).trim().split("\n")).toHaveLength(6000);
  });

  it("a task (--task): per-CPU task events, COMM at exec, samples from the task's count", async () => {
    const stat = await vpmuExec([
      scenario,
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
      "0.01",
    ]);
    const count = Number(stat.err.trim().split(",")[0]);
    expect(count).toBe(30000000);
    const out2 = tmp("t2.data");
    const r = await vpmuExec([
      scenario,
      "--task",
      "app",
      "--",
      "perf",
      "record",
      "-e",
      "cycles",
      "-c",
      "100000",
      "-o",
      out2,
      "--",
      "sleep",
      "0.01",
    ]);
    expect(r.code, r.err).toBe(0);
    const script = perfRead(["script", "-i", out2, "--show-task-events"]);
    expect(script).toMatch(/PERF_RECORD_COMM exec: sleep:(\d+)\/\1/);
    expect(
      script.split("\n").filter((l) => / cycles: /.test(l) && /^\s*sleep /.test(l)),
    ).toHaveLength(count / 100000);
  });

  it("frequency mode (-F): the periods follow the model's rate; their sum is its count", async () => {
    const counts = await perCpuCycles(scenario, "0.1");
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const out = tmp("f.data");
    await record(scenario, out, ["-F", "1000", "-a"], "0.1");
    const report = perfRead(["report", "-i", out, "--stdio"]);
    const sum = Number(/# Event count \(approx\.\): (\d+)/.exec(report)![1]);
    expect(Math.abs(sum - total) / total).toBeLessThan(0.01);
    const samples = Number(/# Samples: (\d+)/.exec(report)![1]);
    // 1000 Hz on two busy CPUs for 0.1 s, after the period settles from 1.
    expect(samples).toBeGreaterThan(200);
    expect(samples).toBeLessThan(260);
  });
});

run("the shim's ring buffer ABI, seen from C", () => {
  it("perf_mmap() checks, the user page, samples, wakeups, LOST, PAUSE_OUTPUT, SET_OUTPUT, munmap", async () => {
    const probe = compile("test/exec/rb-probe.c", "rb-probe");
    const f = tmp(
      "p.yaml",
      "name: probe\nmachine: x86-server\ntasks:\n  - { name: w, workload: compute, affinity: '1' }\n",
    );
    const r = await vpmuExec([f, "--", probe]);
    expect(r.code, r.err).toBe(0);
    const got = Object.fromEntries(
      r.out
        .trim()
        .split(/\s+/)
        .map((kv) => kv.split("=") as [string, string]),
    );
    expect(got).toEqual({
      open: "0",
      mmap_len0: "EINVAL",
      mmap_4pages: "EINVAL",
      mmap_private: "EINVAL",
      mmap_pgoff: "EINVAL",
      mmap_inherit_task: "EINVAL",
      mmap_rounded_to_2_pages: "0",
      mmap_user_page_only: "0",
      pause_no_data_pages: "EINVAL",
      mmap: "0",
      data_offset: "4096",
      data_size: "32768",
      head0: "0",
      cap_bit0_is_deprecated: "1",
      mmap_other_size: "EINVAL",
      mmap_same_size: "0",
      mmap_plain_fd: "0",
      plain_pread: "1",
      plain_byte: "x",
      poll_empty: "0",
      // 20 ms of 3 GHz cycles on CPU 1, one sample per 100 000.
      samples: "600",
      expected: "600",
      same_buffer: "1",
      first_type: "9",
      first_size: "48",
      first_cpu: "1",
      first_period: "100000",
      first_time: "33334",
      poll_wakeup: "1",
      poll_pollin: "1",
      poll_again: "0",
      full_free_lt_record: "1",
      lost_records: "1",
      lost_positive: "1",
      seen_plus_lost_is_overflows: "1",
      pause: "0",
      paused_head_still: "1",
      resume: "0",
      pause_unmapped: "EINVAL",
      set_output_to_unmapped: "EINVAL",
      set_output_of_mapped: "EINVAL",
      set_output: "0",
      redirected_samples: "120",
      expected_redirected: "120",
      poll_redirected: "1",
      munmap: "0",
      munmap_last: "0",
      poll_unmapped: "1",
      poll_pollhup: "1",
    });
  });

  /** Eight compute tasks on CPUs 0-7: sampling every 5,000 cycles is far slower than real time. */
  const BUSY = `name: busy
machine: x86-server
tasks:
${Array.from({ length: 8 }, (_, i) => `  - { name: t${i}, workload: compute, affinity: "0-7" }`).join("\n")}
`;

  it("--wall-clock with a model slower than real time: the run ends, the lag is said once", async () => {
    const r = await vpmuExec([
      "--wall-clock",
      tmp("busy.yaml", BUSY),
      "--",
      "perf",
      "record",
      "-a",
      "-c",
      "5000",
      "-e",
      "cycles",
      "-o",
      tmp("perf.data"),
      "--",
      "sleep",
      "0.3",
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err.split("simulated time lags the wall clock").length).toBe(2);
    expect(r.err).toMatch(/Captured and wrote .* \(\d+ samples\)/);
  });

  it("SIGTERM during a long simulated sleep: vpmu exec still serves signals and cleans up", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vpmu-term-"));
    const data = tmp("perf.data");
    const args = [bin, "exec", tmp("busy.yaml", BUSY), "--", "perf", "record", "-a", "-c", "2000"];
    args.push("-e", "cycles", "-o", data, "--", "sleep", "1000");
    const p = spawn(process.execPath, args, { cwd: root, env: { ...process.env, TMPDIR: dir } });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    // perf installs its SIGTERM handler before it creates its output file.
    for (let i = 0; i < 200 && !existsSync(data); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    const t0 = performance.now();
    p.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => p.on("close", r));
    // The model is sliced (50 ms of work between turns of the event loop): the signal is
    // seen at once, not after 1,000 simulated seconds of sampling.
    expect(performance.now() - t0, err).toBeLessThan(10_000);
    expect(err).toMatch(/Captured and wrote/);
    expect(code).not.toBeNull();
    expect(readdirSync(dir)).toEqual([]);
  });
});
