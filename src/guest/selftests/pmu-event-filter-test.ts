import {
  KVM_PMU_EVENT_ALLOW,
  KVM_PMU_EVENT_DENY,
  KVM_PMU_EVENT_FILTER_MAX_EVENTS,
  KVM_PMU_EVENT_FLAG_MASKED_EVENTS,
  type KvmPmuEventFilter,
} from "../../kvm/filter.js";
import {
  KVM_CAP_PMU_CAPABILITY,
  KVM_CAP_PMU_EVENT_FILTER,
  KVM_CAP_PMU_EVENT_MASKED_EVENTS,
  KVM_PMU_CAP_DISABLE,
} from "../../kvm/vm.js";
import { AMD_MSR, MSR } from "../../kvm/x86/msr.js";
import {
  code,
  rdmsr,
  rdmsrSafe,
  ucall,
  wrmsr,
  wrmsrSafe,
  type X86Guest,
  type X86GuestEnv,
} from "../x86/program.js";
import { type Selftest, testAssert, testAssertEq, testRequire } from "./kselftest.js";
import {
  type SelftestHost,
  type SelftestHostOptions,
  type SelftestVcpu,
  x86Selftest,
} from "./kvm-util-x86.js";

/**
 * tools/testing/selftests/kvm/x86/pmu_event_filter_test.c: KVM_SET_PMU_EVENT_FILTER allow
 * and deny lists, masked events (sparse and dense filters), the ioctl's validation, the
 * PMU capability, and the fixed-counter bitmap, with a guest that counts between syncs.
 */

const NUM_BRANCHES = 42;
const MAX_TEST_EVENTS = 10;
const EVENTSEL_OS = 1 << 17;
const EVENTSEL_EN = 1 << 22;
const FIXED_PMC_KERNEL = 1;

/** RAW_EVENT(event_select, unit_mask): event bits 11:8 go to 35:32. */
const rawEvent = (sel: number, umask: number): bigint =>
  BigInt(sel & 0xff) | (BigInt((sel >> 8) & 0xf) << 32n) | (BigInt(umask & 0xff) << 8n);

/** KVM_PMU_ENCODE_MASKED_ENTRY(event_select, mask, match, exclude). */
const maskedEntry = (sel: number, mask: number, match: number, exclude: boolean): bigint =>
  BigInt(sel & 0xff) |
  (BigInt((sel >> 8) & 0xf) << 32n) |
  (BigInt(mask & 0xff) << 56n) |
  (BigInt(match & 0xff) << 8n) |
  (BigInt(exclude ? 1 : 0) << 55n);
const include = (sel: number, mask: number, match: number) => maskedEntry(sel, mask, match, false);
const exclude = (sel: number, mask: number, match: number) => maskedEntry(sel, mask, match, true);

const INTEL_ARCH_INSTRUCTIONS_RETIRED = rawEvent(0xc0, 0);
const INTEL_ARCH_BRANCHES_RETIRED = rawEvent(0xc4, 0);
const AMD_ZEN_BRANCHES_RETIRED = rawEvent(0xc2, 0);

/** Intel's architectural events plus AMD Zen's branches retired. */
const BASE_EVENTS: bigint[] = [
  rawEvent(0x3c, 0),
  INTEL_ARCH_INSTRUCTIONS_RETIRED,
  rawEvent(0x3c, 1),
  rawEvent(0x2e, 0x4f),
  rawEvent(0x2e, 0x41),
  INTEL_ARCH_BRANCHES_RETIRED,
  rawEvent(0xc5, 0),
  rawEvent(0xa4, 1),
  AMD_ZEN_BRANCHES_RETIRED,
];

const baseFilter = (action: number): KvmPmuEventFilter & { events: bigint[] } => ({
  action,
  events: [...BASE_EVENTS],
  fixed_counter_bitmap: 0,
  flags: 0,
});

/** What the guest leaves in memory for the host (pmc_results). */
interface PmcResults {
  loads: bigint;
  stores: bigint;
  loadsStores: bigint;
  branchesRetired: bigint;
  instructionsRetired: bigint;
}
const zeroResults = (): PmcResults => ({
  loads: 0n,
  stores: 0n,
  loadsStores: 0n,
  branchesRetired: 0n,
  instructionsRetired: 0n,
});

const EFAULT = 14;
const EIO = 5;
const sync = (v: number | bigint) => ucall({ cmd: "sync", args: [BigInt.asUintN(64, BigInt(v))] });

