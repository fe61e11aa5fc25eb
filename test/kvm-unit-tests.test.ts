import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ARM_PMU_TESTS } from "../src/guest/kvm-unit-tests/arm-pmu.js";
import { runArmPmuTest } from "../src/guest/kvm-unit-tests/harness.js";
import { armv8PmuDesc } from "../src/hw/pmu-desc.js";
import { preset } from "../src/hw/presets.js";

const rk3399 = preset("rk3399")!;
const A53 = [0, 1, 2, 3];
const A72 = [4, 5];

/** A PMUv3p5 host (64-bit event counters), so the "64-bit overflows" halves run. */
function v3p5Machine() {
  const m = preset("arm64-server")!;
  const ct = m.coreTypes[0]!;
  const events = [...ct.pmu.events.keys()];
  return {
    ...m,
    coreTypes: [
      {
        ...ct,
        pmu: armv8PmuDesc({
          name: ct.pmu.name,
          coreType: ct.name,
          nrCounters: 6,
          version: 6,
          pmuv3p5: true,
          events,
        }),
      },
    ],
  };
}

const counts = (lines: string[]) => ({
  pass: lines.filter((l) => l.startsWith("PASS:")).length,
  fail: lines.filter((l) => l.startsWith("FAIL:")).length,
  skip: lines.filter((l) => l.startsWith("SKIP:")).length,
});

describe("kvm-unit-tests arm/pmu on rk3399 (the SET_PMU story)", () => {
  it("qemu without SET_PMU, 7.0: cycle-counter passes on the INIT cluster and fails on the other", () => {
    const right = runArmPmuTest({
      machine: rk3399,
      test: "cycle-counter",
      vmm: "qemu",
      cpus: A72,
      vmmCpu: 4,
    });
    expect(right.report.failures).toBe(0);
    expect(right.report.tests).toBe(2);
    const wrong = runArmPmuTest({
      machine: rk3399,
      test: "cycle-counter",
      vmm: "qemu",
      cpus: A72,
      vmmCpu: 0,
    });
    expect(wrong.report.failures).toBe(2);
    expect(wrong.lines).toContain("Read 0 then 0.");
    expect(wrong.lines).toContain("cycles not incrementing!");
    expect(wrong.lines).toContain("FAIL: pmu: cycle-counter: Monotonically increasing cycle count");
  });

  it("qemu, 5.18: the default PMU is the first probed one (A53), so only the A53 cluster passes", () => {
    const a53 = runArmPmuTest({
      machine: rk3399,
      test: "cycle-counter",
      vmm: "qemu",
      cpus: A53,
      profile: "5.18",
    });
    const a72 = runArmPmuTest({
      machine: rk3399,
      test: "cycle-counter",
      vmm: "qemu",
      cpus: A72,
      profile: "5.18",
    });
    expect([a53.report.failures, a72.report.failures]).toEqual([0, 2]);
  });

  it("kvmtool: SET_PMU follows the pinning, both clusters pass", () => {
    for (const cpus of [A53, A72]) {
      const r = runArmPmuTest({ machine: rk3399, test: "cycle-counter", vmm: "kvmtool", cpus });
      expect(r.report.status).toBe(0);
      const setPmu = r.vmm.find((s) => s.label.startsWith("SET SET_PMU"))!;
      expect(setPmu.label).toContain(cpus === A53 ? "type 6" : "type 7");
      expect(setPmu.result).toBe("0");
    }
  });

  it("kvmtool with a mixed-cluster pinning: KVM_RUN reports FAIL_ENTRY / CPU_UNSUPPORTED", () => {
    const r = runArmPmuTest({
      machine: rk3399,
      test: "cycle-counter",
      vmm: "kvmtool",
      cpus: [0, 1, 2, 3, 4, 5],
      vmmCpu: 4,
    });
    expect(r.exit).toBe(
      "KVM_EXIT_FAIL_ENTRY: hardware_entry_failure_reason 0x1 (CPU_UNSUPPORTED), cpu 0",
    );
    expect(r.report.status).toBe(1);
    expect(r.report.tests).toBe(0);
  });

  it("firecracker (PMU feature without INIT): the first KVM_RUN fails with EINVAL", () => {
    const r = runArmPmuTest({ machine: rk3399, test: "cycle-counter", vmm: "firecracker" });
    expect(r.vmm.at(-1)).toEqual({ label: "KVM_RUN(kut, 0)", result: "EINVAL" });
    expect(r.exit).toBe("KVM_RUN failed: EINVAL");
  });
});

