import type { MachineDesc } from "../../hw/machine.js";
import { BUILTIN_WORKLOADS } from "../../hw/workload.js";
import {
  type ArmOneReg,
  KVM_ARM_VCPU_PMU_V3,
  KVM_CAP_ARM_PMU_V3,
  KvmArm64,
  type KvmArmVcpu,
  PMU_ATTR,
} from "../../kvm/arm64/kvm.js";
import { ARMV8_EVENT, EVTYPE, PMCR, PMUVER, type PmuReg } from "../../kvm/arm64/pmuv3.js";
import { ERRNO, errnoName } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import { System } from "../../system.js";
import { GuestAbort } from "../abort.js";
import { type Guest, mrs, mrsSafe, msr, msrSafe, UNDEF_RESULT } from "../kvm-unit-tests/arm-pmu.js";
import { GuestDriver } from "../kvm-unit-tests/harness.js";
import { KutReport } from "../kvm-unit-tests/libcflat.js";
import { type Selftest, TestFailure, testAssert, testRequire } from "./kselftest.js";

/**
 * tools/testing/selftests/kvm/arm64/vpmu_counter_access.c (the SET_NR_COUNTERS version,
 * 6.16+): PMCR_EL0.N as userspace sets it through KVM_ARM_VCPU_PMU_V3_SET_NR_COUNTERS, the
 * guest's accesses to implemented and unimplemented counters through every combination
 * of direct and PMSELR-indirect accessors, and userspace accesses to the counter bitmaps.
 */

/** Event counters PMUv3 can have (the cycle counter aside). */
const ARMV8_PMU_MAX_GENERAL_COUNTERS = 31;
const ARMV8_PMU_MAX_COUNTERS = 32;
const CYCLE_IDX = 31;
const PMU_IRQ = 23;

const genmask = (hi: number, lo: number): bigint =>
  hi < lo ? 0n : ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
const countersMask = (n: number): bigint =>
  (1n << BigInt(CYCLE_IDX)) | (n ? genmask(n - 1, 0) : 0n);
const pmcrN = (pmcr: bigint): number =>
  Number((pmcr >> BigInt(PMCR.N_SHIFT)) & BigInt(PMCR.N_MASK));
const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

function guestAssert(cond: boolean, msg: string): void {
  if (!cond) throw new GuestAbort(msg);
}

/** A way to reach PMEVCNTR<n>/PMEVTYPER<n>: directly, or through PMSELR_EL0 and PMXEV*. */
interface Accessor {
  readCntr(i: number): Guest<bigint>;
  writeCntr(i: number, v: bigint): Guest<boolean>;
  readTyper(i: number): Guest<bigint>;
  writeTyper(i: number, v: bigint): Guest<boolean>;
}

function* direct(reg: PmuReg, i: number): Guest<bigint> {
  return yield* mrsSafe(reg, i);
}
function* directWrite(reg: PmuReg, i: number, v: bigint): Guest<boolean> {
  return yield* msrSafe(reg, v, i);
}
function* viaSel(reg: PmuReg, i: number): Guest<bigint> {
  yield* msr("PMSELR_EL0", i);
  return yield* mrsSafe(reg);
}
function* viaSelWrite(reg: PmuReg, i: number, v: bigint): Guest<boolean> {
  yield* msr("PMSELR_EL0", i);
  return yield* msrSafe(reg, v);
}

const dRead = (i: number) => direct("PMEVCNTR_EL0", i);
const dWrite = (i: number, v: bigint) => directWrite("PMEVCNTR_EL0", i, v);
const dReadT = (i: number) => direct("PMEVTYPER_EL0", i);
const dWriteT = (i: number, v: bigint) => directWrite("PMEVTYPER_EL0", i, v);
const sRead = (i: number) => viaSel("PMXEVCNTR_EL0", i);
const sWrite = (i: number, v: bigint) => viaSelWrite("PMXEVCNTR_EL0", i, v);
const sReadT = (i: number) => viaSel("PMXEVTYPER_EL0", i);
const sWriteT = (i: number, v: bigint) => viaSelWrite("PMXEVTYPER_EL0", i, v);

/** pmc_accessors[]: direct, indirect, read direct + write indirect, read indirect + write direct. */
const ACCESSORS: Accessor[] = [
  { readCntr: dRead, writeCntr: dWrite, readTyper: dReadT, writeTyper: dWriteT },
  { readCntr: sRead, writeCntr: sWrite, readTyper: sReadT, writeTyper: sWriteT },
  { readCntr: dRead, writeCntr: sWrite, readTyper: dReadT, writeTyper: sWriteT },
  { readCntr: sRead, writeCntr: dWrite, readTyper: sReadT, writeTyper: dWriteT },
];

