import { describe, expect, it, vi } from "vitest";
import type { MachineDesc } from "../src/hw/machine.js";
import { x86PmuDesc } from "../src/hw/pmu-desc.js";
import { preset } from "../src/hw/presets.js";
import { Mode, Q } from "../src/hw/quantity.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import {
  KVM_PMU_EVENT_ALLOW,
  KVM_PMU_EVENT_DENY,
  KVM_PMU_EVENT_FLAG_MASKED_EVENTS,
  type KvmPmuEventFilter,
} from "../src/kvm/filter.js";
import { Kvm } from "../src/kvm/kvm.js";
import { GuestPmuOps, type KvmVcpu } from "../src/kvm/vcpu.js";
import {
  KVM_CAP_PMU_CAPABILITY,
  KVM_CAP_PMU_EVENT_FILTER,
  KVM_CAP_PMU_EVENT_MASKED_EVENTS,
  KVM_PMU_CAP_DISABLE,
  type KvmVm,
} from "../src/kvm/vm.js";
import { EVENTSEL, GP_FAULT, MSR } from "../src/kvm/x86/msr.js";
import type { CpuidLeafA, KvmX86Pmu } from "../src/kvm/x86/pmu.js";
import { PERF_EVENT_STATE, type PerfEvent } from "../src/perf/event.js";
import type { VpmuProfile } from "../src/perf/guest.js";
import { perfCreateMediatedPmu, perfReleaseMediatedPmu } from "../src/perf/guest.js";
import { PERF_TYPE_RAW, PERF_TYPE_SOFTWARE, type PerfEventAttr } from "../src/perf/uapi.js";
import { startNmiWatchdog } from "../src/perf/watchdog.js";
import { ERRNO } from "../src/sim/errno.js";
import { msToNs } from "../src/sim/time.js";
import { System } from "../src/system.js";
import { errOf } from "./kernel-errors.js";
import { rd, runFor, wr } from "./kvm-x86-helpers.js";

const { INACTIVE, ACTIVE, OFF, ERROR, DEAD } = PERF_EVENT_STATE;
const MS = msToNs(1);
const W48 = 2n ** 48n;
const MASK48 = W48 - 1n;
/** EN | OS | USR: what a guest kernel writes to count in both rings. */
const EN = EVENTSEL.ENABLE | EVENTSEL.OS | EVENTSEL.USR;
const BRANCHES = 0x00c4;
const INSTRUCTIONS = 0x00c0;
const GUEST_MODES = (1 << Mode.GUEST_USER) | (1 << Mode.GUEST_KERNEL);
const HOST_MODES = (1 << Mode.HOST_USER) | (1 << Mode.HOST_KERNEL);
/** GLOBAL_CTRL with every counter of an 8 GP + 3 fixed vPMU enabled. */
const ALL_ON = 0xffn | (0x7n << 32n);

interface Setup {
  profile?: VpmuProfile;
  machine?: MachineDesc;
  mediated?: boolean;
  enablePmu?: boolean;
  cpuid?: Partial<CpuidLeafA>;
  exitRate?: number;
  cpu?: number;
}

interface Guest {
  sys: System;
  kvm: Kvm;
  vm: KvmVm;
  v: KvmVcpu;
  pmu: KvmX86Pmu;
  ops: GuestPmuOps;
}

function mkSystem(o: Setup = {}): System {
  return new System({ machine: o.machine ?? preset("x86-server")!, profile: o.profile ?? "7.0" });
}

function mkKvm(sys: System, o: Setup = {}): Kvm {
  return new Kvm(sys, {
    enablePmu: o.enablePmu ?? true,
    enableMediatedPmu: o.mediated ?? false,
  });
}

function vcpuOf(vm: KvmVm, sys: System, id = 0, o: Setup = {}): KvmVcpu {
  const v = vm.createVcpu(
    id,
    {
      workload: BUILTIN_WORKLOADS.compute!,
      affinity: [o.cpu ?? 2 + id],
      exitRate: o.exitRate ?? 1000,
    },
    sys.now,
  );
  if (typeof v === "number") throw new Error(`KVM_CREATE_VCPU failed: ${v}`);
  return v;
}

/** A system, KVM, one VM (with an optional guest CPUID 0xA) and vCPU 0 on CPU 2. */
function guest(o: Setup = {}): Guest {
  const sys = mkSystem(o);
  const kvm = mkKvm(sys, o);
  const vm = kvm.createVm("vm0");
  if (o.cpuid) vm.cpuid = { ...vm.cpuid, ...o.cpuid };
  const v = vcpuOf(vm, sys, 0, o);
  return { sys, kvm, vm, v, pmu: v.pmu!, ops: new GuestPmuOps(v) };
}

/** x86-server with a different core PMU. */
function machineWith(pmu: {
  nrGp?: number;
  nrFixed?: number;
  width?: number;
  version?: number;
}): MachineDesc {
  const m = preset("x86-server")!;
  const ct = m.coreTypes[0]!;
  m.coreTypes = [{ ...ct, pmu: x86PmuDesc({ name: "cpu", coreType: ct.name, ...pmu }) }];
  return m;
}

/** The value of a GP counter as the guest reads it. */
function pmc(g: Guest, i: number): bigint {
  const r = rd(g, MSR.IA32_PMC0 + i);
  if (r === GP_FAULT) throw new Error("#GP");
  return r;
}

function eventOf(g: Guest, idx: number): PerfEvent | null {
  const p = idx >= 32 ? g.pmu.fixed[idx - 32]! : g.pmu.gp[idx]!;
  return g.v.emulated!.eventOf(p);
}

/** Guest instructions run through the vCPU (exits as KVM takes them); resolves after `ns`. */
function guestRdmsr(g: Guest, msr: number): { value: bigint | null } {
  const out: { value: bigint | null } = { value: null };
  g.ops.rdmsr(msr, g.sys.now, (r) => {
    out.value = r;
  });
  return out;
}

/** The vCPU's ground truth for a quantity in some modes, summed over CPUs. */
function truth(g: Guest, q: number, modes: number): number {
  g.sys.sync();
  let s = 0;
  for (const a of g.v.task.truth.values()) s += a.count(q, modes);
  return s;
}

/** KVM_PMU_ENCODE_MASKED_ENTRY(event_select, mask, match, exclude). */
function masked(eventSelect: number, mask: number, match: number, exclude: boolean): bigint {
  return (
    BigInt(eventSelect & 0xff) |
    (BigInt(eventSelect & 0xf00) << 24n) |
    (BigInt(mask) << 56n) |
    (BigInt(match) << 8n) |
    (exclude ? 1n << 55n : 0n)
  );
}

function filter(f: Partial<KvmPmuEventFilter> & { events: KvmPmuEventFilter["events"] }) {
  return { action: KVM_PMU_EVENT_ALLOW, fixed_counter_bitmap: 0, flags: 0, ...f };
}

// ---------------------------------------------------------------------------------

