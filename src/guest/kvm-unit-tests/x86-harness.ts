import type { MachineDesc } from "../../hw/machine.js";
import { isAmdPmu } from "../../hw/pmu-desc.js";
import { BUILTIN_WORKLOADS } from "../../hw/workload.js";
import { Kvm } from "../../kvm/kvm.js";
import type { KvmVcpu } from "../../kvm/vcpu.js";
import type { KvmVm } from "../../kvm/vm.js";
import type { X86VcpuCpuid } from "../../kvm/x86/cpuid.js";
import { ROOT, sysPerfEventOpen } from "../../perf/open.js";
import { PERF_TYPE_RAW } from "../../perf/uapi.js";
import { errnoName } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import { System } from "../../system.js";
import { X86GuestDriver } from "../x86/driver.js";
import type { X86Guest, X86GuestEnv } from "../x86/program.js";
import { KutReport } from "./libcflat.js";
import { x86PmuMain } from "./x86-pmu.js";
import { x86PmuLbrMain, x86PmuPebsMain } from "./x86-pmu-lbr-pebs.js";

/** The x86 PMU tests of kvm-unit-tests' x86/unittests.cfg ([pmu], [pmu_lbr], [pmu_pebs]). */
export const X86_KUT_TESTS = ["pmu", "pmu_lbr", "pmu_pebs"] as const;
export type X86KutTest = (typeof X86_KUT_TESTS)[number];

/** Changes to the guest CPUID QEMU would pass (`-cpu max` = what KVM supports). */
export interface X86CpuidOverrides {
  /** Leave CPUID leaf 0xA out altogether (no architectural PMU). */
  noLeafA?: boolean;
  version?: number;
  nrGp?: number;
  gpWidth?: number;
  nrFixed?: number;
  fixedWidth?: number;
  eventsLength?: number;
  unavailableEvents?: number;
  pdcm?: boolean;
  perfCtrCore?: boolean;
  perfMonV2?: boolean;
  numCorePmc?: number;
}

/** How one kvm-unit-tests x86 run is set up. */
export interface KutX86Options {
  machine: MachineDesc;
  test: X86KutTest;
  /** kvm-intel/kvm-amd enable_mediated_pmu: "mediated", or the emulated (perf-based) vPMU. */
  vpmu: "emulated" | "mediated";
  cpuid?: X86CpuidOverrides;
  /** kvm.force_emulation_prefix=1 (the suite's emulated-instruction check runs only with it). */
  fep?: boolean;
  /**
   * Pinned CPU-wide host events (branches retired) opened on every CPU before the VM
   * starts, each taking a general-purpose counter, as `perf stat -a` with pinned events does.
   */
  hostPinned?: number;
  /** The host events count host only (`:H`, exclude_guest), so a mediated vPMU can coexist. */
  hostExcludeGuest?: boolean;
  /** CPUs the vCPU thread may run on (default: all). */
  cpus?: number[];
  seed?: number;
  /** Give up after this much simulated time (ns); default 5 s. */
  limitNs?: number;
}

/** What a run produced. */
export interface KutX86Result {
  /** Host and VMM set-up, as lines (module parameters, host events, KVM messages). */
  setup: string[];
  /** The guest's output, then the SUMMARY line. */
  lines: string[];
  report: KutReport;
  /** The reason the run stopped early, or null. */
  exit: string | null;
  /** The vPMU the VM really got (a mediated request on an unsupported host is emulated). */
  vpmu: "emulated" | "mediated" | "none";
  elapsedNs: number;
}

const MAIN: Record<X86KutTest, (t: KutReport, env: X86GuestEnv) => X86Guest> = {
  pmu: x86PmuMain,
  pmu_lbr: x86PmuLbrMain,
  pmu_pebs: x86PmuPebsMain,
};

/** Applies CPUID overrides to a vCPU's CPUID. */
export function applyCpuidOverrides(c: X86VcpuCpuid, o: X86CpuidOverrides): X86VcpuCpuid {
  const leafA = o.noLeafA || !c.leafA ? null : { ...c.leafA };
  if (leafA) {
    if (o.version !== undefined) leafA.version = o.version;
    if (o.nrGp !== undefined) leafA.nrGp = o.nrGp;
    if (o.gpWidth !== undefined) leafA.gpWidth = o.gpWidth;
    if (o.nrFixed !== undefined) leafA.nrFixed = o.nrFixed;
    if (o.fixedWidth !== undefined) leafA.fixedWidth = o.fixedWidth;
    if (o.eventsLength !== undefined) leafA.eventsLength = o.eventsLength;
    if (o.unavailableEvents !== undefined) leafA.unavailableEvents = o.unavailableEvents;
  }
  return {
    leafA,
    amd: {
      perfCtrCore: o.perfCtrCore ?? c.amd.perfCtrCore,
      perfMonV2: o.perfMonV2 ?? c.amd.perfMonV2,
      numCorePmc: o.numCorePmc ?? c.amd.numCorePmc,
    },
    features: { ...c.features, pdcm: o.pdcm ?? c.features.pdcm },
  };
}

