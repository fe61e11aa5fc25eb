import {
  type CodeBlock,
  code,
  cpuid,
  fep,
  lvtpcUnmask,
  rdmsr,
  rdpmc,
  rdpmcSafe,
  rdtsc,
  stiWait,
  wrmsr,
  wrmsrSafe,
  type X86Guest,
  type X86GuestEnv,
} from "../x86/program.js";
import type { KutReport } from "./libcflat.js";
import {
  AMD64_NUM_COUNTERS,
  archEventIsAvailable,
  EVNTSEL_CMASK_SHIFT,
  EVNTSEL_EN,
  EVNTSEL_INT,
  EVNTSEL_OS,
  EVNTSEL_USR,
  FIXED_CNT_INDEX,
  hasPerfGlobalCtrl,
  hasPerfGlobalStatus,
  kutAssert,
  MSR_CORE_PERF_FIXED_CTR_CTRL,
  MSR_CORE_PERF_FIXED_CTR0,
  MSR_F15H_PERF_CTR0,
  MSR_GP_COUNTERx,
  MSR_GP_EVENT_SELECTx,
  MSR_IA32_PERFCTR0,
  MSR_IA32_PMC0,
  MSR_K7_EVNTSEL0,
  MSR_K7_PERFCTR0,
  type PmuCaps,
  pmuClearGlobalStatus,
  pmuHasFullWrites,
  pmuInit,
  pmuUseFullWrites,
} from "./x86-pmu-lib.js";

/**
 * kvm-unit-tests `x86/pmu.c` as a guest program: the same checks, names, ranges and skip
 * rules, in vpmu's own code. The measured loop (LOOP_ASM) is one code block whose
 * instruction and branch counts are the ones the suite derives (10 instructions and one
 * branch per iteration, plus the fixed set-up and IBPB sequence); what the loop does to the
 * caches and branch predictor, and its cycles, are model parameters (below).
 */

const N = 1_000_000;
/** The IBPB + indirect jump sequence: 9 instructions, 2 branches (call, jmp). */
const IBPB_JMP_INSNS = 9;
const IBPB_JMP_BRANCHES = 2;
/** GLOBAL_CTRL enable + disable + clflush/mfence + IBPB_JMP. */
const EXTRA_INSNS = 3 + 3 + 2 + IBPB_JMP_INSNS;
const LOOP_INSNS = N * 10 + EXTRA_INSNS;
const LOOP_BRANCHES = N + IBPB_JMP_BRANCHES;
/** The kvm_fep_asm() blob: 22 instructions, 5 of them (emulated) branches. */
const KVM_FEP_INSNS = 22;
const KVM_FEP_BRANCHES = 5;

/** Model parameters of the loop: 2.5 instructions per cycle, half its strided loads miss the LLC. */
const LOOP_CYCLES = 4 * N;
const LOOP_LLC_MISSES = N / 2;

interface PmuEvent {
  name: string;
  unitSel: number;
  min: number;
  max: number;
}

/** pmu_counter_t. */
interface Counter {
  ctr: number;
  idx: number;
  config: number;
  count: bigint;
}

const intelGpEvents = (): PmuEvent[] => [
  { name: "core cycles", unitSel: 0x003c, min: 1 * N, max: 50 * N },
  { name: "instructions", unitSel: 0x00c0, min: 10 * N, max: 10.2 * N },
  { name: "ref cycles", unitSel: 0x013c, min: 1 * N, max: 30 * N },
  { name: "llc references", unitSel: 0x4f2e, min: 1, max: 2.5 * N },
  { name: "llc misses", unitSel: 0x412e, min: 1, max: 1 * N },
  { name: "branches", unitSel: 0x00c4, min: 1 * N, max: 1.1 * N },
  { name: "branch misses", unitSel: 0x00c5, min: 1, max: 0.1 * N },
];
const amdGpEvents = (): PmuEvent[] => [
  { name: "core cycles", unitSel: 0x0076, min: 1 * N, max: 50 * N },
  { name: "instructions", unitSel: 0x00c0, min: 10 * N, max: 10.2 * N },
  { name: "branches", unitSel: 0x00c2, min: 1 * N, max: 1.1 * N },
  { name: "branch misses", unitSel: 0x00c3, min: 1, max: 0.1 * N },
];
const fixedEventsTable = (): PmuEvent[] => [
  { name: "fixed 0", unitSel: MSR_CORE_PERF_FIXED_CTR0, min: 10 * N, max: 10.2 * N },
  { name: "fixed 1", unitSel: MSR_CORE_PERF_FIXED_CTR0 + 1, min: 1 * N, max: 30 * N },
  { name: "fixed 2", unitSel: MSR_CORE_PERF_FIXED_CTR0 + 2, min: 0.1 * N, max: 30 * N },
];

