import { describe, expect, it } from "vitest";
import { compareX86Kut } from "../src/guest/kvm-unit-tests/x86-compare.js";
import { type KutX86Options, runX86KutTest } from "../src/guest/kvm-unit-tests/x86-harness.js";
import { amd, amdLegacyHost, x86 } from "./upstream-hosts.js";

/**
 * kvm-unit-tests x86/pmu, pmu_lbr and pmu_pebs in the simulated guest: the pass/fail
 * pattern of every check per configuration, as docs/upstream-tests.md tabulates it with
 * what upstream expects on real hardware.
 */

function run(o: Partial<KutX86Options> & Pick<KutX86Options, "machine">) {
  const r = runX86KutTest({ test: "pmu", vpmu: "emulated", ...o });
  const checks = r.report.checks;
  return {
    r,
    tests: r.report.tests,
    skipped: r.report.skipped,
    failed: checks.filter((c) => c.status === "FAIL").map((c) => c.name),
    passed: checks.filter((c) => c.status === "PASS").length,
    exit: r.exit,
    status: r.report.status,
  };
}

/** cmask is the one check the model cannot pass: counter masks are not modelled (see docs). */
const INTEL_CMASK = ["Intel: cmask", "Intel: full-width writes: cmask"];
const AMD_CMASK = ["AMD: cmask", "AMD: K7: cmask"];

describe("x86/pmu on x86-server (Intel, 8 GP + 3 fixed, FW writes)", () => {
  for (const vpmu of ["emulated", "mediated"] as const) {
    it(`${vpmu}: every check passes but cmask; fast RDPMC #GPs (SKIP), precise counts exact`, () => {
      const p = run({ machine: x86, vpmu });
      expect(p.r.vpmu).toBe(vpmu);
      expect([p.tests, p.skipped, p.passed]).toEqual([251, 22, 227]);
      expect(p.failed).toEqual(INTEL_CMASK);
      expect(p.r.lines).toContain("PMU version:         2");
      expect(p.r.lines).toContain("Arch Events (mask):  0x7f");
      expect(p.r.lines).toContain("PASS: Intel: instructions-7");
      expect(p.r.lines).toContain("PASS: Intel: overflow: irq-1");
      expect(p.r.lines).toContain("SKIP: Intel: rdpmc: fast-0");
      expect(p.r.lines).toContain(
        "PASS: Intel: full-width writes: writing unsupported width to MSR_IA32_PMC7 raises #GP",
      );
      expect(p.status).toBe(1);
    });

    it(`${vpmu} with force_emulation_prefix: 22 emulated instructions and 5 branches count exactly once`, () => {
      const p = run({ machine: x86, vpmu, fep: true });
      expect([p.tests, p.skipped]).toEqual([259, 22]);
      expect(p.failed).toEqual(INTEL_CMASK);
      for (const pre of ["Intel: ", "Intel: full-width writes: "])
        for (const c of [
          "instruction count",
          "branch count",
          "branch counter overflow",
          "instruction counter overflow",
        ])
          expect(p.r.lines).toContain(`PASS: ${pre}emulated instruction: ${c}`);
    });
  }

  it("an Intel v1 guest (CPUID version=1): the overflow check writes FIXED_CTR0 anyway and takes #GP, as on hardware", () => {
    for (const vpmu of ["emulated", "mediated"] as const) {
      const p = run({ machine: x86, vpmu, cpuid: { version: 1 } });
      expect(p.failed).toEqual([]);
      expect([p.tests, p.skipped]).toEqual([82, 8]);
      expect(p.exit).toBe("Unhandled exception 13 #GP (wrmsr 0x309)");
      expect(p.r.lines).toContain(
        "ABORT: Intel: overflow: Unhandled exception 13 #GP (wrmsr 0x309)",
      );
      expect(p.r.lines).toContain("Fixed counters:      0");
      expect(p.status).toBe(1);
    }
  });

  it("no leaf 0xA: RDPMC(64) #GPs, then the test skips (No Intel Arch PMU)", () => {
    const p = run({ machine: x86, cpuid: { noLeafA: true } });
    expect(p.r.lines).toEqual([
      "PASS: Expected #GP on RDPMC(64)",
      "SKIP: No Intel Arch PMU is detected!",
      "SUMMARY: 2 tests, 1 skipped",
    ]);
    expect(p.status).toBe(0);
  });

  it("host pinned events: the emulated vPMU starves silently, the mediated one refuses or owns the PMU", () => {
    const e4 = run({ machine: x86, hostPinned: 4 });
    expect(e4.failed).toEqual([
      "Intel: all counters",
      "Intel: cmask",
      "Intel: full-width writes: all counters",
      "Intel: full-width writes: cmask",
    ]);
    expect(e4.r.lines).toContain("FAIL: 1 <= 0 <= 2500000");
    const e8 = run({ machine: x86, hostPinned: 8 });
    // Every GP counter is the host's: only events a fixed counter can take still count.
    expect(e8.failed.length).toBe(68);
    for (const ev of ["llc references", "llc misses", "branches", "branch misses"])
      expect(e8.failed).toContain(`Intel: ${ev}-3`);
    expect(e8.failed).not.toContain("Intel: core cycles-3");
    const m = run({ machine: x86, vpmu: "mediated", hostPinned: 4 });
    expect(m.exit).toBe("KVM_CREATE_VCPU failed: EBUSY");
    expect(m.r.setup).toContain(
      "kvm: Failed to enable mediated vPMU, try disabling system wide perf events and nmi_watchdog.",
    );
    const mh = run({ machine: x86, vpmu: "mediated", hostPinned: 4, hostExcludeGuest: true });
    expect(mh.failed).toEqual(INTEL_CMASK);
  });
});