describe("emulated vPMU: CPUID 0xA and the PMU MSRs", () => {
  it("K1: with CPUID.0xA version 0 every PMU MSR access and RDPMC raise #GP", () => {
    const g = guest({ cpuid: { version: 0 } });
    expect(g.pmu.version).toBe(0);
    expect(g.v.emulated).toBeNull();
    const msrs = [
      MSR.IA32_PERFEVTSEL0 + 2,
      MSR.IA32_PMC0 + 2,
      MSR.IA32_A_PMC0,
      MSR.IA32_FIXED_CTR0,
      MSR.IA32_FIXED_CTR_CTRL,
      MSR.IA32_PERF_GLOBAL_CTRL,
      MSR.IA32_PERF_GLOBAL_STATUS,
      MSR.IA32_PERF_GLOBAL_OVF_CTRL,
    ];
    for (const m of msrs) {
      expect(rd(g, m)).toBe(GP_FAULT);
      expect(wr(g, m, 0)).toBe(GP_FAULT);
    }
    for (const ecx of [0, 1, 1 << 30]) expect(g.pmu.rdpmc(ecx, g.sys.now)).toBe(GP_FAULT);
    // The same instructions executed by the guest: each one exits and takes #GP.
    g.ops.wrmsr(MSR.IA32_PERF_GLOBAL_CTRL, 1, g.sys.now);
    guestRdmsr(g, MSR.IA32_FIXED_CTR0);
    g.ops.rdpmc(0, g.sys.now, () => {});
    runFor(g.sys, 2 * MS);
    expect(g.ops.faults).toBe(3);
    expect(g.v.exits.msr).toBe(2);
    expect(g.v.exits.rdpmc).toBe(1);
  });

  it("K2: the effective version is min(guest CPUID, KVM); the emulated vPMU supports at most version 2", () => {
    const sys = mkSystem();
    const kvm = mkKvm(sys);
    expect(kvm.hostPmu().version).toBe(5);
    const vm = kvm.createVm("vm0");
    // KVM_GET_SUPPORTED_CPUID's leaf 0xA.
    expect(vm.cpuid.version).toBe(2);
    const versions = [5, 2, 1].map((version, i) => {
      const vmi = kvm.createVm(`vm${i + 1}`);
      vmi.cpuid = { ...vmi.cpuid, version };
      return vcpuOf(vmi, sys).pmu!.version;
    });
    expect(versions).toEqual([2, 2, 1]);
  });

  it("K3: nr_gp = min(CPUID, host, 8); nr_fixed = 0 with version 1, else min(CPUID, host, 3)", () => {
    // A host with 16 GP counters: KVM still offers at most 8.
    const big = mkSystem({ machine: machineWith({ nrGp: 16 }) });
    const bigKvm = mkKvm(big);
    const vmBig = bigKvm.createVm("big");
    expect(vmBig.cpuid.nrGp).toBe(8);
    vmBig.cpuid = { ...vmBig.cpuid, nrGp: 16 };
    expect(vcpuOf(vmBig, big).pmu!.nrGp).toBe(8);

    const shape = (cpuid: Partial<CpuidLeafA>, machine?: MachineDesc) => {
      const p = guest({ cpuid, ...(machine ? { machine } : {}) }).pmu;
      return [p.nrGp, p.nrFixed];
    };
    expect(shape({ nrGp: 4 })).toEqual([4, 3]);
    expect(shape({ nrGp: 12, nrFixed: 5 })).toEqual([8, 3]);
    expect(shape({ nrFixed: 2 })).toEqual([8, 2]);
    expect(shape({ version: 1, nrFixed: 3 })).toEqual([8, 0]);
    // A host with 6 GP and 2 fixed counters bounds what the guest can ask for.
    expect(shape({ nrGp: 8, nrFixed: 3 }, machineWith({ nrGp: 6, nrFixed: 2 }))).toEqual([6, 2]);
  });

  it("K4: PERFEVTSELx with AnyThread (bit 21) or any of bits 63:32 raises #GP; pin control is accepted", () => {
    const g = guest();
    const sel = MSR.IA32_PERFEVTSEL0 + 1;
    expect(wr(g, sel, BRANCHES | EVENTSEL.ANY)).toBe(GP_FAULT);
    for (const bit of [32n, 33n, 40n, 63n])
      expect(wr(g, sel, BigInt(BRANCHES) | (1n << bit))).toBe(GP_FAULT);
    expect(rd(g, sel)).toBe(0n);
    const ok = BRANCHES | EVENTSEL.PIN_CONTROL | EVENTSEL.EDGE | EVENTSEL.INV | 0x02000000;
    expect(wr(g, sel, ok)).toBe(true);
    expect(rd(g, sel)).toBe(BigInt(ok));
  });

  it("K5: FIXED_CTR_CTRL with an AnyThread bit or a nibble of a counter that does not exist raises #GP", () => {
    const g = guest();
    for (const v of [0x4, 0x40, 0x400, 0x1000, 0x8000, 1n << 32n])
      expect(wr(g, MSR.IA32_FIXED_CTR_CTRL, v)).toBe(GP_FAULT);
    expect(rd(g, MSR.IA32_FIXED_CTR_CTRL)).toBe(0n);
    expect(wr(g, MSR.IA32_FIXED_CTR_CTRL, 0xbbb)).toBe(true);
    expect(rd(g, MSR.IA32_FIXED_CTR_CTRL)).toBe(0xbbbn);
    const two = guest({ cpuid: { nrFixed: 2 } });
    expect(wr(two, MSR.IA32_FIXED_CTR_CTRL, 0x300)).toBe(GP_FAULT);
    expect(wr(two, MSR.IA32_FIXED_CTR_CTRL, 0xbb)).toBe(true);
  });

  it("K6: GLOBAL_CTRL bits of missing counters raise #GP; the global MSRs and FIXED_CTR_CTRL raise #GP with version 1", () => {
    const g = guest({ cpuid: { nrGp: 4, nrFixed: 2 } });
    for (const bit of [4n, 7n, 8n, 31n, 34n, 35n, 63n])
      expect(wr(g, MSR.IA32_PERF_GLOBAL_CTRL, 1n << bit)).toBe(GP_FAULT);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_CTRL)).toBe(0xfn);
    expect(wr(g, MSR.IA32_PERF_GLOBAL_CTRL, 0x3_0000_000fn)).toBe(true);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_CTRL)).toBe(0x3_0000_000fn);

    const v1 = guest({ cpuid: { version: 1 } });
    expect(v1.pmu.version).toBe(1);
    for (const m of [
      MSR.IA32_PERF_GLOBAL_CTRL,
      MSR.IA32_PERF_GLOBAL_STATUS,
      MSR.IA32_PERF_GLOBAL_OVF_CTRL,
      MSR.IA32_FIXED_CTR_CTRL,
      MSR.IA32_FIXED_CTR0,
    ]) {
      expect(rd(v1, m)).toBe(GP_FAULT);
      expect(wr(v1, m, 1)).toBe(GP_FAULT);
    }
    // GP counters still work, and with no GLOBAL_CTRL every counter is globally enabled.
    expect(wr(v1, MSR.IA32_PERFEVTSEL0, EN | BRANCHES)).toBe(true);
    expect(eventOf(v1, 0)).not.toBeNull();
  });

  it("K7: a guest WRMSR to GLOBAL_STATUS raises #GP; a host-initiated write without reserved bits succeeds", () => {
    const g = guest();
    expect(wr(g, MSR.IA32_PERF_GLOBAL_STATUS, 1)).toBe(GP_FAULT);
    expect(wr(g, MSR.IA32_PERF_GLOBAL_STATUS, 0)).toBe(GP_FAULT);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_STATUS)).toBe(0n);
    expect(wr(g, MSR.IA32_PERF_GLOBAL_STATUS, 0x4_0000_0081n, true)).toBe(true);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_STATUS)).toBe(0x4_0000_0081n);
    expect(wr(g, MSR.IA32_PERF_GLOBAL_STATUS, 1n << 8n, true)).toBe(GP_FAULT);
    expect(wr(g, MSR.IA32_PERF_GLOBAL_STATUS, 1n << 35n, true)).toBe(GP_FAULT);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_STATUS)).toBe(0x4_0000_0081n);
  });

  it("K8: GLOBAL_OVF_CTRL reads 0; writing 1s clears those GLOBAL_STATUS bits", () => {
    const g = guest();
    expect(wr(g, MSR.IA32_PERF_GLOBAL_STATUS, 0x5_0000_0013n, true)).toBe(true);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_OVF_CTRL)).toBe(0n);
    expect(wr(g, MSR.IA32_PERF_GLOBAL_OVF_CTRL, 0x1_0000_0002n)).toBe(true);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_STATUS)).toBe(0x4_0000_0011n);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_OVF_CTRL)).toBe(0n);
    // Reserved bits (counters that do not exist) raise #GP and clear nothing.
    expect(wr(g, MSR.IA32_PERF_GLOBAL_OVF_CTRL, (1n << 8n) | 1n)).toBe(GP_FAULT);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_STATUS)).toBe(0x4_0000_0011n);
  });

  it("K9: after refresh GLOBAL_CTRL == GENMASK(nr_gp - 1, 0) with the fixed bits clear", () => {
    expect(rd(guest(), MSR.IA32_PERF_GLOBAL_CTRL)).toBe(0xffn);
    expect(rd(guest({ cpuid: { nrGp: 4 } }), MSR.IA32_PERF_GLOBAL_CTRL)).toBe(0xfn);
    expect(rd(guest({ cpuid: { nrGp: 1, nrFixed: 3 } }), MSR.IA32_PERF_GLOBAL_CTRL)).toBe(1n);
    expect(rd(guest({ mediated: true }), MSR.IA32_PERF_GLOBAL_CTRL)).toBe(0xffn);
  });

  it("K10: a guest write to legacy IA32_PMCx sign-extends bit 31 and is masked to 48 bits", () => {
    const g = guest();
    expect(wr(g, MSR.IA32_PMC0, 0x8000_0000n)).toBe(true);
    expect(pmc(g, 0)).toBe(0xffff_8000_0000n);
    expect(wr(g, MSR.IA32_PMC0 + 1, 0xff01_2345_6789n)).toBe(true);
    expect(pmc(g, 1)).toBe(0x2345_6789n);
    expect(g.pmu.rdpmc(1, g.sys.now)).toBe(0x2345_6789n);
    expect(wr(g, MSR.IA32_PMC0 + 2, 0x7fff_ffffn)).toBe(true);
    expect(pmc(g, 2)).toBe(0x7fff_ffffn);
    // Userspace (host-initiated) writes are not sign-extended.
    expect(wr(g, MSR.IA32_PMC0 + 3, 0x8000_0000n, true)).toBe(true);
    expect(pmc(g, 3)).toBe(0x8000_0000n);
  });

  it("K11: IA32_A_PMCx with bits above the width raises #GP; without FW_WRITES the MSRs raise #GP", () => {
    const g = guest();
    expect(wr(g, MSR.IA32_A_PMC0, W48)).toBe(GP_FAULT);
    expect(wr(g, MSR.IA32_A_PMC0, W48, true)).toBe(GP_FAULT);
    expect(wr(g, MSR.IA32_A_PMC0, 1n << 63n)).toBe(GP_FAULT);
    expect(pmc(g, 0)).toBe(0n);
    expect(wr(g, MSR.IA32_A_PMC0, 0xff01_2345_6789n)).toBe(true);
    expect(rd(g, MSR.IA32_A_PMC0)).toBe(0xff01_2345_6789n);
    expect(pmc(g, 0)).toBe(0xff01_2345_6789n);
    expect(wr(g, MSR.IA32_A_PMC0 + 7, MASK48)).toBe(true);
    expect(pmc(g, 7)).toBe(MASK48);

    const nofw = guest();
    nofw.pmu.perfCapabilities = 0n; // KVM_SET_MSRS(IA32_PERF_CAPABILITIES) without FW_WRITES
    expect(wr(nofw, MSR.IA32_A_PMC0, 1)).toBe(GP_FAULT);
    expect(rd(nofw, MSR.IA32_A_PMC0)).toBe(GP_FAULT);
    expect(wr(nofw, MSR.IA32_PMC0, 1)).toBe(true);
  });

  it("K12: counter MSRs beyond nr_gp/nr_fixed raise #GP, except 0xC1/0xC2, which read 0 and drop writes", () => {
    const g = guest({ cpuid: { nrGp: 1, nrFixed: 1 } });
    expect(wr(g, MSR.IA32_PMC0, 0xffff)).toBe(true);
    expect(pmc(g, 0)).toBe(0xffffn);
    // MSR_P6_PERFCTR1 (0xC2) for a missing counter: no fault, write dropped, reads 0.
    expect(wr(g, 0xc2, 0xffff)).toBe(true);
    expect(rd(g, 0xc2)).toBe(0n);
    for (const m of [
      0xc3,
      0xc8,
      MSR.IA32_A_PMC0 + 1,
      MSR.IA32_FIXED_CTR0 + 1,
      MSR.IA32_FIXED_CTR0 + 3,
    ]) {
      expect(wr(g, m, 0xffff)).toBe(GP_FAULT);
      expect(rd(g, m)).toBe(GP_FAULT);
    }
    expect(g.pmu.rdpmc(1, g.sys.now)).toBe(GP_FAULT);
    const none = guest({ cpuid: { nrGp: 0 } });
    expect(none.pmu.version).toBe(2);
    expect(wr(none, 0xc1, 0xffff)).toBe(true);
    expect(rd(none, 0xc1)).toBe(0n);
    expect(rd(none, MSR.IA32_PERF_GLOBAL_CTRL)).toBe(0n);
  });

  it("K13: RDPMC with bit 31 or an index out of range raises #GP; RDPMC(i | 1 << 30) reads fixed counter i", () => {
    const g = guest();
    expect(wr(g, MSR.IA32_FIXED_CTR0 + 1, 0x1234_5678_9abcn)).toBe(true);
    expect(wr(g, MSR.IA32_PMC0 + 3, 0x4321)).toBe(true);
    expect(g.pmu.rdpmc((1 << 30) | 1, g.sys.now)).toBe(0x1234_5678_9abcn);
    expect(g.pmu.rdpmc(3, g.sys.now)).toBe(0x4321n);
    for (const ecx of [1 << 31, (1 << 31) | 3, (1 << 31) | (1 << 30), 8, 64, (1 << 30) | 3])
      expect(g.pmu.rdpmc(ecx, g.sys.now)).toBe(GP_FAULT);
    // In the guest, RDPMC always exits with the emulated vPMU.
    const got: Array<bigint | null> = [];
    g.ops.rdpmc((1 << 30) | 1, g.sys.now, (v) => got.push(v));
    g.ops.rdpmc(64, g.sys.now, (v) => got.push(v));
    runFor(g.sys, 2 * MS);
    expect(got).toEqual([0x1234_5678_9abcn, null]);
    expect(g.v.exits.rdpmc).toBe(2);
    expect(g.ops.faults).toBe(1);
  });
});