/** Indices in the event tables. */
const INTEL = { instructions: 1, refCycles: 2, llcMisses: 4, branches: 5, branchMisses: 6 };
const AMD = { instructions: 1, branches: 2, branchMisses: 3 };

/** The test's state: its view of the PMU and the event ranges it checks against. */
interface Ctx {
  t: KutReport;
  env: X86GuestEnv;
  pmu: PmuCaps;
  gpEvents: PmuEvent[];
  fixedEvents: PmuEvent[];
  fixedCountersNum: number;
  fepAvailable: boolean;
  idx: { instructions: number; branches: number; branchMisses: number };
}

const hasIbpb = (c: Ctx): boolean => c.env.cpuid.features.ibpb;
const hasClflush = (c: Ctx): boolean => c.env.cpuid.features.clflush;

/**
 * LOOP_ASM between its two `_wrmsr1`: the two movs, clflush (or nop), mfence, N iterations
 * of a strided load, an add, seven nops and `loop`, the IBPB + call/jmp sequence, and the
 * three register clears. With `_wrmsr1` a nop (no GLOBAL_CTRL), the two nops come along.
 */
function loopBlock(c: Ctx, nops: boolean): CodeBlock {
  return {
    insns: 10 * N + EXTRA_INSNS - 1 + (nops ? 2 : 0),
    branches: LOOP_BRANCHES,
    branchMisses: hasIbpb(c) ? 2 : 1,
    loads: N + 1,
    stores: 1,
    llcRefs: N + (hasClflush(c) ? 1 : 0),
    llcMisses: LOOP_LLC_MISSES + (hasClflush(c) ? 1 : 0),
    cycles: LOOP_CYCLES,
  };
}

/** __loop(): the loop without touching GLOBAL_CTRL. */
function* plainLoop(c: Ctx): X86Guest {
  yield* code(loopBlock(c, true));
}

/** __precise_loop(): GLOBAL_CTRL enables `cntrs` right before the loop and clears it right after. */
function* preciseLoop(c: Ctx, cntrs: bigint): X86Guest {
  yield* wrmsr(c.pmu.msrGlobalCtl, cntrs);
  yield* code(loopBlock(c, false));
  yield* wrmsr(c.pmu.msrGlobalCtl, 0);
}

function* loop(c: Ctx, cntrs: bigint): X86Guest {
  if (!hasPerfGlobalCtrl(c.pmu)) yield* plainLoop(c);
  else yield* preciseLoop(c, cntrs);
}

/** adjust_events_range(). */
function adjustEventsRange(c: Ctx): void {
  const ev = c.gpEvents;
  // Precise counts need GLOBAL_CTRL around the loop; AMD counts VMRUN as a branch, so only Intel.
  if (c.pmu.isIntel && hasPerfGlobalCtrl(c.pmu)) {
    if (!c.pmu.errata.instructionsRetiredOvercount) {
      ev[c.idx.instructions]!.min = LOOP_INSNS;
      ev[c.idx.instructions]!.max = LOOP_INSNS;
    }
    if (!c.pmu.errata.branchesRetiredOvercount) {
      ev[c.idx.branches]!.min = LOOP_BRANCHES;
      ev[c.idx.branches]!.max = LOOP_BRANCHES;
    }
  }
  // Without IBPB nothing forces a branch miss.
  if (!hasIbpb(c)) ev[c.idx.branchMisses]!.min = 0;
}

