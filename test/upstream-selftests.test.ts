import { describe, expect, it } from "vitest";
import {
  runSelftests,
  type SelftestName,
  type SelftestsOptions,
} from "../src/guest/selftests/index.js";
import { preset } from "../src/hw/presets.js";
import { amd, amdLegacyHost, intelV1Host, x86 } from "./upstream-hosts.js";

/**
 * The KVM selftests against the model: each binary's outcome per host configuration, as
 * docs/upstream-tests.md tabulates it beside upstream's expectation.
 */

function outcome(names: SelftestName[], o: SelftestsOptions) {
  const r = runSelftests(names, o);
  return { r, status: Object.fromEntries(r.results.map((x) => [x.name, x.status])) };
}

const X86 = ["pmu_event_filter_test", "vmx_pmu_caps_test"] as const;

describe("x86 selftests", () => {
  it("x86-server, emulated and mediated: the filter and PERF_CAPABILITIES tests pass, in TAP", () => {
    for (const vpmu of ["emulated", "mediated"] as const) {
      const { r, status } = outcome([...X86], { vpmu, machine: x86, machineName: "x86-server" });
      expect(status).toEqual({ pmu_event_filter_test: "pass", vmx_pmu_caps_test: "pass" });
      expect(r.lines.slice(0, 2)).toEqual(["TAP version 13", "1..2"]);
      expect(r.lines).toContain("ok 1 selftests: kvm: pmu_event_filter_test");
      expect(r.lines).toContain("# ok 4 vmx_pmu_caps.immutable_perf_capabilities");
      expect(r.lines).toContain("# # Totals: pass:6 fail:0 xfail:0 xpass:0 skip:0 error:0");
      expect(r.lines).toContain("ok 2 selftests: kvm: vmx_pmu_caps_test");
    }
  });

  it("an Intel PMU v1 host: no GLOBAL_CTRL, so the filter test's sanity check #GPs and it skips", () => {
    const { r, status } = outcome([...X86], {
      vpmu: "emulated",
      machine: intelV1Host(),
      machineName: "x86-v1",
    });
    expect(status).toEqual({ pmu_event_filter_test: "skip", vmx_pmu_caps_test: "pass" });
    expect(r.lines).toContain("# 1..0 # SKIP - Requirement not met: sanity_check_pmu(vcpu)");
  });

  it("amd-server: Intel-only tests skip, the filter test passes (masked LS_DISPATCH events too)", () => {
    for (const machine of [amd, amdLegacyHost()]) {
      const { r, status } = outcome(["pmu_counters_test", ...X86], { vpmu: "emulated", machine });
      expect(status).toEqual({
        pmu_counters_test: "skip",
        pmu_event_filter_test: "pass",
        vmx_pmu_caps_test: "skip",
      });
      expect(r.lines).toContain("# 1..0 # SKIP - Requirement not met: host_cpu_is_intel");
      expect(r.lines).toContain("ok 1 selftests: kvm: pmu_counters_test # SKIP");
    }
  });

  it("pinned host events on every GP counter: the emulated vPMU's counters stop and both tests fail", () => {
    const { r, status } = outcome(["pmu_counters_test", ...X86], {
      vpmu: "emulated",
      checkInvariants: "throw",
      machine: x86,
      hostPinned: 8,
    });
    expect(status).toEqual({
      pmu_counters_test: "fail",
      pmu_event_filter_test: "fail",
      vmx_pmu_caps_test: "pass",
    });
    expect(r.lines).toContain("not ok 1 selftests: kvm: pmu_counters_test # exit=254");
    expect(r.lines).toContain(
      "#   test_without_filter: Branch instructions retired = 0 (expected > 0)",
    );
  });

  it("a test of the other architecture is skipped on an explicit --machine", () => {
    const { r } = outcome(["vpmu_counter_access"], { vpmu: "emulated", machine: x86 });
    expect(r.lines).toContain(
      "ok 1 selftests: kvm: vpmu_counter_access # SKIP arm64 test on an x86 host",
    );
  });
});

describe("arm64 vpmu_counter_access", () => {
  it("rk3399 and arm64-server: PMCR_EL0.N 0-6 via SET_NR_COUNTERS, 7-31 refused with EINVAL", () => {
    for (const name of ["rk3399", "arm64-server"]) {
      const { r, status } = outcome(["vpmu_counter_access"], {
        vpmu: "emulated",
        machine: preset(name)!,
        machineName: name,
      });
      expect(status).toEqual({ vpmu_counter_access: "pass" });
      expect(r.lines.at(-1)).toBe("ok 1 selftests: kvm: vpmu_counter_access");
    }
  });
});