describe("x86/pmu on amd-server (Zen 4, 6 counters, PerfMonV2)", () => {
  for (const vpmu of ["emulated", "mediated"] as const) {
    it(`${vpmu}: F15H, K7 and the PerfMonV2 status checks pass; cmask fails`, () => {
      const p = run({ machine: amd, vpmu });
      expect([p.tests, p.skipped]).toEqual([109, 10]);
      expect(p.failed).toEqual(AMD_CMASK);
      expect(p.r.lines).toContain("PASS: AMD: overflow: status clear-5");
      expect(p.r.lines).toContain("PASS: AMD: K7: overflow: irq-3");
    });
    it(`${vpmu}, a guest without PerfMonV2: version 0 to the test, no status checks`, () => {
      const p = run({ machine: amd, vpmu, cpuid: { perfMonV2: false } });
      expect([p.tests, p.skipped]).toEqual([77, 10]);
      expect(p.failed).toEqual(AMD_CMASK);
      expect(p.r.lines).toContain("PMU version:         0");
      expect(p.r.lines.some((l) => l.includes("status"))).toBe(false);
    });
  }

  it("a host without PerfMonV2: enable_mediated_pmu is forced off, the VM is emulated", () => {
    const p = run({ machine: amdLegacyHost(), vpmu: "mediated" });
    expect(p.r.vpmu).toBe("emulated");
    expect(p.r.setup).toContain(
      "kvm: enable_mediated_pmu forced off: the host PMU cannot back a mediated vPMU",
    );
    expect([p.tests, p.skipped]).toEqual([77, 10]);
    expect(p.failed).toEqual(AMD_CMASK);
  });

  it("a guest without PerfCtrExtCore: four K7 counters only", () => {
    const p = run({ machine: amd, cpuid: { perfMonV2: false, perfCtrCore: false } });
    expect([p.tests, p.skipped]).toEqual([63, 8]);
    expect(p.r.lines).toContain("GP counters:         4");
  });
});

describe("x86/pmu_lbr and x86/pmu_pebs stop at the SKIP a vPMU without LBR/PEBS reports", () => {
  const skip = (o: Partial<KutX86Options> & Pick<KutX86Options, "machine" | "test">) => {
    const r = runX86KutTest({ vpmu: "emulated", ...o });
    expect(r.report.status).toBe(77);
    return r.lines.filter((l) => l.startsWith("SKIP:"));
  };
  it("pmu_lbr", () => {
    for (const vpmu of ["emulated", "mediated"] as const)
      expect(skip({ machine: x86, test: "pmu_lbr", vpmu })).toEqual([
        "SKIP: (Architectural) LBR is not supported.",
      ]);
    expect(skip({ machine: amd, test: "pmu_lbr" })).toEqual([
      "SKIP: PMU_LBR test is for intel CPU's only",
    ]);
    expect(skip({ machine: x86, test: "pmu_lbr", cpuid: { noLeafA: true } })).toEqual([
      "SKIP: No pmu is detected!",
    ]);
    expect(skip({ machine: x86, test: "pmu_lbr", cpuid: { pdcm: false } })).toEqual([
      "SKIP: Perfmon/Debug Capabilities MSR isn't supported.",
    ]);
  });
  it("pmu_pebs", () => {
    for (const vpmu of ["emulated", "mediated"] as const)
      expect(skip({ machine: x86, test: "pmu_pebs", vpmu })).toEqual([
        "SKIP: This test supports PEBS_Record_Format >= 4 only",
      ]);
    expect(skip({ machine: x86, test: "pmu_pebs", cpuid: { version: 1 } })).toEqual([
      "SKIP: PEBS required PMU version 2, reported version is 1",
    ]);
    expect(skip({ machine: amd, test: "pmu_pebs" })).toEqual([
      "SKIP: PEBS requires Intel ICX or later, non-Intel detected",
    ]);
  });
});

describe("determinism", () => {
  it("the same configuration gives byte-identical output", () => {
    const a = runX86KutTest({
      machine: x86,
      test: "pmu",
      vpmu: "emulated",
      hostPinned: 4,
      fep: true,
    });
    const b = runX86KutTest({
      machine: x86,
      test: "pmu",
      vpmu: "emulated",
      hostPinned: 4,
      fep: true,
    });
    expect(a.lines.join("\n")).toBe(b.lines.join("\n"));
    expect(a.elapsedNs).toBe(b.elapsedNs);
  });
});

describe("emulated vs mediated on the same host", () => {
  it("idle host: no check differs, emulated instructions included", () => {
    expect(compareX86Kut({ machine: x86, test: "pmu", fep: true }).diffs).toEqual([]);
    expect(compareX86Kut({ machine: amd, test: "pmu" }).diffs).toEqual([]);
  });
  it("pinned host-only events: the emulated vPMU loses 'all counters', the mediated one does not", () => {
    const c = compareX86Kut({ machine: x86, test: "pmu", hostPinned: 4, hostExcludeGuest: true });
    expect(c.diffs.map((d) => [d.name, d.emulated, d.mediated])).toEqual([
      ["Intel: all counters", "FAIL", "PASS"],
      ["Intel: full-width writes: all counters", "FAIL", "PASS"],
    ]);
    expect(c.diffs.every((d) => d.why?.startsWith("host contention"))).toBe(true);
  });
  it("pinned host events that count the guest: no mediated VM at all (EBUSY)", () => {
    const c = compareX86Kut({ machine: x86, test: "pmu", hostPinned: 4 });
    expect(c.diffs).toHaveLength(1);
    expect(c.diffs[0]!.name).toBe(
      "all 251 checks (the mediated run stopped: KVM_CREATE_VCPU failed: EBUSY)",
    );
    expect(c.diffs[0]!.why).toMatch(/EBUSY while !exclude_guest host events exist/);
  });
});