/** The guest workload of a kvm-unit-tests VM: it only runs the test's own code blocks. */
const KUT_X86_WORKLOAD = { ...BUILTIN_WORKLOADS.compute!, name: "kvm-unit-tests" };

/**
 * Opens `n` pinned CPU-wide host events (branches retired) on every CPU, as `perf stat -a`
 * with pinned events would, each taking a general-purpose counter. Returns what the host
 * did, as lines.
 */
export function openHostPinnedEvents(sys: System, n: number, excludeGuest: boolean): string[] {
  if (n <= 0) return [];
  const amd = isAmdPmu(sys.machine.desc.coreTypes[0]!.pmu);
  const config = amd ? 0x00c2 : 0x00c4;
  const lines: string[] = [];
  let opened = 0;
  for (const cpu of sys.machine.cpus) {
    for (let i = 0; i < n; i++) {
      const attr = { type: PERF_TYPE_RAW, config, pinned: true, exclude_guest: excludeGuest };
      const r = sysPerfEventOpen(sys.perf, attr, -1, cpu.id, -1, 0, ROOT);
      if (r < 0) lines.push(`host: perf_event_open(cpu ${cpu.id}) = ${errnoName(r)}`);
      else opened++;
    }
  }
  lines.unshift(
    `host: ${opened} pinned CPU-wide events (raw 0x${config.toString(16)}${excludeGuest ? ", exclude_guest" : ""}), ${n} per CPU`,
  );
  return lines;
}

/** Creates the VM and its vCPU as QEMU does (`-cpu max` plus the overrides). */
function createVcpu(
  kvm: Kvm,
  o: KutX86Options,
  setup: string[],
): { vm: KvmVm; v: KvmVcpu } | string {
  const vm = kvm.createVm("kut");
  const cpus = o.cpus ?? kvm.sys.machine.cpus.map((c) => c.id);
  const r = vm.createVcpu(
    0,
    { workload: KUT_X86_WORKLOAD, affinity: cpus, stopped: true },
    kvm.sys.now,
  );
  if (typeof r === "number") {
    for (const l of kvm.log) setup.push(l);
    return `KVM_CREATE_VCPU failed: ${errnoName(r) ?? r}`;
  }
  if (o.cpuid) {
    const ret = vm.setCpuid(r, applyCpuidOverrides(vm.cpuidOf(r), o.cpuid), kvm.sys.now);
    if (ret < 0) return `KVM_SET_CPUID2 failed: ${errnoName(ret)}`;
  }
  return { vm, v: r };
}

/**
 * Runs one kvm-unit-tests x86 PMU test in a one-vCPU VM on a simulated x86 host: the host
 * events, the KVM module parameters, then the guest program until it exits.
 */
export function runX86KutTest(o: KutX86Options): KutX86Result {
  const sys = new System({ machine: o.machine, seed: o.seed ?? 1, profile: "7.0" });
  const setup = openHostPinnedEvents(sys, o.hostPinned ?? 0, o.hostExcludeGuest ?? false);
  const kvm = new Kvm(sys, {
    enableMediatedPmu: o.vpmu === "mediated",
    forceEmulationPrefix: o.fep ?? false,
  });
  if (o.vpmu === "mediated" && !kvm.enableMediatedPmu)
    setup.push("kvm: enable_mediated_pmu forced off: the host PMU cannot back a mediated vPMU");
  if (o.fep) setup.push("kvm: force_emulation_prefix=1");
  const report = new KutReport();
  const made = createVcpu(kvm, o, setup);
  let exit: string | null = null;
  let elapsed = 0;
  let vpmu: KutX86Result["vpmu"] = "none";
  if (typeof made === "string") {
    exit = made;
  } else {
    const { vm, v } = made;
    vpmu = v.mediated ? "mediated" : v.emulated ? "emulated" : "none";
    const env: X86GuestEnv = { vendor: kvm.amd ? "amd" : "intel", cpuid: vm.cpuidOf(v) };
    const d = new X86GuestDriver(sys, v, MAIN[o.test](report, env));
    d.start(sys.now);
    vm.run(v, sys.now);
    const limit = o.limitNs ?? 5_000_000_000;
    const chunk = 10_000_000;
    for (let t = chunk; t <= limit && !d.done; t += chunk) {
      sys.run(t as Ns);
      elapsed = t;
    }
    const end = d.end;
    if (!end) exit = `guest did not finish within ${limit / 1e9} s of simulated time`;
    else if (end.kind !== "done") exit = end.msg;
  }
  if (exit && !report.aborted) report.abort(exit);
  return {
    setup,
    lines: [...report.lines, report.summary()],
    report,
    exit,
    vpmu,
    elapsedNs: elapsed,
  };
}