function isGp(c: Ctx, e: Counter): boolean {
  if (!c.pmu.isIntel) return true;
  return e.ctr < MSR_CORE_PERF_FIXED_CTR0 || e.ctr >= MSR_IA32_PMC0;
}

function eventToGlobalIdx(c: Ctx, e: Counter): number {
  const p = c.pmu;
  if (p.isIntel)
    return e.ctr - (isGp(c, e) ? p.msrGpCounterBase : MSR_CORE_PERF_FIXED_CTR0 - FIXED_CNT_INDEX);
  if (p.msrGpCounterBase === MSR_F15H_PERF_CTR0) return (e.ctr - p.msrGpCounterBase) / 2;
  return e.ctr - p.msrGpCounterBase;
}

function getCounterEvent(c: Ctx, e: Counter): PmuEvent | undefined {
  if (isGp(c, e)) return c.gpEvents.find((ev) => ev.unitSel === (e.config & 0xffff));
  return c.fixedEvents[e.ctr - MSR_CORE_PERF_FIXED_CTR0];
}

const bit = (i: number): bigint => 1n << BigInt(i);

function* globalEnable(c: Ctx, e: Counter): X86Guest {
  if (!hasPerfGlobalCtrl(c.pmu)) return;
  e.idx = eventToGlobalIdx(c, e);
  yield* wrmsr(c.pmu.msrGlobalCtl, (yield* rdmsr(c.pmu.msrGlobalCtl)) | bit(e.idx));
}

function* globalDisable(c: Ctx, e: Counter): X86Guest {
  if (!hasPerfGlobalCtrl(c.pmu)) return;
  yield* wrmsr(c.pmu.msrGlobalCtl, (yield* rdmsr(c.pmu.msrGlobalCtl)) & ~bit(e.idx));
}

function* startEventAt(c: Ctx, e: Counter, count: bigint): X86Guest {
  e.count = count;
  yield* wrmsr(e.ctr, e.count);
  if (isGp(c, e)) {
    yield* wrmsr(MSR_GP_EVENT_SELECTx(c.pmu, eventToGlobalIdx(c, e)), e.config | EVNTSEL_EN);
  } else {
    const ctrl = Number((yield* rdmsr(MSR_CORE_PERF_FIXED_CTR_CTRL)) & 0xffffffffn);
    const shift = (e.ctr - MSR_CORE_PERF_FIXED_CTR0) * 4;
    let usrospmi = 0;
    if (e.config & EVNTSEL_OS) usrospmi |= 1 << 0;
    if (e.config & EVNTSEL_USR) usrospmi |= 1 << 1;
    if (e.config & EVNTSEL_INT) usrospmi |= 1 << 3; // PMI on overflow
    const v = ((ctrl & ~(0xf << shift)) | (usrospmi << shift)) >>> 0;
    yield* wrmsr(MSR_CORE_PERF_FIXED_CTR_CTRL, v);
  }
  yield* lvtpcUnmask();
}

function* startEvent(c: Ctx, e: Counter): X86Guest {
  yield* startEventAt(c, e, 0n);
  yield* globalEnable(c, e);
}

function* stopEventOnly(c: Ctx, e: Counter): X86Guest {
  if (isGp(c, e)) {
    yield* wrmsr(MSR_GP_EVENT_SELECTx(c.pmu, eventToGlobalIdx(c, e)), e.config & ~EVNTSEL_EN);
  } else {
    const ctrl = Number((yield* rdmsr(MSR_CORE_PERF_FIXED_CTR_CTRL)) & 0xffffffffn);
    const shift = (e.ctr - MSR_CORE_PERF_FIXED_CTR0) * 4;
    yield* wrmsr(MSR_CORE_PERF_FIXED_CTR_CTRL, (ctrl & ~(0xf << shift)) >>> 0);
  }
  e.count = yield* rdmsr(e.ctr);
}

function* stopEvent(c: Ctx, e: Counter): X86Guest {
  yield* globalDisable(c, e);
  yield* stopEventOnly(c, e);
}

function* measureMany(c: Ctx, evts: Counter[]): X86Guest {
  let cntrs = 0n;
  for (const e of evts) {
    yield* startEventAt(c, e, 0n);
    cntrs |= bit(eventToGlobalIdx(c, e));
  }
  yield* loop(c, cntrs);
  for (const e of evts) yield* stopEventOnly(c, e);
}

