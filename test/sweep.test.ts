import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sweepLaunch } from "../src/cli/sweep-prestart.js";
import { formatDiagnostic } from "../src/scenario/diagnostics.js";
import { parseSweep } from "../src/scenario/sweep/load.js";
import { mergedCsv, mergeResults } from "../src/scenario/sweep/merge.js";
import { pointAt, repSeed, type SweepPlan, shardPoints } from "../src/scenario/sweep/plan.js";
import { sweepHeader } from "../src/scenario/sweep/results.js";
import { recordLine, runPoint } from "../src/scenario/sweep/run.js";
import { bin, root, tmpFile, vpmu } from "./cli-helpers.js";
import { SWEEP } from "./sweep-helpers.js";

const noBase = () => ({ ok: false as const, message: "no such file" });

function plan(text = SWEEP): SweepPlan {
  const r = parseSweep(text, "s.yaml", noBase);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  return r.plan;
}

/** The diagnostics of a sweep file, formatted. */
function problems(text: string): string[] {
  const r = parseSweep(text, "s.yaml", noBase);
  return r.ok ? [] : r.diagnostics.map(formatDiagnostic);
}

describe("sweep plan", () => {
  it("orders points first axis outermost, seeds innermost, with stable hashes", () => {
    const p = plan(`${SWEEP}seeds: 2\n`);
    expect(p.points).toBe(12);
    expect(pointAt(p, 0).settings).toEqual({ vpmu: "emulated", events: "cycles" });
    expect(pointAt(p, 1)).toMatchObject({
      rep: 1,
      settings: { vpmu: "emulated", events: "cycles" },
    });
    expect(pointAt(p, 2).settings).toEqual({ vpmu: "emulated", events: "cycles,branches" });
    expect(pointAt(p, 11).settings).toMatchObject({ vpmu: "mediated" });
    // Round robin: shard 1 of 4 runs 1, 5, 9.
    expect(shardPoints(p, 1, 4)).toEqual([1, 5, 9]);
    expect(plan().hash).toBe(plan().hash);
    expect(plan().hash).not.toBe(plan(SWEEP.replace("10ms", "11ms")).hash);
  });

  it("runs every point with the document's seed by default, derived seeds with seeds: N", () => {
    const p = plan(`${SWEEP}seeds: 3\n`);
    const seeds = [0, 1, 2, 3, 4, 5].map((i) => runPoint(p, i).seed);
    expect(seeds[0]).toBe(1);
    expect(new Set(seeds.slice(0, 3)).size).toBe(3);
    // The same seeds at every point: common random numbers across the grid.
    expect(seeds.slice(3)).toEqual(seeds.slice(0, 3));
    expect(repSeed(1, 1)).toBe(seeds[1]);
  });

  it("gives a seed repetition the same line whether its point was just compiled or not", () => {
    const p = plan(`${SWEEP}seeds: 3\n`);
    // In order, repetitions 1 and 2 reuse repetition 0's compiled scenario.
    const inOrder = shardPoints(p).map((i) => recordLine(runPoint(p, i)));
    // Each point after one with other settings: every point compiles its own.
    const alone = shardPoints(p).map((i) => {
      runPoint(p, (i + 3) % p.points);
      return recordLine(runPoint(p, i));
    });
    expect(alone).toEqual(inOrder);
    expect(new Set(inOrder.slice(0, 3).map((l) => JSON.parse(l).seed)).size).toBe(3);
    expect(inOrder[0]).not.toBe(inOrder[3]);
  });

  it("collects the emulated vPMU's zeros and the mediated one's exact counts", () => {
    const p = plan();
    // 8 host pinned events hold every GP counter: emulated branches read 0, cycles has a fixed counter.
    const em = runPoint(p, 1).values;
    const med = runPoint(p, 4).values;
    expect(em.error_pct).toBeCloseTo(50, 0);
    expect(med.error_pct).toBeLessThan(0.1);
    expect(em["vms[name=vm0].vpmu"]).toBe("emulated");
    expect(med["vms[name=vm0].vpmu"]).toBe("mediated");
    expect((em.exits as Record<string, number>).rdpmc).toBeGreaterThan(0);
    expect((med.exits as Record<string, number>).rdpmc).toBeUndefined();
  });

  it("reports bad sweep files at their line and column before any point runs", () => {
    expect(
      problems(SWEEP.replace("path: vms.0.perf.0.events", "path: vms.0.perf.0.eventz")),
    ).toEqual([
      expect.stringMatching(
        /^s\.yaml:25:11: axes\[1\]\.path: unknown field "eventz" in vms\[0\]\.perf\[0\]; did you mean "events"\?/,
      ),
    ]);
    expect(problems(SWEEP.replace(/values: \[.*\]/, "values: []"))).toEqual([
      's.yaml:26:13: axes[1].values: axis "events" has no values (at least one value)',
    ]);
    const big = SWEEP.replace(
      'values: ["cycles", "cycles,branches", "cycles,branches,branch-misses,cache-misses"]',
      "range: { from: 1, to: 1000 }",
    ).replace("collect:", "  - { name: s, path: seed, range: { from: 0, to: 999 } }\ncollect:");
    expect(problems(big)).toEqual([
      "s.yaml:20:3: axes: the grid has 2000000 points (vpmu 2 x events 1000 x s 1000) (at most 1000000 points)",
    ]);
    expect(problems(SWEEP.replace("measurement: gstat", "measurement: gstatt"))).toEqual([
      expect.stringMatching(
        /^s\.yaml:28:46: collect\[0\]\.error\.measurement: no measurement "gstatt"/,
      ),
    ]);
    expect(
      problems(
        SWEEP.replace("kernel.kvm.enable_mediated_pmu: true", "kernel.kvm.enable_mediated_pmu: 3"),
      ),
    ).toEqual([
      expect.stringMatching(
        /^s\.yaml:23:9: axes\[0\]\.levels\[1\]: with vpmu = "mediated": kernel\.kvm\.enable_mediated_pmu: wrong type: 3/,
      ),
    ]);
    expect(problems(SWEEP.replace("  - vms[name=vm0].vpmu", "  - vmz.0"))[0]).toMatch(
      /^s\.yaml:30:5: collect\[2\]: the JSON report has no field "vmz"/,
    );
    expect(problems(SWEEP.replace("name: small-base", "name: b\n  bogus: 1"))[0]).toMatch(
      /^s\.yaml:4:3: base\.bogus: unknown key "bogus"/,
    );
    expect(problems(`${SWEEP}exclude: [{ vpmu: passthrough }]\n`)).toEqual([
      's.yaml:31:19: exclude[0].vpmu: axis "vpmu" has no value "passthrough" (one of its values)',
    ]);
    expect(problems(SWEEP.replace("axes:", "axez:"))).toContainEqual(
      expect.stringMatching(/^s\.yaml:19:1: axez: unknown key "axez"; did you mean "axes"\?/),
    );
  });

  it("records a point whose values only fail together, with its problem and null values", () => {
    const p = plan(
      SWEEP.replace(
        "collect:",
        `  - name: host
    levels:
      - { value: none, set: { perf: [] } }
      - { value: two, set: { perf.0.events: "r00c4:HD,r00c5:HD" } }
  - name: agent_events
    path: perf.0.events
    values: ["r00c4:HD"]
collect:`,
      ),
    );
    // Each value alone is fine on the base; "none" then perf.0.events leaves a nameless measurement.
    const r = runPoint(p, 0);
    expect(r.settings).toEqual({
      vpmu: "emulated",
      events: "cycles",
      host: "none",
      agent_events: "r00c4:HD",
    });
    expect(r.error).toMatch(/^perf\[0\]\.name: /);
    expect(r.values).toEqual({ error_pct: null, exits: null, "vms[name=vm0].vpmu": null });
    expect(runPoint(p, 1).error).toBeUndefined();
  });

  it("leaves the points an exclusion rule matches out", () => {
    const p = plan(`${SWEEP}exclude: [{ vpmu: mediated, events: [cycles, "cycles,branches"] }]\n`);
    expect(shardPoints(p)).toEqual([0, 1, 2, 5]);
  });
});