describe("emulated vPMU: host perf events backing guest counters", () => {
  it("K14 (perf-core B37): an enabled counter is a RAW, pinned, exclude_host, exclude_idle event on the vCPU task, exclude_user/kernel from USR/OS", () => {
    const g = guest();
    runFor(g.sys, MS);
    expect(eventOf(g, 0)).toBeNull();
    const cmask = 0x02000000;
    wr(g, MSR.IA32_PERFEVTSEL0, BRANCHES | EVENTSEL.ENABLE | EVENTSEL.OS | EVENTSEL.INT | cmask);
    wr(g, MSR.IA32_PERFEVTSEL0 + 1, INSTRUCTIONS | EVENTSEL.ENABLE | EVENTSEL.USR);
    wr(g, MSR.IA32_FIXED_CTR_CTRL, 0x200); // fixed 2 (ref cycles): USR only
    wr(g, MSR.IA32_PERF_GLOBAL_CTRL, ALL_ON);
    const e0 = eventOf(g, 0)!;
    const e1 = eventOf(g, 1)!;
    const f2 = eventOf(g, 34)!;
    for (const e of [e0, e1, f2]) {
      expect(e.attr).toMatchObject({
        type: PERF_TYPE_RAW,
        pinned: true,
        exclude_host: true,
        exclude_idle: true,
        exclude_guest: false,
      });
      expect(e.task).toBe(g.v.task);
      expect(e.cpu).toBe(-1);
      expect(e.owner).toBe("kernel");
    }
    // config = eventsel & X86_RAW_EVENT_MASK (no EN/INT/USR/OS bits).
    expect(e0.attr.config).toBe(BigInt(BRANCHES | cmask));
    expect([e0.attr.exclude_user, e0.attr.exclude_kernel]).toEqual([true, false]);
    expect(e1.attr.config).toBe(BigInt(INSTRUCTIONS));
    expect([e1.attr.exclude_user, e1.attr.exclude_kernel]).toEqual([false, true]);
    expect(f2.attr.config).toBe(0x0300n);
    expect([f2.attr.exclude_user, f2.attr.exclude_kernel]).toEqual([false, true]);
    expect(eventOf(g, 32)).toBeNull();
    expect(eventOf(g, 33)).toBeNull();
    runFor(g.sys, MS);
    expect([e0.state, e1.state, f2.state]).toEqual([ACTIVE, ACTIVE, ACTIVE]);
  });

  it("K15: sample_period = (-counter) & mask, or 2^48 for a zero counter: the event overflows at the guest wrap", () => {
    const g = guest();
    wr(g, MSR.IA32_A_PMC0, 1000);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
    expect(eventOf(g, 0)!.attr.sample_period).toBe(2 ** 48 - 1000);
    wr(g, MSR.IA32_A_PMC0 + 1, MASK48);
    wr(g, MSR.IA32_PERFEVTSEL0 + 1, EN | BRANCHES);
    expect(eventOf(g, 1)!.attr.sample_period).toBe(1);
    wr(g, MSR.IA32_PERFEVTSEL0 + 2, EN | BRANCHES);
    expect(eventOf(g, 2)!.attr.sample_period).toBe(2 ** 48);
    wr(g, MSR.IA32_FIXED_CTR0, MASK48 - 9n);
    wr(g, MSR.IA32_FIXED_CTR_CTRL, 0x3);
    wr(g, MSR.IA32_PERF_GLOBAL_CTRL, ALL_ON);
    expect(eventOf(g, 32)!.attr.sample_period).toBe(10);
  });

  it("K16: a guest counter write keeps the perf event and only updates its period", () => {
    const g = guest();
    runFor(g.sys, MS);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
    const e = eventOf(g, 0)!;
    const reprogram = vi.spyOn(g.v.emulated!, "reprogram");
    runFor(g.sys, MS);
    expect(pmc(g, 0)).toBeGreaterThan(0n);
    wr(g, MSR.IA32_A_PMC0, 0x1234);
    expect(eventOf(g, 0)).toBe(e);
    expect(e.state).toBe(ACTIVE);
    expect(e.attr.sample_period).toBe(2 ** 48 - 0x1234);
    expect(pmc(g, 0)).toBe(0x1234n);
    wr(g, MSR.IA32_PMC0, 0);
    expect(eventOf(g, 0)).toBe(e);
    expect(e.attr.sample_period).toBe(2 ** 48);
    expect(reprogram).not.toHaveBeenCalled();
    runFor(g.sys, MS);
    expect(pmc(g, 0)).toBeGreaterThan(0n);
  });

  it("K17: an eventsel write with an unchanged value does not reprogram; a changed value does", () => {
    const g = guest();
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
    const reprogram = vi.spyOn(g.v.emulated!, "reprogram");
    expect(wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES)).toBe(true);
    expect(reprogram).not.toHaveBeenCalled();
    expect(wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES | EVENTSEL.INT)).toBe(true);
    expect(reprogram).toHaveBeenCalledTimes(1);
    expect(reprogram.mock.calls[0]![0]).toBe(g.pmu.gp[0]);
    // FIXED_CTR_CTRL: only the nibbles that changed; GLOBAL_CTRL: only the bits that changed.
    reprogram.mockClear();
    wr(g, MSR.IA32_FIXED_CTR_CTRL, 0x030);
    expect(reprogram.mock.calls.map((c) => c[0].idx)).toEqual([33]);
    reprogram.mockClear();
    wr(g, MSR.IA32_PERF_GLOBAL_CTRL, 0x2_0000_00fen);
    expect(reprogram.mock.calls.map((c) => c[0].idx).sort()).toEqual([0, 33]);
  });

  it("K18: reprogram with an unchanged config resumes the event; a changed config releases it and creates a new one", () => {
    const g = guest();
    runFor(g.sys, MS);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
    const e = eventOf(g, 0)!;
    runFor(g.sys, MS);
    // EN cleared: paused, not released.
    wr(g, MSR.IA32_PERFEVTSEL0, EVENTSEL.OS | EVENTSEL.USR | BRANCHES);
    expect(eventOf(g, 0)).toBe(e);
    expect(e.state).toBe(OFF);
    const frozen = pmc(g, 0);
    // Same config again: the same event, enabled, with the period recomputed from the count.
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
    expect(eventOf(g, 0)).toBe(e);
    expect(e.state).toBe(ACTIVE);
    expect(e.attr.sample_period).toBe(2 ** 48 - Number(frozen));
    // GLOBAL_CTRL off and on again: also a resume.
    wr(g, MSR.IA32_PERF_GLOBAL_CTRL, 0xfe);
    expect(e.state).toBe(OFF);
    wr(g, MSR.IA32_PERF_GLOBAL_CTRL, 0xff);
    expect(eventOf(g, 0)).toBe(e);
    expect(e.state).toBe(ACTIVE);
    // A different event select: released, and a new event created.
    runFor(g.sys, MS);
    const before = pmc(g, 0);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | INSTRUCTIONS);
    const e2 = eventOf(g, 0)!;
    expect(e2).not.toBe(e);
    expect(e.state).toBe(DEAD);
    expect(e2.attr.config).toBe(BigInt(INSTRUCTIONS));
    // The count so far was folded into the counter before the release.
    expect(pmc(g, 0)).toBe(before);
  });

  it("K20: an overflow sets GLOBAL_STATUS bit idx; a PMI is injected iff INT (GP) or the PMI nibble bit (fixed) is set", () => {
    const g = guest({ exitRate: 0 });
    runFor(g.sys, MS);
    for (const i of [0, 1]) wr(g, MSR.IA32_A_PMC0 + i, W48 - 100_000n);
    for (const j of [0, 1]) wr(g, MSR.IA32_FIXED_CTR0 + j, W48 - 100_000n);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES); // no INT
    wr(g, MSR.IA32_FIXED_CTR_CTRL, 0x03); // fixed 0 without PMI, fixed 1 off
    wr(g, MSR.IA32_PERF_GLOBAL_CTRL, ALL_ON);
    runFor(g.sys, MS);
    expect(g.pmu.globalStatus).toBe(0x1_0000_0001n);
    expect(g.v.exits.pmi).toBeUndefined();
    expect(g.pmu.pmiPending).toBe(false);
    // GP counter 1 with INT, fixed counter 1 with its PMI bit (bit 4*1 + 3).
    wr(g, MSR.IA32_PERFEVTSEL0 + 1, EN | EVENTSEL.INT | BRANCHES);
    runFor(g.sys, MS);
    expect(g.pmu.globalStatus).toBe(0x1_0000_0003n);
    expect(g.v.exits.pmi).toBe(1);
    // Pending (KVM_REQ_PMI), or already delivered at the re-entry.
    expect(g.pmu.pmiPending || g.v.pmisDelivered === 1).toBe(true);
    wr(g, MSR.IA32_FIXED_CTR_CTRL, 0xb3);
    runFor(g.sys, MS);
    expect(g.pmu.globalStatus).toBe(0x3_0000_0003n);
    expect(g.v.exits.pmi).toBe(2);
  });

  it("K21: a preset of 1 - N followed by N counted events leaves the counter at 1 with GLOBAL_STATUS set", () => {
    const measure = (preset: bigint) => {
      const g = guest();
      runFor(g.sys, MS);
      wr(g, MSR.IA32_A_PMC0, preset);
      wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
      runFor(g.sys, 3 * MS);
      return { g, value: pmc(g, 0) };
    };
    const n = measure(0n).value;
    expect(n).toBeGreaterThan(1000n);
    const { g, value } = measure((1n - n) & MASK48);
    expect(value).toBe(1n);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_STATUS)).toBe(1n);
  });

  it("K22 (perf-core B38): a counter whose perf event cannot be scheduled (host contention) silently stops; the guest sees no error", () => {
    const g = guest();
    const host = Array.from({ length: 8 }, () =>
      g.sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc4, pinned: true }, -1, 2),
    );
    runFor(g.sys, MS);
    let ok: boolean | null = null;
    g.ops.wrmsr(MSR.IA32_PERFEVTSEL0, EN | BRANCHES, g.sys.now, (r) => {
      ok = r;
    });
    const sel = guestRdmsr(g, MSR.IA32_PERFEVTSEL0);
    runFor(g.sys, 5 * MS);
    expect(ok).toBe(true);
    expect(sel.value).toBe(BigInt(EN | BRANCHES));
    expect(g.ops.faults).toBe(0);
    expect(eventOf(g, 0)!.state).toBe(ERROR);
    expect(pmc(g, 0)).toBe(0n);
    expect(truth(g, Q.BRANCHES, GUEST_MODES)).toBeGreaterThan(1e6);
    expect(host.map((fd) => g.sys.perf.fds.get(fd)!.state)).toEqual(Array(8).fill(ACTIVE));
  });

  it("K23: events while the CPU is in host mode (exit handling) do not advance guest counters", () => {
    const g = guest({ exitRate: 20_000 });
    runFor(g.sys, MS);
    const g0 = truth(g, Q.INSTRUCTIONS, GUEST_MODES);
    const h0 = truth(g, Q.INSTRUCTIONS, HOST_MODES);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | INSTRUCTIONS);
    runFor(g.sys, 5 * MS);
    const guestDelta = truth(g, Q.INSTRUCTIONS, GUEST_MODES) - g0;
    const hostDelta = truth(g, Q.INSTRUCTIONS, HOST_MODES) - h0;
    expect(g.v.nrExits).toBeGreaterThan(50);
    expect(hostDelta).toBeGreaterThan(100_000);
    expect(Number(pmc(g, 0))).toBe(Math.floor(guestDelta + 1e-6));
  });

  it("K24: a counter disabled by GLOBAL_CTRL or EN keeps its value (paused, with the count folded in)", () => {
    const g = guest();
    runFor(g.sys, MS);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
    wr(g, MSR.IA32_PERFEVTSEL0 + 1, EN | BRANCHES);
    runFor(g.sys, 2 * MS);
    wr(g, MSR.IA32_PERF_GLOBAL_CTRL, 0xfe); // counter 0 off globally
    wr(g, MSR.IA32_PERFEVTSEL0 + 1, EVENTSEL.OS | EVENTSEL.USR | BRANCHES); // counter 1: EN clear
    const v0 = pmc(g, 0);
    const v1 = pmc(g, 1);
    expect(v0).toBeGreaterThan(0n);
    expect(BigInt(g.pmu.gp[0]!.counter)).toBe(v0);
    expect(BigInt(g.pmu.gp[1]!.counter)).toBe(v1);
    expect([eventOf(g, 0)!.state, eventOf(g, 1)!.state]).toEqual([OFF, OFF]);
    runFor(g.sys, 3 * MS);
    expect([pmc(g, 0), pmc(g, 1)]).toEqual([v0, v1]);
    wr(g, MSR.IA32_PERF_GLOBAL_CTRL, 0xff);
    runFor(g.sys, MS);
    expect(pmc(g, 0)).toBeGreaterThan(v0);
    expect(pmc(g, 1)).toBe(v1);
  });

  it("K25: each emulated instruction counts exactly once on instructions counters, and branches on branch counters, per CPL filter", () => {
    for (const mediated of [false, true]) {
      const g = guest({ mediated });
      runFor(g.sys, MS);
      wr(g, MSR.IA32_PERFEVTSEL0, EN | INSTRUCTIONS);
      wr(g, MSR.IA32_PERFEVTSEL0 + 1, EN | BRANCHES);
      wr(g, MSR.IA32_PERFEVTSEL0 + 2, EVENTSEL.ENABLE | EVENTSEL.USR | INSTRUCTIONS); // user only
      wr(g, MSR.IA32_PERF_GLOBAL_CTRL, 0x7n);
      // Read and emulate at the same instant, so only the emulated instructions count.
      const before = [0, 1, 2].map((i) => rd(g, MSR.IA32_PMC0 + i) as bigint);
      for (let i = 0; i < 22; i++) g.pmu.emulatedInstructionRetired(i >= 17, 0, g.sys.now);
      const after = [0, 1, 2].map((i) => rd(g, MSR.IA32_PMC0 + i) as bigint);
      expect(after.map((v, i) => v - before[i]!)).toEqual([22n, 5n, 0n]);
      // A wrap sets GLOBAL_STATUS.
      wr(g, MSR.IA32_A_PMC0 + 1, (1n << 48n) - 1n);
      g.pmu.emulatedInstructionRetired(true, 3, g.sys.now);
      expect(rd(g, MSR.IA32_PERF_GLOBAL_STATUS)).toBe(0x2n);
    }
  });

  it("K25 (guest op): a forced-emulation exit runs the instructions in KVM and counts them", () => {
    const seenWith = (branches: number): bigint => {
      const g = guest();
      runFor(g.sys, MS);
      wr(g, MSR.IA32_PERFEVTSEL0 + 1, EN | BRANCHES);
      wr(g, MSR.IA32_PERF_GLOBAL_CTRL, 0x2n);
      let seen = -1n;
      g.ops.emulate(22, branches, 0, g.sys.now, () => {
        seen = rd(g, MSR.IA32_PMC0 + 1) as bigint;
      });
      runFor(g.sys, MS);
      expect(g.v.exits.emulation).toBe(1);
      return seen;
    };
    // Same run, same timing: only the emulated branches differ.
    expect(seenWith(5) - seenWith(0)).toBe(5n);
  });
});