function* measureFrom(c: Ctx, e: Counter, count: bigint): X86Guest {
  const cntrs = bit(eventToGlobalIdx(c, e));
  yield* startEventAt(c, e, count);
  yield* loop(c, cntrs);
  yield* stopEventOnly(c, e);
}

function verifyEvent(c: Ctx, count: bigint, e: PmuEvent | undefined): boolean {
  if (!e) return false;
  // C compares the u64 count with the int bounds converted to u64; %PRId64 prints it signed.
  const pass = count >= BigInt(Math.trunc(e.min)) && count <= BigInt(Math.trunc(e.max));
  if (!pass)
    c.t.print(`FAIL: ${Math.trunc(e.min)} <= ${BigInt.asIntN(64, count)} <= ${Math.trunc(e.max)}`);
  return pass;
}

const newCounter = (ctr: number, config: number): Counter => ({ ctr, idx: 0, config, count: 0n });

function* checkGpCounter(c: Ctx, ev: PmuEvent): X86Guest {
  const cnt = newCounter(0, EVNTSEL_OS | EVNTSEL_USR | ev.unitSel);
  for (let i = 0; i < c.pmu.nrGpCounters; i++) {
    cnt.ctr = MSR_GP_COUNTERx(c.pmu, i);
    yield* measureMany(c, [cnt]);
    c.t.report(verifyEvent(c, cnt.count, ev), `${ev.name}-${i}`);
  }
}

function* checkGpCounters(c: Ctx): X86Guest {
  for (let i = 0; i < c.gpEvents.length; i++) {
    if (archEventIsAvailable(c.pmu, i)) yield* checkGpCounter(c, c.gpEvents[i]!);
    else c.t.print(`GP event '${c.gpEvents[i]!.name}' is disabled`);
  }
}

function* checkFixedCounters(c: Ctx): X86Guest {
  const cnt = newCounter(0, EVNTSEL_OS | EVNTSEL_USR);
  for (let i = 0; i < c.fixedCountersNum; i++) {
    cnt.ctr = c.fixedEvents[i]!.unitSel;
    yield* measureMany(c, [cnt]);
    c.t.report(verifyEvent(c, cnt.count, c.fixedEvents[i]), `fixed-${i}`);
  }
}

function getOneEvent(c: Ctx, idx: number): PmuEvent | undefined {
  if (archEventIsAvailable(c.pmu, idx)) return c.gpEvents[idx % c.gpEvents.length];
  return c.gpEvents.find((_, i) => archEventIsAvailable(c.pmu, i));
}

function* checkCountersMany(c: Ctx): X86Guest {
  const cnt: Counter[] = [];
  for (let i = 0; cnt.length < c.pmu.nrGpCounters; i++) {
    const ev = getOneEvent(c, i);
    if (!ev) continue;
    cnt.push(newCounter(MSR_GP_COUNTERx(c.pmu, cnt.length), EVNTSEL_OS | EVNTSEL_USR | ev.unitSel));
  }
  for (let i = 0; i < c.fixedCountersNum; i++)
    cnt.push(newCounter(c.fixedEvents[i]!.unitSel, EVNTSEL_OS | EVNTSEL_USR));
  kutAssert(cnt.length <= 48, "n <= ARRAY_SIZE(cnt)");
  yield* measureMany(c, cnt);
  let i = 0;
  for (; i < cnt.length; i++)
    if (!verifyEvent(c, cnt[i]!.count, getCounterEvent(c, cnt[i]!))) break;
  c.t.report(i === cnt.length, "all counters");
}

/** measure_for_overflow(): the preset that makes the loop end exactly one past a wrap. */
function* measureForOverflow(c: Ctx, cnt: Counter): X86Guest<bigint> {
  if (c.pmu.errata.instructionsRetiredOvercount) return BigInt.asUintN(64, BigInt(1 - LOOP_INSNS));
  yield* measureFrom(c, cnt, 0n);
  kutAssert(cnt.count > 1n, "cnt->count > 1");
  return BigInt.asUintN(64, 1n - cnt.count);
}