describe("kvm-unit-tests arm/pmu: every case on a covered CPU", () => {
  // [tests, skipped] per case on a PMUv3 (v8.0) host: the 64-bit halves skip.
  const expected: Record<string, [number, number]> = {
    "cycle-counter": [2, 0],
    "pmu-event-introspection": [1, 0],
    "pmu-event-counter-config": [3, 0],
    "pmu-basic-event-count": [11, 1],
    "pmu-mem-access": [3, 1],
    "pmu-sw-incr": [5, 1],
    "pmu-chained-counters": [6, 0],
    "pmu-chained-sw-incr": [2, 0],
    "pmu-chain-promotion": [7, 0],
    "pmu-overflow-interrupt": [7, 1],
  };
  for (const test of ARM_PMU_TESTS) {
    it(`${test} passes on the A72 cluster with kvmtool`, () => {
      const r = runArmPmuTest({ machine: rk3399, test, vmm: "kvmtool", cpus: A72 });
      expect(r.report.failures, r.lines.join("\n")).toBe(0);
      expect([r.report.tests, r.report.skipped]).toEqual(expected[test]);
    });
  }

  it("the 64-bit overflow halves run on a PMUv3p5 host", () => {
    const m = v3p5Machine();
    for (const test of [
      "pmu-basic-event-count",
      "pmu-mem-access",
      "pmu-sw-incr",
      "pmu-overflow-interrupt",
    ] as const) {
      const r = runArmPmuTest({ machine: m, test, vmm: "qemu" });
      const c = counts(r.lines);
      expect(c.fail, `${test}\n${r.lines.join("\n")}`).toBe(0);
      expect(c.skip).toBe(0);
      expect(r.lines.some((l) => l.includes("64-bit overflows: "))).toBe(true);
    }
  });

  it("mem-access counts both counters equally and at least the loop's loads", () => {
    const r = runArmPmuTest({ machine: rk3399, test: "pmu-mem-access", vmm: "kvmtool", cpus: A53 });
    const m = r.lines
      .map((l) => /counter #(\d) is (\d+) \(MEM_ACCESS\)/.exec(l))
      .filter((x) => x !== null);
    expect(m).toHaveLength(2);
    const [a, b] = m.map((x) => Number(x[2]));
    expect(a).toBe(b);
    expect(a).toBeGreaterThanOrEqual(250);
    expect(a).toBeLessThan(250 + 100);
  });

  it("is deterministic", () => {
    const run = () =>
      runArmPmuTest({ machine: rk3399, test: "pmu-chain-promotion", vmm: "qemu", cpus: A53 }).lines;
    expect(run()).toEqual(run());
  });
});

describe("vpmu kvm-unit-tests CLI", () => {
  const cli = (args: string[]) => {
    try {
      return {
        out: execFileSync("node", ["dist/bin/vpmu.js", "kvm-unit-tests", ...args], {
          encoding: "utf8",
        }),
        code: 0,
      };
    } catch (e) {
      const err = e as { stdout: string; stderr: string; status: number };
      return { out: err.stdout + err.stderr, code: err.status };
    }
  };

  it("exits 0 when everything passes and 1 on a failure, with run_tests-style summary lines", () => {
    const ok = cli(["--cpus", "4-5", "cycle-counter"]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("PASS pmu-cycle-counter (2 tests)");
    const bad = cli(["--cpus", "4-5", "--vmm-cpu", "0", "pmu-cycle-counter"]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("FAIL pmu-cycle-counter (2 tests, 2 unexpected failures)");
  });

  it("rejects bad input with one message and exit 2", () => {
    expect(cli(["nope"])).toEqual({ out: expect.stringContaining('unknown test "nope"'), code: 2 });
    // Without --arch the architecture is the preset's; with it, they must agree.
    expect(cli(["--arch", "arm64", "--machine", "x86-server"])).toEqual({
      out: expect.stringContaining("is not an arm64 machine"),
      code: 2,
    });
    expect(cli(["--cpus", "7"])).toEqual({
      out: expect.stringContaining("CPU 7 does not exist"),
      code: 2,
    });
    expect(cli(["--vmm", "crosvm"])).toEqual({
      out: expect.stringContaining('--vmm: "crosvm"'),
      code: 2,
    });
    expect(cli(["--kernel", "6.1"])).toEqual({
      out: expect.stringContaining('--kernel: "6.1"'),
      code: 2,
    });
  });
});