describe("KVM_SET_PMU_EVENT_FILTER and KVM_CAP_PMU_CAPABILITY", () => {
  it("K27: action not in {0,1} or unknown flags give EINVAL; nevents 301 gives E2BIG; 300 is accepted", () => {
    const { sys, vm } = guest();
    const set = (f: KvmPmuEventFilter) => vm.setPmuEventFilter(f, sys.now);
    expect(set(filter({ action: 2, events: [BRANCHES] }))).toBe(-ERRNO.EINVAL);
    expect(set(filter({ flags: 2, events: [BRANCHES] }))).toBe(-ERRNO.EINVAL);
    expect(set(filter({ flags: 3, events: [BRANCHES] }))).toBe(-ERRNO.EINVAL);
    const many = Array.from({ length: 301 }, (_, i) => 0x100 + i);
    expect(set(filter({ events: many }))).toBe(-ERRNO.E2BIG);
    expect(set(filter({ action: KVM_PMU_EVENT_DENY, events: many, nevents: 301 }))).toBe(
      -ERRNO.E2BIG,
    );
    expect(vm.filter).toBeNull();
    expect(set(filter({ events: many.slice(0, 300) }))).toBe(0);
    expect(vm.filter).not.toBeNull();
    const dense = many
      .slice(0, 300)
      .map((_, i) => masked(0x10 + (i % 0xe0), 0xff, i & 0xff, false));
    expect(set(filter({ flags: KVM_PMU_EVENT_FLAG_MASKED_EVENTS, events: dense }))).toBe(0);
  });

  it("K28: a masked entry with any bit outside select/match/exclude/mask gives EINVAL (event select 35:32 too on Intel)", () => {
    const { sys, vm } = guest();
    const set = (e: bigint) =>
      vm.setPmuEventFilter(
        filter({ flags: KVM_PMU_EVENT_FLAG_MASKED_EVENTS, events: [e] }),
        sys.now,
      );
    expect(set(masked(0xff, 0xff, 0xff, true))).toBe(0);
    for (const bad of [
      (1n << 64n) - 1n,
      masked(0xc4, 0xff, 0, false) | (1n << 16n),
      masked(0xc4, 0xff, 0, false) | (1n << 31n),
      masked(0x1c4, 0xff, 0, false),
      masked(0xc4, 0xff, 0, false) | (1n << 36n),
      masked(0xc4, 0xff, 0, false) | (1n << 54n),
    ])
      expect(set(bad)).toBe(-ERRNO.EINVAL);
  });

  it("K29: unmasked entries with bits beyond event select and umask are accepted and ignored", () => {
    const g = guest();
    runFor(g.sys, MS);
    const f = filter({
      action: KVM_PMU_EVENT_DENY,
      events: [(1n << 64n) - 1n, BigInt(BRANCHES) | (1n << 32n), BRANCHES | (1 << 16)],
    });
    expect(g.vm.setPmuEventFilter(f, g.sys.now)).toBe(0);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
    runFor(g.sys, MS);
    expect(eventOf(g, 0)).not.toBeNull();
    expect(pmc(g, 0)).toBeGreaterThan(0n);
  });

  it("K30: a denied event never counts while the guest's WRMSR succeeds and reads back; ALLOW denies what it does not list", () => {
    for (const f of [
      filter({ action: KVM_PMU_EVENT_DENY, events: [BRANCHES] }),
      filter({ action: KVM_PMU_EVENT_ALLOW, events: [INSTRUCTIONS] }),
    ]) {
      const g = guest();
      expect(g.vm.setPmuEventFilter(f, g.sys.now)).toBe(0);
      runFor(g.sys, MS);
      const oks: boolean[] = [];
      g.ops.wrmsr(MSR.IA32_PERFEVTSEL0, EN | BRANCHES, g.sys.now, (ok) => oks.push(ok));
      g.ops.wrmsr(MSR.IA32_PERFEVTSEL0 + 1, EN | INSTRUCTIONS, g.sys.now, (ok) => oks.push(ok));
      const sel = guestRdmsr(g, MSR.IA32_PERFEVTSEL0);
      runFor(g.sys, 3 * MS);
      expect(oks).toEqual([true, true]);
      expect(g.ops.faults).toBe(0);
      expect(sel.value).toBe(BigInt(EN | BRANCHES));
      expect(eventOf(g, 0)).toBeNull();
      expect(pmc(g, 0)).toBe(0n);
      expect(eventOf(g, 1)).not.toBeNull();
      expect(pmc(g, 1)).toBeGreaterThan(0n);
    }
  });

  it("K31: a masked entry matches when (umask & mask) == match on the same select; excludes override includes", () => {
    const g = guest();
    const f = filter({
      action: KVM_PMU_EVENT_ALLOW,
      flags: KVM_PMU_EVENT_FLAG_MASKED_EVENTS,
      events: [masked(0x2e, 0xf0, 0x40, false), masked(0x2e, 0xff, 0x41, true)],
    });
    expect(g.vm.setPmuEventFilter(f, g.sys.now)).toBe(0);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | 0x4f2e); // 0x4f & 0xf0 == 0x40: included
    wr(g, MSR.IA32_PERFEVTSEL0 + 1, EN | 0x412e); // included, but excluded
    wr(g, MSR.IA32_PERFEVTSEL0 + 2, EN | 0x302e); // 0x30 & 0xf0 != 0x40: not listed
    wr(g, MSR.IA32_PERFEVTSEL0 + 3, EN | 0x4fc4); // other event select
    expect([0, 1, 2, 3].map((i) => eventOf(g, i) !== null)).toEqual([true, false, false, false]);
    // The same entries as a DENY list invert the decision.
    const d = guest();
    expect(d.vm.setPmuEventFilter({ ...f, action: KVM_PMU_EVENT_DENY }, d.sys.now)).toBe(0);
    wr(d, MSR.IA32_PERFEVTSEL0, EN | 0x4f2e);
    wr(d, MSR.IA32_PERFEVTSEL0 + 1, EN | 0x412e);
    expect([eventOf(d, 0) !== null, eventOf(d, 1) !== null]).toEqual([false, true]);
  });

  it("K32: fixed counter i is allowed iff (ALLOW && bitmap[i]) || (DENY && !bitmap[i]); events[] never affects it", () => {
    const fixedOn = (f: KvmPmuEventFilter) => {
      const g = guest();
      expect(g.vm.setPmuEventFilter(f, g.sys.now)).toBe(0);
      wr(g, MSR.IA32_FIXED_CTR_CTRL, 0x333);
      wr(g, MSR.IA32_PERF_GLOBAL_CTRL, ALL_ON);
      return [32, 33, 34].map((i) => eventOf(g, i) !== null);
    };
    const arch = [INSTRUCTIONS, 0x003c, 0x0300];
    expect(fixedOn(filter({ action: KVM_PMU_EVENT_ALLOW, events: arch }))).toEqual([
      false,
      false,
      false,
    ]);
    expect(
      fixedOn(filter({ action: KVM_PMU_EVENT_ALLOW, events: [], fixed_counter_bitmap: 0b101 })),
    ).toEqual([true, false, true]);
    expect(fixedOn(filter({ action: KVM_PMU_EVENT_DENY, events: arch }))).toEqual([
      true,
      true,
      true,
    ]);
    expect(
      fixedOn(filter({ action: KVM_PMU_EVENT_DENY, events: [], fixed_counter_bitmap: 0b010 })),
    ).toEqual([true, false, true]);
    // Bits for counters that do not exist are accepted.
    expect(
      fixedOn(
        filter({ action: KVM_PMU_EVENT_ALLOW, events: [], fixed_counter_bitmap: 0xffff_fff0 }),
      ),
    ).toEqual([false, false, false]);
  });

  it("K33: setting a filter reprograms every counter on every vCPU", () => {
    const sys = mkSystem();
    const kvm = mkKvm(sys);
    const vm = kvm.createVm("vm0");
    const gs = [0, 1].map((id) => {
      const v = vcpuOf(vm, sys, id);
      return { sys, kvm, vm, v, pmu: v.pmu!, ops: new GuestPmuOps(v) } satisfies Guest;
    });
    runFor(sys, MS);
    for (const g of gs) {
      wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
      wr(g, MSR.IA32_PERFEVTSEL0 + 1, EN | INSTRUCTIONS);
    }
    runFor(sys, MS);
    const events = gs.map((g) => [eventOf(g, 0)!, eventOf(g, 1)!]);
    expect(events.flat().map((e) => e.state)).toEqual([ACTIVE, ACTIVE, ACTIVE, ACTIVE]);
    expect(
      vm.setPmuEventFilter(filter({ action: KVM_PMU_EVENT_DENY, events: [BRANCHES] }), sys.now),
    ).toBe(0);
    expect(events.flat().map((e) => e.state)).toEqual([OFF, ACTIVE, OFF, ACTIVE]);
    const frozen = gs.map((g) => pmc(g, 0));
    const running = gs.map((g) => pmc(g, 1));
    runFor(sys, 2 * MS);
    expect(gs.map((g) => pmc(g, 0))).toEqual(frozen);
    gs.forEach((g, i) => {
      expect(pmc(g, 1)).toBeGreaterThan(running[i]!);
    });
    // A filter that allows it again resumes the same events.
    expect(vm.setPmuEventFilter(filter({ action: KVM_PMU_EVENT_DENY, events: [] }), sys.now)).toBe(
      0,
    );
    expect(gs.map((g) => eventOf(g, 0))).toEqual(events.map((e) => e[0]));
    expect(events.flat().map((e) => e.state)).toEqual([ACTIVE, ACTIVE, ACTIVE, ACTIVE]);
  });

  it("K34: KVM_CAP_PMU_CAPABILITY(DISABLE) works only before KVM_CREATE_VCPU, with valid args, and with kvm.enable_pmu", () => {
    const sys = mkSystem();
    const kvm = mkKvm(sys);
    const vm = kvm.createVm("vm0");
    expect(vm.enableCap(KVM_CAP_PMU_CAPABILITY, 2)).toBe(-ERRNO.EINVAL);
    expect(vm.enableCap(KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE | 2)).toBe(-ERRNO.EINVAL);
    expect(vm.enableCap(KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE)).toBe(0);
    const v = vcpuOf(vm, sys);
    const g: Guest = { sys, kvm, vm, v, pmu: v.pmu!, ops: new GuestPmuOps(v) };
    expect(g.pmu.version).toBe(0);
    expect(wr(g, MSR.IA32_PERF_GLOBAL_CTRL, 1)).toBe(GP_FAULT);
    expect(rd(g, MSR.IA32_PERFEVTSEL0 + 2)).toBe(GP_FAULT);
    expect(g.pmu.rdpmc(0, sys.now)).toBe(GP_FAULT);
    expect(vm.enableCap(KVM_CAP_PMU_CAPABILITY, 0)).toBe(-ERRNO.EINVAL);
    expect(vm.enableCap(KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE)).toBe(-ERRNO.EINVAL);

    // Args 0 re-enables before any vCPU exists.
    const vm2 = kvm.createVm("vm2");
    expect(vm2.enableCap(KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE)).toBe(0);
    expect(vm2.enableCap(KVM_CAP_PMU_CAPABILITY, 0)).toBe(0);
    expect(vcpuOf(vm2, sys).pmu!.version).toBe(2);

    // kvm.enable_pmu=0.
    const off = mkKvm(mkSystem(), { enablePmu: false }).createVm("vm0");
    expect(off.enableCap(KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE)).toBe(-ERRNO.EINVAL);
    expect(off.enableCap(KVM_CAP_PMU_CAPABILITY, 0)).toBe(-ERRNO.EINVAL);
  });

  it("K35: KVM_CHECK_EXTENSION(KVM_CAP_PMU_CAPABILITY) is 1 with enable_pmu, else 0", () => {
    expect(mkKvm(mkSystem()).checkExtension(KVM_CAP_PMU_CAPABILITY)).toBe(1);
    expect(mkKvm(mkSystem(), { enablePmu: false }).checkExtension(KVM_CAP_PMU_CAPABILITY)).toBe(0);
    // Hybrid hosts: KVM has no vPMU.
    const hybrid = mkKvm(mkSystem({ machine: preset("x86-hybrid")! }));
    expect(hybrid.enablePmu).toBe(false);
    expect(hybrid.checkExtension(KVM_CAP_PMU_CAPABILITY)).toBe(0);
    const kvm = mkKvm(mkSystem());
    expect(kvm.checkExtension(KVM_CAP_PMU_EVENT_FILTER)).toBe(1);
    expect(kvm.checkExtension(KVM_CAP_PMU_EVENT_MASKED_EVENTS)).toBe(1);
  });
});