const widthMask = (w: number): bigint => (1n << BigInt(w)) - 1n;

function* checkCounterOverflow(c: Ctx): X86Guest {
  const p = c.pmu;
  const cnt = newCounter(
    MSR_GP_COUNTERx(p, 0),
    EVNTSEL_OS | EVNTSEL_USR | c.gpEvents[c.idx.instructions]!.unitSel,
  );
  const preset = yield* measureForOverflow(c, cnt);
  if (hasPerfGlobalStatus(p)) yield* pmuClearGlobalStatus(p);
  c.t.prefixPush("overflow");
  for (let i = 0; i < p.nrGpCounters + 1; i++) {
    if (i === p.nrGpCounters) {
      if (!p.isIntel) break;
      cnt.ctr = c.fixedEvents[0]!.unitSel;
      cnt.count = yield* measureForOverflow(c, cnt);
      cnt.count &= widthMask(p.fixedCounterWidth);
    } else {
      cnt.ctr = MSR_GP_COUNTERx(p, i);
      cnt.count = preset;
      if (pmuUseFullWrites(p)) cnt.count &= widthMask(p.gpCounterWidth);
    }
    if (i % 2) cnt.config |= EVNTSEL_INT;
    else cnt.config &= ~EVNTSEL_INT;
    const idx = eventToGlobalIdx(c, cnt);
    yield* measureFrom(c, cnt, cnt.count);
    if (p.isIntel) {
      if (p.errata.instructionsRetiredOvercount) c.t.report(cnt.count < 14n, `cntr-${i}`);
      else c.t.report(cnt.count === 1n, `cntr-${i}`);
    } else {
      c.t.report(cnt.count === 0xffffffffffffn || cnt.count < 7n, `cntr-${i}`);
    }
    if (!hasPerfGlobalStatus(p)) continue;
    let status = yield* rdmsr(p.msrGlobalStatus);
    c.t.report((status & bit(idx)) !== 0n, `status-${i}`);
    yield* wrmsr(p.msrGlobalStatusClr, status);
    status = yield* rdmsr(p.msrGlobalStatus);
    c.t.report((status & bit(idx)) === 0n, `status clear-${i}`);
    c.t.report((yield* checkIrq()) === (i % 2 === 1), `irq-${i}`);
  }
  c.t.prefixPop();
}

/** check_irq(): sti, spin on PAUSE up to 100000 times for the PMI, cli. */
function* checkIrq(): X86Guest<boolean> {
  return yield* stiWait(100000);
}

function* checkGpCounterCmask(c: Ctx): X86Guest {
  const cnt = newCounter(
    MSR_GP_COUNTERx(c.pmu, 0),
    EVNTSEL_OS | EVNTSEL_USR | c.gpEvents[c.idx.instructions]!.unitSel,
  );
  cnt.config |= 0x2 << EVNTSEL_CMASK_SHIFT;
  yield* measureMany(c, [cnt]);
  c.t.report(cnt.count < BigInt(c.gpEvents[c.idx.instructions]!.min), "cmask");
}

function* checkRdpmc(c: Ctx): X86Guest {
  const p = c.pmu;
  const val = 0xff0123456789n;
  c.t.prefixPush("rdpmc");
  for (let i = 0; i < p.nrGpCounters; i++) {
    // Without full-width writes only the low 32 bits are writable, sign-extended.
    let x =
      p.msrGpCounterBase === MSR_IA32_PERFCTR0 ? BigInt.asUintN(64, BigInt.asIntN(32, val)) : val;
    x &= widthMask(p.gpCounterWidth);
    yield* wrmsr(MSR_GP_COUNTERx(p, i), val);
    c.t.report((yield* rdpmc(i)) === x, `cntr-${i}`);
    const fast = yield* rdpmcSafe((i | (1 << 31)) >>> 0);
    if (fast === null) c.t.skip(`fast-${i}`);
    else c.t.report(fast === (val & 0xffffffffn), `fast-${i}`);
  }
  for (let i = 0; i < c.fixedCountersNum; i++) {
    const x = val & widthMask(p.fixedCounterWidth);
    yield* wrmsr(MSR_CORE_PERF_FIXED_CTR0 + i, x);
    c.t.report((yield* rdpmc(i | (1 << 30))) === x, `fixed cntr-${i}`);
    const fast = yield* rdpmcSafe((i | (1 << 31) | (1 << 30)) >>> 0);
    if (fast === null) c.t.skip(`fixed fast-${i}`);
    else c.t.report(fast === (x & 0xffffffffn), `fixed fast-${i}`);
  }
  c.t.prefixPop();
}