const BITMAP_REGS: PmuReg[] = [
  "PMCNTENSET_EL0",
  "PMCNTENCLR_EL0",
  "PMINTENSET_EL1",
  "PMINTENCLR_EL1",
  "PMOVSSET_EL0",
  "PMOVSCLR_EL0",
];

/** check_bitmap_pmu_regs(). */
function* checkBitmapRegs(mask: bigint, setExpected: boolean): Guest {
  for (const reg of BITMAP_REGS) {
    const tval = yield* mrs(reg);
    const ok = setExpected ? (tval & mask) !== 0n : (tval & mask) === 0n;
    guestAssert(ok, `tval: ${hex(tval)}; mask: ${hex(mask)}; set_expected: ${setExpected ? 1 : 0}`);
  }
}

/** test_bitmap_pmu_regs(): set or clear the counter's bit everywhere, then check it. */
function* testBitmapRegs(idx: number, setOp: boolean): Guest {
  const bit = 1n << BigInt(idx);
  let setExpected = false;
  if (setOp) {
    yield* msr("PMCNTENSET_EL0", bit);
    yield* msr("PMINTENSET_EL1", bit);
    yield* msr("PMOVSSET_EL0", bit);
    setExpected = idx < pmcrN(yield* mrs("PMCR_EL0"));
  } else {
    yield* msr("PMCNTENCLR_EL0", bit);
    yield* msr("PMINTENCLR_EL1", bit);
    yield* msr("PMOVSCLR_EL0", bit);
  }
  yield* checkBitmapRegs(bit, setExpected);
}

/** pmu_disable_reset(): counters disabled and reset (PMCR.E clear, P set). */
function* disableReset(): Guest {
  const pmcr = (yield* mrs("PMCR_EL0")) & ~BigInt(PMCR.E);
  yield* msr("PMCR_EL0", pmcr | BigInt(PMCR.P));
}

function* testAccessPmcRegs(acc: Accessor, accIdx: number, idx: number): Guest {
  yield* disableReset();
  yield* testBitmapRegs(idx, false);
  yield* testBitmapRegs(idx, true);
  yield* testBitmapRegs(idx, false);
  // Event numbers 0x0-0x3F read back as written even when the event is not supported.
  const typer = BigInt(EVTYPE.EXCLUDE_EL1 >>> 0) | BigInt(ARMV8_EVENT.INST_RETIRED);
  yield* acc.writeTyper(idx, typer);
  let read = yield* acc.readTyper(idx);
  guestAssert(
    read === typer,
    `pmc_idx: ${hex(idx)}; acc_idx: ${hex(accIdx)}; read_data: ${hex(read)}; write_data: ${hex(typer)}`,
  );
  read = yield* acc.readCntr(idx);
  guestAssert(
    read === 0n,
    `pmc_idx: ${hex(idx)}; acc_idx: ${hex(accIdx)}; read_data: ${hex(read)}`,
  );
  const write = read + BigInt(idx) + 0x12345n;
  yield* acc.writeCntr(idx, write);
  read = yield* acc.readCntr(idx);
  guestAssert(
    read === write,
    `pmc_idx: ${hex(idx)}; acc_idx: ${hex(accIdx)}; read_data: ${hex(read)}; write_data: ${hex(write)}`,
  );
}

/** TEST_EXCEPTION(ESR_ELx_EC_UNKNOWN, ...): the access must trap as undefined. */
function expectUndef(ok: boolean, what: string): void {
  guestAssert(ok, `expected_ec == INVALID_EC (${what} did not trap)`);
}

function* testAccessInvalidPmcRegs(acc: Accessor, idx: number): Guest {
  expectUndef((yield* acc.readCntr(idx)) === UNDEF_RESULT, `read_cntr(${idx})`);
  expectUndef(!(yield* acc.writeCntr(idx, 0n)), `write_cntr(${idx})`);
  expectUndef((yield* acc.readTyper(idx)) === UNDEF_RESULT, `read_typer(${idx})`);
  expectUndef(!(yield* acc.writeTyper(idx, 0n)), `write_typer(${idx})`);
  // Bits of unimplemented counters in the bitmaps are RAZ/WI.
  yield* testBitmapRegs(idx, true);
  yield* testBitmapRegs(idx, false);
}