function run(args: string[]): Promise<number | null> {
  return new Promise((done) => {
    const c = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: "ignore" });
    c.on("exit", (code) => done(code));
  });
}

describe("vpmu sweep", () => {
  const file = tmpFile("small.yaml", SWEEP);
  const dir = join(file, "..");
  const out = (n: string) => join(dir, n);
  const whole = out("whole.jsonl");
  const r0 = vpmu("sweep", file, "--jobs", "1", "-o", whole);
  const wholeText = readFileSync(whole, "utf8");

  it("writes a header and one line per point, --jobs 1 and --jobs 2 byte for byte equal", () => {
    expect(r0.code).toBe(0);
    const lines = wholeText.trimEnd().split("\n");
    expect(lines).toHaveLength(7);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      vpmu_sweep: 1,
      points: 6,
      collect: ["error_pct", "exits", "vms[name=vm0].vpmu"],
    });
    expect(lines.slice(1).map((l) => JSON.parse(l).index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(vpmu("sweep", file, "--jobs", "2", "-o", out("j2.jsonl")).code).toBe(0);
    expect(readFileSync(out("j2.jsonl"), "utf8")).toBe(wholeText);
    // To standard output too, in point order.
    expect(vpmu("sweep", file, "--jobs", "2").out).toBe(wholeText);
  });

  it("gives, over 4 shards run as 4 processes and merged, the 1-process file byte for byte", async () => {
    const parts = [0, 1, 2, 3].map((i) => out(`part-${i}.jsonl`));
    const codes = await Promise.all(
      parts.map((p, i) => run(["sweep", file, "--shard", `${i}/4`, "--jobs", "1", "-o", p])),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    expect(JSON.parse(readFileSync(parts[1]!, "utf8").split("\n")[0]!).shard).toBe("1/4");
    expect(vpmu("sweep", "merge", out("merged.jsonl"), ...parts).code).toBe(0);
    expect(readFileSync(out("merged.jsonl"), "utf8")).toBe(wholeText);
    // Refusals: a missing part, two parts with a point that differs, another sweep.
    const missing = vpmu("sweep", "merge", out("m2.jsonl"), parts[0]!, parts[2]!, parts[3]!);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe("vpmu: sweep merge: 2 of 6 points missing: 1, 5\n");
    // The other refusals and the CSV through the library, on the same parts.
    const texts = parts.map((f) => ({ file: f, text: readFileSync(f, "utf8") }));
    const forged = {
      file: "forged.jsonl",
      text: texts[1]!.text.replace(/"error_pct":[\d.]+/, '"error_pct":12.5'),
    };
    expect(mergeResults([...texts, forged], true)).toEqual({
      ok: false,
      message: `point 1 differs between ${parts[1]}:2 and forged.jsonl:2`,
    });
    // A point in two parts with the same line (a shard run twice) is kept once.
    expect(mergeResults([...texts, texts[2]!], true).ok).toBe(true);
    const other = plan(SWEEP.replace("duration: 10ms", "duration: 9ms"));
    const otherPart = {
      file: "other-1.jsonl",
      text: `${JSON.stringify(sweepHeader(other, { index: 1, of: 4 }))}\n${recordLine(runPoint(other, 1))}`,
    };
    const foreign = mergeResults([texts[0]!, otherPart, texts[2]!, texts[3]!], true);
    expect(foreign.ok).toBe(false);
    if (!foreign.ok)
      expect(foreign.message).toMatch(
        /^other-1\.jsonl is from another sweep \(small, hash [0-9a-f]{16}\) than .*part-0\.jsonl \(small, hash [0-9a-f]{16}\)$/,
      );
    const merged = mergeResults(texts, true);
    if (!merged.ok) throw new Error(merged.message);
    const csv = mergedCsv(merged).split("\n");
    expect(csv[0]).toBe(
      "index,seed,vpmu,events,error_pct,exits.msr,exits.rdpmc,exits.tick,vms[name=vm0].vpmu,error",
    );
    expect(csv[2]).toMatch(/^1,1,emulated,"cycles,branches",/);
  });

  it("redoes a last line cut short, and merge refuses such a part", () => {
    const cut = out("cut.jsonl");
    writeFileSync(cut, wholeText.slice(0, wholeText.length - 40));
    const m = vpmu("sweep", "merge", out("m5.jsonl"), cut);
    expect(m.code).toBe(2);
    expect(m.err).toMatch(/cut\.jsonl:7: the last line is cut short/);
    const r = vpmu("sweep", file, "--jobs", "1", "--resume", "-o", cut);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/the last line was cut short; its point runs again/);
    expect(readFileSync(cut, "utf8")).toBe(wholeText);
    // --resume of another sweep's results is refused, the file left as it was.
    const other = tmpFile("o.yaml", SWEEP.replace("name: small\n", "name: other\n"));
    const bad = vpmu("sweep", other, "--resume", "-o", cut);
    expect(bad.code).toBe(2);
    expect(readFileSync(cut, "utf8")).toBe(wholeText);
  });

  it("draws the results as an SVG chart, and names the choices of a wrong axis", () => {
    const svg = out("r.svg");
    const ok = vpmu(
      "sweep",
      "chart",
      whole,
      "--x",
      "events",
      "--lines",
      "vpmu",
      "--y",
      "error_pct",
      "-o",
      svg,
    );
    expect(ok.code).toBe(0);
    const text = readFileSync(svg, "utf8");
    expect(text).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(text.match(/<path /g)).toHaveLength(2);
    // With no roles given, the layout vpmu report picks: x the axis with the most values
    // (events: 3, vpmu: 2), lines the next, y the first error-like value: the same chart.
    const dflt = out("default.svg");
    expect(vpmu("sweep", "chart", whole, "-o", dflt).code).toBe(0);
    expect(readFileSync(dflt, "utf8")).toBe(text);
    const bad = vpmu(
      "sweep",
      "chart",
      whole,
      "--x",
      "event",
      "--lines",
      "vpmu",
      "--y",
      "error_pct",
      "-o",
      svg,
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('vpmu: sweep chart: --x: no axis "event" (one of: vpmu, events)\n');
  });

  it("refuses a bad sweep file with exit 2 and file:line:col, running no point", () => {
    const bad = tmpFile("bad.yaml", SWEEP.replace("path: vms.0.perf.0.events", "path: vms.1.perf"));
    const o = out("never.jsonl");
    const r = vpmu("sweep", bad, "-o", o);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^.*bad\.yaml:25:11: axes\[1\]\.path: vms has 1 item; there is no item 1/,
    );
    expect(() => statSync(o)).toThrow();
  });
});

