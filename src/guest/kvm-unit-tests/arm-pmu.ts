import { Q } from "../../hw/quantity.js";
import { ARMV8_EVENT, PMCR, type PmuReg } from "../../kvm/arm64/pmuv3.js";
import type { KutReport } from "./libcflat.js";

/**
 * The kvm-unit-tests `arm/pmu.c` cases as guest programs. A program is a generator that
 * yields what the guest CPU does: trapped system-register accesses (MRS/MSR) and runs of
 * ordinary code that retire a known number of instructions or loads. The checks and their
 * expected values follow the suite; the code is vpmu's own.
 */

/** A system register a guest program accesses. */
export type SysReg = PmuReg | "ID_AA64DFR0_EL1";

/** One thing the guest CPU does. */
export type GuestReq =
  /** `safe`: an UNDEF is expected and handled (the result is UNDEF_RESULT), not an abort. */
  | { kind: "mrs"; reg: SysReg; idx: number; safe?: boolean }
  | { kind: "msr"; reg: SysReg; idx: number; value: bigint; safe?: boolean }
  /** Run ordinary guest code until `count` of `quantity` (Q.INSTRUCTIONS, Q.MEM_ACCESS) retired. */
  | { kind: "run"; quantity: number; count: number };

/** A guest program: yields requests, receives MRS results. */
export type Guest<T = void> = Generator<GuestReq, T, bigint>;

/** What the PMU interrupt handler records (pmu_stats). */
export interface PmuStats {
  bitmap: number;
  interrupts: number[];
  unexpected: boolean;
}

/** The guest's view of its world. */
export interface KutCtx {
  t: KutReport;
  pmu: { version: number; n: number; pmcrRo: number };
  stats: PmuStats;
  /** local_irq_enable() and gic_enable_irq(PMU_PPI) done. */
  irqEnabled: boolean;
}

/** The test names `arm/pmu.c` accepts as its first argument (unittests.cfg adds "pmu-"). */
export const ARM_PMU_TESTS = [
  "cycle-counter",
  "pmu-event-introspection",
  "pmu-event-counter-config",
  "pmu-basic-event-count",
  "pmu-mem-access",
  "pmu-sw-incr",
  "pmu-chained-counters",
  "pmu-chained-sw-incr",
  "pmu-chain-promotion",
  "pmu-overflow-interrupt",
] as const;

export type ArmPmuTest = (typeof ARM_PMU_TESTS)[number];

const ALL_SET_32 = 0xffff_ffffn;
const ALL_SET_64 = (1n << 64n) - 1n;
const PRE_OVERFLOW_32 = 0xffff_fff0n;
const PRE_OVERFLOW_64 = 0xffff_ffff_ffff_fff0n;
/** Loop sizes of the current suite: COUNT loads per loop, MARGIN for core variability. */
const COUNT = 250;
const MARGIN = 100;
const COUNT_INT = 1000;
const PRE_OVERFLOW2_32 = ALL_SET_32 - BigInt(COUNT + MARGIN);
const CYCLE_IDX = 31;
const NR_SAMPLES = 10;
const EXCL_EL0 = 1n << 30n;
const PMUVER_V3P1 = 4;
const PMUVER_V3P5 = 6;
const E = ARMV8_EVENT;

/** What a `safe` access returns when it took an UNDEF (no system register reads as -1). */
export const UNDEF_RESULT = -1n;

export function* mrs(reg: SysReg, idx = 0): Guest<bigint> {
  return yield { kind: "mrs", reg, idx };
}

export function* msr(reg: SysReg, value: bigint | number, idx = 0): Guest {
  yield { kind: "msr", reg, idx, value: BigInt.asUintN(64, BigInt(value)) };
}

/** MRS that may UNDEF: the value, or UNDEF_RESULT when it trapped as undefined. */
export function* mrsSafe(reg: SysReg, idx = 0): Guest<bigint> {
  return yield { kind: "mrs", reg, idx, safe: true };
}

/** MSR that may UNDEF: true when it took, false when it trapped as undefined. */
export function* msrSafe(reg: SysReg, value: bigint | number, idx = 0): Guest<boolean> {
  const r = yield { kind: "msr", reg, idx, value: BigInt.asUintN(64, BigInt(value)), safe: true };
  return r !== UNDEF_RESULT;
}

