import { MSR } from "../../kvm/x86/msr.js";
import type { CpuidLeafA } from "../../kvm/x86/pmu.js";
import {
  code,
  fep,
  GuestAbort,
  rdmsr,
  rdmsrSafe,
  rdpmc,
  rdpmcSafe,
  rdpmcSafeFep,
  ucall,
  wrmsr,
  wrmsrSafe,
  type X86Guest,
  type X86GuestEnv,
} from "../x86/program.js";
import { type Selftest, testAssert, testRequire } from "./kselftest.js";
import { type SelftestHost, type SelftestHostOptions, x86Selftest } from "./kvm-util-x86.js";

/**
 * tools/testing/selftests/kvm/x86/pmu_counters_test.c: architectural events, GP and fixed
 * counters for every PMU version 0-5, both PERF_CAPABILITIES settings, and the event
 * bit-vector lengths and masks the test enumerates, each in a fresh VM. Guest code and
 * asserts follow the test; the code is vpmu's.
 */

const NUM_LOOPS = 10;
const NUM_BRANCH_INSNS_RETIRED = NUM_LOOPS;
/** clflush/nop, mfence, mov, loop. */
const NUM_INSNS_PER_LOOP = 4;
/** 2 MOV, 2 XOR, 1 WRMSR. */
const NUM_EXTRA_INSNS = 5;
const NUM_INSNS_RETIRED = NUM_LOOPS * NUM_INSNS_PER_LOOP + NUM_EXTRA_INSNS;

const NR_INTEL_ARCH_EVENTS = 8;
const MAX_NR_GP_COUNTERS = 8;
const MAX_NR_FIXED_COUNTERS = 3;
const PMU_CAP_FW_WRITES = 1n << 13n;
const INTEL_RDPMC_FIXED = 1 << 30;
const INTEL_RDPMC_FAST = 1 << 31;
const EVENTSEL_OS = 1 << 17;
const EVENTSEL_EN = 1 << 22;
const FIXED_PMC_KERNEL = 1;

const IDX = {
  cycles: 0,
  instructions: 1,
  refCycles: 2,
  llcRefs: 3,
  llcMisses: 4,
  branches: 5,
  branchMisses: 6,
  topdown: 7,
};
/** intel_pmu_arch_events[]. */
const ARCH_EVENTS = [0x003c, 0x00c0, 0x013c, 0x4f2e, 0x412e, 0x00c4, 0x00c5, 0x01a4];
/** The fixed counter bundled with each architectural event (-1: none). */
const FIXED_OF = [1, 0, 2, -1, -1, -1, -1, 3];

const MSR_P6_EVNTSEL0 = MSR.IA32_PERFEVTSEL0;
const MSR_IA32_PERFCTR0 = MSR.IA32_PMC0;
const MSR_IA32_PMC0 = MSR.IA32_A_PMC0;
const MSR_P6_PERFCTR0 = 0xc1;
const MSR_P6_PERFCTR1 = 0xc2;

const fixedCtrl = (i: number): bigint => BigInt(FIXED_PMC_KERNEL) << BigInt(i * 4);
const fixedGlobalEnable = (i: number): bigint => 1n << BigInt(32 + i);
const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** What the host syncs into the guest (sync_global_to_guest()). */
interface Globals {
  kvmPmuVersion: number;
  hardwarePmuArchEvents: number;
  fep: boolean;
}

function guestAssert(cond: boolean, msg: string): void {
  if (!cond) throw new GuestAbort(msg);
}

function guestPmuVersion(g: Globals, env: X86GuestEnv): number {
  return Math.min(g.kvmPmuVersion, env.cpuid.leafA?.version ?? 0);
}

/** this_pmu_has() for a fixed-counter feature: enumerated contiguously or in the ECX bitmask. */
function pmuHasFixed(env: X86GuestEnv, bit: number): boolean {
  const a = env.cpuid.leafA;
  return (a?.nrFixed ?? 0) > bit || (((a?.fixedBitmask ?? 0) >>> bit) & 1) === 1;
}

function* fwWrites(env: X86GuestEnv): X86Guest<boolean> {
  if (!env.cpuid.features.pdcm) return false;
  return ((yield* rdmsr(MSR.IA32_PERF_CAPABILITIES)) & PMU_CAP_FW_WRITES) !== 0n;
}

