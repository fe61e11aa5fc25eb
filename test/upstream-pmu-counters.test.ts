import { describe, expect, it } from "vitest";
import { runSelftests } from "../src/guest/selftests/index.js";
import { preset } from "../src/hw/presets.js";

/**
 * pmu_counters_test: about 2,000 VMs (every PMU version 0-5, both PERF_CAPABILITIES values,
 * every event bit-vector length and mask it enumerates). Its own file, so it runs beside
 * the rest of the suite.
 */
describe("x86 pmu_counters_test on x86-server", () => {
  for (const vpmu of ["emulated", "mediated"] as const) {
    it(`${vpmu}: every enumerated combination passes (45 instructions, 10 branches, #GP rules)`, () => {
      // With the invariant checker, which walks only the events not yet released.
      const r = runSelftests(["pmu_counters_test"], {
        checkInvariants: "throw",
        vpmu,
        machine: preset("x86-server")!,
        machineName: "x86-server",
      });
      expect(r.results[0]!.status).toBe("pass");
      const testing = r.lines.filter((l) => l.startsWith("# Testing "));
      // Versions 0-5 x perf_caps {0, FW_WRITES} x {arch events, GP counters, fixed counters}.
      expect(testing).toHaveLength(36);
      expect(testing[0]).toBe("# Testing arch events, PMU version 0, perf_caps = 0");
      expect(r.lines.at(-1)).toBe("ok 1 selftests: kvm: pmu_counters_test");
    });
  }
});