function* run(quantity: number, count: number): Guest {
  yield { kind: "run", quantity, count };
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
/** printf("%#x"): zero prints without the prefix. */
const althex = (v: number): string => (v === 0 ? "0" : hex(v));
const pad4 = (v: bigint | number): string => String(v).padStart(4);

/** `msr pmcr_el0, pmcr; isb; loop; msr pmcr_el0, xzr`: 2 + 2*loop instructions. */
function* preciseInstrsLoop(loop: number, pmcr: bigint | number): Guest {
  yield* msr("PMCR_EL0", pmcr);
  yield* run(Q.INSTRUCTIONS, 1 + 2 * loop);
  yield* msr("PMCR_EL0", 0);
}

/** A load loop between two PMCR writes. */
function* memAccessLoop(loop: number, pmcr: bigint | number): Guest {
  yield* msr("PMCR_EL0", pmcr);
  yield* run(Q.MEM_ACCESS, loop);
  yield* msr("PMCR_EL0", 0);
}

function resetStats(c: KutCtx): void {
  c.stats.bitmap = 0;
  c.stats.interrupts.fill(0);
  c.stats.unexpected = false;
}

function* pmuReset(c: KutCtx): Guest {
  yield* msr("PMCR_EL0", c.pmu.pmcrRo | PMCR.LC | PMCR.C | PMCR.P);
  yield* msr("PMCNTENCLR_EL0", ALL_SET_32);
  yield* msr("PMOVSCLR_EL0", ALL_SET_32);
  yield* msr("PMINTENCLR_EL1", ALL_SET_32);
  resetStats(c);
}

/** The PMU_PPI handler: count each overflowed counter once, clear PMOVS. */
export function* pmuIrqHandler(c: KutCtx): Guest {
  const ovs = Number(yield* mrs("PMOVSCLR_EL0"));
  for (let i = 0; i < 32; i++) {
    if ((ovs >>> i) & 1) {
      c.stats.interrupts[i]!++;
      c.stats.bitmap = (c.stats.bitmap | (1 << i)) >>> 0;
    }
  }
  yield* msr("PMOVSCLR_EL0", ALL_SET_32);
}

function* isEventSupported(c: KutCtx, n: number, warn: boolean): Guest<boolean> {
  const p0 = yield* mrs("PMCEID0_EL0");
  const p1 = yield* mrs("PMCEID1_EL0");
  // Low halves: common events 0-63; high halves: 0x4000-0x403f.
  const reg =
    n <= 0x3f ? (p0 & ALL_SET_32) | ((p1 & ALL_SET_32) << 32n) : (p0 >> 32n) | ((p1 >> 32n) << 32n);
  const ok = ((reg >> BigInt(n & 0x3f)) & 1n) === 1n;
  if (!ok && warn) c.t.info(`event ${hex(n)} is not supported`);
  return ok;
}

/** pmu_probe(): PMUVer, PMCR's read-only half and N. */
export function* pmuProbe(c: KutCtx): Guest<boolean> {
  const dfr0 = yield* mrs("ID_AA64DFR0_EL1");
  c.pmu.version = Number((dfr0 >> 8n) & 0xfn);
  if (c.pmu.version === 0 || c.pmu.version === 0xf) return false;
  c.t.info(`PMU version: ${hex(c.pmu.version)}`);
  const pmcr = Number(yield* mrs("PMCR_EL0"));
  const imp = (pmcr >>> 24) & 0xff;
  c.t.info(
    `PMU implementer/ID code: ${althex(imp)}("${imp ? String.fromCharCode(imp) : " "}")/${althex((pmcr >>> 16) & 0xff)}`,
  );
  c.pmu.pmcrRo = (pmcr & 0xffff_ff00) >>> 0;
  c.pmu.n = (pmcr >>> PMCR.N_SHIFT) & PMCR.N_MASK;
  c.t.info(`Implements ${c.pmu.n} event counters`);
  return true;
}

function* checkCyclesIncrease(c: KutCtx): Guest<boolean> {
  let ok = true;
  yield* pmuReset(c);
  yield* msr("PMCNTENSET_EL0", 1n << BigInt(CYCLE_IDX));
  yield* msr("PMCCFILTR_EL0", 0);
  const pmcr = yield* mrs("PMCR_EL0");
  yield* msr("PMCR_EL0", pmcr | BigInt(PMCR.LC | PMCR.C | PMCR.E));
  for (let i = 0; i < NR_SAMPLES; i++) {
    const a = yield* mrs("PMCCNTR_EL0");
    const b = yield* mrs("PMCCNTR_EL0");
    if (a >= b) {
      c.t.print(`Read ${a} then ${b}.`);
      ok = false;
      break;
    }
  }
  const after = yield* mrs("PMCR_EL0");
  yield* msr("PMCR_EL0", after & ~BigInt(PMCR.E));
  return ok;
}

function* checkCpi(c: KutCtx, cpi: number): Guest<boolean> {
  const pmcr = (yield* mrs("PMCR_EL0")) | BigInt(PMCR.LC | PMCR.C | PMCR.E);
  yield* pmuReset(c);
  yield* msr("PMCNTENSET_EL0", 1n << BigInt(CYCLE_IDX));
  yield* msr("PMCCFILTR_EL0", 0);
  if (cpi > 0) c.t.print(`Checking for CPI=${cpi}.`);
  c.t.print("instrs : cycles0 cycles1 ...");
  for (let i = 4; i < 300; i += 32) {
    let line = `${pad4(i)}:`;
    let sum = 0n;
    for (let j = 0; j < NR_SAMPLES; j++) {
      yield* msr("PMCCNTR_EL0", 0);
      yield* preciseInstrsLoop((i - 2) / 2, pmcr);
      const cycles = yield* mrs("PMCCNTR_EL0");
      line += ` ${pad4(cycles)}`;
      let why: string | null = null;
      if (cycles === 0n) why = "cycles not incrementing!";
      else if (cpi > 0 && cycles !== BigInt(i * cpi)) why = "unexpected cycle count received!";
      else if (cycles >> 32n !== 0n) why = "cycle count bigger than 32bit!";
      if (why) {
        c.t.print(line);
        c.t.print(why);
        return false;
      }
      sum += cycles;
    }
    const avg = sum / BigInt(NR_SAMPLES);
    const big = avg >= BigInt(i);
    const ratio = big ? avg / BigInt(i) : BigInt(i) / avg;
    c.t.print(
      `${line} avg=${String(avg).padEnd(4)} ${big ? "cpi" : "ipc"}=${String(ratio).padEnd(3)}`,
    );
  }
  return true;
}

function* testEventIntrospection(c: KutCtx): Guest {
  if (!c.pmu.n) return c.t.skip("No event counter, skip ...");
  // PMUv3 requires SW_INCR, CPU_CYCLES and one of INST_RETIRED/INST_SPEC; v3p1 adds stalls.
  let required =
    (yield* isEventSupported(c, E.SW_INCR, true)) &&
    (yield* isEventSupported(c, E.CPU_CYCLES, true));
  if (required) {
    required =
      (yield* isEventSupported(c, E.INST_RETIRED, true)) ||
      (yield* isEventSupported(c, E.INST_SPEC, true));
  }
  if (required && c.pmu.version >= PMUVER_V3P1) {
    required =
      (yield* isEventSupported(c, E.STALL_FRONTEND, true)) &&
      (yield* isEventSupported(c, E.STALL_BACKEND, true));
  }
  c.t.report(required, "Check required events are implemented");
}

function* testEventCounterConfig(c: KutCtx): Guest {
  if (!c.pmu.n) return c.t.skip("No event counter, skip ...");
  yield* pmuReset(c);
  // Counter 1 through the PMSELR window, read back through the direct registers.
  yield* msr("PMSELR_EL0", 1);
  yield* msr("PMXEVTYPER_EL0", 0xea);
  yield* msr("PMXEVCNTR_EL0", 0xdeadbeef);
  c.t.report(
    ((yield* mrs("PMEVTYPER_EL0", 1)) & 0xfffn) === 0xean,
    "PMESELR/PMXEVTYPER/PMEVTYPERn",
  );
  c.t.report((yield* mrs("PMEVCNTR_EL0", 1)) === 0xdeadbeefn, "PMESELR/PMXEVCNTR/PMEVCNTRn");
  let i = 0;
  for (; i <= 0x3f; i++) if (!(yield* isEventSupported(c, i, false))) break;
  if (i > 0x3f) return c.t.skip("pmevtyper: all events within [0x0, 0x3F] are supported");
  yield* msr("PMSELR_EL0", 0);
  yield* msr("PMXEVCNTR_EL0", i);
  yield* mrs("PMXEVCNTR_EL0");
  c.t.report(
    (yield* mrs("PMXEVCNTR_EL0")) === BigInt(i),
    "read of a counter programmed with unsupported event",
  );
}

function* satisfyPrerequisites(c: KutCtx, events: number[]): Guest<boolean> {
  if (c.pmu.n < events.length) {
    c.t.skip(`Skip test as number of counters is too small (${c.pmu.n})`);
    return false;
  }
  for (const e of events) {
    if (!(yield* isEventSupported(c, e, false))) {
      c.t.skip(`Skip test as event ${hex(e)} is not supported`);
      return false;
    }
  }
  return true;
}

function checkOverflowPrerequisites(c: KutCtx, o64: boolean): boolean {
  if (o64 && c.pmu.version < PMUVER_V3P5) {
    c.t.skip("Skip test as 64 overflows need FEAT_PMUv3p5");
    return false;
  }
  return true;
}

/** Bits that always count on an event counter: 64 from PMUv3p5, else 32. */
const cntrMask = (c: KutCtx): bigint => (c.pmu.version >= PMUVER_V3P5 ? ALL_SET_64 : ALL_SET_32);
const preOverflow = (o64: boolean): bigint => (o64 ? PRE_OVERFLOW_64 : PRE_OVERFLOW_32);

function* testBasicEventCount(c: KutCtx, o64: boolean): Guest {
  const pre = preOverflow(o64);
  const lp = o64 ? PMCR.LP : 0;
  if (!(yield* satisfyPrerequisites(c, [E.CPU_CYCLES, E.INST_RETIRED]))) return;
  if (!checkOverflowPrerequisites(c, o64)) return;
  const implemented = (2 ** c.pmu.n - 1) >>> 0;
  const notImplemented = ~((1 << CYCLE_IDX) | implemented) >>> 0;
  yield* msr("PMEVTYPER_EL0", BigInt(E.CPU_CYCLES) | EXCL_EL0, 0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.INST_RETIRED) | EXCL_EL0, 1);
  yield* msr("PMCNTENCLR_EL0", ALL_SET_32);
  const clr0 = yield* mrs("PMCNTENCLR_EL0");
  const set0 = yield* mrs("PMCNTENSET_EL0");
  c.t.report(clr0 === 0n && set0 === 0n, "pmcntenclr: disable all counters");
  // Reset every counter; LC is RES1.
  yield* msr("PMCR_EL0", c.pmu.pmcrRo | PMCR.LC | PMCR.C | PMCR.P | lp);
  c.t.report(
    (yield* mrs("PMCR_EL0")) === BigInt((c.pmu.pmcrRo | PMCR.LC | lp) >>> 0),
    "pmcr: reset counters",
  );
  yield* msr("PMEVCNTR_EL0", pre, 0);
  c.t.report((yield* mrs("PMEVCNTR_EL0", 0)) === pre, "counter #0 preset to pre-overflow value");
  c.t.report((yield* mrs("PMEVCNTR_EL0", 1)) === 0n, "counter #1 is 0");
  // Enabling counters that do not exist must leave them out.
  yield* msr("PMCNTENSET_EL0", implemented | notImplemented);
  let set = yield* mrs("PMCNTENSET_EL0");
  let clr = yield* mrs("PMCNTENCLR_EL0");
  c.t.report(
    set === clr && set === BigInt(implemented),
    "pmcntenset: enabled implemented_counters",
  );
  yield* msr("PMCNTENCLR_EL0", ~0x3);
  set = yield* mrs("PMCNTENSET_EL0");
  clr = yield* mrs("PMCNTENCLR_EL0");
  c.t.report(set === clr && set === 0x3n, "pmcntenset: just enabled #0 and #1");
  yield* msr("PMOVSCLR_EL0", ALL_SET_32);
  c.t.report((yield* mrs("PMOVSCLR_EL0")) === 0n, "check overflow reg is 0");
  yield* msr("PMINTENCLR_EL1", ALL_SET_32);
  c.t.report((yield* mrs("PMINTENCLR_EL1")) === 0n, "pmintenclr_el1=0, all interrupts disabled");
  yield* msr("PMINTENSET_EL1", implemented | notImplemented);
  c.t.report(
    (yield* mrs("PMINTENSET_EL1")) === BigInt(implemented),
    "overflow interrupts enabled on all implemented counters",
  );
  yield* preciseInstrsLoop(20, c.pmu.pmcrRo | PMCR.E);
  c.t.info(`counter #0 is ${hex(yield* mrs("PMEVCNTR_EL0", 0))} (CPU_CYCLES)`);
  c.t.info(`counter #1 is ${hex(yield* mrs("PMEVCNTR_EL0", 1))} (INST_RETIRED)`);
  const ovs = yield* mrs("PMOVSCLR_EL0");
  c.t.info(`overflow reg = ${hex(ovs)}`);
  c.t.report((ovs & 1n) === 1n, "check overflow happened on #0 only");
}