/** guest_code(expected_pmcr_n). */
function* guestCode(expected: number): Guest {
  guestAssert(
    expected <= ARMV8_PMU_MAX_GENERAL_COUNTERS,
    `Expected PMCR.N: ${hex(expected)}; ARMv8 general counters: ${hex(ARMV8_PMU_MAX_GENERAL_COUNTERS)}`,
  );
  const n = pmcrN(yield* mrs("PMCR_EL0"));
  guestAssert(n === expected, `Expected PMCR.N: ${hex(expected)}, PMCR.N: ${hex(n)}`);
  // Bits of unimplemented counters reset to zero (those of implemented ones are UNKNOWN).
  yield* checkBitmapRegs(genmask(ARMV8_PMU_MAX_GENERAL_COUNTERS - 1, n), false);
  for (let a = 0; a < ACCESSORS.length; a++)
    for (let pmc = 0; pmc < n; pmc++) yield* testAccessPmcRegs(ACCESSORS[a]!, a, pmc);
  for (const acc of ACCESSORS)
    for (let pmc = n; pmc < ARMV8_PMU_MAX_GENERAL_COUNTERS; pmc++)
      yield* testAccessInvalidPmcRegs(acc, pmc);
}

/** The host: one simulated arm64 machine, a VM per create_vpmu_vm(). */
class ArmHost {
  readonly sys: System;
  readonly kvm: KvmArm64;
  private n = 0;

  constructor(machine: MachineDesc) {
    this.sys = new System({ machine, seed: 1, profile: "7.0" });
    this.kvm = new KvmArm64(this.sys, "7.0");
  }

  /**
   * create_vpmu_vm(): a VM whose vCPU has PMUv3 (KVM_ARM_VCPU_INIT on the CPU the test
   * runs on, CPU 0), the vGICv3, a PMUVer check, and the PMU interrupt (INIT comes later).
   */
  createVpmuVm(): KvmArmVcpu {
    const vm = this.kvm.createVm(`vpmu${this.n++}`);
    const v = vm.createVcpu(0, BUILTIN_WORKLOADS.compute!);
    if (typeof v === "number") throw new TestFailure("KVM_CREATE_VCPU", errnoName(v) ?? String(v));
    const r = v.init(1 << KVM_ARM_VCPU_PMU_V3, 0);
    if (r < 0)
      throw new TestFailure("KVM_ARM_VCPU_INIT", `KVM_ARM_VCPU_INIT failed: ${errnoName(r)}`);
    testRequire(vm.irqchip && vm.vgicReady, "gic_fd >= 0");
    const pmuver = Number(((v.getOneReg("ID_AA64DFR0_EL1") as bigint) >> 8n) & 0xfn);
    testAssert(
      pmuver !== PMUVER.IMP_DEF && pmuver >= PMUVER.IMP,
      "pmuver != ID_AA64DFR0_EL1_PMUVer_IMP_DEF && pmuver >= ID_AA64DFR0_EL1_PMUVer_IMP",
      `Unexpected PMUVER (0x${pmuver.toString(16)}) on the vCPU with PMUv3`,
    );
    attrSet(v, PMU_ATTR.IRQ, PMU_IRQ);
    return v;
  }

  /** vcpu_run() of guest_code(pmcr_n) until GUEST_DONE. */
  runVcpu(v: KvmArmVcpu, n: number): void {
    const report = new KutReport();
    const d = new GuestDriver(this.sys, v, report, () => guestCode(n));
    d.start(this.sys.now);
    const r = v.kvmRun(this.sys.now);
    if (r < 0) throw new TestFailure("KVM_RUN", `KVM_RUN failed: ${errnoName(r)}`);
    const limit = this.sys.now + 1_000_000_000;
    while (!d.done && this.sys.now < limit) this.sys.run((this.sys.now + 1_000_000) as Ns);
    if (report.aborted) throw new TestFailure("guest assertion", report.aborted);
    testAssert(d.done, "uc.cmd == UCALL_DONE", "the guest did not finish");
    // KVM_RUN returns to userspace at GUEST_DONE: the vCPU thread stops.
    this.sys.sched.block(v.run.task, this.sys.now);
  }
}

/** vcpu_device_attr_set(): fails the test on an error. */
function attrSet(v: KvmArmVcpu, attr: number, value: unknown): void {
  const r = v.setAttr(attr, value);
  if (r < 0)
    throw new TestFailure(
      "!ret",
      `KVM_SET_DEVICE_ATTR failed, rc: -1 errno: ${-r} (${errnoName(r)})`,
    );
}

