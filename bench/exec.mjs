// `vpmu exec` benchmarks (part of `npm run bench`): round trips through the preload shim,
// and a whole `perf stat -a` on a 64-CPU simulated host against the same command on the
// real kernel. Needs perf (linux-perf) and a C compiler; without them the rows say so.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const vpmu = join(root, "dist", "bin", "vpmu.js");
const HW8 =
  "cycles,instructions,branches,branch-misses,cache-references,cache-misses,bus-cycles,ref-cycles";
const SW8 =
  "cpu-clock,task-clock,context-switches,cpu-migrations,page-faults,minor-faults,major-faults,alignment-faults";

const ok = (cmd, args) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;

/** Wall seconds of a command (median of `n` runs). */
function wall(cmd, args, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(n / 2)];
}

export function runExecBenchmarks(row, quick) {
  if (!ok("perf", ["--version"]) || !ok("cc", ["--version"])) {
    row("vpmu exec benchmarks", "skipped", "", "perf or cc not installed");
    return;
  }
  const bin = join(mkdtempSync(join(tmpdir(), "vpmu-bench-")), "exec-roundtrip");
  const cc = spawnSync("cc", ["-O2", "-o", bin, join(root, "bench", "exec-roundtrip.c")], {
    encoding: "utf8",
  });
  if (cc.status !== 0) throw new Error(cc.stderr);
  const n = quick ? 2000 : 10000;
  const r = spawnSync(
    process.execPath,
    [vpmu, "exec", "--machine", "x86-server", "--", bin, String(n)],
    {
      encoding: "utf8",
    },
  );
  const get = (k) => Number(new RegExp(`${k}=(\\d+)`).exec(r.stdout)?.[1]) / 1000;
  const open = get("open_median_ns");
  const read = get("read_median_ns");
  row(
    "vpmu exec: perf_event_open round trip (+ close)",
    open.toFixed(1),
    "us median",
    `${n} calls`,
  );
  row(
    "vpmu exec: read round trip",
    read.toFixed(1),
    "us median",
    `${Math.round(1e6 / read).toLocaleString("en-US")} reads/s`,
  );

  const runs = quick ? 3 : 5;
  const host = join(root, "bench", "exec-x86-64.yaml");
  const sim = wall(
    process.execPath,
    [vpmu, "exec", host, "--", "perf", "stat", "-a", "-e", HW8, "sleep", "0.1"],
    runs,
  );
  const real = wall("perf", ["stat", "-a", "-e", SW8, "sleep", "0.1"], runs);
  row(
    "vpmu exec perf stat -a, 8 events, 64 CPUs, sleep 0.1",
    sim.toFixed(3),
    "s wall",
    `real kernel, 8 software events: ${real.toFixed(3)} s; overhead ${(sim - real).toFixed(3)} s`,
  );
}