function* testMemAccess(c: KutCtx, o64: boolean): Guest {
  const pre = preOverflow(o64);
  const lp = o64 ? PMCR.LP : 0;
  if (!(yield* satisfyPrerequisites(c, [E.MEM_ACCESS, E.MEM_ACCESS]))) return;
  if (!checkOverflowPrerequisites(c, o64)) return;
  yield* pmuReset(c);
  yield* msr("PMEVTYPER_EL0", BigInt(E.MEM_ACCESS) | EXCL_EL0, 0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.MEM_ACCESS) | EXCL_EL0, 1);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* memAccessLoop(COUNT, c.pmu.pmcrRo | PMCR.E | lp);
  const c0 = yield* mrs("PMEVCNTR_EL0", 0);
  const c1 = yield* mrs("PMEVCNTR_EL0", 1);
  c.t.info(`counter #0 is ${c0} (MEM_ACCESS)`);
  c.t.info(`counter #1 is ${c1} (MEM_ACCESS)`);
  // A core may count a few more accesses than the loop makes.
  c.t.report(
    c0 === c1 && c0 >= BigInt(COUNT) && (yield* mrs("PMOVSCLR_EL0")) === 0n,
    `Ran ${COUNT} mem accesses`,
  );
  yield* pmuReset(c);
  yield* msr("PMEVCNTR_EL0", pre, 0);
  yield* msr("PMEVCNTR_EL0", pre, 1);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* memAccessLoop(COUNT, c.pmu.pmcrRo | PMCR.E | lp);
  const ovs = yield* mrs("PMOVSCLR_EL0");
  c.t.report(ovs === 0x3n, `Ran ${COUNT} mem accesses with expected overflows on both counters`);
  c.t.info(
    `cnt#0=${yield* mrs("PMEVCNTR_EL0", 0)} cnt#1=${yield* mrs("PMEVCNTR_EL0", 1)} overflow=${hex(ovs)}`,
  );
}