describe("mediated vPMU (Linux 7.0)", () => {
  it("K36: enable_mediated_pmu defaults off and is forced off without a v4+ host PMU, a vPMU or perf support", () => {
    expect(mkKvm(mkSystem()).enableMediatedPmu).toBe(false);
    expect(mkKvm(mkSystem(), { mediated: true }).enableMediatedPmu).toBe(true);
    expect(mkKvm(mkSystem({ profile: "rfc-v1" }), { mediated: true }).enableMediatedPmu).toBe(true);
    const v4 = mkSystem({ machine: machineWith({ version: 4 }) });
    expect(mkKvm(v4, { mediated: true }).enableMediatedPmu).toBe(true);
    const v3 = mkSystem({ machine: machineWith({ version: 3 }) });
    expect(mkKvm(v3, { mediated: true }).enableMediatedPmu).toBe(false);
    expect(mkKvm(mkSystem(), { mediated: true, enablePmu: false }).enableMediatedPmu).toBe(false);
    expect(
      mkKvm(mkSystem({ machine: preset("x86-hybrid")! }), { mediated: true }).enableMediatedPmu,
    ).toBe(false);
    // A kernel whose perf has no mediated PMU support.
    expect(mkKvm(mkSystem({ profile: "5.18" }), { mediated: true }).enableMediatedPmu).toBe(false);
    // Forced off, a VM gets the emulated vPMU.
    const sys = mkSystem({ machine: machineWith({ version: 3 }) });
    const v = vcpuOf(mkKvm(sys, { mediated: true }).createVm("vm0"), sys);
    expect(v.mediated).toBeNull();
    expect(v.emulated).not.toBeNull();
    expect(v.pmu!.version).toBe(2);
  });

  it("K37: the first KVM_CREATE_VCPU creates the mediated PMU in perf, and fails with EBUSY while a !exclude_guest event exists", () => {
    const sys = mkSystem();
    const kvm = mkKvm(sys, { mediated: true });
    expect(startNmiWatchdog(sys.perf, false)).toHaveLength(8);
    const vm = kvm.createVm("vm0");
    const r = vm.createVcpu(0, { workload: BUILTIN_WORKLOADS.compute!, affinity: [2] }, sys.now);
    expect(r).toBe(-ERRNO.EBUSY);
    expect(vm.vcpus).toHaveLength(0);
    expect(vm.createdVcpus).toBe(0);
    expect(vm.createdMediatedPmu).toBe(false);
    expect(sys.perf.guest!.nrMediatedPmuVms).toBe(0);
    expect(kvm.log).toEqual([
      "kvm: Failed to enable mediated vPMU, try disabling system wide perf events and nmi_watchdog.",
    ]);
    // No vCPU was created, so the VM can still give up its PMU, and then vCPU creation works.
    expect(vm.enableCap(KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE)).toBe(0);
    const v = vcpuOf(vm, sys);
    expect(v.pmu!.version).toBe(0);
    expect(sys.perf.guest!.nrMediatedPmuVms).toBe(0);

    // Without the watchdog: created once per VM, at the first vCPU.
    const ok = mkSystem();
    const okKvm = mkKvm(ok, { mediated: true });
    const vm1 = okKvm.createVm("vm1");
    const v0 = vcpuOf(vm1, ok, 0);
    expect(vm1.createdMediatedPmu).toBe(true);
    expect(ok.perf.guest!.nrMediatedPmuVms).toBe(1);
    vcpuOf(vm1, ok, 1);
    expect(ok.perf.guest!.nrMediatedPmuVms).toBe(1);
    expect(v0.mediated).not.toBeNull();
    expect(v0.pmu!.version).toBe(2); // kernel 7.0: kvm_init_pmu_capability() caps the version at 2, mediated too
    vcpuOf(okKvm.createVm("vm2"), ok, 0);
    expect(ok.perf.guest!.nrMediatedPmuVms).toBe(2);

    // Any !exclude_guest core event counts, a task-bound one too; exclude_guest,
    // software and uncore events do not.
    const t = mkSystem();
    const tKvm = mkKvm(t, { mediated: true });
    const task = t.spawn({ comm: "app", workload: BUILTIN_WORKLOADS.compute!, affinity: [1] });
    t.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc4, exclude_guest: true }, -1, 1);
    t.perfEventOpen({ type: PERF_TYPE_SOFTWARE, config: 0 }, -1, 1);
    const imc = t.perf.registry.byName("uncore_imc_0")!.type;
    t.perfEventOpen({ type: imc, config: 0xff }, -1, 0);
    const fd = t.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc4 }, task.pid, -1);
    const tvm = tKvm.createVm("vm0");
    const opts = { workload: BUILTIN_WORKLOADS.compute!, affinity: [2] };
    expect(tvm.createVcpu(0, opts, t.now)).toBe(-ERRNO.EBUSY);
    t.close(fd);
    expect(typeof tvm.createVcpu(0, opts, t.now)).toBe("object");
    expect(tvm.createdMediatedPmu).toBe(true);
  });

  it("K38: without an in-kernel irqchip the first KVM_CREATE_VCPU silently disables the VM's PMU", () => {
    const sys = mkSystem();
    const kvm = mkKvm(sys, { mediated: true });
    const vm = kvm.createVm("vm0");
    vm.irqchip = false;
    const v = vcpuOf(vm, sys);
    expect(vm.enablePmu).toBe(false);
    expect(vm.createdMediatedPmu).toBe(false);
    expect(v.pmu!.version).toBe(0);
    expect(v.mediated).toBeNull();
    expect(kvm.log).toEqual([]);
    expect(sys.perf.guest!.nrMediatedPmuVms).toBe(0);
    expect(v.pmu!.rdmsr(MSR.IA32_PMC0 + 2, sys.now)).toBe(GP_FAULT);
    // No mediated PMU exists, so !exclude_guest events can still be created.
    expect(errOf(() => sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc4 }, -1, 1))).toBe("OK");
  });

  it("K39: while a mediated VM exists, !exclude_guest core PMU events get EOPNOTSUPP; exclude_guest ones work", () => {
    const sys = mkSystem();
    const kvm = mkKvm(sys, { mediated: true });
    const vm = kvm.createVm("vm0");
    const v = vcpuOf(vm, sys);
    const raw: PerfEventAttr = { type: PERF_TYPE_RAW, config: 0xc4 };
    expect(errOf(() => sys.perfEventOpen(raw, -1, 1))).toBe("EOPNOTSUPP");
    expect(errOf(() => sys.perfEventOpen(raw, v.task.pid, -1))).toBe("EOPNOTSUPP");
    expect(errOf(() => sys.perfEventOpen({ ...raw, exclude_guest: true }, -1, 1))).toBe("OK");
    expect(startNmiWatchdog(sys.perf, false)).toHaveLength(0);
    vm.destroy(sys.now);
    expect(sys.perf.guest!.nrMediatedPmuVms).toBe(0);
    expect(errOf(() => sys.perfEventOpen(raw, -1, 1))).toBe("OK");
  });

  it("K40: KVM_CAP_PMU_CAPABILITY after the mediated PMU was created gives EINVAL", () => {
    const sys = mkSystem();
    const vm = mkKvm(sys, { mediated: true }).createVm("vm0");
    vcpuOf(vm, sys);
    expect(vm.createdMediatedPmu).toBe(true);
    expect(vm.enableCap(KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE)).toBe(-ERRNO.EINVAL);
    expect(vm.enableCap(KVM_CAP_PMU_CAPABILITY, 0)).toBe(-ERRNO.EINVAL);
    expect(vm.enablePmu).toBe(true);
  });

  it("K41: PERFEVTSELx and FIXED_CTR_CTRL writes always exit; counter reads and writes do not", () => {
    const g = guest({ mediated: true, exitRate: 0 });
    runFor(g.sys, MS);
    expect(g.v.state).toBe("guest");
    const exits = () => g.v.exits.msr ?? 0;
    const done: string[] = [];
    g.ops.wrmsr(MSR.IA32_PMC0, 5, g.sys.now, () => done.push("pmc"));
    g.ops.wrmsr(MSR.IA32_A_PMC0 + 7, 5, g.sys.now, () => done.push("apmc"));
    g.ops.wrmsr(MSR.IA32_FIXED_CTR0 + 2, 5, g.sys.now, () => done.push("fixed"));
    g.ops.rdmsr(MSR.IA32_PMC0 + 3, g.sys.now, () => done.push("rd pmc"));
    g.ops.rdmsr(MSR.IA32_FIXED_CTR0, g.sys.now, () => done.push("rd fixed"));
    // Passthrough accesses run at once, with no exit.
    expect(done).toEqual(["pmc", "apmc", "fixed", "rd pmc", "rd fixed"]);
    expect(exits()).toBe(0);
    for (const m of [MSR.IA32_PERFEVTSEL0, MSR.IA32_PERFEVTSEL0 + 7, MSR.IA32_FIXED_CTR_CTRL]) {
      expect(g.pmu.intercepts(m)).toBe(true);
      g.ops.wrmsr(m, 0, g.sys.now);
    }
    g.ops.rdmsr(MSR.IA32_PERFEVTSEL0, g.sys.now, () => {});
    runFor(g.sys, MS);
    expect(exits()).toBe(4);
    for (const m of [MSR.IA32_PMC0, MSR.IA32_A_PMC0, MSR.IA32_FIXED_CTR0 + 2])
      expect(g.pmu.intercepts(m)).toBe(false);
  });

  it("K42: GLOBAL_* and RDPMC pass through only if the guest has the host's counters (and widths, for RDPMC) and version >= 2", () => {
    const globals = [
      MSR.IA32_PERF_GLOBAL_CTRL,
      MSR.IA32_PERF_GLOBAL_STATUS,
      MSR.IA32_PERF_GLOBAL_OVF_CTRL,
    ];
    const probe = (cpuid: Partial<CpuidLeafA>) => {
      const g = guest({ mediated: true, exitRate: 0, cpuid });
      runFor(g.sys, MS);
      const before = { msr: g.v.exits.msr ?? 0, rdpmc: g.v.exits.rdpmc ?? 0 };
      g.ops.rdmsr(MSR.IA32_PERF_GLOBAL_CTRL, g.sys.now, () => {});
      g.ops.rdpmc(0, g.sys.now, () => {});
      runFor(g.sys, MS);
      return {
        globals: globals.map((m) => g.pmu.intercepts(m)),
        msrExits: (g.v.exits.msr ?? 0) - before.msr,
        rdpmcExits: (g.v.exits.rdpmc ?? 0) - before.rdpmc,
      };
    };
    expect(probe({})).toEqual({ globals: [false, false, false], msrExits: 0, rdpmcExits: 0 });
    expect(probe({ nrGp: 4 })).toEqual({ globals: [true, true, true], msrExits: 1, rdpmcExits: 1 });
    expect(probe({ nrFixed: 2 })).toEqual({
      globals: [true, true, true],
      msrExits: 1,
      rdpmcExits: 1,
    });
    expect(probe({ gpWidth: 32 })).toEqual({
      globals: [false, false, false],
      msrExits: 0,
      rdpmcExits: 1,
    });
    expect(probe({ version: 1 })).toEqual({
      globals: [true, true, true],
      msrExits: 1,
      rdpmcExits: 1,
    });
  });

  it("K43: load = perf_load_guest_context, then the guest counters; put = save and zero the counters, then perf_put_guest_context", () => {
    const g = guest({ mediated: true, exitRate: 0 });
    const cpu = g.sys.machine.cpus[2]!;
    const st = g.sys.perf.guest!;
    const fd = g.sys.perfEventOpen(
      { type: PERF_TYPE_RAW, config: 0xc5, exclude_guest: true },
      -1,
      2,
    );
    const host = g.sys.perf.fds.get(fd)!;
    const m = g.v.mediated!;
    const log: string[] = [];
    g.sys.perf.guestListeners.push((c, what) => {
      if (c === 2) log.push(`perf ${what}`);
    });
    const load = m.load.bind(m);
    m.load = (c, now) => {
      log.push(`kvm load: ctx=${st.guestCtxLoaded[2]} host=${host.state}`);
      load(c, now);
      const mine = cpu.pmu.all.filter((k) => k.owner === m.owner).length;
      log.push(`kvm loaded: ${mine} counters`);
    };
    const put = m.put.bind(m);
    m.put = (now) => {
      put(now);
      const clean = cpu.pmu.all.every((k) => k.value(now) === 0 && !k.enabled && k.owner === null);
      log.push(`kvm put: clean=${clean} ctx=${st.guestCtxLoaded[2]}`);
    };
    g.sys.run(MS);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
    wr(g, MSR.IA32_FIXED_CTR_CTRL, 0x333);
    wr(g, MSR.IA32_PERF_GLOBAL_CTRL, ALL_ON);
    log.length = 0;
    g.sys.run(10 * MS);
    expect(log.length).toBeGreaterThanOrEqual(8);
    // The vCPU is in guest mode when the log starts: the first exit comes first.
    expect(log.slice(0, 9)).toEqual([
      "kvm put: clean=true ctx=true",
      "perf put",
      "perf load",
      `kvm load: ctx=true host=${INACTIVE}`,
      "kvm loaded: 11 counters",
      "kvm put: clean=true ctx=true",
      "perf put",
      "perf load",
      `kvm load: ctx=true host=${INACTIVE}`,
    ]);
    expect(st.warnings).toEqual([]);
  });

  it("K44: while the guest context is loaded, host exclude_guest events do not count; after put they resume where they were", () => {
    const g = guest({ mediated: true, exitRate: 20_000 });
    const fd = g.sys.perfEventOpen(
      { type: PERF_TYPE_RAW, config: INSTRUCTIONS, exclude_guest: true, read_format: 3 },
      -1,
      2,
    );
    const e = g.sys.perf.fds.get(fd)!;
    // [count at load, state at load, count after the next put, state after it]
    const cycles: Array<[number, number, number, number]> = [];
    let atLoad: [number, number] | null = null;
    g.sys.perf.guestListeners.push((c, what) => {
      if (c !== 2) return;
      if (what === "load") atLoad = [e.count, e.state];
      else if (atLoad) {
        cycles.push([...atLoad, e.count, e.state]);
        atLoad = null;
      }
    });
    runFor(g.sys, 5 * MS);
    expect(cycles.length).toBeGreaterThan(50);
    // Each put finds the count the load left (nothing counted in guest mode), and the event ACTIVE again.
    for (const [c0, s0, c1, s1] of cycles) expect([c1, s0, s1]).toEqual([c0, INACTIVE, ACTIVE]);
    // Host time between guest runs is counted.
    expect(cycles[1]![0]).toBeGreaterThan(cycles[0]![2]);
    const r = g.sys.read(fd);
    const host = truth(g, Q.INSTRUCTIONS, HOST_MODES);
    const inGuest = truth(g, Q.INSTRUCTIONS, GUEST_MODES);
    expect(inGuest).toBeGreaterThan(50 * host);
    expect(r.value).toBe(Math.floor(host + 1e-6));
  });

  it("K45: a guest counter overflow raises the mediated PMI: a PMI exit, GLOBAL_STATUS set, a virtual PMI pending", () => {
    const g = guest({ mediated: true, exitRate: 0 });
    runFor(g.sys, MS);
    wr(g, MSR.IA32_A_PMC0, W48 - 100_000n);
    wr(g, MSR.IA32_A_PMC0 + 1, W48 - 100_000n);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES); // no INT: status only
    runFor(g.sys, MS);
    expect(g.pmu.globalStatus).toBe(1n);
    expect(g.v.exits.pmi).toBeUndefined();
    wr(g, MSR.IA32_PERFEVTSEL0 + 1, EN | EVENTSEL.INT | BRANCHES);
    runFor(g.sys, MS);
    expect(g.pmu.globalStatus).toBe(3n);
    expect(g.v.exits.pmi).toBe(1);
    // Pending (KVM_REQ_PMI), or already delivered at the re-entry.
    expect(g.pmu.pmiPending || g.v.pmisDelivered === 1).toBe(true);
    // The host perf side saw no overflow: there is no host event at all.
    expect(g.sys.perf.fds.size).toBe(0);
  });

  it("K46: with a filter, a denied eventsel is loaded with EN clear: the counter freezes and reads still do not exit", () => {
    const g = guest({ mediated: true, exitRate: 0 });
    const cpu = g.sys.machine.cpus[2]!;
    runFor(g.sys, MS);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
    runFor(g.sys, MS);
    expect(g.v.state).toBe("guest");
    expect(cpu.pmu.slot[0]!.enabled).toBe(true);
    expect(
      g.vm.setPmuEventFilter(filter({ action: KVM_PMU_EVENT_DENY, events: [BRANCHES] }), g.sys.now),
    ).toBe(0);
    expect(cpu.pmu.slot[0]!.enabled).toBe(false);
    const frozen = pmc(g, 0);
    expect(frozen).toBeGreaterThan(0n);
    runFor(g.sys, 3 * MS);
    const msrExits = g.v.exits.msr ?? 0;
    const seen = [guestRdmsr(g, MSR.IA32_PMC0), guestRdmsr(g, MSR.IA32_PERFEVTSEL0)];
    runFor(g.sys, MS);
    expect(seen[0]!.value).toBe(frozen);
    expect(seen[1]!.value).toBe(BigInt(EN | BRANCHES));
    // The counter read passed through; the eventsel read exited.
    expect((g.v.exits.msr ?? 0) - msrExits).toBe(1);
    expect(g.v.state).toBe("guest");
    expect(cpu.pmu.slot[0]!.enabled).toBe(false);
  });

  it("K47: the guest's overflow status survives put/load until the guest clears it through OVF_CTRL", () => {
    const g = guest({ mediated: true, exitRate: 10_000 });
    runFor(g.sys, MS);
    wr(g, MSR.IA32_A_PMC0, W48 - 100_000n);
    wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES);
    runFor(g.sys, MS);
    expect(g.pmu.globalStatus).toBe(1n);
    const entries = g.v.nrEntries;
    runFor(g.sys, 3 * MS);
    expect(g.v.nrEntries).toBeGreaterThan(entries + 20);
    const seen = guestRdmsr(g, MSR.IA32_PERF_GLOBAL_STATUS);
    runFor(g.sys, MS);
    expect(seen.value).toBe(1n);
    g.ops.wrmsr(MSR.IA32_PERF_GLOBAL_OVF_CTRL, 1, g.sys.now);
    runFor(g.sys, 3 * MS);
    const after = guestRdmsr(g, MSR.IA32_PERF_GLOBAL_STATUS);
    runFor(g.sys, MS);
    expect(after.value).toBe(0n);
  });
});