function getReg(v: KvmArmVcpu, reg: ArmOneReg): bigint {
  const r = v.getOneReg(reg);
  if (typeof r === "number")
    throw new TestFailure("!ret", `KVM_GET_ONE_REG failed: ${errnoName(r)}`);
  return r;
}

/** test_create_vpmu_vm_with_nr_counters(). */
function createWithNrCounters(h: ArmHost, nr: number, expectFail: boolean): KvmArmVcpu {
  const v = h.createVpmuVm();
  const prev = pmcrN(getReg(v, "PMCR_EL0"));
  const ret = v.setAttr(PMU_ATTR.SET_NR_COUNTERS, nr);
  if (expectFail)
    testAssert(
      ret === -ERRNO.EINVAL,
      "ret && errno == EINVAL",
      `Setting more PMU counters (${nr}) than available (${prev}) unexpectedly succeeded`,
    );
  else
    testAssert(
      ret === 0,
      "!ret",
      `KVM_SET_DEVICE_ATTR failed, rc: -1 errno: ${-ret} (${errnoName(ret)})`,
    );
  attrSet(v, PMU_ATTR.INIT, 0);
  return v;
}

function destroy(h: ArmHost, v: KvmArmVcpu): void {
  v.pmu?.destroy(h.sys.now);
  h.sys.sched.kill(v.run.task.pid, h.sys.now);
}

/** run_access_test(): run the guest, reset the vCPU (KVM_ARM_VCPU_INIT again), run it again. */
function runAccessTest(h: ArmHost, n: number): void {
  const v = createWithNrCounters(h, n, false);
  h.runVcpu(v, n);
  const r = v.init(1 << KVM_ARM_VCPU_PMU_V3, 0);
  if (r < 0)
    throw new TestFailure("KVM_ARM_VCPU_INIT", `KVM_ARM_VCPU_INIT failed: ${errnoName(r)}`);
  h.runVcpu(v, n);
  destroy(h, v);
}

const REG_SETS: Array<[ArmOneReg, ArmOneReg]> = [
  ["PMCNTENSET_EL0", "PMCNTENCLR_EL0"],
  ["PMINTENSET_EL1", "PMINTENCLR_EL1"],
  ["PMOVSSET_EL0", "PMOVSCLR_EL0"],
];

/** run_pmregs_validity_test(): userspace sees and sets only implemented counters' bits. */
function runPmregsValidityTest(h: ArmHost, n: number): void {
  const v = createWithNrCounters(h, n, false);
  const valid = countersMask(n);
  const max = countersMask(ARMV8_PMU_MAX_COUNTERS);
  for (const [set, clr] of REG_SETS) {
    const check = (reg: ArmOneReg, what: string) => {
      const val = getReg(v, reg);
      testAssert(
        (val & ~valid) === 0n,
        "(reg_val & (~valid_counters_mask)) == 0",
        `${what} of ${reg}: ${hex(val)} has unimplemented counters enabled`,
      );
    };
    check(set, "Initial read");
    check(clr, "Initial read");
    const r = v.setOneReg(set, max);
    testAssert(r === 0, "!ret", `KVM_SET_ONE_REG failed: ${errnoName(r)}`);
    check(set, "Read");
    check(clr, "Read");
  }
  destroy(h, v);
}

/** The test binary for an arm64 host. */
export function vpmuCounterAccess(o: { machine: MachineDesc }): Selftest {
  return {
    name: "vpmu_counter_access",
    file: "arm64/vpmu_counter_access.c",
    arch: "arm64",
    main() {
      const h = new ArmHost(o.machine);
      testRequire(
        h.kvm.checkExtension(KVM_CAP_ARM_PMU_V3) !== 0,
        "kvm_has_cap(KVM_CAP_ARM_PMU_V3)",
      );
      const probe = h.createVpmuVm();
      const supported = probe.hasAttr(PMU_ATTR.SET_NR_COUNTERS) === 0;
      const limit = pmcrN(getReg(probe, "PMCR_EL0"));
      destroy(h, probe);
      testRequire(supported, "kvm_supports_nr_counters_attr()");
      for (let i = 0; i <= limit; i++) {
        runAccessTest(h, i);
        runPmregsValidityTest(h, i);
      }
      for (let i = limit + 1; i < ARMV8_PMU_MAX_COUNTERS; i++)
        destroy(h, createWithNrCounters(h, i, true));
      return 0;
    },
  };
}