function* testSwIncr(c: KutCtx, o64: boolean): Guest {
  const pre = preOverflow(o64);
  const lp = o64 ? PMCR.LP : 0;
  const cntr0 = (pre + 100n) & cntrMask(c);
  if (!(yield* satisfyPrerequisites(c, [E.SW_INCR, E.SW_INCR]))) return;
  if (!checkOverflowPrerequisites(c, o64)) return;
  yield* pmuReset(c);
  yield* msr("PMEVTYPER_EL0", BigInt(E.SW_INCR) | EXCL_EL0, 0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.SW_INCR) | EXCL_EL0, 1);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* msr("PMEVCNTR_EL0", pre, 0);
  for (let i = 0; i < 100; i++) yield* msr("PMSWINC_EL0", 0x1);
  const v = yield* mrs("PMEVCNTR_EL0", 0);
  c.t.info(`SW_INCR counter #0 has value ${v}`);
  c.t.report(v === pre, "PWSYNC does not increment if PMCR.E is unset");
  yield* pmuReset(c);
  yield* msr("PMEVCNTR_EL0", pre, 0);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* msr("PMCR_EL0", c.pmu.pmcrRo | PMCR.E | lp);
  for (let i = 0; i < 100; i++) yield* msr("PMSWINC_EL0", 0x3);
  const v0 = yield* mrs("PMEVCNTR_EL0", 0);
  const v1 = yield* mrs("PMEVCNTR_EL0", 1);
  c.t.report(v0 === cntr0, "counter #0 after + 100 SW_INCR");
  c.t.report(v1 === 100n, "counter #1 after + 100 SW_INCR");
  c.t.info(`counter values after 100 SW_INCR #0=${v0} #1=${v1}`);
  c.t.report((yield* mrs("PMOVSCLR_EL0")) === 0x1n, "overflow on counter #0 after 100 SW_INCR");
}