function* checkRunningCounterWrmsr(c: Ctx): X86Guest {
  const p = c.pmu;
  const instr = c.gpEvents[c.idx.instructions]!;
  const evt = newCounter(MSR_GP_COUNTERx(p, 0), EVNTSEL_OS | EVNTSEL_USR | instr.unitSel);
  c.t.prefixPush("running counter wrmsr");
  yield* startEvent(c, evt);
  yield* plainLoop(c);
  yield* wrmsr(MSR_GP_COUNTERx(p, 0), 0);
  yield* stopEvent(c, evt);
  c.t.report(evt.count < BigInt(instr.min), "cntr");
  if (hasPerfGlobalStatus(p)) yield* pmuClearGlobalStatus(p);
  yield* startEvent(c, evt);
  let count = (1n << 64n) - 1n;
  if (pmuUseFullWrites(p)) count &= widthMask(p.gpCounterWidth);
  yield* wrmsr(MSR_GP_COUNTERx(p, 0), count);
  yield* plainLoop(c);
  yield* stopEvent(c, evt);
  if (hasPerfGlobalStatus(p)) {
    const status = yield* rdmsr(p.msrGlobalStatus);
    c.t.report((status & 1n) !== 0n, "status msr bit");
  }
  c.t.prefixPop();
}

/**
 * kvm_fep_asm(): `_wrmsr`; mov; mov; cmp; five force-emulated (not taken) jne; five
 * mov + CPUID (which always exits); mov; xor; xor; `_wrmsr`.
 */
function* fepBlob(globalCtl: number, enable: bigint): X86Guest {
  if (globalCtl) yield* wrmsr(globalCtl, enable);
  else yield* code({ insns: 1 });
  yield* code({ insns: 3 });
  for (let i = 0; i < 5; i++) yield* fep(true);
  for (let i = 0; i < 5; i++) {
    yield* code({ insns: 1 });
    yield* cpuid();
  }
  yield* code({ insns: 3 });
  if (globalCtl) yield* wrmsr(globalCtl, 0);
  else yield* code({ insns: 1 });
}

function* checkEmulatedInstr(c: Ctx): X86Guest {
  const p = c.pmu;
  const mask = widthMask(p.gpCounterWidth);
  const brnch = newCounter(
    MSR_GP_COUNTERx(p, 0),
    EVNTSEL_OS | EVNTSEL_USR | c.gpEvents[c.idx.branches]!.unitSel,
  );
  const instr = newCounter(
    MSR_GP_COUNTERx(p, 1),
    EVNTSEL_OS | EVNTSEL_USR | c.gpEvents[c.idx.instructions]!.unitSel,
  );
  const globalCtrl = hasPerfGlobalCtrl(p);
  c.t.prefixPush("emulated instruction");
  if (hasPerfGlobalStatus(p)) yield* pmuClearGlobalStatus(p);
  yield* startEventAt(c, brnch, 0n);
  yield* startEventAt(c, instr, 0n);
  const brnchStart = BigInt.asUintN(64, BigInt(-KVM_FEP_BRANCHES));
  const instrStart = BigInt.asUintN(64, BigInt(-KVM_FEP_INSNS));
  yield* wrmsr(MSR_GP_COUNTERx(p, 0), brnchStart & mask);
  yield* wrmsr(MSR_GP_COUNTERx(p, 1), instrStart & mask);
  yield* fepBlob(globalCtrl ? p.msrGlobalCtl : 0, bit(0) | bit(1));
  yield* stopEventOnly(c, brnch);
  yield* stopEventOnly(c, instr);
  const di = BigInt.asUintN(64, instr.count - instrStart);
  const db = BigInt.asUintN(64, brnch.count - brnchStart);
  if (globalCtrl && !p.errata.instructionsRetiredOvercount)
    c.t.report(di === BigInt(KVM_FEP_INSNS), "instruction count");
  else c.t.report(di >= BigInt(KVM_FEP_INSNS), "instruction count");
  if (globalCtrl && !p.errata.branchesRetiredOvercount)
    c.t.report(db === BigInt(KVM_FEP_BRANCHES), "branch count");
  else c.t.report(db >= BigInt(KVM_FEP_BRANCHES), "branch count");
  if (hasPerfGlobalStatus(p)) {
    const status = yield* rdmsr(p.msrGlobalStatus);
    c.t.report((status & bit(0)) !== 0n, "branch counter overflow");
    c.t.report((status & bit(1)) !== 0n, "instruction counter overflow");
  }
  c.t.prefixPop();
}

