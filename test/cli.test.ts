import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { root, tmpFile, vpmu } from "./cli-helpers.js";

describe("vpmu CLI", () => {
  it("the package's bin is executable after the build and runs by itself, as npx runs it", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const bin = join(root, pkg.bin.vpmu);
    expect(statSync(bin).mode & 0o111).toBe(0o111);
    const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it("runs the built-in tour", () => {
    const r = vpmu("run");
    expect(r.code).toBe(0);
    expect(r.out).toContain('scenario "tour" on rk3399');
    expect(r.out).toMatch(/\d+ passed, 0 failed\n$/);
  });

  it("prints JSON with the documented shape", () => {
    const r = vpmu("run", "--format", "json");
    const j = JSON.parse(r.out)[0];
    expect(j.format).toBe(1);
    expect(j.scenario.name).toBe("tour");
    expect(j.machine.cpus).toHaveLength(6);
    expect(j.summary.failed).toBe(0);
  });

  it("checks examples and ends with N passed, M failed", () => {
    const r = vpmu("check", "examples/host-multiplexing.yaml", "examples/pinned-overcommit.yaml");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^12 passed, 0 failed$/m);
  });

  it("exits 1 and prints observed and expected values when an expectation fails", () => {
    const f = tmpFile(
      "fail.yaml",
      "name: f\nmachine: rk3399\ntasks:\n  - { name: w, workload: compute, affinity: '4' }\nexpect:\n  - task: { name: w, field: migrations }\n    equals: 3\n",
    );
    const r = vpmu("check", f);
    expect(r.code).toBe(1);
    expect(r.out).toContain("task w migrations: observed 0, expected = 3");
    expect(r.out).toMatch(/^0 passed, 1 failed$/m);
  });

  it("reports bad YAML at file:line:col with exit 2", () => {
    const f = tmpFile("bad.yaml", "name: x\nmachine: [rk3399\n");
    const r = vpmu("run", f);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: `));
    expect(r.err).not.toContain("    at ");
  });

  it("reports an unknown key with a suggestion", () => {
    const f = tmpFile(
      "typo.yaml",
      "name: x\nmachine: rk3399\ntasks:\n  - name: w\n    workload: compute\n    afinity: '1'\n",
    );
    const r = vpmu("run", f);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `${f}:6:5: tasks[0].afinity: unknown key "afinity"; did you mean "affinity"? (one of: name, workload, affinity, start, duty, exit_after)\n`,
    );
  });

  it("reports a wrong type", () => {
    const f = tmpFile("type.json", '{"name": "x", "machine": "rk3399", "duration": true}');
    const r = vpmu("run", f);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${f}:1:48: duration: invalid value true (a duration such as 250ms`);
  });

  it("reports a semantic error (unknown task) at its line", () => {
    const f = tmpFile(
      "ref.yaml",
      "name: x\nmachine: rk3399\nactions:\n  - at: 1ms\n    do: kill\n    task: nobody\n",
    );
    const r = vpmu("run", f);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `${f}:6:11: actions[0].task: unknown task "nobody" (a task declared under tasks)\n`,
    );
  });

  it("refuses bad flags with exit 2 and no stack trace", () => {
    for (const args of [
      ["run", "--format", "xml"],
      ["run", "--seed", "abc"],
      ["run", "--duration", "soon"],
      ["frobnicate"],
      ["list", "pmus", "--machine", "vax"],
    ]) {
      const r = vpmu(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).not.toContain("    at ");
      expect(r.err.length).toBeGreaterThan(0);
    }
  });

  it("a missing file is a diagnostic, not a crash", () => {
    const r = vpmu("run", "no/such/file.yaml");
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      "no/such/file.yaml:1:1: no such file (a readable YAML or JSON scenario file)\n",
    );
  });

  it("lists presets and PMUs with perf type ids and cpulists", () => {
    expect(vpmu("list", "presets").out).toContain("rk3399");
    const r = vpmu("list", "pmus", "--machine", "rk3399");
    expect(r.out).toMatch(/armv8_cortex_a53\s+6\s+0-3\s/);
    expect(r.out).toMatch(/armv8_cortex_a72\s+7\s+4-5\s/);
    const x = vpmu("list", "pmus", "--machine", "x86-hybrid");
    expect(x.out).toMatch(/cpu_core\s+4\s+0-3\s/);
    expect(x.out).toMatch(/cpu_atom\s+6\s+4-7\s/);
  });

  it("has --help on every command and --version", () => {
    for (const c of [[], ["run"], ["check"], ["list"], ["list", "pmus"], ["sysfs"], ["schema"]]) {
      const r = vpmu(...c, "--help");
      expect(r.code, c.join(" ")).toBe(0);
      expect(r.out).toContain("Usage: vpmu");
    }
    expect(vpmu("--version").out.trim()).toBe(
      JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version,
    );
  });

  it("prints the committed JSON Schema", () => {
    const r = vpmu("schema");
    expect(r.out).toBe(readFileSync(join(root, "schema", "scenario.schema.json"), "utf8"));
  });
});

describe("vpmu check --check-invariants", () => {
  it("fails a scenario whose declared finding does not occur, and passes without the flag", () => {
    const f = tmpFile(
      "ef.yaml",
      "name: t\nmachine: rk3399\nexpected_findings: [legal-transition]\n",
    );
    const with_ = vpmu("check", "--check-invariants", f);
    expect(with_.code).toBe(1);
    expect(with_.out).toContain('invariant finding legal-transition (expected): observed "none"');
    expect(vpmu("check", f).code).toBe(0);
  });
});

describe("vpmu trace --variant", () => {
  it("traces one variant, and rejects an unknown one with exit 2", () => {
    const out = join(mkdtempSync(join(tmpdir(), "vpmu-trace-")), "t.json");
    const ok = vpmu(
      "trace",
      join(root, "examples/x86-vpmu-modes.yaml"),
      "--variant",
      "emulated",
      "-o",
      out,
    );
    expect(ok.code).toBe(0);
    const events = JSON.parse(readFileSync(out, "utf8")).traceEvents as Array<{ name?: string }>;
    // The emulated vPMU backs guest counters with host perf events: they show in the trace.
    expect(events.some((e) => e.name?.startsWith("kvm:vm0/0:pmc"))).toBe(true);
    const bad = vpmu(
      "trace",
      join(root, "examples/x86-vpmu-modes.yaml"),
      "--variant",
      "nope",
      "-o",
      out,
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('no variant "nope"');
  });
});
