import type { MachineDesc } from "../../hw/machine.js";
import { preset } from "../../hw/presets.js";
import { runSelftest, type Selftest } from "./kselftest.js";
import { pmuCountersTest } from "./pmu-counters-test.js";
import { pmuEventFilterTest } from "./pmu-event-filter-test.js";
import { vmxPmuCapsTest } from "./vmx-pmu-caps-test.js";
import { vpmuCounterAccess } from "./vpmu-counter-access.js";

/** The ported KVM selftests, in run_kselftest.sh order, with their architecture. */
export const SELFTESTS = [
  { name: "pmu_counters_test", arch: "x86" },
  { name: "pmu_event_filter_test", arch: "x86" },
  { name: "vmx_pmu_caps_test", arch: "x86" },
  { name: "vpmu_counter_access", arch: "arm64" },
] as const;

export type SelftestName = (typeof SELFTESTS)[number]["name"];

/** How `vpmu selftests` runs them. */
export interface SelftestsOptions {
  /** The host for every test; by default x86 tests run on x86-server, arm64 ones on rk3399. */
  machine?: MachineDesc;
  machineName?: string;
  vpmu: "emulated" | "mediated";
  /** kvm.force_emulation_prefix=1 (pmu_counters_test then repeats its checks force-emulated). */
  fep?: boolean;
  /** Pinned CPU-wide host events per CPU (x86 tests), and whether they exclude the guest. */
  hostPinned?: number;
  hostExcludeGuest?: boolean;
  /**
   * The invariant checker's mode for the x86 hosts (default: System's). The checker walks
   * every perf event ever opened after each step, which pmu_counters_test's 2,000 VMs make
   * slow.
   */
  checkInvariants?: "record" | "throw" | false;
}

const DEFAULT_MACHINE = { x86: "x86-server", arm64: "rk3399" } as const;

function build(name: SelftestName, machine: MachineDesc, o: SelftestsOptions): Selftest {
  const host = {
    machine,
    vpmu: o.vpmu,
    forceEmulationPrefix: o.fep ?? false,
    hostPinned: o.hostPinned ?? 0,
    hostExcludeGuest: o.hostExcludeGuest ?? false,
    ...(o.checkInvariants !== undefined ? { checkInvariants: o.checkInvariants } : {}),
  };
  switch (name) {
    case "pmu_counters_test":
      return pmuCountersTest(host);
    case "pmu_event_filter_test":
      return pmuEventFilterTest(host);
    case "vmx_pmu_caps_test":
      return vmxPmuCapsTest(host);
    case "vpmu_counter_access":
      return vpmuCounterAccess({ machine });
  }
}

/** One result per test, as run_kselftest.sh reports it. */
export interface SelftestResult {
  name: SelftestName;
  machine: string;
  status: "pass" | "fail" | "skip";
  lines: string[];
}

/**
 * Runs the named selftests (all by default) and returns the TAP output. A test of the other
 * architecture than an explicit --machine is skipped, as its binary would not exist there.
 */
export function runSelftests(
  names: readonly SelftestName[],
  o: SelftestsOptions,
): {
  lines: string[];
  results: SelftestResult[];
} {
  const lines = ["TAP version 13", `1..${names.length}`];
  const results: SelftestResult[] = [];
  names.forEach((name, i) => {
    const arch = SELFTESTS.find((t) => t.name === name)!.arch;
    const mname = o.machine ? (o.machineName ?? "machine") : DEFAULT_MACHINE[arch];
    const machine = o.machine ?? preset(mname)!;
    const machineArch = machine.arch === "arm64" ? "arm64" : "x86";
    if (machineArch !== arch) {
      const l = [
        `# selftests: kvm: ${name}`,
        `ok ${i + 1} selftests: kvm: ${name} # SKIP ${arch} test on an ${machineArch} host`,
      ];
      lines.push(...l);
      results.push({ name, machine: mname, status: "skip", lines: l });
      return;
    }
    const r = runSelftest(build(name, machine, o), i + 1);
    lines.push(...r.lines);
    results.push({ name, machine: mname, status: r.status, lines: r.lines });
  });
  return { lines, results };
}