describe("vpmu sweep, killed and resumed", () => {
  const big = SWEEP.replace(
    "values: [",
    'values: ["cycles,instructions", "branches", "cache-misses", "branch-misses", "cycles,branches,instructions", ',
  ).replace("collect:", "seeds: 4\ncollect:");
  const file = tmpFile("big.yaml", big);
  const o = (n: string) => join(file, "..", n);

  it("completes after SIGKILL to the file an uninterrupted run writes", async () => {
    expect(vpmu("sweep", file, "--jobs", "2", "-o", o("full.jsonl")).code).toBe(0);
    const full = readFileSync(o("full.jsonl"), "utf8");
    expect(full.trimEnd().split("\n")).toHaveLength(1 + 64);
    const c: ChildProcess = spawn(
      process.execPath,
      [bin, "sweep", file, "--jobs", "1", "-o", o("killed.jsonl")],
      { cwd: root, stdio: "ignore" },
    );
    const lines = () => {
      try {
        return readFileSync(o("killed.jsonl"), "utf8").split("\n").length - 1;
      } catch {
        return 0;
      }
    };
    while (lines() < 6) await new Promise((r) => setTimeout(r, 5));
    c.kill("SIGKILL");
    await new Promise((r) => c.on("exit", r));
    const partial = readFileSync(o("killed.jsonl"), "utf8");
    expect(partial.length).toBeLessThan(full.length);
    // Cut mid-line, as a crash mid-write would leave it.
    truncateSync(o("killed.jsonl"), partial.length - 7);
    expect(vpmu("sweep", file, "--jobs", "2", "--resume", "-o", o("killed.jsonl")).code).toBe(0);
    expect(readFileSync(o("killed.jsonl"), "utf8")).toBe(full);
  });
});

