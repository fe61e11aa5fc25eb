import { describe, expect, it } from "vitest";
import type { MachineDesc } from "../src/hw/machine.js";
import { armv8PmuDesc, type PmuHwDesc } from "../src/hw/pmu-desc.js";
import { preset } from "../src/hw/presets.js";
import { Mode, Q, Q_NONE } from "../src/hw/quantity.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import {
  type ArmProfile,
  KVM_ARM_VCPU_PMU_V3,
  KVM_CAP_ARM_PMU_V3,
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_FAIL_ENTRY_CPU_UNSUPPORTED,
  KvmArm64,
  type KvmArmVcpu,
  type KvmArmVm,
  PMU_ATTR,
} from "../src/kvm/arm64/kvm.js";
import {
  ARMV8_EVENT,
  CYCLE_IDX,
  EVTYPE,
  PMCR,
  PMUVER,
  type PmuReg,
  UNDEF,
} from "../src/kvm/arm64/pmuv3.js";
import type { CorePmu } from "../src/perf/drivers/core-pmu.js";
import { PERF_EVENT_STATE } from "../src/perf/event.js";
import { listPmus } from "../src/report/pmus.js";
import { loadScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";
import { ERRNO } from "../src/sim/errno.js";
import { msToNs, type Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

/**
 * KVM/arm64 PMUv3 and KVM_ARM_VCPU_PMU_V3_SET_PMU: one test per "testable behaviour"
 * A1..A48 of the research note (shared/reference/kvm-arm64.md). Tags: [cur] = Linux 7.0
 * profile, [5.18] = the seed patch's kernel.
 */

const PMU_FEATURE = 1 << KVM_ARM_VCPU_PMU_V3;
const { IRQ, INIT, FILTER, SET_PMU, SET_NR_COUNTERS } = PMU_ATTR;
const ALLOW = 0;
const DENY = 1;
const INST_RETIRED = ARMV8_EVENT.INST_RETIRED;
const CPU_CYCLES = ARMV8_EVENT.CPU_CYCLES;
const SW_INCR = ARMV8_EVENT.SW_INCR;
const CHAIN = ARMV8_EVENT.CHAIN;
const GUEST_MODES = (1 << Mode.GUEST_USER) | (1 << Mode.GUEST_KERNEL);
const A53_EVENTS = [...range(0x00, 0x1a), 0x1d, 0x1e];
const A72_EVENTS = range(0x00, 0x1e);

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/** An arm64 machine with one core type per entry (CPUs numbered in order, probed in order). */
function armMachine(
  types: Array<{ name: string; cpus: number; pmu: PmuHwDesc }>,
  probeOrder?: string[],
): MachineDesc {
  return {
    name: "test-arm64",
    arch: "arm64",
    coreTypes: types.map((t, i) => ({
      name: t.name,
      scaling: { freqMHz: 1000 + 500 * i, ipcScale: 0.6 + 0.4 * i, refMHz: 24 },
      pmu: t.pmu,
    })),
    cpus: types.flatMap((t, i) =>
      Array.from({ length: t.cpus }, () => ({ coreType: t.name, cluster: i })),
    ),
    uncore: [],
    probeOrder: probeOrder ?? types.map((t) => t.name),
  };
}

/** One homogeneous 4-CPU arm64 machine whose PMU has the given PMUVer / features. */
function oneTypeMachine(opts: {
  version?: number;
  pmuv3p5?: boolean;
  nrCounters?: number;
  events?: number[];
}): MachineDesc {
  return armMachine([
    {
      name: "core",
      cpus: 4,
      pmu: armv8PmuDesc({
        name: "armv8_pmuv3_0",
        coreType: "core",
        nrCounters: opts.nrCounters ?? 6,
        version: opts.version ?? PMUVER.IMP,
        pmuv3p5: opts.pmuv3p5 ?? false,
        events: opts.events ?? A72_EVENTS,
      }),
    },
  ]);
}

/** rk3399-like, but the big cluster's PMU has 4 event counters (CPUs 0-3 little, 4-5 big). */
function heteroMachine(): MachineDesc {
  return armMachine([
    {
      name: "little",
      cpus: 4,
      pmu: armv8PmuDesc({
        name: "armv8_little",
        coreType: "little",
        nrCounters: 6,
        events: A53_EVENTS,
      }),
    },
    {
      name: "big",
      cpus: 2,
      pmu: armv8PmuDesc({ name: "armv8_big", coreType: "big", nrCounters: 4, events: A72_EVENTS }),
    },
  ]);
}

/** rk3399 with the A72 PMU probed (registered) first. */
function rk3399Swapped(): MachineDesc {
  const m = preset("rk3399")!;
  m.probeOrder = ["cortex-a72", "cortex-a53"];
  return m;
}

interface Host {
  sys: System;
  kvm: KvmArm64;
  vm: KvmArmVm;
  /** PMU by name. */
  pmu(name: string): CorePmu;
}

function host(o: { machine?: MachineDesc | string; profile?: ArmProfile } = {}): Host {
  const desc =
    typeof o.machine === "string" ? preset(o.machine)! : (o.machine ?? preset("rk3399")!);
  const profile = o.profile ?? "7.0";
  const sys = new System({ machine: desc, profile });
  const kvm = new KvmArm64(sys, profile);
  const vm = kvm.createVm("vm0");
  return {
    sys,
    kvm,
    vm,
    pmu: (name) => {
      const p = kvm.armPmus().find((x) => x.name === name);
      if (!p) throw new Error(`no PMU ${name}`);
      return p;
    },
  };
}

/** KVM_CREATE_VCPU (not yet initialised). */
function mkVcpu(h: Host, id: number, cpus: number[]): KvmArmVcpu {
  const v = h.vm.createVcpu(id, BUILTIN_WORKLOADS.compute!, cpus);
  if (typeof v === "number") throw new Error(`KVM_CREATE_VCPU: ${v}`);
  return v;
}

/** A vCPU with the PMU feature, IRQ 23 (and optionally SET_PMU) and PMU_V3_INIT done. */
function pmuVcpu(
  h: Host,
  id: number,
  cpus: number[],
  o: { vmmCpu?: number; setPmu?: number } = {},
): KvmArmVcpu {
  const v = mkVcpu(h, id, cpus);
  expect(v.init(PMU_FEATURE, o.vmmCpu ?? 0)).toBe(0);
  expect(v.setAttr(IRQ, 23)).toBe(0);
  if (o.setPmu !== undefined) expect(v.setAttr(SET_PMU, o.setPmu)).toBe(0);
  expect(v.setAttr(INIT, 0)).toBe(0);
  return v;
}

/** A running vCPU 0 on `cpu` (KVM_RUN done). */
function running(h: Host, cpu = 1, o: { vmmCpu?: number; setPmu?: number } = {}): KvmArmVcpu {
  const v = pmuVcpu(h, 0, [cpu], o);
  expect(v.kvmRun(h.sys.now)).toBe(0);
  return v;
}

function runFor(h: Host, ms: number): void {
  h.sys.run((h.sys.now + msToNs(ms)) as Ns);
}

/** A trapped guest write of a PMU register, emulated now. */
function wr(h: Host, v: KvmArmVcpu, reg: PmuReg, value: number | bigint, idx = 0): void {
  expect(v.pmu!.write(reg, idx, BigInt(value), h.sys.now)).toBe(true);
}

/** A trapped guest read (a value, or UNDEF). */
function rd(v: KvmArmVcpu, reg: PmuReg, idx = 0): bigint | typeof UNDEF {
  return v.pmu!.read(reg, idx, v.run.task.cpu);
}

/** A guest read that must not UNDEF. */
function val(v: KvmArmVcpu, reg: PmuReg, idx = 0): bigint {
  const r = rd(v, reg, idx);
  if (typeof r !== "bigint") throw new Error(`${reg}[${idx}] took UNDEF`);
  return r;
}

function bit(x: bigint, n: number): number {
  return Number((x >> BigInt(n)) & 1n);
}

/** Programs event counters (idx → event) and enables them with PMCR.E (and extra PMCR bits). */
function program(
  h: Host,
  v: KvmArmVcpu,
  counters: Record<number, number>,
  o: { cycles?: boolean; pmcr?: number } = {},
): void {
  let mask = o.cycles ? 1 << CYCLE_IDX : 0;
  for (const [idx, ev] of Object.entries(counters)) {
    wr(h, v, "PMEVTYPER_EL0", ev, Number(idx));
    mask |= 1 << Number(idx);
  }
  wr(h, v, "PMCNTENSET_EL0", mask >>> 0);
  wr(h, v, "PMCR_EL0", PMCR.E | (o.pmcr ?? 0));
}

/** Ground-truth guest instructions of a vCPU thread on the given CPUs. */
function guestInstructions(v: KvmArmVcpu, cpus: number[]): number {
  v.vm.kvm.sys.sync();
  let s = 0;
  for (const [cpu, a] of v.run.task.truth)
    if (cpus.includes(cpu)) s += a.count(Q.INSTRUCTIONS, GUEST_MODES);
  return s;
}

describe("KVM_CAP_ARM_PMU_V3 and KVM_ARM_VCPU_INIT", () => {
  it("A1: KVM_CAP_ARM_PMU_V3 is 1 iff a PMUv3 arm_pmu (not IMP_DEF, PMUVer != 0) is registered", () => {
    for (const profile of ["5.18", "7.0"] as const) {
      const rk = host({ profile });
      expect(rk.kvm.checkExtension(KVM_CAP_ARM_PMU_V3)).toBe(1);
      expect(rk.kvm.armPmus().map((p) => p.name)).toEqual(["armv8_cortex_a53", "armv8_cortex_a72"]);
      expect(
        host({ machine: "arm64-server", profile }).kvm.checkExtension(KVM_CAP_ARM_PMU_V3),
      ).toBe(1);
      const impdef = host({ machine: oneTypeMachine({ version: PMUVER.IMP_DEF }), profile });
      expect(impdef.kvm.checkExtension(KVM_CAP_ARM_PMU_V3)).toBe(0);
      expect(impdef.kvm.armPmus()).toEqual([]);
      const none = host({ machine: oneTypeMachine({ version: 0 }), profile });
      expect(none.kvm.checkExtension(KVM_CAP_ARM_PMU_V3)).toBe(0);
      // perf itself still has the CPU PMU; only KVM refuses it.
      expect(impdef.sys.perf.registry.byName("armv8_pmuv3_0")).toBeDefined();
    }
  });

  it("A2: KVM_ARM_VCPU_INIT with PMU_V3 on a host without a PMUv3 arm_pmu returns EINVAL", () => {
    for (const version of [0, PMUVER.IMP_DEF]) {
      const h = host({ machine: oneTypeMachine({ version }) });
      const v = mkVcpu(h, 0, [0]);
      expect(v.init(PMU_FEATURE, 0)).toBe(-ERRNO.EINVAL);
      expect(v.initialised).toBe(false);
      // Without the feature bit the same vCPU initialises and runs, with no PMU.
      expect(v.init(0, 0)).toBe(0);
      expect(v.pmu).toBeNull();
      expect(v.kvmRun(h.sys.now)).toBe(0);
    }
  });

  it("A3: on a vCPU without the PMU feature SET_DEVICE_ATTR gives ENODEV, HAS_DEVICE_ATTR ENXIO", () => {
    const h = host();
    const v = mkVcpu(h, 0, [0]);
    expect(v.init(0, 0)).toBe(0);
    for (const attr of [IRQ, INIT, FILTER, SET_PMU, SET_NR_COUNTERS, 5]) {
      expect(v.setAttr(attr, attr === FILTER ? { base_event: 0, nevents: 1, action: 0 } : 23)).toBe(
        -ERRNO.ENODEV,
      );
      expect(v.hasAttr(attr)).toBe(-ERRNO.ENXIO);
    }
    expect(h.vm.armPmu).toBeNull();
  });

  it("A4: HAS_DEVICE_ATTR is 0 for attrs 0-3 (and 4 on 6.16+) on a PMU vCPU, ENXIO from 5 on", () => {
    const cur = host();
    const v = mkVcpu(cur, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect([0, 1, 2, 3, 4].map((a) => v.hasAttr(a))).toEqual([0, 0, 0, 0, 0]);
    expect([5, 6, 100].map((a) => v.hasAttr(a))).toEqual(Array(3).fill(-ERRNO.ENXIO));
    const old = host({ profile: "5.18" });
    const w = mkVcpu(old, 0, [0]);
    expect(w.init(PMU_FEATURE, 0)).toBe(0);
    expect([0, 1, 2, 3].map((a) => w.hasAttr(a))).toEqual([0, 0, 0, 0]);
    expect(w.hasAttr(SET_NR_COUNTERS)).toBe(-ERRNO.ENXIO);
  });
});

describe("IRQ and INIT attributes", () => {
  it("A5: GET_DEVICE_ATTR(IRQ) without an in-kernel irqchip is EINVAL, even without the PMU feature", () => {
    const h = host();
    h.vm.irqchip = false;
    const plain = mkVcpu(h, 0, [0]);
    expect(plain.init(0, 0)).toBe(0);
    expect(plain.getAttr(IRQ)).toBe(-ERRNO.EINVAL);
    // Features are VM-wide (6.7+): the PMU vCPU lives in a VM of its own.
    const h1 = host();
    h1.vm.irqchip = false;
    const withPmu = mkVcpu(h1, 0, [1]);
    expect(withPmu.init(PMU_FEATURE, 0)).toBe(0);
    expect(withPmu.getAttr(IRQ)).toBe(-ERRNO.EINVAL);
    // With the irqchip, the missing feature is what is reported.
    const h2 = host();
    const p2 = mkVcpu(h2, 0, [0]);
    expect(p2.init(0, 0)).toBe(0);
    expect(p2.getAttr(IRQ)).toBe(-ERRNO.ENODEV);
  });

  it("A6: GET_DEVICE_ATTR(IRQ) is ENXIO before SET(IRQ) and reads 23 after SET(IRQ=23)", () => {
    const h = host();
    const v = mkVcpu(h, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.getAttr(IRQ)).toBe(-ERRNO.ENXIO);
    expect(v.setAttr(IRQ, 23)).toBe(0);
    expect(v.getAttr(IRQ)).toBe(23);
    expect(v.setAttr(INIT, 0)).toBe(0);
    expect(v.getAttr(IRQ)).toBe(23);
  });

  it("A7: GET_DEVICE_ATTR of INIT, FILTER or SET_PMU returns ENXIO", () => {
    const h = host();
    const v = mkVcpu(h, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    for (const attr of [INIT, FILTER, SET_PMU, SET_NR_COUNTERS])
      expect(v.getAttr(attr)).toBe(-ERRNO.ENXIO);
    expect(v.setAttr(IRQ, 23)).toBe(0);
    expect(v.setAttr(INIT, 0)).toBe(0);
    for (const attr of [INIT, FILTER, SET_PMU]) expect(v.getAttr(attr)).toBe(-ERRNO.ENXIO);
  });

  it("A8: SET(IRQ) without an in-kernel irqchip returns EINVAL", () => {
    const h = host();
    h.vm.irqchip = false;
    const v = mkVcpu(h, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.setAttr(IRQ, 23)).toBe(-ERRNO.EINVAL);
    // The irqchip check comes before the IRQ number is even read (get_user: EFAULT).
    expect(v.setAttr(IRQ, undefined)).toBe(-ERRNO.EINVAL);
    expect(v.irq).toBeNull();
    // Userspace irqchip: INIT needs no IRQ, and the vCPU runs.
    expect(v.setAttr(INIT, 0)).toBe(0);
    expect(v.kvmRun(h.sys.now)).toBe(0);
  });

  it("A9: SET(IRQ) with irq < 16 (an SGI) or beyond the SPI range returns EINVAL", () => {
    const h = host();
    const v = mkVcpu(h, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    // An unreadable number is EFAULT, checked before the range.
    expect(v.setAttr(IRQ, undefined)).toBe(-ERRNO.EFAULT);
    for (const irq of [-1, 0, 7, 15, 1020]) expect(v.setAttr(IRQ, irq)).toBe(-ERRNO.EINVAL);
    expect(v.irq).toBeNull();
    expect(v.setAttr(IRQ, 16)).toBe(0);
  });

  it("A10: IRQ 23 on vCPU0 then IRQ 22 on vCPU1 is EINVAL (a PPI must match on every vCPU)", () => {
    const h = host();
    const [a, b] = [mkVcpu(h, 0, [0]), mkVcpu(h, 1, [1])];
    expect(a.init(PMU_FEATURE, 0)).toBe(0);
    expect(b.init(PMU_FEATURE, 0)).toBe(0);
    expect(a.setAttr(IRQ, 23)).toBe(0);
    expect(b.setAttr(IRQ, 22)).toBe(-ERRNO.EINVAL);
    expect(b.setAttr(IRQ, 31)).toBe(-ERRNO.EINVAL);
    expect(b.setAttr(IRQ, 23)).toBe(0);
    expect(b.getAttr(IRQ)).toBe(23);
  });

  it("A11: SPI 40 on vCPU0 then SPI 40 on vCPU1 is EINVAL (an SPI is per vCPU)", () => {
    const h = host();
    const [a, b] = [mkVcpu(h, 0, [0]), mkVcpu(h, 1, [1])];
    expect(a.init(PMU_FEATURE, 0)).toBe(0);
    expect(b.init(PMU_FEATURE, 0)).toBe(0);
    expect(a.setAttr(IRQ, 40)).toBe(0);
    expect(b.setAttr(IRQ, 40)).toBe(-ERRNO.EINVAL);
    expect(b.setAttr(IRQ, 41)).toBe(0);
  });

  it("A12: a second SET(IRQ=23) on the same vCPU is EBUSY, SET(IRQ=22) there is EINVAL", () => {
    const h = host();
    const v = mkVcpu(h, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.setAttr(IRQ, 23)).toBe(0);
    // pmu_irq_is_valid() also checks the vCPU's own IRQ, before the EBUSY check.
    expect(v.setAttr(IRQ, 23)).toBe(-ERRNO.EBUSY);
    expect(v.setAttr(IRQ, 22)).toBe(-ERRNO.EINVAL);
    expect(v.getAttr(IRQ)).toBe(23);
    // The same order with SPIs: repeating one's own SPI is EINVAL, another SPI EBUSY.
    const h2 = host();
    const s = mkVcpu(h2, 0, [0]);
    expect(s.init(PMU_FEATURE, 0)).toBe(0);
    expect(s.setAttr(IRQ, 40)).toBe(0);
    expect(s.setAttr(IRQ, 40)).toBe(-ERRNO.EINVAL);
    expect(s.setAttr(IRQ, 41)).toBe(-ERRNO.EBUSY);
  });

  it("A13: INIT before the vGIC is initialized is ENODEV; with no IRQ set it is ENXIO", () => {
    const h = host();
    h.vm.vgicReady = false;
    const v = mkVcpu(h, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.setAttr(INIT, 0)).toBe(-ERRNO.ENODEV);
    expect(v.setAttr(IRQ, 23)).toBe(0);
    expect(v.setAttr(INIT, 0)).toBe(-ERRNO.ENODEV);
    h.vm.vgicReady = true;
    const w = mkVcpu(h, 1, [1]);
    expect(w.init(PMU_FEATURE, 0)).toBe(0);
    expect(w.setAttr(INIT, 0)).toBe(-ERRNO.ENXIO);
    expect(w.created).toBe(false);
    expect(w.setAttr(IRQ, 23)).toBe(0);
    expect(w.setAttr(INIT, 0)).toBe(0);
    expect(w.created).toBe(true);
  });

  it("A14: after INIT every SET on that vCPU is EBUSY; SET_PMU on a not-yet-INITed vCPU still changes the VM's PMU", () => {
    const h = host();
    const a = pmuVcpu(h, 0, [0]);
    const b = mkVcpu(h, 1, [1]);
    expect(b.init(PMU_FEATURE, 0)).toBe(0);
    const a53 = h.pmu("armv8_cortex_a53");
    const a72 = h.pmu("armv8_cortex_a72");
    expect(h.vm.armPmu).toBe(a53);
    expect(a.setAttr(IRQ, 23)).toBe(-ERRNO.EBUSY);
    expect(a.setAttr(INIT, 0)).toBe(-ERRNO.EBUSY);
    expect(a.setAttr(FILTER, { base_event: 0, nevents: 1, action: ALLOW })).toBe(-ERRNO.EBUSY);
    expect(a.setAttr(SET_PMU, a72.type)).toBe(-ERRNO.EBUSY);
    expect(a.setAttr(SET_NR_COUNTERS, 1)).toBe(-ERRNO.EBUSY);
    // "created" is checked before the attribute is even decoded.
    expect(a.setAttr(42, 0)).toBe(-ERRNO.EBUSY);
    expect(b.setAttr(SET_PMU, a72.type)).toBe(0);
    expect(h.vm.armPmu).toBe(a72);
    // vCPU0, INITed before, now creates its guest events on the A72 PMU.
    program(h, a, { 0: INST_RETIRED });
    expect(a.pmu!.events[0]!.attr.type).toBe(a72.type);
  });
});

describe("KVM_ARM_VCPU_PMU_V3_SET_PMU", () => {
  it("A15: SET_PMU with an id that is not a PMUv3 arm_pmu returns ENXIO", () => {
    const h = host({ machine: "arm64-server" });
    const v = mkVcpu(h, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    const n1 = h.pmu("armv8_neoverse_n1");
    const cmn = h.sys.perf.registry.byName("arm_cmn_0")!;
    const sw = h.sys.perf.registry.byName("software")!;
    for (const id of [cmn.type, sw.type, 4 /* PERF_TYPE_RAW */, 12345, -1])
      expect(v.setAttr(SET_PMU, id)).toBe(-ERRNO.ENXIO);
    expect(h.vm.armPmu).toBe(n1);
    expect(h.vm.supportedCpus).toHaveLength(16);
    expect(v.setAttr(SET_PMU, n1.type)).toBe(0);
  });

  it("A16: SET_PMU after any vCPU of the VM has run returns EBUSY", () => {
    const h = host();
    // Every vCPU exists before the first KVM_RUN (after it, KVM_CREATE_VCPU is EBUSY).
    const b = mkVcpu(h, 1, [2]);
    const a = running(h, 1);
    expect(b.init(PMU_FEATURE, 0)).toBe(0);
    runFor(h, 1);
    expect(a.run.nrEntries).toBeGreaterThan(0);
    expect(h.vm.hasRanOnce).toBe(true);
    expect(b.setAttr(SET_PMU, h.pmu("armv8_cortex_a72").type)).toBe(-ERRNO.EBUSY);
    expect(b.setAttr(SET_PMU, h.pmu("armv8_cortex_a53").type)).toBe(-ERRNO.EBUSY);
    // The id is looked up first: an unknown one is still ENXIO.
    expect(b.setAttr(SET_PMU, 12345)).toBe(-ERRNO.ENXIO);
    expect(h.vm.armPmu).toBe(h.pmu("armv8_cortex_a53"));
    expect(h.vm.supportedCpus).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("A17: FILTER then SET_PMU(another PMU) is EBUSY; SET_PMU(the current PMU) is 0", () => {
    for (const profile of ["7.0", "5.18"] as const) {
      const h = host({ profile });
      const v = mkVcpu(h, 0, [0]);
      expect(v.init(PMU_FEATURE, 0)).toBe(0);
      const a53 = h.pmu("armv8_cortex_a53");
      const a72 = h.pmu("armv8_cortex_a72");
      // 7.0: the default came with VCPU_INIT; 5.18: this first attribute call picks it.
      expect(v.setAttr(FILTER, { base_event: CPU_CYCLES, nevents: 1, action: ALLOW })).toBe(0);
      expect(h.vm.armPmu).toBe(a53);
      expect(v.setAttr(SET_PMU, a72.type)).toBe(-ERRNO.EBUSY);
      expect(h.vm.armPmu).toBe(a53);
      expect(v.setAttr(SET_PMU, a53.type)).toBe(0);
      expect(h.vm.supportedCpus).toEqual([0, 1, 2, 3]);
    }
    // The other order works: SET_PMU first, then the filter.
    const h = host();
    const v = mkVcpu(h, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.setAttr(SET_PMU, h.pmu("armv8_cortex_a72").type)).toBe(0);
    expect(v.setAttr(FILTER, { base_event: CPU_CYCLES, nevents: 1, action: ALLOW })).toBe(0);
  });

  it("A18: SET_PMU(A) then SET_PMU(B) before the first run: B wins for every vCPU", () => {
    const h = host();
    const a53 = h.pmu("armv8_cortex_a53");
    const a72 = h.pmu("armv8_cortex_a72");
    const v0 = mkVcpu(h, 0, [4]);
    const v1 = mkVcpu(h, 1, [5]);
    expect(v0.init(PMU_FEATURE, 0)).toBe(0);
    expect(v1.init(PMU_FEATURE, 0)).toBe(0);
    expect(v0.setAttr(SET_PMU, a53.type)).toBe(0);
    expect(h.vm.supportedCpus).toEqual([0, 1, 2, 3]);
    expect(v1.setAttr(SET_PMU, a72.type)).toBe(0);
    expect(h.vm.armPmu).toBe(a72);
    expect(h.vm.supportedCpus).toEqual([4, 5]);
    for (const v of [v0, v1]) {
      expect(v.setAttr(IRQ, 23)).toBe(0);
      expect(v.setAttr(INIT, 0)).toBe(0);
      expect(v.kvmRun(h.sys.now)).toBe(0);
      program(h, v, { 0: INST_RETIRED }, { cycles: true });
    }
    runFor(h, 5);
    for (const v of [v0, v1]) {
      expect(v.lastExit()).toBeNull();
      expect(v.pmu!.events[0]!.attr.type).toBe(a72.type);
      expect(v.pmu!.events[CYCLE_IDX]!.attr.type).toBe(a72.type);
      expect(val(v, "PMEVCNTR_EL0", 0)).toBeGreaterThan(0n);
    }
  });

  it("A19: guest perf events: type = VM's arm_pmu, pinned, exclude_host, exclude_hv, cpu -1, task = vCPU thread", () => {
    const h = host();
    const a72 = h.pmu("armv8_cortex_a72");
    const v = running(h, 4, { setPmu: a72.type });
    program(h, v, { 0: INST_RETIRED, 1: SW_INCR, 3: CHAIN }, { cycles: true });
    for (const idx of [0, CYCLE_IDX]) {
      const e = v.pmu!.events[idx]!;
      expect(e.attr.type).toBe(a72.type);
      expect(e.attr.config).toBe(BigInt(idx === CYCLE_IDX ? CPU_CYCLES : INST_RETIRED));
      expect(e.attr.pinned).toBe(true);
      expect(e.attr.exclude_host).toBe(true);
      expect(e.attr.exclude_hv).toBe(true);
      expect(e.attr.exclude_user).toBe(false);
      expect(e.attr.exclude_kernel).toBe(false);
      expect(e.cpu).toBe(-1);
      expect(e.task).toBe(v.run.task);
      expect(e.owner).toBe("kernel");
      expect(e.pmu).toBe(a72);
    }
    // The cycle counter is 64-bit (config1 bit 0); a v8.0 event counter is not.
    expect(v.pmu!.events[CYCLE_IDX]!.attr.config1).toBe(1n);
    expect(v.pmu!.events[0]!.attr.config1).toBe(0n);
    // SW_INCR and CHAIN are emulated: no perf event.
    expect(v.pmu!.events[1]).toBeNull();
    expect(v.pmu!.events[3]).toBeNull();
    runFor(h, 2);
    expect(v.pmu!.events[0]!.oncpu).toBe(4);
  });
});

describe("heterogeneous hosts: default PMU, FAIL_ENTRY", () => {
  it("A20: without SET_PMU a vCPU outside the default PMU's CPUs enters the guest but its counters freeze, and resume back home", () => {
    const h = host();
    // VCPU_INIT from CPU 0: default PMU is the A53's; the vCPU runs on the A72 (CPU 4).
    const v = running(h, 4, { vmmCpu: 0 });
    expect(h.vm.armPmu).toBe(h.pmu("armv8_cortex_a53"));
    program(h, v, { 0: INST_RETIRED }, { cycles: true });
    runFor(h, 20);
    expect(v.lastExit()).toBeNull();
    expect(v.run.nrEntries).toBeGreaterThan(0);
    expect(v.run.guestNs).toBeGreaterThan(msToNs(15));
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(0n);
    expect(val(v, "PMCCNTR_EL0")).toBe(0n);
    // The event is not in ERROR: it is simply never scheduled in on CPU 4.
    expect(v.pmu!.events[0]!.state).toBe(PERF_EVENT_STATE.INACTIVE);
    h.sys.schedSetaffinity(v.run.task.pid, [1]);
    runFor(h, 20);
    const home = Number(val(v, "PMEVCNTR_EL0", 0));
    expect(home).toBeGreaterThan(0);
    expect(home).toBeCloseTo(guestInstructions(v, [0, 1, 2, 3]), -3);
    expect(val(v, "PMCCNTR_EL0")).toBeGreaterThan(0n);
    h.sys.schedSetaffinity(v.run.task.pid, [5]);
    runFor(h, 1);
    const before = val(v, "PMEVCNTR_EL0", 0);
    runFor(h, 20);
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(before);
    expect(v.run.nrFailEntries).toBe(0);
  });

  it("A21: after SET_PMU, a vCPU on a CPU outside that PMU gets KVM_RUN 0 with FAIL_ENTRY / CPU_UNSUPPORTED and runs no guest code", () => {
    const h = host();
    const v = running(h, 4, { setPmu: h.pmu("armv8_cortex_a53").type });
    runFor(h, 5);
    expect(v.runResults).toEqual(["0"]);
    expect(v.lastExit()).toEqual({
      exit_reason: KVM_EXIT_FAIL_ENTRY,
      fail_entry: { hardware_entry_failure_reason: KVM_EXIT_FAIL_ENTRY_CPU_UNSUPPORTED, cpu: 4 },
    });
    expect(KVM_EXIT_FAIL_ENTRY_CPU_UNSUPPORTED).toBe(1);
    expect(v.run.nrFailEntries).toBe(1);
    expect(v.run.nrEntries).toBe(0);
    expect(v.run.guestNs).toBe(0);
    expect(v.run.hasRun).toBe(false);
  });

  it("A22: after FAIL_ENTRY, re-pinning to a supported CPU and calling KVM_RUN again enters the guest", () => {
    const h = host();
    const v = running(h, 5, { setPmu: h.pmu("armv8_cortex_a53").type });
    runFor(h, 5);
    expect(v.lastExit()?.fail_entry.cpu).toBe(5);
    h.sys.schedSetaffinity(v.run.task.pid, [2]);
    expect(v.kvmRun(h.sys.now)).toBe(0);
    program(h, v, { 0: INST_RETIRED });
    runFor(h, 10);
    expect(v.lastExit()).toBeNull();
    expect(v.run.nrEntries).toBeGreaterThan(0);
    expect(v.run.guestNs).toBeGreaterThan(msToNs(5));
    expect(val(v, "PMEVCNTR_EL0", 0)).toBeGreaterThan(0n);
    expect(v.run.nrFailEntries).toBe(1);
  });

  it("A23: [5.18] the default PMU is the first probed one, fixed at the first PMU attribute call; [cur] the first covering the VCPU_INIT CPU", () => {
    // 5.18: the VMM thread's CPU does not matter, probe order does.
    for (const [machine, want] of [
      [preset("rk3399")!, "armv8_cortex_a53"],
      [rk3399Swapped(), "armv8_cortex_a72"],
    ] as const) {
      for (const vmmCpu of [0, 4]) {
        const h = host({ machine, profile: "5.18" });
        const v = mkVcpu(h, 0, [0]);
        expect(v.init(PMU_FEATURE, vmmCpu)).toBe(0);
        expect(h.vm.armPmu).toBeNull();
        expect(v.setAttr(IRQ, 23)).toBe(0);
        expect(h.vm.armPmu!.name).toBe(want);
      }
    }
    // Even a failing attribute call fixes it.
    const f = host({ profile: "5.18" });
    const fv = mkVcpu(f, 0, [0]);
    expect(fv.init(PMU_FEATURE, 4)).toBe(0);
    expect(fv.setAttr(IRQ, 3)).toBe(-ERRNO.EINVAL);
    expect(f.vm.armPmu!.name).toBe("armv8_cortex_a53");
    // 7.0: chosen at VCPU_INIT from the CPU running it, whatever the probe order.
    for (const machine of [preset("rk3399")!, rk3399Swapped()]) {
      for (const [vmmCpu, want] of [
        [0, "armv8_cortex_a53"],
        [4, "armv8_cortex_a72"],
      ] as const) {
        const h = host({ machine });
        const v = mkVcpu(h, 0, [0]);
        expect(v.init(PMU_FEATURE, vmmCpu)).toBe(0);
        expect(h.vm.armPmu!.name).toBe(want);
        // A later VCPU_INIT from elsewhere does not change it.
        const w = mkVcpu(h, 1, [1]);
        expect(w.init(PMU_FEATURE, vmmCpu === 0 ? 4 : 0)).toBe(0);
        expect(h.vm.armPmu!.name).toBe(want);
      }
    }
  });

  it("A24: the default-PMU path never narrows supported_cpus; only SET_PMU does", () => {
    for (const profile of ["5.18", "7.0"] as const) {
      const h = host({ profile });
      const v = mkVcpu(h, 0, [0]);
      expect(v.init(PMU_FEATURE, 4)).toBe(0);
      expect(v.setAttr(IRQ, 23)).toBe(0);
      expect(h.vm.armPmu).not.toBeNull();
      expect(h.vm.supportedCpus).toEqual([0, 1, 2, 3, 4, 5]);
      expect(v.setAttr(SET_PMU, h.pmu("armv8_cortex_a72").type)).toBe(0);
      expect(h.vm.supportedCpus).toEqual([4, 5]);
    }
  });

  it("A25: a vCPU with the PMU feature that never got INIT fails its first KVM_RUN with EINVAL", () => {
    const h = host();
    const v = mkVcpu(h, 0, [1]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.setAttr(IRQ, 23)).toBe(0);
    expect(v.kvmRun(h.sys.now)).toBe(-ERRNO.EINVAL);
    runFor(h, 2);
    expect(v.runResults).toEqual(["EINVAL"]);
    expect(v.run.nrEntries).toBe(0);
    expect(h.vm.hasRanOnce).toBe(false);
    // Firecracker's case: the feature bit alone.
    const w = mkVcpu(h, 1, [2]);
    expect(w.init(PMU_FEATURE, 0)).toBe(0);
    expect(w.kvmRun(h.sys.now)).toBe(-ERRNO.EINVAL);
  });
});

describe("KVM_ARM_VCPU_PMU_V3_FILTER and PMCEID", () => {
  it("A26: FILTER beyond the event space (1024 on v8.0, 65536 on v3p1+) or with a bad action is EINVAL; after the first run EBUSY", () => {
    const rk = host();
    const v = mkVcpu(rk, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.setAttr(FILTER, { base_event: 1000, nevents: 25, action: ALLOW })).toBe(-ERRNO.EINVAL);
    expect(v.setAttr(FILTER, { base_event: 0x4000, nevents: 1, action: ALLOW })).toBe(
      -ERRNO.EINVAL,
    );
    expect(v.setAttr(FILTER, { base_event: 0, nevents: 1, action: 2 })).toBe(-ERRNO.EINVAL);
    expect(rk.vm.filter).toBeNull();
    expect(v.setAttr(FILTER, { base_event: 1000, nevents: 24, action: DENY })).toBe(0);
    expect(rk.vm.filter).toHaveLength(1024);

    const srv = host({ machine: "arm64-server" });
    const s = mkVcpu(srv, 0, [0]);
    expect(s.init(PMU_FEATURE, 0)).toBe(0);
    expect(s.setAttr(FILTER, { base_event: 0xffff, nevents: 2, action: ALLOW })).toBe(
      -ERRNO.EINVAL,
    );
    expect(s.setAttr(FILTER, { base_event: 0x4000, nevents: 0x20, action: ALLOW })).toBe(0);
    expect(srv.vm.filter).toHaveLength(65536);

    // After the first run (on another vCPU), a valid filter is EBUSY; a bad one still EINVAL.
    const h = host();
    const late = mkVcpu(h, 1, [2]);
    running(h, 1);
    expect(h.vm.createVcpu(2, BUILTIN_WORKLOADS.compute!, [3])).toBe(-ERRNO.EBUSY);
    expect(late.init(PMU_FEATURE, 0)).toBe(0);
    expect(late.setAttr(FILTER, { base_event: 0, nevents: 1, action: ALLOW })).toBe(-ERRNO.EBUSY);
    expect(late.setAttr(FILTER, { base_event: 0, nevents: 1, action: 7 })).toBe(-ERRNO.EINVAL);
  });

  it("A27: a first FILTER ALLOW [0x11,0x12) denies everything else: INST_RETIRED stays 0, PMCEID0 bit 8 reads 0", () => {
    const h = host();
    const v = mkVcpu(h, 0, [1]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.setAttr(FILTER, { base_event: CPU_CYCLES, nevents: 1, action: ALLOW })).toBe(0);
    expect(v.setAttr(IRQ, 23)).toBe(0);
    expect(v.setAttr(INIT, 0)).toBe(0);
    expect(v.kvmRun(h.sys.now)).toBe(0);
    program(h, v, { 0: INST_RETIRED, 1: CPU_CYCLES }, { cycles: true });
    runFor(h, 10);
    expect(v.pmu!.events[0]).toBeNull();
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(0n);
    expect(val(v, "PMEVCNTR_EL0", 1)).toBeGreaterThan(0n);
    expect(val(v, "PMCCNTR_EL0")).toBeGreaterThan(0n);
    const pmceid0 = val(v, "PMCEID0_EL0");
    expect(bit(pmceid0, INST_RETIRED)).toBe(0);
    expect(bit(pmceid0, CPU_CYCLES)).toBe(1);
    expect(pmceid0).toBe(1n << BigInt(CPU_CYCLES));
  });

  it("A28: a first FILTER DENY [0x11,0x12) stops the cycle counter; PMCEID0 bit 17 reads 0", () => {
    const h = host();
    const v = mkVcpu(h, 0, [1]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.setAttr(FILTER, { base_event: CPU_CYCLES, nevents: 1, action: DENY })).toBe(0);
    expect(v.setAttr(IRQ, 23)).toBe(0);
    expect(v.setAttr(INIT, 0)).toBe(0);
    expect(v.kvmRun(h.sys.now)).toBe(0);
    program(h, v, { 0: INST_RETIRED, 1: CPU_CYCLES }, { cycles: true });
    runFor(h, 10);
    expect(v.pmu!.events[CYCLE_IDX]).toBeNull();
    expect(val(v, "PMCCNTR_EL0")).toBe(0n);
    expect(val(v, "PMEVCNTR_EL0", 1)).toBe(0n);
    expect(val(v, "PMEVCNTR_EL0", 0)).toBeGreaterThan(0n);
    const pmceid0 = val(v, "PMCEID0_EL0");
    expect(bit(pmceid0, CPU_CYCLES)).toBe(0);
    expect(bit(pmceid0, INST_RETIRED)).toBe(1);
    expect(bit(pmceid0, CHAIN)).toBe(1);
  });

  it("A29: ALLOW [0,10) then DENY [0,10) leaves 0-9 denied under the deny default, yet SW_INCR still counts", () => {
    const h = host();
    const v = mkVcpu(h, 0, [1]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.setAttr(FILTER, { base_event: 0, nevents: 10, action: ALLOW })).toBe(0);
    expect(v.setAttr(FILTER, { base_event: 0, nevents: 10, action: DENY })).toBe(0);
    expect([...h.vm.filter!].every((b) => b === 0)).toBe(true);
    expect(v.setAttr(IRQ, 23)).toBe(0);
    expect(v.setAttr(INIT, 0)).toBe(0);
    expect(v.kvmRun(h.sys.now)).toBe(0);
    program(h, v, { 0: SW_INCR, 1: INST_RETIRED, 2: 0x0a });
    for (let i = 0; i < 3; i++) wr(h, v, "PMSWINC_EL0", 0x1);
    runFor(h, 10);
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(3n);
    expect(val(v, "PMEVCNTR_EL0", 1)).toBe(0n);
    expect(val(v, "PMEVCNTR_EL0", 2)).toBe(0n);
    // The filter masks every PMCEID bit, SW_INCR and CHAIN included: the guest sees nothing.
    expect(val(v, "PMCEID0_EL0")).toBe(0n);
    expect(val(v, "PMCEID1_EL0")).toBe(0n);
  });

  it("A30: PMCEID0 has CHAIN (bit 30); [cur] SW_INCR (bit 0) always; STALL_SLOT (PMCEID1 bit 31) always reads 0", () => {
    const stallSlot = (desc: PmuHwDesc): PmuHwDesc => ({
      ...desc,
      events: new Map([...desc.events, [0x3d, Q_NONE], [0x3e, Q_NONE], [0x3f, Q_NONE]]),
    });
    const base = (version: number, events: number[]): MachineDesc => {
      const m = oneTypeMachine({ version, events });
      m.coreTypes[0]!.pmu = stallSlot(m.coreTypes[0]!.pmu);
      return m;
    };
    // [cur]: a PMU that does not list SW_INCR (0x00) still shows it; CHAIN is forced too.
    const cur = host({ machine: base(PMUVER.V3P4, range(0x01, 0x1d)) });
    const c = running(cur, 1);
    const c0 = val(c, "PMCEID0_EL0");
    const c1 = val(c, "PMCEID1_EL0");
    expect(bit(c0, SW_INCR)).toBe(1);
    expect(bit(c0, CHAIN)).toBe(1);
    expect([29, 30, 31].map((b) => bit(c1, b))).toEqual([0, 0, 0]);
    // [5.18]: the physical PMCEID (which has CHAIN on every preset); STALL_SLOT hidden from v3p4.
    const old = host({ machine: base(PMUVER.V3P4, A72_EVENTS), profile: "5.18" });
    const o = running(old, 1);
    expect(bit(val(o, "PMCEID0_EL0"), CHAIN)).toBe(1);
    expect(bit(val(o, "PMCEID0_EL0"), SW_INCR)).toBe(1);
    expect(bit(val(o, "PMCEID1_EL0"), 31)).toBe(0);
    // Presets: rk3399 and the N1 (STALL_FRONTEND/BACKEND in PMCEID1 bits 3/4).
    for (const profile of ["5.18", "7.0"] as const) {
      const rk = host({ profile });
      const r = running(rk, 1);
      expect(bit(val(r, "PMCEID0_EL0"), CHAIN)).toBe(1);
      expect(bit(val(r, "PMCEID0_EL0"), SW_INCR)).toBe(1);
      const n1 = host({ machine: "arm64-server", profile });
      const n = running(n1, 1);
      expect(val(n, "PMCEID1_EL0")).toBe(0b11000n);
    }
  });
});

describe("PMCR_EL0.N: guest writes, SET_ONE_REG, SET_NR_COUNTERS", () => {
  it("A31: PMCR_EL0 reads P = C = 0 and the guest cannot change N", () => {
    const h = host();
    const v = running(h, 1);
    expect(val(v, "PMCR_EL0")).toBe(BigInt(6 << PMCR.N_SHIFT));
    wr(h, v, "PMCR_EL0", PMCR.E | PMCR.P | PMCR.C | PMCR.LC);
    expect(val(v, "PMCR_EL0")).toBe(BigInt(PMCR.E | PMCR.LC | (6 << PMCR.N_SHIFT)));
    wr(h, v, "PMCR_EL0", (2 << PMCR.N_SHIFT) | PMCR.E);
    expect(val(v, "PMCR_EL0")).toBe(BigInt(PMCR.E | (6 << PMCR.N_SHIFT)));
    wr(h, v, "PMCR_EL0", 0xffffffff);
    const pmcr = val(v, "PMCR_EL0");
    expect(Number(pmcr >> BigInt(PMCR.N_SHIFT)) & PMCR.N_MASK).toBe(6);
    expect(pmcr & BigInt(PMCR.P | PMCR.C)).toBe(0n);
    // LP is RES0 without PMUv3p5.
    expect(pmcr & BigInt(PMCR.LP)).toBe(0n);
  });

  it("A32: [cur] SET_ONE_REG(PMCR_EL0): N > max is ignored (rc 0), N <= max is taken VM-wide, after the first run N is frozen", () => {
    const h = host({ machine: "arm64-server" });
    const v0 = mkVcpu(h, 0, [1]);
    const v1 = mkVcpu(h, 1, [2]);
    expect(v0.getOneReg("PMCR_EL0")).toBe(-ERRNO.ENOEXEC);
    for (const v of [v0, v1]) expect(v.init(PMU_FEATURE, 0)).toBe(0);
    const nOf = (v: KvmArmVcpu): number =>
      Number(v.getOneReg("PMCR_EL0") as bigint) >>> PMCR.N_SHIFT;
    expect(nOf(v0)).toBe(6);
    expect(v0.setOneReg("PMCR_EL0", BigInt(7 << PMCR.N_SHIFT))).toBe(0);
    expect(nOf(v0)).toBe(6);
    expect(v0.setOneReg("PMCR_EL0", BigInt((3 << PMCR.N_SHIFT) | PMCR.LC))).toBe(0);
    expect(v0.getOneReg("PMCR_EL0")).toBe(BigInt((3 << PMCR.N_SHIFT) | PMCR.LC));
    expect(nOf(v1)).toBe(3);
    expect(h.vm.nrCounters).toBe(3);
    for (const v of [v0, v1]) {
      expect(v.setAttr(IRQ, 23)).toBe(0);
      expect(v.setAttr(INIT, 0)).toBe(0);
    }
    expect(v0.kvmRun(h.sys.now)).toBe(0);
    runFor(h, 1);
    expect(Number(val(v0, "PMCR_EL0")) >>> PMCR.N_SHIFT).toBe(3);
    expect(rd(v0, "PMEVCNTR_EL0", 3)).toBe(UNDEF);
    expect(v1.setOneReg("PMCR_EL0", BigInt(2 << PMCR.N_SHIFT))).toBe(0);
    expect(nOf(v1)).toBe(3);
    // A re-run of KVM_ARM_VCPU_INIT resets the vCPU but keeps the VM's N.
    expect(v0.init(PMU_FEATURE, 0)).toBe(0);
    expect(nOf(v0)).toBe(3);
    // No PMU feature: the register is hidden. Features are VM-wide, so a VM of its own.
    const hw = host();
    const w = mkVcpu(hw, 0, [3]);
    expect(w.init(0, 0)).toBe(0);
    expect(v1.init(0, 0)).toBe(-ERRNO.EINVAL);
    expect(w.setOneReg("PMCR_EL0", 0n)).toBe(-ERRNO.ENOENT);
  });

  it("A33: [cur] SET_NR_COUNTERS(n > max) is EINVAL; SET_NR_COUNTERS(2) then SET_PMU resets N to that PMU's max", () => {
    const h = host({ machine: heteroMachine() });
    const v = mkVcpu(h, 0, [0]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(h.vm.armPmu!.name).toBe("armv8_little");
    expect(v.setAttr(SET_NR_COUNTERS, 7)).toBe(-ERRNO.EINVAL);
    expect(v.setAttr(SET_NR_COUNTERS, 6)).toBe(0);
    expect(v.setAttr(SET_NR_COUNTERS, 2)).toBe(0);
    expect(v.getOneReg("PMCR_EL0")).toBe(BigInt(2 << PMCR.N_SHIFT));
    expect(v.setAttr(SET_PMU, h.pmu("armv8_big").type)).toBe(0);
    expect(h.vm.nrCounters).toBe(4);
    expect(v.setAttr(SET_NR_COUNTERS, 5)).toBe(-ERRNO.EINVAL);
    expect(v.setAttr(SET_NR_COUNTERS, 2)).toBe(0);
    expect(v.setAttr(SET_PMU, h.pmu("armv8_little").type)).toBe(0);
    expect(v.getOneReg("PMCR_EL0")).toBe(BigInt(6 << PMCR.N_SHIFT));
    // 5.18 has no such attribute.
    const old = host({ profile: "5.18" });
    const o = mkVcpu(old, 0, [0]);
    expect(o.init(PMU_FEATURE, 0)).toBe(0);
    expect(o.setAttr(SET_NR_COUNTERS, 2)).toBe(-ERRNO.ENXIO);
  });

  it("A34: PMEVCNTR<n>/PMEVTYPER<n> with N <= n <= 30 (direct or via PMSELR) UNDEF; their SET/CLR bits read 0", () => {
    const h = host();
    const v = mkVcpu(h, 0, [1]);
    expect(v.init(PMU_FEATURE, 0)).toBe(0);
    expect(v.setAttr(SET_NR_COUNTERS, 2)).toBe(0);
    expect(v.setAttr(IRQ, 23)).toBe(0);
    expect(v.setAttr(INIT, 0)).toBe(0);
    expect(v.kvmRun(h.sys.now)).toBe(0);
    const now = h.sys.now;
    for (const n of [2, 5, 30]) {
      expect(rd(v, "PMEVCNTR_EL0", n)).toBe(UNDEF);
      expect(rd(v, "PMEVTYPER_EL0", n)).toBe(UNDEF);
      expect(v.pmu!.write("PMEVCNTR_EL0", n, 1n, now)).toBe(UNDEF);
      expect(v.pmu!.write("PMEVTYPER_EL0", n, 8n, now)).toBe(UNDEF);
      wr(h, v, "PMSELR_EL0", n);
      expect(rd(v, "PMXEVCNTR_EL0")).toBe(UNDEF);
      expect(rd(v, "PMXEVTYPER_EL0")).toBe(UNDEF);
      expect(v.pmu!.write("PMXEVTYPER_EL0", 0, 8n, now)).toBe(UNDEF);
    }
    wr(h, v, "PMSELR_EL0", 1);
    wr(h, v, "PMXEVTYPER_EL0", 0xea);
    expect(val(v, "PMEVTYPER_EL0", 1)).toBe(0xean);
    wr(h, v, "PMXEVCNTR_EL0", 0xdeadbeef);
    expect(val(v, "PMEVCNTR_EL0", 1)).toBe(0xdeadbeefn);
    for (const [set, clr] of [
      ["PMCNTENSET_EL0", "PMCNTENCLR_EL0"],
      ["PMINTENSET_EL1", "PMINTENCLR_EL1"],
      ["PMOVSSET_EL0", "PMOVSCLR_EL0"],
    ] as Array<[PmuReg, PmuReg]>) {
      wr(h, v, set, 0xffffffff);
      expect(val(v, set)).toBe(0x80000003n);
      expect(val(v, clr)).toBe(0x80000003n);
    }
  });

  it("A35: PMCNTENSET = 0x7FFFFFFF reads back (1<<N)-1 from PMCNTENSET and PMCNTENCLR", () => {
    const h = host();
    const v = running(h, 1);
    wr(h, v, "PMCNTENSET_EL0", 0x7fffffff);
    expect(val(v, "PMCNTENSET_EL0")).toBe(0x3fn);
    expect(val(v, "PMCNTENCLR_EL0")).toBe(0x3fn);
    wr(h, v, "PMCNTENCLR_EL0", ~0x3 >>> 0);
    expect(val(v, "PMCNTENSET_EL0")).toBe(0x3n);
    expect(val(v, "PMCNTENCLR_EL0")).toBe(0x3n);
  });
});

describe("SW_INCR, CHAIN, overflow and the interrupt", () => {
  it("A36: PMSWINC with PMCR.E = 0 does not change a SW_INCR counter", () => {
    const h = host();
    const v = running(h, 1);
    wr(h, v, "PMEVTYPER_EL0", SW_INCR, 0);
    wr(h, v, "PMEVTYPER_EL0", SW_INCR, 1);
    wr(h, v, "PMCNTENSET_EL0", 0x1);
    for (let i = 0; i < 10; i++) wr(h, v, "PMSWINC_EL0", 0x3);
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(0n);
    wr(h, v, "PMCR_EL0", PMCR.E);
    wr(h, v, "PMSWINC_EL0", 0x3);
    // Counter 1 is not enabled in PMCNTENSET.
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(1n);
    expect(val(v, "PMEVCNTR_EL0", 1)).toBe(0n);
    // A counter of another type ignores PMSWINC.
    wr(h, v, "PMEVTYPER_EL0", INST_RETIRED, 2);
    wr(h, v, "PMCNTENSET_EL0", 0x4);
    const before = val(v, "PMEVCNTR_EL0", 2);
    wr(h, v, "PMSWINC_EL0", 0x4);
    expect(val(v, "PMEVCNTR_EL0", 2)).toBe(before);
  });

  const swIncr100 = (h: Host): KvmArmVcpu => {
    const v = running(h, 1);
    wr(h, v, "PMEVTYPER_EL0", SW_INCR, 0);
    wr(h, v, "PMEVTYPER_EL0", SW_INCR, 1);
    wr(h, v, "PMEVCNTR_EL0", 0xfffffff0, 0);
    wr(h, v, "PMEVCNTR_EL0", 0, 1);
    wr(h, v, "PMCNTENSET_EL0", 0x3);
    wr(h, v, "PMCR_EL0", PMCR.E);
    for (let i = 0; i < 100; i++) wr(h, v, "PMSWINC_EL0", 0x3);
    return v;
  };

  it("A37: 100 PMSWINC of 0x3 from 0xFFFFFFF0 / 0: counter0 = 0x54 (0x100000054 on v3p5), counter1 = 100, PMOVS = 0x1", () => {
    const v = swIncr100(host());
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(0x54n);
    expect(val(v, "PMEVCNTR_EL0", 1)).toBe(100n);
    expect(val(v, "PMOVSCLR_EL0")).toBe(0x1n);
    const p5 = oneTypeMachine({ version: PMUVER.V3P5, pmuv3p5: true });
    const w = swIncr100(host({ machine: p5 }));
    expect(val(w, "PMEVCNTR_EL0", 0)).toBe(0x100000054n);
    expect(val(w, "PMEVCNTR_EL0", 1)).toBe(100n);
    expect(val(w, "PMOVSCLR_EL0")).toBe(0x1n);
    // 5.18 capped the guest at PMUv3p4: 32-bit event counters even on v3p5 hardware.
    const old = swIncr100(host({ machine: p5, profile: "5.18" }));
    expect(val(old, "PMEVCNTR_EL0", 0)).toBe(0x54n);
  });

  it("A38: an even counter wrapping at 32 bits increments the enabled odd CHAIN counter; the odd one wrapping sets its own PMOVS bit", () => {
    const h = host();
    const v = running(h, 1);
    wr(h, v, "PMEVTYPER_EL0", SW_INCR, 0);
    wr(h, v, "PMEVTYPER_EL0", CHAIN, 1);
    wr(h, v, "PMEVCNTR_EL0", 0xffffffff, 0);
    wr(h, v, "PMCNTENSET_EL0", 0x3);
    wr(h, v, "PMCR_EL0", PMCR.E);
    wr(h, v, "PMSWINC_EL0", 0x1);
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(0n);
    expect(val(v, "PMEVCNTR_EL0", 1)).toBe(1n);
    expect(val(v, "PMOVSSET_EL0")).toBe(0x1n);
    wr(h, v, "PMOVSCLR_EL0", 0xffffffff);
    wr(h, v, "PMEVCNTR_EL0", 0xffffffff, 0);
    wr(h, v, "PMEVCNTR_EL0", 0xffffffff, 1);
    wr(h, v, "PMSWINC_EL0", 0x1);
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(0n);
    expect(val(v, "PMEVCNTR_EL0", 1)).toBe(0n);
    expect(val(v, "PMOVSSET_EL0")).toBe(0x3n);
    // A hardware event overflowing (perf overflow handler) chains the same way.
    wr(h, v, "PMOVSCLR_EL0", 0xffffffff);
    wr(h, v, "PMEVTYPER_EL0", CPU_CYCLES, 2);
    wr(h, v, "PMEVTYPER_EL0", CHAIN, 3);
    wr(h, v, "PMEVCNTR_EL0", 0xfffff000, 2);
    wr(h, v, "PMCNTENSET_EL0", 0xc);
    runFor(h, 5);
    expect(val(v, "PMEVCNTR_EL0", 3)).toBe(1n);
    expect(val(v, "PMEVCNTR_EL0", 2)).toBeLessThan(0x80000000n);
    expect(val(v, "PMOVSSET_EL0")).toBe(0x4n);
  });

  it("A39: a CHAIN counter does not count if it is disabled, if the even counter is disabled, or with PMCR.LP = 1", () => {
    const chainPair = (h: Host, cnten: number, pmcr: number, start: bigint): KvmArmVcpu => {
      const v = running(h, 1);
      wr(h, v, "PMEVTYPER_EL0", SW_INCR, 0);
      wr(h, v, "PMEVTYPER_EL0", CHAIN, 1);
      wr(h, v, "PMEVCNTR_EL0", start, 0);
      wr(h, v, "PMCNTENSET_EL0", cnten);
      wr(h, v, "PMCR_EL0", PMCR.E | pmcr);
      wr(h, v, "PMSWINC_EL0", 0x1);
      return v;
    };
    // CHAIN disabled: the even counter wraps and flags, the odd one stays.
    const a = chainPair(host(), 0x1, 0, 0xffffffffn);
    expect([val(a, "PMEVCNTR_EL0", 0), val(a, "PMEVCNTR_EL0", 1)]).toEqual([0n, 0n]);
    expect(val(a, "PMOVSSET_EL0")).toBe(0x1n);
    // Even counter disabled: nothing counts.
    const b = chainPair(host(), 0x2, 0, 0xffffffffn);
    expect([val(b, "PMEVCNTR_EL0", 0), val(b, "PMEVCNTR_EL0", 1)]).toEqual([0xffffffffn, 0n]);
    expect(val(b, "PMOVSSET_EL0")).toBe(0n);
    // LP = 1 on PMUv3p5: the even counter is 64-bit and never chains.
    const p5 = oneTypeMachine({ version: PMUVER.V3P5, pmuv3p5: true });
    const c = chainPair(host({ machine: p5 }), 0x3, PMCR.LP, 0xffffffffn);
    expect([val(c, "PMEVCNTR_EL0", 0), val(c, "PMEVCNTR_EL0", 1)]).toEqual([0x100000000n, 0n]);
    expect(val(c, "PMOVSSET_EL0")).toBe(0n);
    const d = chainPair(host({ machine: p5 }), 0x3, PMCR.LP, 0xffffffffffffffffn);
    expect([val(d, "PMEVCNTR_EL0", 0), val(d, "PMEVCNTR_EL0", 1)]).toEqual([0n, 0n]);
    expect(val(d, "PMOVSSET_EL0")).toBe(0x1n);
  });

  /** Counter 0 = SW_INCR at 0xFFFFFFFF, enabled; one PMSWINC overflows it. */
  const overflowOnce = (h: Host, v: KvmArmVcpu): void => {
    wr(h, v, "PMEVCNTR_EL0", 0xffffffff, 0);
    wr(h, v, "PMSWINC_EL0", 0x1);
  };

  it("A40: the overflow line is PMCR.E && (PMOVSSET & PMINTENSET) != 0 [cur], injected once per level change", () => {
    const h = host();
    const v = running(h, 1);
    const pmu = v.pmu!;
    program(h, v, { 0: SW_INCR });
    wr(h, v, "PMINTENSET_EL1", 0x1);
    expect([pmu.irqLevel, pmu.irqRaised]).toEqual([false, 0]);
    overflowOnce(h, v);
    expect([pmu.irqLevel, pmu.irqRaised]).toEqual([true, 1]);
    overflowOnce(h, v);
    expect([pmu.irqLevel, pmu.irqRaised]).toEqual([true, 1]);
    // [cur]: disabling the counter does not drop the line (6.4 also ANDed PMCNTENSET).
    wr(h, v, "PMCNTENCLR_EL0", 0x1);
    expect(pmu.irqLevel).toBe(true);
    wr(h, v, "PMCR_EL0", 0);
    expect(pmu.irqLevel).toBe(false);
    wr(h, v, "PMCR_EL0", PMCR.E);
    expect([pmu.irqLevel, pmu.irqRaised]).toEqual([true, 2]);
    wr(h, v, "PMOVSCLR_EL0", 0x1);
    expect(pmu.irqLevel).toBe(false);
    wr(h, v, "PMCNTENSET_EL0", 0x1);
    overflowOnce(h, v);
    expect([pmu.irqLevel, pmu.irqRaised]).toEqual([true, 3]);
  });

  // pmu.ts's updateIrq() has no notion of the kernel profile: the 5.18 line
  // (PMOVSSET & PMCNTENSET & PMINTENSET, kvm_pmu_overflow_status() of 5.18-6.4) is not
  // modelled. Needs pmu.ts: an ArmPmuVm hook (e.g. `overflowNeedsEnable(): boolean`, true
  // for 5.18) and `& this.cnten` in updateIrq() when it is set, plus updateIrq() calls after
  // PMCNTENSET/PMCNTENCLR writes.
  it("A40 [5.18]: the overflow line also needs the counter enabled in PMCNTENSET", () => {
    const h = host({ profile: "5.18" });
    const v = running(h, 1);
    program(h, v, { 0: SW_INCR });
    wr(h, v, "PMINTENSET_EL1", 0x1);
    overflowOnce(h, v);
    expect(v.pmu!.irqLevel).toBe(true);
    wr(h, v, "PMCNTENCLR_EL0", 0x1);
    expect(v.pmu!.irqLevel).toBe(false);
  });

  it("A41: with PMINTENSET = 0 an overflow sets PMOVS but raises no IRQ; setting PMINTENSET then raises it", () => {
    const h = host();
    const v = running(h, 1);
    program(h, v, { 0: SW_INCR, 2: CPU_CYCLES });
    overflowOnce(h, v);
    wr(h, v, "PMEVCNTR_EL0", 0xfffff000, 2);
    runFor(h, 5);
    expect(val(v, "PMOVSSET_EL0")).toBe(0x5n);
    expect([v.pmu!.irqLevel, v.pmu!.irqRaised]).toEqual([false, 0]);
    wr(h, v, "PMINTENSET_EL1", 0x4);
    expect([v.pmu!.irqLevel, v.pmu!.irqRaised]).toEqual([true, 1]);
    wr(h, v, "PMINTENSET_EL1", 0x1);
    expect(v.pmu!.irqRaised).toBe(1);
  });

  it("A42: PMCR.C zeroes PMCCNTR; PMCR.P zeroes every implemented event counter but not PMCCNTR", () => {
    const h = host();
    const v = running(h, 1);
    program(h, v, { 0: INST_RETIRED, 1: CPU_CYCLES }, { cycles: true });
    runFor(h, 5);
    const ev0 = val(v, "PMEVCNTR_EL0", 0);
    expect(ev0).toBeGreaterThan(0n);
    expect(val(v, "PMCCNTR_EL0")).toBeGreaterThan(0n);
    wr(h, v, "PMCR_EL0", PMCR.E | PMCR.C);
    expect(val(v, "PMCCNTR_EL0")).toBe(0n);
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(ev0);
    runFor(h, 5);
    const cyc = val(v, "PMCCNTR_EL0");
    expect(cyc).toBeGreaterThan(0n);
    wr(h, v, "PMCR_EL0", PMCR.E | PMCR.P);
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(0n);
    expect(val(v, "PMEVCNTR_EL0", 1)).toBe(0n);
    expect(val(v, "PMCCNTR_EL0")).toBe(cyc);
    runFor(h, 2);
    expect(val(v, "PMEVCNTR_EL0", 0)).toBeGreaterThan(0n);
  });

  it("A43: PMCCNTR overflows at 2^32 unless PMCR.LC; event counters at 2^32 unless PMCR.LP on PMUv3p5", () => {
    const start = 0xfffff000n;
    // PMCR.LC/LP are set before the counter is written: the period of the counter's perf
    // event is computed when the event is created.
    const cyc = (lc: boolean): [bigint, bigint] => {
      const h = host();
      const v = running(h, 1);
      wr(h, v, "PMCR_EL0", lc ? PMCR.LC : 0);
      wr(h, v, "PMCCNTR_EL0", start);
      program(h, v, {}, { cycles: true, pmcr: lc ? PMCR.LC : 0 });
      runFor(h, 5);
      return [val(v, "PMCCNTR_EL0"), val(v, "PMOVSSET_EL0")];
    };
    const [c32, o32] = cyc(false);
    expect(o32).toBe(0x80000000n);
    expect(c32).toBeGreaterThan(1n << 32n); // the register is 64-bit either way
    const [c64, o64] = cyc(true);
    expect(o64).toBe(0n);
    expect(c64).toBeGreaterThan(1n << 32n);
    const ev = (machine: MachineDesc, lp: boolean): [bigint, bigint, bigint] => {
      const h = host({ machine });
      const v = running(h, 1);
      wr(h, v, "PMCR_EL0", lp ? PMCR.LP : 0);
      wr(h, v, "PMEVTYPER_EL0", CPU_CYCLES, 0);
      wr(h, v, "PMEVCNTR_EL0", start, 0);
      program(h, v, { 0: CPU_CYCLES }, { pmcr: lp ? PMCR.LP : 0 });
      runFor(h, 5);
      return [val(v, "PMEVCNTR_EL0", 0), val(v, "PMOVSSET_EL0"), val(v, "PMCR_EL0")];
    };
    // v8.0: LP is RES0, 32-bit counters wrap.
    const [e0, o0, pmcr0] = ev(preset("rk3399")!, true);
    expect(o0).toBe(0x1n);
    expect(e0).toBeLessThan(start);
    expect(pmcr0 & BigInt(PMCR.LP)).toBe(0n);
    const p5 = oneTypeMachine({ version: PMUVER.V3P5, pmuv3p5: true });
    const [e1, o1] = ev(p5, false);
    expect(o1).toBe(0x1n);
    expect(e1).toBeGreaterThan(1n << 32n);
    const [e2, o2, pmcr2] = ev(p5, true);
    expect(o2).toBe(0n);
    expect(e2).toBeGreaterThan(1n << 32n);
    expect(pmcr2 & BigInt(PMCR.LP)).toBe(BigInt(PMCR.LP));
  });

  // An E change makes KVM reprogram every implemented counter (kernel: KVM_REQ_RELOAD_PMU ->
  // kvm_vcpu_reload_pmu() -> kvm_pmu_reprogram_counter_mask(); 5.18:
  // kvm_pmu_enable_counter_mask() -> kvm_pmu_create_perf_event()), so an LC/LP written
  // together with E decides the period of events created earlier. pmu.ts's reprogramAll()
  // only enables/disables existing perf events, keeping the 32-bit period. Needs pmu.ts: in
  // reprogramAll(), call `this.create(i, now)` for every implemented counter (it folds the
  // count and recreates the event with the new period and enable state) instead of
  // perfEventEnable/perfEventDisable on the existing one.
  it("A43 (reload): PMCR.E|LC written after the counter still gives 64-bit cycle overflow", () => {
    const h = host();
    const v = running(h, 1);
    wr(h, v, "PMCCNTR_EL0", 0xfffff000n);
    wr(h, v, "PMCNTENSET_EL0", 1 << CYCLE_IDX);
    wr(h, v, "PMCR_EL0", PMCR.E | PMCR.LC);
    runFor(h, 5);
    expect(val(v, "PMOVSSET_EL0")).toBe(0n);
    expect(val(v, "PMCCNTR_EL0")).toBeGreaterThan(1n << 32n);
  });

  it("A44: a guest counter = shadow register + live perf count; releasing the event keeps the value in the shadow", () => {
    const h = host();
    const v = running(h, 1);
    const pmu = v.pmu!;
    program(h, v, { 0: INST_RETIRED });
    runFor(h, 5);
    wr(h, v, "PMEVCNTR_EL0", 1000, 0);
    expect(pmu.shadow[0]).toBe(1000n);
    runFor(h, 5);
    const e = pmu.events[0]!;
    const value = val(v, "PMEVCNTR_EL0", 0); // reads the perf event (perf_event_read_value())
    const live = BigInt(Math.floor(e.count + 1e-6));
    expect(live).toBeGreaterThan(0n);
    expect(value).toBe(1000n + live);
    // Retyping to SW_INCR releases the perf event: its count is folded into the shadow.
    wr(h, v, "PMEVTYPER_EL0", SW_INCR, 0);
    expect(pmu.events[0]).toBeNull();
    expect(pmu.shadow[0]).toBe(value);
    runFor(h, 5);
    expect(val(v, "PMEVCNTR_EL0", 0)).toBe(value);
    expect(e.state).toBe(PERF_EVENT_STATE.DEAD);
  });

  it("A45: PMEVTYPER.U gives the host event exclude_user, P gives exclude_kernel (NSU/NSK are RES0 without EL3)", () => {
    const h = host();
    const v = running(h, 1);
    const { EXCLUDE_EL0: U, EXCLUDE_EL1: P, EXCLUDE_NS_EL0: NSU, EXCLUDE_NS_EL1: NSK } = EVTYPE;
    program(h, v, {
      0: (U | INST_RETIRED) >>> 0,
      1: (P | INST_RETIRED) >>> 0,
      2: (U | NSU | INST_RETIRED) >>> 0,
      3: (P | NSK | INST_RETIRED) >>> 0,
      4: INST_RETIRED,
    });
    const attr = (i: number) => v.pmu!.events[i]!.attr;
    expect([attr(0).exclude_user, attr(0).exclude_kernel]).toEqual([true, false]);
    expect([attr(1).exclude_user, attr(1).exclude_kernel]).toEqual([false, true]);
    // [cur] counts at EL0 iff U == NSU; NSU is not writable for a guest without EL3, so U=1 still excludes.
    expect(val(v, "PMEVTYPER_EL0", 2)).toBe(BigInt((U | INST_RETIRED) >>> 0));
    expect([attr(2).exclude_user, attr(2).exclude_kernel]).toEqual([true, false]);
    expect([attr(3).exclude_user, attr(3).exclude_kernel]).toEqual([false, true]);
    expect([attr(4).exclude_user, attr(4).exclude_kernel]).toEqual([false, false]);
    runFor(h, 10);
    const user = Number(val(v, "PMEVCNTR_EL0", 1));
    const kernel = Number(val(v, "PMEVCNTR_EL0", 0));
    const all = Number(val(v, "PMEVCNTR_EL0", 4));
    expect(user).toBeGreaterThan(0);
    expect(user + kernel).toBeCloseTo(all, -2);
  });

  it("A46: [5.18] PMCR.N and PMCEID come from the physical CPU (reset / trap); [cur] both from the VM's arm_pmu", () => {
    const INST_SPEC = ARMV8_EVENT.INST_SPEC; // on the big cores only
    const old = host({ machine: heteroMachine(), profile: "5.18" });
    const o0 = pmuVcpu(old, 0, [1], { vmmCpu: 0 });
    const o1 = pmuVcpu(old, 1, [4], { vmmCpu: 4 });
    for (const v of [o0, o1]) expect(v.kvmRun(old.sys.now)).toBe(0);
    runFor(old, 2);
    expect(Number(val(o0, "PMCR_EL0")) >>> PMCR.N_SHIFT).toBe(6);
    expect(Number(val(o1, "PMCR_EL0")) >>> PMCR.N_SHIFT).toBe(4);
    expect(bit(val(o0, "PMCEID0_EL0"), INST_SPEC)).toBe(0);
    expect(bit(val(o1, "PMCEID0_EL0"), INST_SPEC)).toBe(1);
    // Same vCPU, trapping on the other cluster: the other PMCEID.
    old.sys.schedSetaffinity(o0.run.task.pid, [5]);
    runFor(old, 2);
    expect(bit(val(o0, "PMCEID0_EL0"), INST_SPEC)).toBe(1);

    const cur = host({ machine: heteroMachine() });
    const c0 = pmuVcpu(cur, 0, [1], { vmmCpu: 0 });
    const c1 = pmuVcpu(cur, 1, [4], { vmmCpu: 4 });
    for (const v of [c0, c1]) expect(v.kvmRun(cur.sys.now)).toBe(0);
    runFor(cur, 2);
    expect(cur.vm.armPmu!.name).toBe("armv8_little");
    for (const v of [c0, c1]) {
      expect(Number(val(v, "PMCR_EL0")) >>> PMCR.N_SHIFT).toBe(6);
      expect(bit(val(v, "PMCEID0_EL0"), INST_SPEC)).toBe(0);
    }
  });
});

describe("sysfs and VMM flows", () => {
  it("A47: sysfs: each CPU PMU has a unique dynamic type, a cpulist in cpus, events/* as event=0x.., format/event = config:0-15", () => {
    const pmus = listPmus(preset("rk3399")!);
    const types = pmus.map((p) => p.type);
    expect(new Set(types).size).toBe(types.length);
    const a53 = pmus.find((p) => p.name === "armv8_cortex_a53")!;
    const a72 = pmus.find((p) => p.name === "armv8_cortex_a72")!;
    expect([a53.type, a72.type]).toEqual([6, 7]);
    expect([a53.cpus, a72.cpus]).toEqual(["0-3", "4-5"]);
    for (const p of [a53, a72]) {
      expect(p.format.event).toBe("config:0-15");
      expect(p.format.long).toBe("config1:0");
      for (const content of Object.values(p.events)) expect(content).toMatch(/^event=0x[0-9a-f]+$/);
      expect(Number.parseInt(p.events.cpu_cycles!.slice("event=".length), 16)).toBe(0x11);
      expect(Number.parseInt(p.events.inst_retired!.slice("event=".length), 16)).toBe(0x08);
    }
    // The A53 lacks INST_SPEC (0x1b); its sysfs does too.
    expect(a53.events.inst_spec).toBeUndefined();
    expect(a72.events.inst_spec).toBeDefined();
    // The type is what SET_PMU takes.
    const h = host();
    expect(h.pmu("armv8_cortex_a72").type).toBe(a72.type);
  });

  // The kernel prints arm PMUv3 sysfs events with "event=0x%04llx" (armv8pmu_events_sysfs_show()),
  // vpmu with two digits. Needs src/perf/drivers/core-pmu.ts (not owned here): in
  // CorePmu.sysfsEvents(), `padStart(4, "0")` on the arm64 branch.
  it("A47 (format): arm64 sysfs event files read event=0x%04x", () => {
    const a53 = listPmus(preset("rk3399")!).find((p) => p.name === "armv8_cortex_a53")!;
    expect(a53.events.cpu_cycles).toBe("event=0x0011");
  });

  it("A48: kvmtool: HAS+SET IRQ(23) -> HAS+SET SET_PMU(the main thread's PMU) -> HAS+SET INIT; QEMU: IRQ -> INIT, no SET_PMU", () => {
    // kvmtool on a VMM thread pinned to CPU 4, in the model.
    const h = host();
    const kvmtoolVcpu = (id: number, vmmCpu: number, log: string[]): void => {
      const v = mkVcpu(h, id, [4 + id]);
      const step = (name: string, r: number) => {
        log.push(name);
        expect(r, name).toBe(0);
      };
      step("VCPU_INIT", v.init(PMU_FEATURE, vmmCpu));
      step("HAS IRQ", v.hasAttr(IRQ));
      step("SET IRQ", v.setAttr(IRQ, 23));
      // find_pmu(): the first PMU whose cpus include sched_getcpu().
      const pmu = h.kvm.armPmus().find((p) => p.cpus.includes(vmmCpu))!;
      step("HAS SET_PMU", v.hasAttr(SET_PMU));
      step("SET SET_PMU", v.setAttr(SET_PMU, pmu.type));
      step("HAS INIT", v.hasAttr(INIT));
      step("SET INIT", v.setAttr(INIT, 0));
    };
    const log: string[] = [];
    kvmtoolVcpu(0, 4, log);
    expect(log).toEqual([
      "VCPU_INIT",
      "HAS IRQ",
      "SET IRQ",
      "HAS SET_PMU",
      "SET SET_PMU",
      "HAS INIT",
      "SET INIT",
    ]);
    kvmtoolVcpu(1, 4, []);
    expect(h.vm.armPmu!.name).toBe("armv8_cortex_a72");
    expect(h.vm.supportedCpus).toEqual([4, 5]);
    // The vCPU threads start running after every vCPU is set up.
    for (const v of h.vm.vcpus) expect(v.kvmRun(h.sys.now)).toBe(0);
    runFor(h, 5);
    for (const v of h.vm.vcpus) {
      expect(v.lastExit()).toBeNull();
      expect(v.run.nrEntries).toBeGreaterThan(0);
    }

    // The scenario runner's VMM flows record the same order.
    const labels = (vmm: string): string[] => {
      const sc = loadScenario(
        `name: t\nmachine: rk3399\nduration: 5ms\nvms:\n  - name: vm0\n    vmm: ${vmm}\n    vmm_cpu: 4\n    vcpus: [{ affinity: "4-5" }]\n`,
        "t.yaml",
      );
      const res = runScenario(sc);
      return res.actions.map((a) => a.label);
    };
    const order = (ls: string[], pats: RegExp[]): number[] =>
      pats.map((p) => ls.findIndex((l) => p.test(l)));
    const kt = labels("kvmtool");
    const [irq, setPmu, init, run] = order(kt, [
      /SET IRQ 23/,
      /SET_PMU armv8_cortex_a72/,
      /SET INIT/,
      /KVM_RUN/,
    ]);
    expect(irq).toBeGreaterThanOrEqual(0);
    expect(irq).toBeLessThan(setPmu!);
    expect(setPmu).toBeLessThan(init!);
    expect(init).toBeLessThan(run!);
    const qemu = labels("qemu");
    const [qIrq, qInit, qRun] = order(qemu, [/SET IRQ 23/, /SET INIT/, /KVM_RUN/]);
    expect(qIrq).toBeGreaterThanOrEqual(0);
    expect(qIrq).toBeLessThan(qInit!);
    expect(qInit).toBeLessThan(qRun!);
    expect(qemu.some((l) => l.includes("SET_PMU"))).toBe(false);
  });
});

describe("KVM_ARM_VCPU_INIT feature checks", () => {
  it("bits beyond KVM_VCPU_VALID_FEATURES are ENOENT, unsupported valid bits EINVAL, and (6.7+) features are VM-wide", () => {
    const h = host();
    const v0 = mkVcpu(h, 0, [0]);
    const v1 = mkVcpu(h, 1, [1]);
    expect(v0.init(0x100, 0)).toBe(-ERRNO.ENOENT);
    expect(v0.init(1 << 4, 0)).toBe(-ERRNO.EINVAL); // SVE: not on a Cortex-A53/A72 host
    expect(v0.init(PMU_FEATURE, 0)).toBe(0);
    expect(v1.init(0, 0)).toBe(-ERRNO.EINVAL);
    expect(v1.init(PMU_FEATURE, 0)).toBe(0);
    // 5.18 checked each vCPU on its own.
    const old = host({ profile: "5.18" });
    const a = mkVcpu(old, 0, [0]);
    const b = mkVcpu(old, 1, [1]);
    expect([a.init(PMU_FEATURE, 0), b.init(0, 0)]).toEqual([0, 0]);
  });
});