/** GUEST_MEASURE_EVENT(): enable, the clflush/mfence/mov/loop loop, the clears, disable. */
function* measureEvent(
  ctrlMsr: number,
  value: bigint,
  env: X86GuestEnv,
  forced: boolean,
): X86Guest {
  const clflush = env.cpuid.features.clflushopt || env.cpuid.features.clflush;
  const perLoop = {
    insns: 3,
    loads: 1,
    llcRefs: clflush ? 1 : 0,
    llcMisses: clflush ? 1 : 0,
    cycles: 60,
  };
  yield* wrmsr(ctrlMsr, value);
  if (!forced) {
    yield* code({
      insns: 1 + NUM_LOOPS * NUM_INSNS_PER_LOOP + 3,
      branches: NUM_LOOPS,
      loads: NUM_LOOPS,
      llcRefs: NUM_LOOPS * perLoop.llcRefs,
      llcMisses: NUM_LOOPS * perLoop.llcMisses,
      cycles: NUM_LOOPS * perLoop.cycles,
    });
  } else {
    yield* code({ insns: 1 });
    for (let i = 0; i < NUM_LOOPS; i++) {
      yield* code(perLoop);
      yield* fep(true);
    }
    for (let i = 0; i < 3; i++) yield* fep(false);
  }
  yield* wrmsr(ctrlMsr, 0);
}

/** guest_assert_event_count(). */
function* assertEventCount(
  g: Globals,
  env: X86GuestEnv,
  idx: number,
  pmc: number,
  pmcMsr: number,
): X86Guest {
  const count = yield* rdpmc(pmc);
  if ((g.hardwarePmuArchEvents >>> idx) & 1) {
    switch (idx) {
      case IDX.instructions:
        guestAssert(
          count === BigInt(NUM_INSNS_RETIRED),
          `${hex(count)} != ${hex(NUM_INSNS_RETIRED)} (count != NUM_INSNS_RETIRED)`,
        );
        break;
      case IDX.branches:
        guestAssert(
          count === BigInt(NUM_BRANCH_INSNS_RETIRED),
          `${hex(count)} != ${hex(NUM_BRANCH_INSNS_RETIRED)} (count != NUM_BRANCH_INSNS_RETIRED)`,
        );
        break;
      case IDX.llcRefs:
      case IDX.llcMisses:
        if (!env.cpuid.features.clflushopt && !env.cpuid.features.clflush) break;
        guestAssert(count !== 0n, `0x0 == 0x0 (count == 0)`);
        break;
      case IDX.cycles:
      case IDX.refCycles:
        guestAssert(count !== 0n, `0x0 == 0x0 (count == 0)`);
        break;
      case IDX.topdown:
        guestAssert(count >= BigInt(NUM_INSNS_RETIRED), "count >= NUM_INSNS_RETIRED");
        break;
    }
  }
  // A disabled counter does not count, and KVM emulates the write of an arbitrary value.
  yield* code({ insns: NUM_LOOPS, branches: NUM_LOOPS, cycles: NUM_LOOPS * 2 });
  const again = yield* rdpmc(pmc);
  guestAssert(again === count, `${hex(again)} != ${hex(count)} (_rdpmc(pmc) != count)`);
  yield* wrmsr(pmcMsr, 0xdead);
  const dead = yield* rdpmc(pmc);
  guestAssert(dead === 0xdeadn, `${hex(dead)} != 0xdead (_rdpmc(pmc) != 0xdead)`);
}

function* testEvent(
  g: Globals,
  env: X86GuestEnv,
  idx: number,
  pmc: number,
  pmcMsr: number,
  ctrlMsr: number,
  value: bigint,
): X86Guest {
  for (const forced of g.fep ? [false, true] : [false]) {
    yield* wrmsr(pmcMsr, 0);
    yield* measureEvent(ctrlMsr, value, env, forced);
    yield* assertEventCount(g, env, idx, pmc, pmcMsr);
  }
}