/** check_msr(): flip some bits and read them back; GUEST_SYNC(-EIO) or (on #GP) -EFAULT. */
function* checkMsr(msr: number, bits: bigint): X86Guest<boolean> {
  const r0 = yield* rdmsrSafe(msr);
  if (r0 === null) return yield* failSync(-EFAULT);
  let v = r0 ^ bits;
  for (let i = 0; i < 2; i++) {
    if (!(yield* wrmsrSafe(msr, v))) return yield* failSync(-EFAULT);
    const r = yield* rdmsrSafe(msr);
    if (r === null) return yield* failSync(-EFAULT);
    if (r !== v) return yield* failSync(-EIO);
    v ^= bits;
  }
  return true;
}

/** Reports a failed sanity check; what the guest does afterwards is undefined (it stops). */
function* failSync(v: number): X86Guest<boolean> {
  yield* sync(v);
  for (;;) yield* sync(v);
}

function* runAndMeasureLoop(res: PmcResults, base: number): X86Guest {
  const br = yield* rdmsr(base);
  const ir = yield* rdmsr(base + 1);
  yield* code({ insns: NUM_BRANCHES, branches: NUM_BRANCHES, cycles: NUM_BRANCHES * 2 });
  res.branchesRetired = (yield* rdmsr(base)) - br;
  res.instructionsRetired = (yield* rdmsr(base + 1)) - ir;
}

function* intelGuestCode(res: PmcResults): X86Guest {
  if (!(yield* checkMsr(MSR.IA32_PERF_GLOBAL_CTRL, 1n))) return;
  if (!(yield* checkMsr(MSR.IA32_PERFEVTSEL0, 0xffffn))) return;
  if (!(yield* checkMsr(MSR.IA32_A_PMC0, 0xffffn))) return;
  yield* sync(0);
  for (;;) {
    yield* wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, 0);
    yield* wrmsr(
      MSR.IA32_PERFEVTSEL0,
      EVENTSEL_EN | EVENTSEL_OS | Number(INTEL_ARCH_BRANCHES_RETIRED),
    );
    yield* wrmsr(
      MSR.IA32_PERFEVTSEL0 + 1,
      EVENTSEL_EN | EVENTSEL_OS | Number(INTEL_ARCH_INSTRUCTIONS_RETIRED),
    );
    yield* wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, 3);
    yield* runAndMeasureLoop(res, MSR.IA32_A_PMC0);
    yield* sync(0);
  }
}

/** The legacy K7 MSRs alias the first four PerfCtrExtCore counters, so no CPUID check is needed. */
function* amdGuestCode(res: PmcResults): X86Guest {
  if (!(yield* checkMsr(AMD_MSR.K7_EVNTSEL0, 0xffffn))) return;
  if (!(yield* checkMsr(AMD_MSR.K7_PERFCTR0, 0xffffn))) return;
  yield* sync(0);
  for (;;) {
    yield* wrmsr(AMD_MSR.K7_EVNTSEL0, 0);
    yield* wrmsr(AMD_MSR.K7_EVNTSEL0, EVENTSEL_EN | EVENTSEL_OS | Number(AMD_ZEN_BRANCHES_RETIRED));
    yield* wrmsr(
      AMD_MSR.K7_EVNTSEL0 + 1,
      EVENTSEL_EN | EVENTSEL_OS | Number(INTEL_ARCH_INSTRUCTIONS_RETIRED),
    );
    yield* runAndMeasureLoop(res, AMD_MSR.K7_PERFCTR0);
    yield* sync(0);
  }
}

/** MEM_INST_RETIRED (Intel SPR/ICX/SKX) and LS_DISPATCH (AMD Zen). */
const MEM_INST_RETIRED = 0xd0;
const LS_DISPATCH = 0x29;

/**
 * masked_events_guest_test(): a store, a load and a read-modify-write of one variable.
 * Intel's MEM_INST_RETIRED counts the RMW among the loads and among the stores (2 + 2, 3
 * memory instructions); AMD's LS_DISPATCH counts it apart (1 load, 1 store, 1 load-op-store).
 */
