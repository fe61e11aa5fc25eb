import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCpuidOverrides } from "../src/cli/kut-x86.js";
import { vpmu } from "./cli-helpers.js";

/**
 * `vpmu kvm-unit-tests --arch x86` and `vpmu selftests` as a user runs them: output, exit
 * codes and bad flags. The emulated-vs-mediated comparison is the self-checking example
 * of docs/upstream-tests.md; its output is a golden file (accept with VPMU_ACCEPT=1).
 */

const expected = join(import.meta.dirname, "upstream-expected");

function golden(name: string, out: string): void {
  const file = join(expected, `${name}.txt`);
  if (process.env.VPMU_ACCEPT === "1") writeFileSync(file, out);
  if (!existsSync(file)) {
    writeFileSync(join(expected, `${name}.actual.txt`), out);
    expect.fail(`no golden for ${name}; review ${name}.actual.txt and accept it`);
  }
  expect(out).toBe(readFileSync(file, "utf8"));
}

describe("vpmu kvm-unit-tests --arch x86", () => {
  it("the comparison example: pinned host-only events, emulated vs mediated, every difference explained", () => {
    const r = vpmu(
      "kvm-unit-tests",
      "--arch",
      "x86",
      "--compare",
      "--host-pinned",
      "4",
      "--host-exclude-guest",
    );
    expect(r.code).toBe(0);
    golden("kut-x86-compare-contention", r.out);
  });

  it("runs pmu, pmu_lbr and pmu_pebs; a failing check (cmask) makes the exit status 1", () => {
    const r = vpmu("kvm-unit-tests", "--arch", "x86");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^kvm-unit-tests x86 on x86-server \(kernel 7\.0\), vPMU emulated\n/);
    expect(r.out).toContain("FAIL pmu (251 tests, 2 unexpected failures, 22 skipped)");
    expect(r.out).toContain("SKIP pmu_lbr (1 tests, 1 skipped)");
    expect(r.out).toContain("SKIP pmu_pebs (1 tests, 1 skipped)");
  });

  it("the architecture follows --machine; all-skipped runs exit 0", () => {
    const r = vpmu("kvm-unit-tests", "--machine", "amd-server", "pmu_lbr", "pmu_pebs");
    expect(r.code).toBe(0);
    expect(r.out).toContain("SKIP: PMU_LBR test is for intel CPU's only");
  });

  it("bad flags: one message, exit 2", () => {
    const cases: Array<[string[], string]> = [
      [["--arch", "x86", "--vmm", "qemu"], "vpmu: --vmm applies to --arch arm64 only\n"],
      [["--arch", "arm64", "--fep"], "vpmu: --fep applies to --arch x86 only\n"],
      [
        ["--arch", "x86", "--machine", "rk3399"],
        'vpmu: --machine: "rk3399" is not an x86 machine\n',
      ],
      [["--arch", "mips"], 'vpmu: --arch: "mips" is not arm64 or x86\n'],
      [
        ["--arch", "x86", "--vpmu", "passthrough"],
        'vpmu: --vpmu: "passthrough" is not emulated or mediated\n',
      ],
      [["--arch", "x86", "--cpuid", "version=x"], 'vpmu: --cpuid: "version=x" is not key=value\n'],
      [
        ["--arch", "x86", "--cpuid", "gpu=1"],
        expect.stringContaining('vpmu: --cpuid: unknown key "gpu"') as unknown as string,
      ],
      [["--arch", "x86", "--cpuid", "pdcm=2"], "vpmu: --cpuid: pdcm must be 0 or 1\n"],
      [
        ["--arch", "x86", "--host-pinned", "-1"],
        'vpmu: --host-pinned: "-1" is not a number of events (0-64)\n',
      ],
      [
        ["--arch", "x86", "--kernel", "5.18"],
        "vpmu: --kernel: the x86 tests run on kernel 7.0 only\n",
      ],
      [
        ["--arch", "x86", "pmu_foo"],
        'vpmu: unknown test "pmu_foo" (one of: all, pmu, pmu_lbr, pmu_pebs)\n',
      ],
      [
        ["--arch", "x86", "--compare", "--vpmu", "emulated"],
        "vpmu: --compare runs both vPMUs: drop --vpmu\n",
      ],
    ];
    for (const [args, err] of cases) {
      const r = vpmu("kvm-unit-tests", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toEqual(err);
      expect(r.out).toBe("");
    }
  });
});

describe("--cpuid parsing", () => {
  it("takes key=value lists and names the bad part", () => {
    expect(parseCpuidOverrides("version=1,gp=4,events_unavailable=0x20,pdcm=0,leaf_a=1")).toEqual({
      version: 1,
      nrGp: 4,
      unavailableEvents: 0x20,
      pdcm: false,
      noLeafA: false,
    });
    expect(parseCpuidOverrides("perfmon_v2=0,num_core_pmc=4")).toEqual({
      perfMonV2: false,
      numCorePmc: 4,
    });
    expect(parseCpuidOverrides("version=x")).toBe('"version=x" is not key=value');
    expect(parseCpuidOverrides("gpu=1")).toMatch(/^unknown key "gpu" \(one of: .*version/);
    expect(parseCpuidOverrides("gp=0x100000000")).toBe("gp=0x100000000 does not fit in 32 bits");
  });
});

describe("vpmu selftests", () => {
  it("TAP for the chosen tests; a failing test makes the exit status 1", () => {
    const ok = vpmu("selftests", "vmx_pmu_caps_test", "arm64/vpmu_counter_access");
    expect(ok.code).toBe(0);
    expect(ok.out.split("\n").slice(0, 4)).toEqual([
      "TAP version 13",
      "1..2",
      "# timeout set to 120",
      "# selftests: kvm: vmx_pmu_caps_test",
    ]);
    expect(ok.out).toContain("ok 2 selftests: kvm: vpmu_counter_access\n");
    const bad = vpmu("selftests", "pmu_event_filter_test", "--host-pinned", "8");
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("not ok 1 selftests: kvm: pmu_event_filter_test # exit=254\n");
  });

  it("bad flags: one message, exit 2", () => {
    const cases: Array<[string[], string]> = [
      [["pmu_test"], expect.stringContaining('vpmu: unknown test "pmu_test"') as unknown as string],
      [["--vpmu", "x"], 'vpmu: --vpmu: "x" is not emulated or mediated\n'],
      [
        ["--machine", "nope"],
        expect.stringContaining('vpmu: --machine: unknown preset "nope"') as unknown as string,
      ],
      [["--kernel", "5.18"], "vpmu: --kernel: the selftests run on kernel 7.0 only\n"],
      [["--host-pinned", "x"], 'vpmu: --host-pinned: "x" is not a number of events (0-64)\n'],
    ];
    for (const [args, err] of cases) {
      const r = vpmu("selftests", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toEqual(err);
    }
  });
});