function* testChainedCounters(c: KutCtx): Guest {
  const allSet = cntrMask(c);
  if (!(yield* satisfyPrerequisites(c, [E.CPU_CYCLES, E.CHAIN]))) return;
  yield* pmuReset(c);
  yield* msr("PMEVTYPER_EL0", BigInt(E.CPU_CYCLES) | EXCL_EL0, 0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.CHAIN) | EXCL_EL0, 1);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* msr("PMEVCNTR_EL0", PRE_OVERFLOW_32, 0);
  yield* preciseInstrsLoop(22, c.pmu.pmcrRo | PMCR.E);
  c.t.report((yield* mrs("PMEVCNTR_EL0", 1)) === 1n, "CHAIN counter #1 incremented");
  c.t.report((yield* mrs("PMOVSCLR_EL0")) === 0x1n, "overflow recorded for chained incr #1");
  // 64-bit overflow through the chain.
  yield* pmuReset(c);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* msr("PMEVCNTR_EL0", PRE_OVERFLOW_32, 0);
  yield* msr("PMEVCNTR_EL0", 0x1, 1);
  yield* preciseInstrsLoop(22, c.pmu.pmcrRo | PMCR.E);
  let ovs = yield* mrs("PMOVSCLR_EL0");
  c.t.info(`overflow reg = ${hex(ovs)}`);
  c.t.report((yield* mrs("PMEVCNTR_EL0", 1)) === 2n, "CHAIN counter #1 set to 2");
  c.t.report(ovs === 0x1n, "overflow recorded for chained incr #2");
  yield* msr("PMEVCNTR_EL0", PRE_OVERFLOW_32, 0);
  yield* msr("PMEVCNTR_EL0", allSet, 1);
  yield* preciseInstrsLoop(22, c.pmu.pmcrRo | PMCR.E);
  ovs = yield* mrs("PMOVSCLR_EL0");
  c.t.info(`overflow reg = ${hex(ovs)}`);
  c.t.report((yield* mrs("PMEVCNTR_EL0", 1)) === 0n, "CHAIN counter #1 wrapped");
  c.t.report(ovs === 0x3n, "overflow on even and odd counters");
}