describe("vpmu sweep through the package's bin (workers started with the process)", () => {
  const big = SWEEP.replace("collect:", "seeds: 3\ncollect:");
  const file = tmpFile("bin.yaml", big);
  const o = (n: string) => join(file, "..", n);
  const vpmuBin = join(root, "dist", "bin", "vpmu.js");
  const bin2 = (...args: string[]) => {
    const r = spawnSync(process.execPath, [vpmuBin, ...args], { cwd: root, encoding: "utf8" });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const r1 = vpmu("sweep", file, "--jobs", "1", "-o", o("one.jsonl"));
  const one = readFileSync(o("one.jsonl"), "utf8");

  it("gives with 2 and 3 jobs, to a file and to standard output, the 1-job file byte for byte", () => {
    expect(r1.code).toBe(0);
    expect(one.trimEnd().split("\n")).toHaveLength(1 + 18);
    for (const jobs of ["2", "3"]) {
      expect(bin2("sweep", file, "--jobs", jobs, "-o", o(`j${jobs}.jsonl`)).code).toBe(0);
      expect(readFileSync(o(`j${jobs}.jsonl`), "utf8")).toBe(one);
      expect(bin2("sweep", `--jobs=${jobs}`, file).out).toBe(one);
    }
    // A shard: the same lines as the shard run with one job.
    expect(vpmu("sweep", file, "--shard", "1/3", "--jobs", "1", "-o", o("s1.jsonl")).code).toBe(0);
    expect(bin2("sweep", file, "--shard", "1/3", "-j", "2", "-o", o("s2.jsonl")).code).toBe(0);
    expect(readFileSync(o("s2.jsonl"), "utf8")).toBe(readFileSync(o("s1.jsonl"), "utf8"));
  });

  it("resumes with 2 jobs: the workers wait for the points still to run", () => {
    const lines = one.split("\n");
    writeFileSync(o("half.jsonl"), `${lines.slice(0, 8).join("\n")}\n`);
    expect(bin2("sweep", file, "--jobs", "2", "--resume", "-o", o("half.jsonl")).code).toBe(0);
    expect(readFileSync(o("half.jsonl"), "utf8")).toBe(one);
    // Nothing left to run: the file stays as it is.
    expect(bin2("sweep", file, "--jobs", "2", "--resume", "-o", o("half.jsonl")).code).toBe(0);
    expect(readFileSync(o("half.jsonl"), "utf8")).toBe(one);
  });

  it("reports a bad sweep file as the CLI does, the early workers notwithstanding", () => {
    const bad = tmpFile("bad.yaml", big.replace("name: small", "name: [small"));
    const viaMain = vpmu("sweep", bad, "--jobs", "2");
    const viaBin = bin2("sweep", bad, "--jobs", "2");
    expect(viaBin.code).toBe(2);
    expect(viaBin.err).toMatch(/bad\.yaml:\d+:\d+/);
    expect(viaBin.err).toBe(viaMain.err);
    // An output that cannot be written: one line, exit 2.
    const unwritable = bin2("sweep", file, "--jobs", "2", "-o", o("no/such/dir/r.jsonl"));
    expect(unwritable.code).toBe(2);
    expect(unwritable.err).toBe(`vpmu: -o ${o("no/such/dir/r.jsonl")}: cannot write (ENOENT)\n`);
    expect(bin2("sweep", o("none.yaml"), "--jobs", "2").err).toMatch(
      /none\.yaml: cannot read \(ENOENT\)/,
    );
  });
});

describe("sweepLaunch (what starts workers with the process)", () => {
  it("reads the sweep's file, jobs, shard and --resume as the CLI does", () => {
    expect(sweepLaunch(["sweep", "f.yaml", "--jobs", "3", "-o", "r.jsonl"])).toEqual({
      file: "f.yaml",
      jobs: 3,
      shard: { index: 0, of: 1 },
      resume: false,
    });
    expect(
      sweepLaunch(["sweep", "-j4", "--shard=1/2", "--resume", "--output=x", "f.yaml"]),
    ).toEqual({
      file: "f.yaml",
      jobs: 4,
      shard: { index: 1, of: 2 },
      resume: true,
    });
    // Anything else starts nothing: other commands, subcommands, bad or unknown options.
    for (const args of [
      ["run", "f.yaml"],
      ["sweep", "merge", "out", "a"],
      ["sweep", "chart", "r.jsonl"],
      ["sweep", "f.yaml", "--jobs", "x"],
      ["sweep", "f.yaml", "--jobs", "0"],
      ["sweep", "f.yaml", "--shard", "2/2"],
      ["sweep", "f.yaml", "--help"],
      ["sweep", "f.yaml", "g.yaml"],
      ["sweep"],
    ])
      expect(sweepLaunch(args)).toBeUndefined();
  });
});

describe("examples/sweeps", () => {
  const load = (name: string): SweepPlan => {
    const file = join(root, "examples", "sweeps", name);
    const r = parseSweep(readFileSync(file, "utf8"), file, (p) => ({
      ok: true,
      text: readFileSync(join(root, "examples", "sweeps", p), "utf8"),
      file: p,
    }));
    if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
    return r.plan;
  };

  it("guest-accuracy: the emulated vPMU's error grows with host pinned events, mediated stays flat", () => {
    const p = load("guest-accuracy.yaml");
    expect(p.points).toBe(96);
    const index = (events: number, vpmu: string, host: number) =>
      [...Array(p.points).keys()].find((i) => {
        const s = pointAt(p, i).settings;
        return s.events === events && s.vpmu === vpmu && s.host_pinned === host;
      })!;
    const err = (e: number, v: string, h: number) =>
      runPoint(p, index(e, v, h)).values.error_pct as number;
    expect(err(16, "emulated", 0)).toBeLessThan(1);
    const e4 = err(16, "emulated", 4);
    expect(e4).toBeGreaterThan(20);
    expect(err(16, "emulated", 8)).toBeGreaterThan(e4 + 20);
    // Events that fit in the counters the host leaves count right.
    expect(err(2, "emulated", 8)).toBeLessThan(0.1);
    for (const h of [0, 8]) expect(err(16, "mediated", h)).toBeLessThan(0.05);
  });

  it("every example sweep file checks", () => {
    for (const f of ["guest-accuracy.yaml", "rfc-error-onset.yaml", "exit-switch-cost.yaml"])
      expect(load(f).points).toBeGreaterThan(0);
  });
});