describe("fixes found by reviewing the model against the kernel", () => {
  it("K19: a failed perf event creation is retried before the next VM-entry", () => {
    const g = guest();
    runFor(g.sys, MS);
    expect(perfCreateMediatedPmu(g.sys.perf)).toBe(0); // !exclude_guest creation now fails (EOPNOTSUPP)
    expect(wr(g, MSR.IA32_PERFEVTSEL0, EN | BRANCHES)).toBe(true);
    expect(g.v.emulated!.eventOf(g.pmu.gp[0]!)).toBeNull();
    perfReleaseMediatedPmu(g.sys.perf);
    runFor(g.sys, 6 * MS);
    const e = g.v.emulated!.eventOf(g.pmu.gp[0]!);
    expect(e?.state).toBe(ACTIVE);
    expect(rd(g, MSR.IA32_PMC0)).not.toBe(0n);
  });

  it("K7/K8: GLOBAL_STATUS OvfBuf (62) and CondChgd (63) are not reserved", () => {
    const g = guest();
    expect(wr(g, MSR.IA32_PERF_GLOBAL_STATUS, 1n << 63n, true)).toBe(true);
    expect(wr(g, MSR.IA32_PERF_GLOBAL_OVF_CTRL, 3n << 62n)).toBe(true);
    expect(rd(g, MSR.IA32_PERF_GLOBAL_STATUS)).toBe(0n);
    expect(wr(g, MSR.IA32_PERF_GLOBAL_OVF_CTRL, 1n << 61n)).toBe(GP_FAULT);
  });

  it("K1/K12: with no vPMU the P6 MSRs 0xC1/0xC2/0x186/0x187 read 0 and drop writes; other PMU MSRs #GP", () => {
    const sys = mkSystem();
    const kvm = mkKvm(sys, { enablePmu: false } as Setup);
    const vm = kvm.createVm("vm0");
    const v = vcpuOf(vm, sys);
    const pmu = v.pmu!;
    expect(pmu.version).toBe(0);
    for (const msr of [0xc1, 0xc2, 0x186, 0x187]) {
      expect(pmu.rdmsr(msr, sys.now)).toBe(0n);
      expect(pmu.wrmsr(msr, 5n, sys.now)).toBe(true);
    }
    expect(pmu.rdmsr(0xc3, sys.now)).toBe(GP_FAULT);
    expect(pmu.rdmsr(MSR.IA32_PERF_GLOBAL_CTRL, sys.now)).toBe(GP_FAULT);
  });
});