function* testChainedSwIncr(c: KutCtx): Guest {
  const cntr0 = (PRE_OVERFLOW_32 + 100n) & cntrMask(c);
  const cntr1 = (ALL_SET_32 + 1n) & cntrMask(c);
  if (!(yield* satisfyPrerequisites(c, [E.SW_INCR, E.CHAIN]))) return;
  yield* pmuReset(c);
  yield* msr("PMEVTYPER_EL0", BigInt(E.SW_INCR) | EXCL_EL0, 0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.CHAIN) | EXCL_EL0, 1);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* msr("PMEVCNTR_EL0", PRE_OVERFLOW_32, 0);
  yield* msr("PMCR_EL0", c.pmu.pmcrRo | PMCR.E);
  for (let i = 0; i < 100; i++) yield* msr("PMSWINC_EL0", 0x1);
  let ovs = yield* mrs("PMOVSCLR_EL0");
  let v1 = yield* mrs("PMEVCNTR_EL0", 1);
  c.t.report(
    ovs === 0x1n && v1 === 1n,
    "overflow and chain counter incremented after 100 SW_INCR/CHAIN",
  );
  c.t.info(`overflow=${hex(ovs)}, #0=${yield* mrs("PMEVCNTR_EL0", 0)} #1=${v1}`);
  // SW_INCR with the CHAIN counter itself wrapping.
  yield* pmuReset(c);
  yield* msr("PMEVTYPER_EL0", BigInt(E.CHAIN) | EXCL_EL0, 1);
  yield* msr("PMEVCNTR_EL0", PRE_OVERFLOW_32, 0);
  yield* msr("PMEVCNTR_EL0", ALL_SET_32, 1);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* msr("PMCR_EL0", c.pmu.pmcrRo | PMCR.E);
  for (let i = 0; i < 100; i++) yield* msr("PMSWINC_EL0", 0x1);
  ovs = yield* mrs("PMOVSCLR_EL0");
  const v0 = yield* mrs("PMEVCNTR_EL0", 0);
  v1 = yield* mrs("PMEVCNTR_EL0", 1);
  c.t.report(
    ovs === 0x3n && v0 === cntr0 && v1 === cntr1,
    "expected overflows and values after 100 SW_INCR/CHAIN",
  );
  c.t.info(`overflow=${hex(ovs)}, #0=${v0} #1=${v1}`);
}

function* testChainPromotion(c: KutCtx): Guest {
  if (!(yield* satisfyPrerequisites(c, [E.MEM_ACCESS, E.CHAIN]))) return;
  const on = c.pmu.pmcrRo | PMCR.E;
  // Only the CHAIN counter enabled: it does not count.
  yield* pmuReset(c);
  yield* msr("PMEVTYPER_EL0", BigInt(E.MEM_ACCESS) | EXCL_EL0, 0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.CHAIN) | EXCL_EL0, 1);
  yield* msr("PMCNTENSET_EL0", 0x2);
  yield* memAccessLoop(COUNT, on);
  c.t.report(
    (yield* mrs("PMEVCNTR_EL0", 0)) === 0n,
    "chain counter not counting if even counter is disabled",
  );
  // Only the even counter enabled: its overflow does not reach the odd one.
  yield* pmuReset(c);
  yield* msr("PMEVCNTR_EL0", PRE_OVERFLOW_32, 0);
  yield* msr("PMCNTENSET_EL0", 0x1);
  yield* memAccessLoop(COUNT, on);
  let v1 = yield* mrs("PMEVCNTR_EL0", 1);
  let ovs = yield* mrs("PMOVSCLR_EL0");
  c.t.report(v1 === 0n && ovs === 0x1n, "odd counter did not increment on overflow if disabled");
  c.t.info(`MEM_ACCESS counter #0 has value ${yield* mrs("PMEVCNTR_EL0", 0)}`);
  c.t.info(`CHAIN counter #1 has value ${v1}`);
  c.t.info(`overflow counter ${ovs}`);
  // From PRE_OVERFLOW2: one loop with CHAIN enabled, one with it disabled.
  yield* pmuReset(c);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* msr("PMEVCNTR_EL0", PRE_OVERFLOW2_32, 0);
  yield* memAccessLoop(COUNT, on);
  c.t.info(`MEM_ACCESS counter #0 has value ${hex(yield* mrs("PMEVCNTR_EL0", 0))}`);
  yield* msr("PMCNTENCLR_EL0", 0x2);
  yield* memAccessLoop(COUNT, on);
  c.t.info(`MEM_ACCESS counter #0 has value ${hex(yield* mrs("PMEVCNTR_EL0", 0))}`);
  c.t.report((yield* mrs("PMOVSCLR_EL0")) === 0x1n, "should have triggered an overflow on #0");
  c.t.report((yield* mrs("PMEVCNTR_EL0", 1)) === 0n, "CHAIN counter #1 shouldn't have incremented");
  // From PRE_OVERFLOW2: CHAIN disabled first, then enabled.
  yield* pmuReset(c);
  yield* msr("PMCNTENSET_EL0", 0x1);
  yield* msr("PMEVCNTR_EL0", PRE_OVERFLOW2_32, 0);
  yield* memAccessLoop(COUNT, on);
  c.t.info(`MEM_ACCESS counter #0 has value ${hex(yield* mrs("PMEVCNTR_EL0", 0))}`);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* memAccessLoop(COUNT, on);
  c.t.info(`MEM_ACCESS counter #0 has value ${hex(yield* mrs("PMEVCNTR_EL0", 0))}`);
  v1 = yield* mrs("PMEVCNTR_EL0", 1);
  ovs = yield* mrs("PMOVSCLR_EL0");
  c.t.report(
    v1 === 1n && ovs === 0x1n,
    "CHAIN counter enabled: CHAIN counter was incremented and overflow",
  );
  c.t.info(`CHAIN counter #1 = ${hex(v1)}, overflow=${hex(ovs)}`);
  // MEM_ACCESS/CPU_CYCLES, then the odd counter becomes CHAIN.
  yield* pmuReset(c);
  yield* msr("PMEVTYPER_EL0", BigInt(E.MEM_ACCESS) | EXCL_EL0, 0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.CPU_CYCLES) | EXCL_EL0, 1);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* msr("PMEVCNTR_EL0", PRE_OVERFLOW2_32, 0);
  yield* memAccessLoop(COUNT, on);
  c.t.info(`MEM_ACCESS counter #0 has value ${hex(yield* mrs("PMEVCNTR_EL0", 0))}`);
  yield* msr("PMCNTENSET_EL0", 0x0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.CHAIN) | EXCL_EL0, 1);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* msr("PMEVCNTR_EL0", 0x0, 1);
  yield* memAccessLoop(COUNT, on);
  c.t.info(`MEM_ACCESS counter #0 has value ${hex(yield* mrs("PMEVCNTR_EL0", 0))}`);
  v1 = yield* mrs("PMEVCNTR_EL0", 1);
  ovs = yield* mrs("PMOVSCLR_EL0");
  c.t.report(v1 === 1n && ovs === 0x1n, "32b->64b: CHAIN counter incremented and overflow");
  c.t.info(`CHAIN counter #1 = ${hex(v1)}, overflow=${hex(ovs)}`);
  // CHAIN/MEM_ACCESS, then the odd counter becomes CPU_CYCLES.
  yield* pmuReset(c);
  yield* msr("PMEVTYPER_EL0", BigInt(E.MEM_ACCESS) | EXCL_EL0, 0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.CHAIN) | EXCL_EL0, 1);
  yield* msr("PMEVCNTR_EL0", PRE_OVERFLOW2_32, 0);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* memAccessLoop(COUNT, on);
  c.t.info(
    `counter #0=${hex(yield* mrs("PMEVCNTR_EL0", 0))}, counter #1=${hex(yield* mrs("PMEVCNTR_EL0", 1))}`,
  );
  yield* msr("PMCNTENSET_EL0", 0x0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.CPU_CYCLES) | EXCL_EL0, 1);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* memAccessLoop(COUNT, on);
  ovs = yield* mrs("PMOVSCLR_EL0");
  c.t.report(ovs === 0x1n, "overflow is expected on counter 0");
  c.t.info(
    `counter #0=${hex(yield* mrs("PMEVCNTR_EL0", 0))}, counter #1=${hex(yield* mrs("PMEVCNTR_EL0", 1))} overflow=${hex(ovs)}`,
  );
}