function* maskedEventsGuestTest(
  res: PmcResults,
  base: number,
  stride: number,
  amd: boolean,
): X86Guest {
  const loads = yield* rdmsr(base);
  const stores = yield* rdmsr(base + stride);
  const ls = yield* rdmsr(base + 2 * stride);
  yield* code(
    amd
      ? { insns: 3, loads: 1, stores: 1, ldStOps: 1, memInsns: 3, cycles: 6 }
      : { insns: 3, loads: 2, stores: 2, memInsns: 3, cycles: 6 },
  );
  res.loads = (yield* rdmsr(base)) - loads;
  res.stores = (yield* rdmsr(base + stride)) - stores;
  res.loadsStores = (yield* rdmsr(base + 2 * stride)) - ls;
}

function* intelMaskedEventsGuestCode(res: PmcResults): X86Guest {
  for (;;) {
    yield* wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, 0);
    for (let i = 0; i < 3; i++)
      yield* wrmsr(
        MSR.IA32_PERFEVTSEL0 + i,
        EVENTSEL_EN | EVENTSEL_OS | MEM_INST_RETIRED | ((0x81 + i) << 8),
      );
    yield* wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, 7);
    yield* maskedEventsGuestTest(res, MSR.IA32_A_PMC0, 1, false);
    yield* sync(0);
  }
}

function* amdMaskedEventsGuestCode(res: PmcResults): X86Guest {
  for (;;) {
    for (let i = 0; i < 3; i++) yield* wrmsr(AMD_MSR.K7_EVNTSEL0 + i, 0);
    for (let i = 0; i < 3; i++)
      yield* wrmsr(
        AMD_MSR.K7_EVNTSEL0 + i,
        EVENTSEL_EN | EVENTSEL_OS | LS_DISPATCH | ((1 << i) << 8),
      );
    yield* maskedEventsGuestTest(res, AMD_MSR.K7_PERFCTR0, 1, true);
    yield* sync(0);
  }
}

function* fixedCounterGuestCode(idx: number): X86Guest {
  for (;;) {
    yield* wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, 0);
    yield* wrmsr(MSR.IA32_FIXED_CTR0 + idx, 0);
    // Only OS_EN for fixed counter idx.
    yield* wrmsr(MSR.IA32_FIXED_CTR_CTRL, BigInt(FIXED_PMC_KERNEL) << BigInt(idx * 4));
    yield* wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, 1n << BigInt(32 + idx));
    yield* code({ insns: NUM_BRANCHES, branches: NUM_BRANCHES, cycles: NUM_BRANCHES * 2 });
    yield* wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, 0);
    yield* sync(yield* rdmsr(MSR.IA32_FIXED_CTR0 + idx));
  }
}

interface Ctx {
  host: SelftestHost;
  out: string[];
  intel: boolean;
  amd: boolean;
  res: PmcResults;
}

/** run_vcpu_to_sync(): the value of the next GUEST_SYNC (any other exit fails the test). */
function runToSync(v: SelftestVcpu): bigint {
  const uc = v.run();
  testAssert(
    uc.cmd === "sync",
    "uc.cmd == UCALL_SYNC",
    `Received ucall other than UCALL_SYNC: ${uc.cmd}`,
  );
  return uc.args[0] ?? 0n;
}

function runAndSyncResults(c: Ctx, v: SelftestVcpu): void {
  Object.assign(c.res, zeroResults());
  const r = runToSync(v);
  testAssert(r === 0n, "!r", `Unexpected sync value: 0x${r.toString(16)}`);
}

function assertCounting(c: Ctx, fn: string): void {
  const br = c.res.branchesRetired;
  const ir = c.res.instructionsRetired;
  if (br && br !== BigInt(NUM_BRANCHES))
    c.out.push(`${fn}: Branch instructions retired = ${br} (expected ${NUM_BRANCHES})`);
  testAssert(br !== 0n, "br", `${fn}: Branch instructions retired = ${br} (expected > 0)`);
  testAssert(ir !== 0n, "ir", `${fn}: Instructions retired = ${ir} (expected > 0)`);
}

function assertNotCounting(c: Ctx, fn: string): void {
  const br = c.res.branchesRetired;
  const ir = c.res.instructionsRetired;
  testAssert(!br, "!br", `${fn}: Branch instructions retired = ${br} (expected 0)`);
  testAssert(!ir, "!ir", `${fn}: Instructions retired = ${ir} (expected 0)`);
}

function withFilter(c: Ctx, v: SelftestVcpu, f: KvmPmuEventFilter): void {
  const r = v.vm.setPmuEventFilter(f);
  testAssert(r === 0, "!ret", `KVM_SET_PMU_EVENT_FILTER failed, rc: ${r}`);
  runAndSyncResults(c, v);
}