function* guestTestArchEvent(g: Globals, env: X86GuestEnv, idx: number): X86Guest {
  const nrGp = env.cpuid.leafA?.nrGp ?? 0;
  const version = guestPmuVersion(g, env);
  const globalCtrl = version >= 2;
  guestAssert(version !== 0, "pmu_version");
  const base = (yield* fwWrites(env)) ? MSR_IA32_PMC0 : MSR_IA32_PERFCTR0;
  guestAssert(nrGp !== 0, "nr_gp_counters");
  for (let i = 0; i < nrGp; i++) {
    const eventsel = BigInt(EVENTSEL_OS | EVENTSEL_EN | ARCH_EVENTS[idx]!);
    yield* wrmsr(MSR_P6_EVNTSEL0 + i, 0);
    if (globalCtrl) yield* wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, 1n << BigInt(i));
    yield* testEvent(g, env, idx, i, base + i, MSR_P6_EVNTSEL0 + i, eventsel);
  }
  if (!globalCtrl) return;
  const f = FIXED_OF[idx]!;
  if (f < 0 || !pmuHasFixed(env, f)) return;
  yield* wrmsr(MSR.IA32_FIXED_CTR_CTRL, fixedCtrl(f));
  yield* testEvent(
    g,
    env,
    idx,
    f | INTEL_RDPMC_FIXED,
    MSR.IA32_FIXED_CTR0 + f,
    MSR.IA32_PERF_GLOBAL_CTRL,
    fixedGlobalEnable(f),
  );
}

function* guestTestArchEvents(g: Globals, env: X86GuestEnv): X86Guest {
  for (let i = 0; i < NR_INTEL_ARCH_EVENTS; i++) yield* guestTestArchEvent(g, env, i);
  yield* ucall({ cmd: "done", args: [] });
}

function* guestTestRdpmc(
  g: Globals,
  idx: number,
  expectSuccess: boolean,
  expected: bigint,
): X86Guest {
  for (const forced of g.fep ? [false, true] : [false]) {
    // rdpmc_safe() and, with forced emulation, rdpmc_safe_fep() (KVM's emulator runs it).
    const val = forced ? yield* rdpmcSafeFep(idx) : yield* rdpmcSafe(idx);
    guestAssert(
      expectSuccess ? val !== null : val === null,
      `Expected ${expectSuccess ? "no fault" : "#GP"} on RDPMC(${hex(idx)}), got vector ${val === null ? 13 : 0}`,
    );
    if (expectSuccess)
      guestAssert(
        val === expected,
        `Expected RDPMC(${hex(idx)}) to yield ${hex(expected)}, got ${hex(val ?? 0n)}`,
      );
  }
}

function* guestRdWrCounters(
  g: Globals,
  env: X86GuestEnv,
  baseMsr: number,
  nrPossible: number,
  nrCounters: number,
  orMask: number,
): X86Guest {
  const fastMode = guestPmuVersion(g, env) === 0;
  for (let i = 0; i < nrPossible; i++) {
    const testVal = 0xffffn;
    const msr = baseMsr + i;
    const success = i < nrCounters || ((orMask >>> i) & 1) === 1;
    const expectedVal = success ? testVal : 0n;
    const expectGp = !success && msr !== MSR_P6_PERFCTR0 && msr !== MSR_P6_PERFCTR1;
    const gpText = expectGp ? "#GP" : "no fault";
    const w = yield* wrmsrSafe(msr, testVal);
    guestAssert(
      w !== expectGp,
      `Expected ${gpText} on WRMSR(${hex(msr)}), got vector ${w ? 0 : 13}`,
    );
    const val = yield* rdmsrSafe(msr);
    guestAssert(
      (val === null) === expectGp,
      `Expected ${gpText} on RDMSR(${hex(msr)}), got vector ${val === null ? 13 : 0}`,
    );
    if (!expectGp)
      guestAssert(
        val === expectedVal,
        `Expected RDMSR(${hex(msr)}) to yield ${hex(expectedVal)}, got ${hex(val ?? 0n)}`,
      );
    let idx = i;
    if (baseMsr === MSR.IA32_FIXED_CTR0) idx |= INTEL_RDPMC_FIXED;
    yield* guestTestRdpmc(g, idx >>> 0, success, expectedVal);
    // KVM has no non-architectural PMU, so fast-mode RDPMC always faults.
    guestAssert(!success || !fastMode, "!expect_success || !pmu_has_fast_mode");
    yield* guestTestRdpmc(g, (idx | INTEL_RDPMC_FAST) >>> 0, false, -1n);
    const w0 = yield* wrmsrSafe(msr, 0);
    guestAssert(
      w0 !== expectGp,
      `Expected ${gpText} on WRMSR(${hex(msr)}), got vector ${w0 ? 0 : 13}`,
    );
  }
}