/** expect_interrupts(): exactly the counters in `bitmap` interrupted, once each. */
function expectInterrupts(c: KutCtx, bitmap: number): boolean {
  if ((c.stats.bitmap ^ bitmap) >>> 0 || c.stats.unexpected) return false;
  for (let i = 0; i < 32; i++) {
    if ((c.stats.bitmap >>> i) & 1) {
      c.stats.bitmap = (c.stats.bitmap & ~(1 << i)) >>> 0;
      if (c.stats.interrupts[i] !== 1) return false;
    }
  }
  return true;
}

function* testOverflowInterrupt(c: KutCtx, o64: boolean): Guest {
  const pre = preOverflow(o64);
  const allSet = cntrMask(c);
  const lp = o64 ? PMCR.LP : 0;
  if (!(yield* satisfyPrerequisites(c, [E.MEM_ACCESS, E.SW_INCR]))) return;
  if (!checkOverflowPrerequisites(c, o64)) return;
  c.irqEnabled = true;
  yield* pmuReset(c);
  yield* msr("PMEVTYPER_EL0", BigInt(E.MEM_ACCESS) | EXCL_EL0, 0);
  yield* msr("PMEVTYPER_EL0", BigInt(E.SW_INCR) | EXCL_EL0, 1);
  yield* msr("PMCNTENSET_EL0", 0x3);
  yield* msr("PMEVCNTR_EL0", pre, 0);
  yield* msr("PMEVCNTR_EL0", pre, 1);
  // PMINTENSET is 0: overflows set PMOVS but raise nothing.
  yield* memAccessLoop(COUNT_INT, c.pmu.pmcrRo | PMCR.E | lp);
  c.t.report(expectInterrupts(c, 0), "no overflow interrupt after preset");
  yield* msr("PMCR_EL0", c.pmu.pmcrRo | PMCR.E | lp);
  for (let i = 0; i < 100; i++) yield* msr("PMSWINC_EL0", 0x2);
  yield* msr("PMCR_EL0", c.pmu.pmcrRo);
  c.t.report(expectInterrupts(c, 0), "no overflow interrupt after counting");
  // Interrupts on.
  resetStats(c);
  yield* msr("PMEVCNTR_EL0", pre, 0);
  yield* msr("PMEVCNTR_EL0", pre, 1);
  yield* msr("PMOVSCLR_EL0", ALL_SET_32);
  yield* msr("PMINTENSET_EL1", ALL_SET_32);
  yield* memAccessLoop(COUNT_INT, c.pmu.pmcrRo | PMCR.E | lp);
  yield* msr("PMCR_EL0", c.pmu.pmcrRo | PMCR.E | lp);
  for (let i = 0; i < 100; i++) yield* msr("PMSWINC_EL0", 0x3);
  yield* memAccessLoop(COUNT_INT, c.pmu.pmcrRo);
  c.t.info(`overflow=${hex(yield* mrs("PMOVSCLR_EL0"))}`);
  c.t.report(expectInterrupts(c, 0x3), "overflow interrupts expected on #0 and #1");
  // Promotion to 64 bits through CHAIN (with LP set the odd counter must not move).
  resetStats(c);
  yield* msr("PMEVTYPER_EL0", BigInt(E.CHAIN) | EXCL_EL0, 1);
  yield* msr("PMEVCNTR_EL0", pre, 0);
  yield* memAccessLoop(COUNT_INT, c.pmu.pmcrRo | PMCR.E | lp);
  c.t.report(expectInterrupts(c, 0x1), "expect overflow interrupt");
  resetStats(c);
  yield* msr("PMEVCNTR_EL0", pre, 0);
  yield* msr("PMEVCNTR_EL0", allSet, 1);
  yield* memAccessLoop(2 * COUNT_INT, c.pmu.pmcrRo | PMCR.E | lp);
  if (o64) {
    c.t.report(expectInterrupts(c, 0x1), "expect overflow interrupt on even counter");
    c.t.report((yield* mrs("PMEVCNTR_EL0", 1)) === allSet, "Odd counter did not change");
  } else {
    c.t.report(expectInterrupts(c, 0x3), "expect overflow interrupt on even and odd counter");
    c.t.report((yield* mrs("PMEVCNTR_EL0", 1)) !== allSet, "Odd counter wrapped");
  }
}