const removeEvent = (f: { events: bigint[] }, e: bigint): void => {
  const i = f.events.indexOf(e);
  if (i >= 0) f.events.splice(i, 1);
};

function notMemberFilter(action: number): KvmPmuEventFilter & { events: bigint[] } {
  const f = baseFilter(action);
  removeEvent(f, INTEL_ARCH_INSTRUCTIONS_RETIRED);
  removeEvent(f, INTEL_ARCH_BRANCHES_RETIRED);
  removeEvent(f, AMD_ZEN_BRANCHES_RETIRED);
  return f;
}

const ALLOW_LOADS = 1;
const ALLOW_STORES = 2;
const ALLOW_LOADS_STORES = 4;

const MASKED_CASES: Array<{ intel: bigint[]; amd: bigint[]; msg: string; flags: number }> = [
  {
    intel: [include(MEM_INST_RETIRED, 0xff, 0x81)],
    amd: [include(LS_DISPATCH, 0xff, 1)],
    msg: "Only allow loads.",
    flags: ALLOW_LOADS,
  },
  {
    intel: [include(MEM_INST_RETIRED, 0xff, 0x82)],
    amd: [include(LS_DISPATCH, 0xff, 2)],
    msg: "Only allow stores.",
    flags: ALLOW_STORES,
  },
  {
    intel: [include(MEM_INST_RETIRED, 0xff, 0x83)],
    amd: [include(LS_DISPATCH, 0xff, 4)],
    msg: "Only allow loads + stores.",
    flags: ALLOW_LOADS_STORES,
  },
  {
    intel: [include(MEM_INST_RETIRED, 0x7c, 0), exclude(MEM_INST_RETIRED, 0xff, 0x83)],
    amd: [include(LS_DISPATCH, ~(1 | 2) & 0xff, 0)],
    msg: "Only allow loads and stores.",
    flags: ALLOW_LOADS | ALLOW_STORES,
  },
  {
    intel: [include(MEM_INST_RETIRED, 0x7c, 0), exclude(MEM_INST_RETIRED, 0xff, 0x82)],
    amd: [include(LS_DISPATCH, 0xf8, 0), exclude(LS_DISPATCH, 0xff, 2)],
    msg: "Only allow loads and loads + stores.",
    flags: ALLOW_LOADS | ALLOW_LOADS_STORES,
  },
  {
    intel: [include(MEM_INST_RETIRED, 0xfe, 0x82)],
    amd: [include(LS_DISPATCH, 0xf8, 0), exclude(LS_DISPATCH, 0xff, 1)],
    msg: "Only allow stores and loads + stores.",
    flags: ALLOW_STORES | ALLOW_LOADS_STORES,
  },
  {
    intel: [include(MEM_INST_RETIRED, 0x7c, 0)],
    amd: [include(LS_DISPATCH, 0xf8, 0)],
    msg: "Only allow loads, stores, and loads + stores.",
    flags: ALLOW_LOADS | ALLOW_STORES | ALLOW_LOADS_STORES,
  },
];

function runMaskedEventsTests(c: Ctx, v: SelftestVcpu, events: bigint[], nevents: number): void {
  for (const t of MASKED_CASES) {
    const mine = (c.intel ? t.intel : t.amd).slice(0, MAX_TEST_EVENTS);
    const list = [...events.slice(0, nevents), ...mine];
    withFilter(c, v, {
      action: KVM_PMU_EVENT_ALLOW,
      flags: KVM_PMU_EVENT_FLAG_MASKED_EVENTS,
      events: list,
    });
    const r = c.res;
    testAssert(
      !!r.loads === !!(t.flags & ALLOW_LOADS) &&
        !!r.stores === !!(t.flags & ALLOW_STORES) &&
        !!r.loadsStores === !!(t.flags & ALLOW_LOADS_STORES),
      "bool_eq(pmc_results.loads, test->flags & ALLOW_LOADS) && ...",
      `${t.msg}  loads: ${r.loads}, stores: ${r.stores}, loads + stores: ${r.loadsStores}`,
    );
  }
}

/** add_dummy_events(): masked entries for every other event select, every fourth an exclude. */
function dummyEvents(n: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    let sel = i % 0xff;
    if (sel === MEM_INST_RETIRED || sel === LS_DISPATCH) sel++;
    out.push(maskedEntry(sel, 0, 0, i % 4 === 0));
  }
  return out;
}