function* warmUp(c: Ctx): X86Guest {
  for (let i = 0; i < 10; i++) yield* loop(c, 0n);
}

function* checkCounters(c: Ctx): X86Guest {
  if (c.fepAvailable) yield* checkEmulatedInstr(c);
  yield* warmUp(c);
  yield* checkGpCounters(c);
  yield* checkFixedCounters(c);
  yield* checkRdpmc(c);
  yield* checkCountersMany(c);
  yield* checkCounterOverflow(c);
  yield* checkGpCounterCmask(c);
  yield* checkRunningCounterWrmsr(c);
  // check_tsx_cycles() needs RTM, which no vpmu guest has (transactional memory is not
  // modelled): it returns at once, with no report, as on a CPU without RTM.
}

function* checkGpCountersWriteWidth(c: Ctx): X86Guest {
  const p = c.pmu;
  const val64 = 0xffffff0123456789n;
  const val32 = val64 & 0xffffffffn;
  const valMax = val64 & widthMask(p.gpCounterWidth);
  // IA32_PERFCTRn takes 64-bit writes but keeps the low 32 bits.
  for (let i = 0; i < p.nrGpCounters; i++) {
    for (const v of [val32, valMax, val64]) {
      yield* wrmsr(MSR_IA32_PERFCTR0 + i, v);
      kutAssert(
        (yield* rdmsr(MSR_IA32_PERFCTR0 + i)) === val32,
        "rdmsr(MSR_IA32_PERFCTR0 + i) == val_32",
      );
      kutAssert((yield* rdmsr(MSR_IA32_PMC0 + i)) === val32, "rdmsr(MSR_IA32_PMC0 + i) == val_32");
    }
  }
  // IA32_PMCn takes values up to the counter width.
  for (let i = 0; i < p.nrGpCounters; i++) {
    yield* wrmsr(MSR_IA32_PMC0 + i, val32);
    kutAssert((yield* rdmsr(MSR_IA32_PMC0 + i)) === val32, "rdmsr(MSR_IA32_PMC0 + i) == val_32");
    kutAssert(
      (yield* rdmsr(MSR_IA32_PERFCTR0 + i)) === val32,
      "rdmsr(MSR_IA32_PERFCTR0 + i) == val_32",
    );
    yield* wrmsr(MSR_IA32_PMC0 + i, valMax);
    kutAssert(
      (yield* rdmsr(MSR_IA32_PMC0 + i)) === valMax,
      "rdmsr(MSR_IA32_PMC0 + i) == val_max_width",
    );
    kutAssert(
      (yield* rdmsr(MSR_IA32_PERFCTR0 + i)) === valMax,
      "rdmsr(MSR_IA32_PERFCTR0 + i) == val_max_width",
    );
    const gp = !(yield* wrmsrSafe(MSR_IA32_PMC0 + i, 0xffffff0123456789n));
    c.t.report(gp, `writing unsupported width to MSR_IA32_PMC${i} raises #GP`);
  }
}