/** run_event_test(): the test under "<name>: 32-bit overflows" / "64-bit overflows". */
function* eventTest(
  c: KutCtx,
  name: string,
  fn: (c: KutCtx, o64: boolean) => Guest,
  o64: boolean,
): Guest {
  c.t.prefixPush(name);
  c.t.prefixPush(o64 ? "64-bit overflows" : "32-bit overflows");
  yield* fn(c, o64);
  c.t.prefixPop();
  c.t.prefixPop();
}

/** main() of arm/pmu.c for one test name. */
export function* armPmuMain(c: KutCtx, test: ArmPmuTest, cpi = 0): Guest {
  if (!(yield* pmuProbe(c))) {
    c.t.print("No PMU found, test skipped...");
    return;
  }
  c.t.prefixPush("pmu");
  switch (test) {
    case "cycle-counter":
      c.t.prefixPush(test);
      c.t.report(yield* checkCyclesIncrease(c), "Monotonically increasing cycle count");
      c.t.report(yield* checkCpi(c, cpi), "Cycle/instruction ratio");
      c.t.prefixPop();
      break;
    case "pmu-event-introspection":
      c.t.prefixPush(test);
      yield* testEventIntrospection(c);
      c.t.prefixPop();
      break;
    case "pmu-event-counter-config":
      c.t.prefixPush(test);
      yield* testEventCounterConfig(c);
      c.t.prefixPop();
      break;
    case "pmu-basic-event-count":
      yield* eventTest(c, test, testBasicEventCount, false);
      yield* eventTest(c, test, testBasicEventCount, true);
      break;
    case "pmu-mem-access":
      yield* eventTest(c, test, testMemAccess, false);
      yield* eventTest(c, test, testMemAccess, true);
      break;
    case "pmu-sw-incr":
      yield* eventTest(c, test, testSwIncr, false);
      yield* eventTest(c, test, testSwIncr, true);
      break;
    case "pmu-chained-counters":
      yield* eventTest(c, test, testChainedCounters, false);
      break;
    case "pmu-chained-sw-incr":
      yield* eventTest(c, test, testChainedSwIncr, false);
      break;
    case "pmu-chain-promotion":
      yield* eventTest(c, test, testChainPromotion, false);
      break;
    case "pmu-overflow-interrupt":
      yield* eventTest(c, test, testOverflowInterrupt, false);
      yield* eventTest(c, test, testOverflowInterrupt, true);
      break;
  }
  c.t.prefixPop();
}