function* guestTestGpCounters(g: Globals, env: X86GuestEnv): X86Guest {
  const version = guestPmuVersion(g, env);
  const nrGp = version ? (env.cpuid.leafA?.nrGp ?? 0) : 0;
  if (version > 1) {
    const globalCtrl = yield* rdmsr(MSR.IA32_PERF_GLOBAL_CTRL);
    const want = nrGp ? (1n << BigInt(nrGp)) - 1n : 0n;
    guestAssert(
      globalCtrl === want,
      `${hex(globalCtrl)} != ${hex(want)} (global_ctrl != GENMASK_ULL(nr_gp_counters - 1, 0))`,
    );
  }
  const base = (yield* fwWrites(env)) ? MSR_IA32_PMC0 : MSR_IA32_PERFCTR0;
  yield* guestRdWrCounters(g, env, base, MAX_NR_GP_COUNTERS, nrGp, 0);
  yield* ucall({ cmd: "done", args: [] });
}

function* guestTestFixedCounters(g: Globals, env: X86GuestEnv): X86Guest {
  const version = guestPmuVersion(g, env);
  const nrFixed = version >= 2 ? (env.cpuid.leafA?.nrFixed ?? 0) : 0;
  // The supported-counter bitmask exists from PMU version 5.
  const bitmask = version >= 5 ? (env.cpuid.leafA?.fixedBitmask ?? 0) : 0;
  yield* guestRdWrCounters(g, env, MSR.IA32_FIXED_CTR0, MAX_NR_FIXED_COUNTERS, nrFixed, bitmask);
  for (let i = 0; i < MAX_NR_FIXED_COUNTERS; i++) {
    if (i >= nrFixed && !((bitmask >>> i) & 1)) {
      const a = yield* wrmsrSafe(MSR.IA32_FIXED_CTR_CTRL, fixedCtrl(i));
      guestAssert(!a, `Expected #GP for counter ${i} in FIXED_CTR_CTRL`);
      const b = yield* wrmsrSafe(MSR.IA32_PERF_GLOBAL_CTRL, fixedGlobalEnable(i));
      guestAssert(!b, `Expected #GP for counter ${i} in PERF_GLOBAL_CTRL`);
      continue;
    }
    yield* wrmsr(MSR.IA32_FIXED_CTR0 + i, 0);
    yield* wrmsr(MSR.IA32_FIXED_CTR_CTRL, fixedCtrl(i));
    yield* wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, fixedGlobalEnable(i));
    yield* code({ insns: NUM_LOOPS, branches: NUM_LOOPS, cycles: NUM_LOOPS * 2 });
    yield* wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, 0);
    const val = yield* rdmsr(MSR.IA32_FIXED_CTR0 + i);
    guestAssert(val !== 0n, "0x0 == 0x0 (val == 0)");
  }
  yield* ucall({ cmd: "done", args: [] });
}

interface Ctx {
  host: SelftestHost;
  g: Globals;
  hasPerfCaps: boolean;
  out: string[];
}

/** pmu_vm_create_with_one_vcpu() + the test's CPUID properties, run to GUEST_DONE, freed. */
function runVm(
  c: Ctx,
  guest: (g: Globals, env: X86GuestEnv) => X86Guest,
  version: number,
  perfCaps: bigint,
  props: (a: CpuidLeafA) => void,
): void {
  const { vm, vcpu } = c.host.vmCreateWithOneVcpu((env) => guest(c.g, env));
  // PERF_CAPABILITIES before the PMU version: KVM refuses features without a vPMU.
  if (c.hasPerfCaps) vcpu.setMsr(MSR.IA32_PERF_CAPABILITIES, perfCaps);
  vcpu.setCpuid((cp) => {
    cp.leafA!.version = version;
  });
  vcpu.setCpuid((cp) => props(cp.leafA!));
  for (;;) {
    const uc = vcpu.run();
    if (uc.cmd === "done") break;
    if (uc.cmd === "printf") c.out.push(uc.msg ?? "");
  }
  vm.free();
}