function testMaskedEvents(c: Ctx, v: SelftestVcpu): void {
  runMaskedEventsTests(c, v, [], 0);
  runMaskedEventsTests(
    c,
    v,
    dummyEvents(KVM_PMU_EVENT_FILTER_MAX_EVENTS),
    KVM_PMU_EVENT_FILTER_MAX_EVENTS - MAX_TEST_EVENTS,
  );
}

function single(event: bigint, flags: number, action: number): KvmPmuEventFilter {
  return { action, flags, events: [event] };
}

function testFilterIoctl(c: Ctx, v: SelftestVcpu): void {
  const nrFixed = c.host.supportedCpuid().leafA?.nrFixed ?? 0;
  const set = (f: KvmPmuEventFilter) => v.vm.setPmuEventFilter(f);
  // Invalid bits in event data are (unfortunately) accepted without flags.
  testAssert(
    set(single((1n << 64n) - 1n, 0, KVM_PMU_EVENT_ALLOW)) === 0,
    "r == 0",
    "Valid PMU Event Filter is failing",
  );
  testAssert(
    set(single((1n << 64n) - 1n, KVM_PMU_EVENT_FLAG_MASKED_EVENTS, KVM_PMU_EVENT_ALLOW)) !== 0,
    "r != 0",
    "Invalid PMU Event Filter is expected to fail",
  );
  testAssert(
    set(
      single(
        maskedEntry(0xff, 0xff, 0xff, true),
        KVM_PMU_EVENT_FLAG_MASKED_EVENTS,
        KVM_PMU_EVENT_ALLOW,
      ),
    ) === 0,
    "r == 0",
    "Valid PMU Event Filter is failing",
  );
  testAssert(
    set({ ...baseFilter(KVM_PMU_EVENT_DENY + 1) }) !== 0,
    "r",
    "Set invalid action is expected to fail",
  );
  testAssert(
    set({ ...baseFilter(0), flags: KVM_PMU_EVENT_FLAG_MASKED_EVENTS << 1 }) !== 0,
    "r",
    "Set invalid flags is expected to fail",
  );
  const big = baseFilter(0);
  const events = [...big.events, ...new Array<bigint>(KVM_PMU_EVENT_FILTER_MAX_EVENTS).fill(0n)];
  testAssert(
    set({ ...big, events, nevents: KVM_PMU_EVENT_FILTER_MAX_EVENTS + 1 }) !== 0,
    "r",
    "Exceeding the max number of filter events should fail",
  );
  const bitmap = Number(~((2n << BigInt(nrFixed)) - 1n) & 0xffffffffn);
  testAssert(
    set({ ...baseFilter(0), fixed_counter_bitmap: bitmap }) === 0,
    "!r",
    "Masking non-existent fixed counters should be allowed",
  );
}

function testPmuConfigDisable(c: Ctx, guest: (env: X86GuestEnv) => X86Guest): void {
  const r = c.host.kvm.checkExtension(KVM_CAP_PMU_CAPABILITY);
  if (!(r & KVM_PMU_CAP_DISABLE)) return;
  const vm = c.host.vmCreate();
  vm.enableCap(KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE);
  const v = vm.addVcpu(0, guest);
  testAssert(
    runToSync(v) !== 0n,
    "!sanity_check_pmu(vcpu)",
    "Guest should not be able to use disabled PMU.",
  );
  vm.free();
}

function testFixedCounterBitmap(c: Ctx): void {
  const nrFixed = c.host.supportedCpuid().leafA?.nrFixed ?? 0;
  for (let idx = 0; idx < nrFixed; idx++) {
    const { vm, vcpu } = c.host.vmCreateWithOneVcpu(() => fixedCounterGuestCode(idx));
    testAssert(nrFixed < 32, "nr_fixed_counters < sizeof(bitmap) * 8", "Invalid nr_fixed_counters");
    // With no filter the fixed counter counts.
    const count = runToSync(vcpu);
    testAssert(count !== 0n, "count", `Unexpected count value: ${count}`);
    for (let i = 0; i < 2 ** nrFixed; i++) {
      const bitmap = 1 << i;
      const has = !!(bitmap & (1 << idx));
      const run = (f: KvmPmuEventFilter) => {
        vcpu.vm.setPmuEventFilter(f);
        return runToSync(vcpu) !== 0n;
      };
      testAssertEq(
        run({ action: KVM_PMU_EVENT_ALLOW, events: [], fixed_counter_bitmap: bitmap }),
        has,
        "!!count, !!(bitmap & BIT(idx))",
      );
      testAssertEq(
        run({ action: KVM_PMU_EVENT_DENY, events: [], fixed_counter_bitmap: bitmap }),
        !has,
        "!!count, !(bitmap & BIT(idx))",
      );
      // fixed_counter_bitmap has priority over events[].
      testAssertEq(
        run({ ...baseFilter(KVM_PMU_EVENT_ALLOW), fixed_counter_bitmap: bitmap }),
        has,
        "!!count, !!(bitmap & BIT(idx))",
      );
      testAssertEq(
        run({ ...baseFilter(KVM_PMU_EVENT_DENY), fixed_counter_bitmap: bitmap }),
        !has,
        "!!count, !(bitmap & BIT(idx))",
      );
    }
    vm.free();
  }
}