/** set_ref_cycle_expectations(): scale the ref cycles range by the ref-cycles/TSC ratio. */
function* setRefCycleExpectations(c: Ctx): X86Guest {
  const p = c.pmu;
  if (!p.nrGpCounters || !archEventIsAvailable(p, 2)) return;
  const ev = c.gpEvents[INTEL.refCycles]!;
  const cnt = newCounter(MSR_IA32_PERFCTR0, EVNTSEL_OS | EVNTSEL_USR | ev.unitSel);
  const t0 = yield* rdtsc();
  yield* startEvent(c, cnt);
  const t1 = yield* rdtsc();
  // loop . with ECX = one billion, long enough to dominate the exits of start/stop.
  yield* code({ insns: 1_000_000_000, branches: 1_000_000_000, cycles: 1_000_000_000 });
  const t2 = yield* rdtsc();
  yield* stopEvent(c, cnt);
  const t3 = yield* rdtsc();
  const tscDelta = (t2 - t1 + (t3 - t0)) / 2n;
  if (!tscDelta) return;
  ev.min = Number(BigInt.asIntN(32, (BigInt(ev.min) * cnt.count) / tscDelta));
  ev.max = Number(BigInt.asIntN(32, (BigInt(ev.max) * cnt.count) / tscDelta));
}

function* checkInvalidRdpmcGp(c: Ctx): X86Guest {
  c.t.report((yield* rdpmcSafe(64)) === null, "Expected #GP on RDPMC(64)");
}

/** Probing the forced-emulation prefix, as the library's setup does (is_fep_available). */
function* probeFep(): X86Guest<boolean> {
  return yield* fep(false);
}

/** main() of x86/pmu.c. */
export function* x86PmuMain(t: KutReport, env: X86GuestEnv): X86Guest {
  const fepAvailable = yield* probeFep();
  const pmu = yield* pmuInit(env);
  const c: Ctx = {
    t,
    env,
    pmu,
    gpEvents: [],
    fixedEvents: fixedEventsTable(),
    fixedCountersNum: 0,
    fepAvailable,
    idx: AMD,
  };
  if (hasPerfGlobalCtrl(pmu)) yield* wrmsr(pmu.msrGlobalCtl, 0);
  yield* checkInvalidRdpmcGp(c);
  if (pmu.isIntel) {
    if (!pmu.version) {
      t.skip("No Intel Arch PMU is detected!");
      return;
    }
    c.gpEvents = intelGpEvents();
    c.idx = INTEL;
    // Without clflush nothing forces an LLC miss.
    if (!hasClflush(c)) c.gpEvents[INTEL.llcMisses]!.min = 0;
    t.prefixPush("Intel");
    yield* setRefCycleExpectations(c);
  } else {
    c.gpEvents = amdGpEvents();
    t.prefixPush("AMD");
  }
  adjustEventsRange(c);
  t.print(`PMU version:         ${pmu.version}`);
  t.print(`GP counters:         ${pmu.nrGpCounters}`);
  t.print(`GP counter width:    ${pmu.gpCounterWidth}`);
  t.print(`Event Mask length:   ${pmu.archEventMaskLength}`);
  t.print(`Arch Events (mask):  0x${pmu.archEventAvailable.toString(16)}`);
  t.print(`Fixed counters:      ${pmu.nrFixedCounters}`);
  t.print(`Fixed counter width: ${pmu.fixedCounterWidth}`);
  c.fixedCountersNum = Math.min(pmu.nrFixedCounters, c.fixedEvents.length);
  if (pmu.nrFixedCounters > c.fixedEvents.length)
    t.info(
      `Fixed counters number ${pmu.nrFixedCounters} > defined fixed events ${c.fixedEvents.length}.  Please update test case.`,
    );
  yield* lvtpcUnmask();
  yield* checkCounters(c);
  if (pmuHasFullWrites(pmu)) {
    pmu.msrGpCounterBase = MSR_IA32_PMC0;
    t.prefixPush("full-width writes");
    yield* checkCounters(c);
    yield* checkGpCountersWriteWidth(c);
    t.prefixPop();
  }
  if (!pmu.isIntel) {
    t.prefixPush("K7");
    pmu.nrGpCounters = AMD64_NUM_COUNTERS;
    pmu.msrGpCounterBase = MSR_K7_PERFCTR0;
    pmu.msrGpEventSelectBase = MSR_K7_EVNTSEL0;
    yield* checkCounters(c);
    t.prefixPop();
  }
}