function testArchEvents(
  c: Ctx,
  v: number,
  caps: bigint,
  length: number,
  unavailable: number,
): void {
  if (!v) return;
  runVm(c, guestTestArchEvents, v, caps, (a) => {
    a.eventsLength = length;
    a.unavailableEvents = unavailable;
  });
}

function testIntelCounters(c: Ctx): void {
  const sup = c.host.supportedCpuid().leafA!;
  const nrFixed = sup.nrFixed;
  const nrGp = sup.nrGp;
  const pmuVersion = sup.version;
  const perfCaps = [0n, PMU_CAP_FW_WRITES];
  const maxVersion = Math.max(pmuVersion, 5);
  // The host's own CPUID: new architectural events would need a new test.
  const hostLen = sup.eventsLength ?? 0;
  testAssert(
    hostLen <= NR_INTEL_ARCH_EVENTS,
    "this_cpu_property(X86_PROPERTY_PMU_EBX_BIT_VECTOR_LENGTH) <= NR_INTEL_ARCH_EVENTS",
    `New architectural event(s) detected; please update this test (length = ${hostLen}, mask = ${(sup.unavailableEvents ?? 0).toString(16)})`,
  );
  c.g.hardwarePmuArchEvents = 0;
  for (let i = 0; i < NR_INTEL_ARCH_EVENTS; i++)
    if (hostLen > i && !(((sup.unavailableEvents ?? 0) >>> i) & 1))
      c.g.hardwarePmuArchEvents |= 1 << i;
  for (let v = 0; v <= maxVersion; v++) {
    for (const caps of perfCaps) {
      if (!c.hasPerfCaps && caps) continue;
      c.out.push(`Testing arch events, PMU version ${v}, perf_caps = ${caps.toString(16)}`);
      // Every non-zero, non-reserved bitmap only with the native version and full length.
      if (v === pmuVersion)
        for (let k = 1; k < 2 ** NR_INTEL_ARCH_EVENTS - 1; k++)
          testArchEvents(c, v, caps, NR_INTEL_ARCH_EVENTS, k);
      for (let j = 0; j <= NR_INTEL_ARCH_EVENTS + 1; j++) {
        testArchEvents(c, v, caps, j, 0);
        testArchEvents(c, v, caps, j, 0xff);
        for (let k = 0; k < NR_INTEL_ARCH_EVENTS; k++) testArchEvents(c, v, caps, j, 1 << k);
      }
      c.out.push(`Testing GP counters, PMU version ${v}, perf_caps = ${caps.toString(16)}`);
      for (let j = 0; j <= nrGp; j++)
        runVm(c, guestTestGpCounters, v, caps, (a) => void (a.nrGp = j));
      c.out.push(`Testing fixed counters, PMU version ${v}, perf_caps = ${caps.toString(16)}`);
      for (let j = 0; j <= nrFixed; j++)
        for (let k = 0; k <= 2 ** nrFixed - 1; k++)
          runVm(c, guestTestFixedCounters, v, caps, (a) => {
            a.fixedBitmask = k;
            a.nrFixed = j;
          });
    }
  }
}

/** The test binary for a host configuration. */
export function pmuCountersTest(o: SelftestHostOptions): Selftest {
  return x86Selftest("pmu_counters_test", "x86/pmu_counters_test.c", o, (host, out) => {
    testRequire(host.hostIsIntel, "host_cpu_is_intel");
    const sup = host.supportedCpuid();
    testRequire(sup.leafA !== null, "kvm_cpu_has_p(X86_PROPERTY_PMU_VERSION)");
    testRequire(sup.leafA.version > 0, "kvm_cpu_property(X86_PROPERTY_PMU_VERSION) > 0");
    const c: Ctx = {
      host,
      g: {
        kvmPmuVersion: sup.leafA.version,
        hardwarePmuArchEvents: 0,
        fep: o.forceEmulationPrefix ?? false,
      },
      hasPerfCaps: sup.features.pdcm,
      out,
    };
    testIntelCounters(c);
    return 0;
  });
}