/** The test binary for a host configuration. */
export function pmuEventFilterTest(o: SelftestHostOptions): Selftest {
  return x86Selftest("pmu_event_filter_test", "x86/pmu_event_filter_test.c", o, (host, out) => {
    testRequire(
      host.kvm.checkExtension(KVM_CAP_PMU_EVENT_FILTER) !== 0,
      "kvm_has_cap(KVM_CAP_PMU_EVENT_FILTER)",
    );
    testRequire(
      host.kvm.checkExtension(KVM_CAP_PMU_EVENT_MASKED_EVENTS) !== 0,
      "kvm_has_cap(KVM_CAP_PMU_EVENT_MASKED_EVENTS)",
    );
    const sup = host.supportedCpuid();
    const a = sup.leafA;
    // Intel: a PMU version, GP counters and branches retired (CPUID.0xA.EBX bit 5).
    const intel =
      host.hostIsIntel &&
      !!a?.version &&
      !!a.nrGp &&
      (a.eventsLength ?? 0) > 5 &&
      !(((a.unavailableEvents ?? 0) >>> 5) & 1);
    // AMD: Zen (family 0x17) and later encode branches retired as 0xc2.
    const amd = !host.hostIsIntel && sup.features.family >= 0x17;
    testRequire(intel || amd, "use_intel_pmu() || use_amd_pmu()");
    const c: Ctx = { host, out, intel, amd, res: zeroResults() };
    const guest = () => (intel ? intelGuestCode(c.res) : amdGuestCode(c.res));
    const { vm, vcpu } = host.vmCreateWithOneVcpu(guest);
    testRequire(runToSync(vcpu) === 0n, "sanity_check_pmu(vcpu)");
    if (amd) {
      withFilter(c, vcpu, single(rawEvent(0x1c2, 0), 0, KVM_PMU_EVENT_DENY));
      assertCounting(c, "test_amd_deny_list");
    }
    runAndSyncResults(c, vcpu);
    assertCounting(c, "test_without_filter");
    withFilter(c, vcpu, baseFilter(KVM_PMU_EVENT_DENY));
    assertNotCounting(c, "test_member_deny_list");
    withFilter(c, vcpu, baseFilter(KVM_PMU_EVENT_ALLOW));
    assertCounting(c, "test_member_allow_list");
    withFilter(c, vcpu, notMemberFilter(KVM_PMU_EVENT_DENY));
    assertCounting(c, "test_not_member_deny_list");
    withFilter(c, vcpu, notMemberFilter(KVM_PMU_EVENT_ALLOW));
    assertNotCounting(c, "test_not_member_allow_list");
    // MEM_INST_RETIRED on Sapphire Rapids (0x8F), Ice Lake (0x6A), Skylake/Cascade Lake (0x55).
    const memInstRetired =
      sup.features.family === 6 && [0x8f, 0x6a, 0x55].includes(sup.features.model);
    let vcpu2: SelftestVcpu | null = null;
    if (intel && memInstRetired && (a?.nrGp ?? 0) >= 3)
      vcpu2 = vm.addVcpu(2, () => intelMaskedEventsGuestCode(c.res));
    else if (amd) vcpu2 = vm.addVcpu(2, () => amdMaskedEventsGuestCode(c.res));
    if (vcpu2) testMaskedEvents(c, vcpu2);
    testFilterIoctl(c, vcpu);
    vm.free();
    testPmuConfigDisable(c, guest);
    testFixedCounterBitmap(c);
    return 0;
  });
}
