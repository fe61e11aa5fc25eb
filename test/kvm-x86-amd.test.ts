import { describe, expect, it } from "vitest";
import type { MachineDesc } from "../src/hw/machine.js";
import { amdPmuDesc } from "../src/hw/pmu-desc.js";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { Kvm } from "../src/kvm/kvm.js";
import { GuestPmuOps, type KvmVcpu } from "../src/kvm/vcpu.js";
import type { KvmVm } from "../src/kvm/vm.js";
import { type AmdPmuCpuid, KvmAmdPmu } from "../src/kvm/x86/amd.js";
import { AMD_MSR, EVENTSEL, GP_FAULT } from "../src/kvm/x86/msr.js";
import type { VpmuProfile } from "../src/perf/guest.js";
import { PERF_PMU_CAP } from "../src/perf/pmu.js";
import { PERF_TYPE_RAW } from "../src/perf/uapi.js";
import { formatDiagnostic } from "../src/scenario/diagnostics.js";
import { loadScenario, parseScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";
import { msToNs } from "../src/sim/time.js";
import { System } from "../src/system.js";
import { rd, runFor, wr } from "./kvm-x86-helpers.js";

const MS = msToNs(1);
const W48 = 2n ** 48n;
/** EN | OS | USR. */
const EN = EVENTSEL.ENABLE | EVENTSEL.OS | EVENTSEL.USR;
/** AMD encodings (PPR family 19h): cycles, instructions, branches. */
const CYCLES = 0x0076;
const INSTRUCTIONS = 0x00c0;
const BRANCHES = 0x00c2;
const { K7_EVNTSEL0, K7_PERFCTR0, F15H_PERF_CTL0, F15H_PERF_CTR0 } = AMD_MSR;
const { GLOBAL_STATUS, GLOBAL_CTL, GLOBAL_STATUS_CLR, GLOBAL_STATUS_SET } = AMD_MSR;
const ctl = (i: number) => F15H_PERF_CTL0 + 2 * i;
const ctr = (i: number) => F15H_PERF_CTR0 + 2 * i;

interface Setup {
  machine?: MachineDesc;
  mediated?: boolean;
  profile?: VpmuProfile;
  cpuid?: Partial<AmdPmuCpuid>;
  exitRate?: number;
}

interface Guest {
  sys: System;
  kvm: Kvm;
  vm: KvmVm;
  v: KvmVcpu;
  pmu: KvmAmdPmu;
  ops: GuestPmuOps;
}

/** amd-server with a different core PMU. */
function amdMachine(nrGp: number, perfMonV2: boolean): MachineDesc {
  const m = preset("amd-server")!;
  const ct = m.coreTypes[0]!;
  m.coreTypes = [{ ...ct, pmu: amdPmuDesc({ name: "cpu", coreType: ct.name, nrGp, perfMonV2 }) }];
  return m;
}

/** A system on amd-server, KVM, one VM (optionally with guest AMD CPUID bits) and vCPU 0 on CPU 2. */
function guest(o: Setup = {}): Guest {
  const sys = new System({
    machine: o.machine ?? preset("amd-server")!,
    profile: o.profile ?? "7.0",
  });
  const kvm = new Kvm(sys, { enablePmu: true, enableMediatedPmu: o.mediated ?? false });
  const vm = kvm.createVm("vm0");
  if (o.cpuid) vm.amdCpuid = { ...vm.amdCpuid, ...o.cpuid };
  const v = vm.createVcpu(
    0,
    { workload: BUILTIN_WORKLOADS.compute!, affinity: [2], exitRate: o.exitRate ?? 1000 },
    sys.now,
  );
  if (typeof v === "number") throw new Error(`KVM_CREATE_VCPU failed: ${v}`);
  expect(v.pmu).toBeInstanceOf(KvmAmdPmu);
  return { sys, kvm, vm, v, pmu: v.pmu as KvmAmdPmu, ops: new GuestPmuOps(v) };
}

/** A guest RDMSR run through the vCPU (exits as KVM takes them). */
function guestRdmsr(g: Guest, msr: number): { value: bigint | null } {
  const out: { value: bigint | null } = { value: null };
  g.ops.rdmsr(msr, g.sys.now, (r) => {
    out.value = r;
  });
  return out;
}

describe("AMD host: amd-server and perf", () => {
  it("amd-server has one `cpu` PMU with 6 GP 48-bit counters, no fixed counters, PerfMonV2", () => {
    const m = preset("amd-server")!;
    const pmu = m.coreTypes[0]!.pmu;
    expect([pmu.name, pmu.nrGp, pmu.gpWidth, pmu.fixed.length, pmu.version, pmu.vendor]).toEqual([
      "cpu",
      6,
      48,
      0,
      2,
      "amd",
    ]);
  });

  it("generic events resolve to the AMD encodings (amd_zen4_perfmon_event_map)", () => {
    const sys = new System({ machine: preset("amd-server")!, profile: "7.0" });
    const enc = (config: number) => {
      const fd = sys.perfEventOpen({ type: 0, config, exclude_guest: true }, -1, 1);
      return sys.perf.fds.get(fd)!.hw.config;
    };
    // cycles, instructions, branches, branch-misses
    expect([enc(0), enc(1), enc(4), enc(5)]).toEqual([0x76, 0xc0, 0xc2, 0xc3]);
    // bus-cycles does not exist on AMD
    expect(() => sys.perfEventOpen({ type: 0, config: 6 }, -1, 1)).toThrow(/ENOENT/);
  });
});

describe("KVM AMD vPMU (svm/pmu.c): MSRs", () => {
  it("K26: a PERF_CTL write with reserved bits (19, 21, 63:36) is accepted and the bits are dropped", () => {
    const g = guest();
    const sel = BigInt(EN | INSTRUCTIONS) | (0x1n << 32n); // bits 35:32 are event select
    const junk = (1n << 19n) | (1n << 21n) | (1n << 40n) | (1n << 41n) | (1n << 63n);
    expect(wr(g, ctl(0), sel | junk)).toBe(true);
    expect(rd(g, ctl(0))).toBe(sel);
    // The same through the legacy K7 select.
    expect(wr(g, K7_EVNTSEL0 + 1, BigInt(EN | BRANCHES) | (1n << 21n))).toBe(true);
    expect(rd(g, K7_EVNTSEL0 + 1)).toBe(BigInt(EN | BRANCHES));
  });

  it("K26: a guest write to GLOBAL_STATUS is ignored (no #GP); a host-initiated one sets it unless it has reserved bits", () => {
    const g = guest();
    expect(g.pmu.version).toBe(2);
    expect(wr(g, GLOBAL_STATUS, 0x5n, true)).toBe(true);
    expect(rd(g, GLOBAL_STATUS)).toBe(0x5n);
    expect(wr(g, GLOBAL_STATUS, 0n)).toBe(true);
    expect(rd(g, GLOBAL_STATUS)).toBe(0x5n);
    expect(wr(g, GLOBAL_STATUS, 0x3fn)).toBe(true);
    expect(rd(g, GLOBAL_STATUS)).toBe(0x5n);
    // Bit 6 (no counter 6) or 63 is reserved for the host too.
    expect(wr(g, GLOBAL_STATUS, 1n << 6n, true)).toBe(GP_FAULT);
    expect(wr(g, GLOBAL_STATUS, 1n << 63n, true)).toBe(GP_FAULT);
    expect(rd(g, GLOBAL_STATUS)).toBe(0x5n);
  });

  it("K26: the K7 MSRs alias PERF_CTL/PERF_CTR 0-3, both ways; counters 4-5 have no K7 MSR", () => {
    const g = guest();
    expect(wr(g, K7_PERFCTR0 + 2, 0x1234_5678_9an)).toBe(true);
    expect(rd(g, ctr(2))).toBe(0x1234_5678_9an);
    expect(wr(g, ctr(3), 0xabcdn)).toBe(true);
    expect(rd(g, K7_PERFCTR0 + 3)).toBe(0xabcdn);
    expect(wr(g, ctl(1), EN | CYCLES)).toBe(true);
    expect(rd(g, K7_EVNTSEL0 + 1)).toBe(BigInt(EN | CYCLES));
    expect(wr(g, K7_EVNTSEL0 + 3, EN | BRANCHES)).toBe(true);
    expect(rd(g, ctl(3))).toBe(BigInt(EN | BRANCHES));
    // The K7 block is EVNTSEL0-3 then PERFCTR0-3: the next MSR is not a PMU MSR.
    expect(rd(g, K7_PERFCTR0 + 4)).toBe(GP_FAULT);
    expect(wr(g, ctr(5), 7)).toBe(true);
    expect(rd(g, ctr(5))).toBe(7n);
  });

  it("counter writes are masked to 48 bits: no sign extension and no #GP on AMD", () => {
    const g = guest();
    expect(wr(g, ctr(0), 0x8000_0000n)).toBe(true);
    expect(rd(g, ctr(0))).toBe(0x8000_0000n);
    expect(wr(g, ctr(0), 0xffff_0000_0000_0001n)).toBe(true);
    expect(rd(g, ctr(0))).toBe(1n);
  });

  it("K3: nr_gp is capped at 6 (KVM_MAX_NR_AMD_GP_COUNTERS) even when host and CPUID offer 8", () => {
    const g = guest({ machine: amdMachine(8, true), cpuid: { numCorePmc: 8 } });
    expect(KvmAmdPmu.supportedAmdCpuid(g.pmu.host, 2).numCorePmc).toBe(6);
    expect(g.pmu.nrGp).toBe(6);
    expect(g.pmu.globalCtrl).toBe(0x3fn);
    expect(rd(g, ctr(5))).toBe(0n);
    expect(rd(g, ctl(6))).toBe(GP_FAULT);
    expect(wr(g, ctr(6), 1)).toBe(GP_FAULT);
    expect(g.pmu.rdpmc(6, g.sys.now)).toBe(GP_FAULT);
    // PerfMonV2 NumCorePmc below 4 also hides K7 counters.
    const small = guest({ cpuid: { numCorePmc: 3 } });
    expect(small.pmu.nrGp).toBe(3);
    expect(rd(small, K7_PERFCTR0 + 3)).toBe(GP_FAULT);
    expect(rd(small, K7_PERFCTR0 + 2)).toBe(0n);
  });

  it("without PerfCtrExtCore the guest has the 4 legacy counters: PERF_CTL/PERF_CTR #GP, K7 MSRs work", () => {
    const g = guest({ cpuid: { perfCtrCore: false, perfMonV2: false } });
    expect([g.pmu.version, g.pmu.nrGp]).toEqual([1, 4]);
    expect(rd(g, ctl(0))).toBe(GP_FAULT);
    expect(rd(g, ctr(0))).toBe(GP_FAULT);
    expect(wr(g, ctl(0), EN | CYCLES)).toBe(GP_FAULT);
    expect(wr(g, ctr(0), 1)).toBe(GP_FAULT);
    expect(wr(g, K7_EVNTSEL0, EN | CYCLES)).toBe(true);
    expect(rd(g, K7_EVNTSEL0)).toBe(BigInt(EN | CYCLES));
    // Version 1: no PerfMonV2 global MSRs.
    for (const msr of [GLOBAL_STATUS, GLOBAL_CTL, GLOBAL_STATUS_CLR, GLOBAL_STATUS_SET]) {
      expect(rd(g, msr)).toBe(GP_FAULT);
      expect(wr(g, msr, 0)).toBe(GP_FAULT);
    }
    // PerfCtrExtCore without PerfMonV2: 6 counters, version 1.
    const core = guest({ cpuid: { perfMonV2: false } });
    expect([core.pmu.version, core.pmu.nrGp]).toEqual([1, 6]);
    expect(rd(core, ctr(5))).toBe(0n);
  });

  it("K2 (AMD): PerfMonV2 in guest CPUID counts only if KVM supports it; the vPMU cannot be turned off through CPUID", () => {
    const g = guest({ machine: amdMachine(6, false), cpuid: { perfMonV2: true } });
    expect(g.pmu.version).toBe(1);
    const none = guest({ cpuid: { perfCtrCore: false, perfMonV2: false, numCorePmc: 0 } });
    expect(none.pmu.version).toBe(1);
  });

  it("K1 (AMD): with the VM's PMU disabled the K7 and P6 MSRs read 0 and drop writes; the rest #GP", () => {
    const sys = new System({ machine: preset("amd-server")!, profile: "7.0" });
    const kvm = new Kvm(sys, { enablePmu: false });
    const vm = kvm.createVm("vm0");
    const v = vm.createVcpu(0, { workload: BUILTIN_WORKLOADS.compute!, affinity: [2] }, sys.now);
    if (typeof v === "number") throw new Error("vcpu");
    const pmu = v.pmu!;
    expect(pmu.version).toBe(0);
    for (const msr of [K7_EVNTSEL0, K7_PERFCTR0 + 3, 0xc1, 0x186]) {
      expect(pmu.rdmsr(msr, sys.now)).toBe(0n);
      expect(pmu.wrmsr(msr, 5n, sys.now)).toBe(true);
    }
    expect(pmu.rdmsr(ctr(0), sys.now)).toBe(GP_FAULT);
    expect(pmu.rdmsr(GLOBAL_CTL, sys.now)).toBe(GP_FAULT);
    expect(pmu.rdpmc(0, sys.now)).toBe(GP_FAULT);
  });

  it("GLOBAL_STATUS_CLR clears (guest only), GLOBAL_STATUS_SET sets (guest only), both read 0", () => {
    const g = guest();
    expect(wr(g, GLOBAL_STATUS_SET, 0x7n | (1n << 40n))).toBe(true);
    expect(rd(g, GLOBAL_STATUS)).toBe(0x7n);
    expect(wr(g, GLOBAL_STATUS_CLR, 0x2n | (1n << 63n))).toBe(true);
    expect(rd(g, GLOBAL_STATUS)).toBe(0x5n);
    expect([rd(g, GLOBAL_STATUS_CLR), rd(g, GLOBAL_STATUS_SET)]).toEqual([0n, 0n]);
    // Host-initiated writes to CLR and SET do nothing.
    expect(wr(g, GLOBAL_STATUS_CLR, 0x5n, true)).toBe(true);
    expect(wr(g, GLOBAL_STATUS_SET, 0x8n, true)).toBe(true);
    expect(rd(g, GLOBAL_STATUS)).toBe(0x5n);
  });

  it("K9 (AMD): GLOBAL_CTL starts as GENMASK(nr_gp - 1, 0); reserved bits are dropped, not #GP", () => {
    const g = guest();
    expect(rd(g, GLOBAL_CTL)).toBe(0x3fn);
    expect(wr(g, GLOBAL_CTL, 0x3n | (1n << 6n) | (1n << 32n))).toBe(true);
    expect(rd(g, GLOBAL_CTL)).toBe(0x3n);
  });

  it("K13 (AMD): RDPMC(i) reads counter i; an index at or beyond nr_gp, bit 30 or bit 31 raises #GP", () => {
    const g = guest();
    expect(wr(g, ctr(4), 0x1234n)).toBe(true);
    expect(g.pmu.rdpmc(4, g.sys.now)).toBe(0x1234n);
    for (const ecx of [6, 64, 1 << 30, 0x80000000, 0xffffffff])
      expect(g.pmu.rdpmc(ecx, g.sys.now)).toBe(GP_FAULT);
  });
});

describe("KVM AMD vPMU: counting", () => {
  it("K14 (AMD): an enabled counter is a RAW, pinned, exclude_host event with the AMD encoding", () => {
    const g = guest();
    runFor(g.sys, MS);
    expect(wr(g, ctl(0), EN | CYCLES)).toBe(true);
    const e = g.v.emulated!.eventOf(g.pmu.gp[0]!)!;
    expect(e.attr.type).toBe(PERF_TYPE_RAW);
    expect(e.attr.config).toBe(BigInt(CYCLES));
    expect([e.attr.pinned, e.attr.exclude_host, e.attr.exclude_idle]).toEqual([true, true, true]);
    runFor(g.sys, 5 * MS);
    expect(rd(g, ctr(0))).not.toBe(0n);
  });

  it("K20 (AMD): an overflow sets GLOBAL_STATUS bit idx; a PMI is injected iff INT (bit 20) is set", () => {
    const g = guest({ exitRate: 0 });
    runFor(g.sys, MS);
    for (const i of [0, 1]) wr(g, ctr(i), W48 - 100_000n);
    wr(g, ctl(0), EN | BRANCHES); // no INT
    runFor(g.sys, MS);
    expect(g.pmu.globalStatus).toBe(1n);
    expect(g.v.exits.pmi).toBeUndefined();
    expect(g.pmu.pmiPending).toBe(false);
    wr(g, ctl(1), EN | EVENTSEL.INT | BRANCHES);
    runFor(g.sys, MS);
    expect(g.pmu.globalStatus).toBe(3n);
    expect(g.v.exits.pmi).toBe(1);
    expect(g.pmu.pmiPending || g.v.pmisDelivered === 1).toBe(true);
    // The guest acknowledges through STATUS_CLR.
    wr(g, GLOBAL_STATUS_CLR, 3n);
    expect(rd(g, GLOBAL_STATUS)).toBe(0n);
  });

  it("K25 (AMD): emulated branches count on Ex_Ret_Brn (0xC2) counters, instructions on 0xC0", () => {
    const g = guest({ exitRate: 0 });
    runFor(g.sys, MS);
    wr(g, ctl(0), EN | INSTRUCTIONS);
    wr(g, ctl(1), EN | BRANCHES);
    wr(g, ctl(2), EN | 0xc4); // Intel's branches encoding: not a branch event on AMD
    runFor(g.sys, MS);
    // No simulated time passes between the reads: only the emulated instructions count.
    const read = () => [0, 1, 2].map((i) => rd(g, ctr(i)) as bigint);
    const before = read();
    g.pmu.emulatedInstructionRetired(true, 0, g.sys.now);
    g.pmu.emulatedInstructionRetired(false, 3, g.sys.now);
    const after = read();
    expect(after.map((x, i) => x - before[i]!)).toEqual([2n, 1n, 0n]);
  });
});

describe("mediated vPMU on AMD", () => {
  it("K36 (AMD): enable_mediated_pmu needs a PerfMonV2 host (and perf's mediated capability)", () => {
    const on = guest({ mediated: true });
    expect(on.kvm.enableMediatedPmu).toBe(true);
    expect(on.v.mediated).not.toBeNull();
    const cpuPmu = on.sys.perf.registry.pmus.find((p) => p.name === "cpu")!;
    expect(cpuPmu.capabilities & PERF_PMU_CAP.MEDIATED_VPMU).not.toBe(0);
    const v1 = guest({ mediated: true, machine: amdMachine(6, false) });
    expect(v1.kvm.enableMediatedPmu).toBe(false);
    expect(v1.v.mediated).toBeNull();
    const v1Pmu = v1.sys.perf.registry.pmus.find((p) => p.name === "cpu")!;
    expect(v1Pmu.capabilities & PERF_PMU_CAP.MEDIATED_VPMU).toBe(0);
    // The 2024 passthrough RFC was Intel only.
    expect(guest({ mediated: true, profile: "rfc-v1" }).kvm.enableMediatedPmu).toBe(false);
  });

  it("K41/K42 (AMD): PERF_CTL writes exit; PERF_CTR, K7 PerfCtr, GLOBAL_* and RDPMC pass through", () => {
    const g = guest({ mediated: true, exitRate: 0 });
    runFor(g.sys, MS);
    expect(g.pmu.intercepts(ctl(0))).toBe(true);
    expect(g.pmu.intercepts(K7_EVNTSEL0)).toBe(true);
    for (const msr of [ctr(0), ctr(5), K7_PERFCTR0 + 3, GLOBAL_CTL, GLOBAL_STATUS])
      expect(g.pmu.intercepts(msr)).toBe(false);
    expect(g.pmu.intercepts(GLOBAL_STATUS_CLR)).toBe(false);
    expect(g.pmu.intercepts(GLOBAL_STATUS_SET)).toBe(false);
    expect(g.v.mediated!.rdpmcPassthrough()).toBe(true);
    // A guest with fewer counters than the host: the globals and RDPMC exit.
    const few = guest({ mediated: true, cpuid: { numCorePmc: 4 } });
    expect(few.pmu.intercepts(GLOBAL_CTL)).toBe(true);
    expect(few.v.mediated!.rdpmcPassthrough()).toBe(false);
    expect(few.pmu.intercepts(ctr(4))).toBe(true);
  });

  it("K47 (AMD): the guest's overflow status survives put/load through STATUS_CLR/STATUS_SET and never stays in the host's hardware", () => {
    const g = guest({ mediated: true, exitRate: 10_000 });
    const cpu = g.sys.machine.cpus[2]!;
    const m = g.v.mediated!;
    // Hardware GLOBAL_STATUS/GLOBAL_CTL right after each load and each put.
    const afterLoad: bigint[] = [];
    const afterPut: Array<[bigint, bigint]> = [];
    const load = m.load.bind(m);
    m.load = (c, now) => {
      load(c, now);
      afterLoad.push(c.pmu.globalStatus);
    };
    const put = m.put.bind(m);
    m.put = (now) => {
      put(now);
      afterPut.push([cpu.pmu.globalStatus, cpu.pmu.globalCtl]);
    };
    runFor(g.sys, MS);
    wr(g, ctr(0), W48 - 100_000n);
    wr(g, ctl(0), EN | BRANCHES);
    runFor(g.sys, MS);
    expect(g.pmu.globalStatus).toBe(1n);
    afterLoad.length = 0;
    afterPut.length = 0;
    runFor(g.sys, 3 * MS);
    expect(afterLoad.length).toBeGreaterThan(20);
    expect(new Set(afterLoad)).toEqual(new Set([1n]));
    expect(afterPut.every(([s, c]) => s === 0n && c === 0n)).toBe(true);
    // The guest reads it without an exit, then clears it through STATUS_CLR (no exit either).
    const exits = g.v.exits.msr ?? 0;
    const seen = guestRdmsr(g, GLOBAL_STATUS);
    g.ops.wrmsr(GLOBAL_STATUS_CLR, 1, g.sys.now);
    runFor(g.sys, MS);
    expect(seen.value).toBe(1n);
    expect((g.v.exits.msr ?? 0) - exits).toBe(0);
    afterLoad.length = 0;
    runFor(g.sys, 3 * MS);
    expect(new Set(afterLoad)).toEqual(new Set([0n]));
    expect(g.pmu.globalStatus).toBe(0n);
  });
});

describe("scenarios on amd-server", () => {
  const diags = (text: string): string[] => {
    const r = parseScenario(text, "s.yaml");
    return r.ok ? [] : r.diagnostics.map(formatDiagnostic);
  };
  const vm = (extra: string) =>
    `name: t\nmachine: amd-server\nvms:\n  - name: vm0\n${extra}    vcpus: [{ affinity: "2" }]\n    perf:\n      - { name: g, events: "cycles,branches", stop: 50ms }\n`;

  it("accepts a VM with guest perf stat and AMD event names", () => {
    expect(diags(vm(""))).toEqual([]);
  });

  it("rejects Intel CPUID leaf 0xA with one clear message, and accepts guest perf record", () => {
    const c = diags(vm("    cpuid: { version: 2, gp: 4 }\n"));
    expect(c).toHaveLength(1);
    expect(c[0]).toMatch(
      /vms\[0\]\.cpuid: cpuid is Intel's CPUID leaf 0xA, which KVM does not use on an AMD host \(amd_cpuid/,
    );
    const intel = diags(
      vm("    amd_cpuid: { perfmon_v2: false }\n").replace("amd-server", "x86-server"),
    );
    expect(intel).toEqual([
      expect.stringMatching(/vms\[0\]\.amd_cpuid: amd_cpuid shapes the vPMU of an AMD host/),
    ]);
    const overlap = diags(
      vm("")
        .replace(
          "stop: 50ms }\n",
          'stop: 50ms }\n      - { name: h, events: "cycles", start: 40ms, stop: 60ms }\n',
        )
        .replace("name: t\n", "name: t\nduration: 100ms\n"),
    );
    expect(overlap).toEqual([
      expect.stringMatching(
        /vms\[0\]\.perf\[1\]\.start: overlaps "g" on vCPU 0: a guest measurement uses the whole vPMU \(start at or after 50ms, or another vCPU\)/,
      ),
    ]);
    expect(diags(vm("").replace("stop: 50ms }", "stop: 50ms, record: { freq: 1000 } }"))).toEqual(
      [],
    );
  });
});

describe("vms[].amd_cpuid", () => {
  const run = (cpuid: string, events: string) =>
    runScenario(
      loadScenario(
        `name: t\nmachine: amd-server\nduration: 50ms\nkernel: { nmi_watchdog: false }\nvms:\n  - name: vm0\n    amd_cpuid: ${cpuid}\n    vcpus: [{ affinity: "2" }]\n    perf:\n      - { name: g, events: "${events}", stop: 20ms }\n      - { name: r, events: "cycles", start: 20ms, stop: 40ms, record: { period: 1000000 } }\n`,
        "t.yaml",
      ),
    );
  const five = "cycles,instructions,branches,branch-misses,cache-references";

  it("without PerfMonV2 and PerfCtrExtCore: version 1, 4 legacy counters, sampling by sign", () => {
    const r = run("{ perfmon_v2: false, perfctr_core: false }", five);
    expect(r.vms[0]!.pmu_version).toBe(1);
    const g = r.perf.find((m) => m.name === "g")!;
    // 5 events on 4 counters: each is on one 4 ms of every 5.
    for (const c of g.counters) expect(c.running_ns / c.enabled_ns).toBeCloseTo(0.8, 1);
    // x86_pmu_handle_irq(): no global registers; whole periods of 1M cycles.
    const rec = r.perf.find((m) => m.name === "r")!.counters[0]!;
    expect(rec.status).toBe("counted");
    expect(rec.count).toBe(rec.samples! * 1_000_000);
    expect(rec.truth - rec.count).toBeLessThan(1_000_000 + 0.03 * rec.truth);
  });

  it("PerfMonV2 without PerfCtrExtCore: Linux uses the 4 legacy counters, not the 6 KVM has", () => {
    const r = run("{ perfctr_core: false }", five);
    // KVM: version 2 with NumCorePmc counters; the guest: amd_core_pmu_init() returns early.
    expect(r.vms[0]!.pmu_version).toBe(2);
    const g = r.perf.find((m) => m.name === "g")!;
    for (const c of g.counters) {
      expect(c.running_ns / c.enabled_ns, c.event).toBeCloseTo(0.8, 1);
      expect(c.scaled! / c.truth, c.event).toBeGreaterThan(0.9);
    }
    expect(r.perf.find((m) => m.name === "r")!.counters[0]!.samples).toBeGreaterThan(10);
  });

  it("NumCorePmc sets the counter count under PerfMonV2, at most KVM's 6", () => {
    const three = run("{ num_core_pmc: 3 }", five);
    expect(three.vms[0]!.pmu_version).toBe(2);
    const g = three.perf.find((m) => m.name === "g")!;
    for (const c of g.counters) expect(c.running_ns / c.enabled_ns).toBeCloseTo(0.6, 1);
    const rec = three.perf.find((m) => m.name === "r")!;
    expect(rec.counters[0]!.samples).toBeGreaterThan(0);
    const six = run("{ num_core_pmc: 6 }", `${five},r0c2`);
    const all = six.perf.find((m) => m.name === "g")!;
    // Six events on the six counters: no multiplexing (enabled runs to the last read).
    for (const c of all.counters) expect(c.running_ns / c.enabled_ns).toBeGreaterThan(0.99);
    // KVM would give 6 of 15, and the guest's perf would fault on the other 9.
    const r = parseScenario(
      `name: t\nmachine: amd-server\nvms:\n  - name: vm0\n    amd_cpuid: { num_core_pmc: 15 }\n    vcpus: [{ affinity: "2" }]\n`,
      "t.yaml",
    );
    expect(r.ok ? [] : r.diagnostics.map(formatDiagnostic)).toEqual([
      expect.stringMatching(
        /vms\[0\]\.amd_cpuid\.num_core_pmc: KVM gives the guest at most 6 counters, and its perf would fault on the others \(at most 6\)/,
      ),
    ]);
  });
});

describe("guest perf record on an AMD PerfMonV2 guest", () => {
  const record = (mediated: boolean, events: string, rec: string) => {
    const text = `name: t
machine: amd-server
duration: 100ms
kernel:
  nmi_watchdog: false
  kvm: { enable_mediated_pmu: ${mediated} }
vms:
  - name: vm0
    vcpus: [{ affinity: "2" }]
    perf:
      - { name: rec, events: "${events}", start: 10ms, stop: 90ms, record: ${rec} }
`;
    const r = runScenario(loadScenario(text, "t.yaml"));
    const m = r.perf.find((x) => x.name === "rec")!;
    return { m, vcpu: r.vms[0]!.vcpus[0]! };
  };

  it("samples through PERF_CTR/PERF_CTL and GLOBAL_CTL: whole periods, one PMI exit per sample", () => {
    const { m, vcpu } = record(true, "cycles,branches", "{ period: 10000000 }");
    const cycles = m.counters.find((c) => c.event === "cycles")!;
    // Whole periods of the Zen 4 cycles event (0x76), short of the truth by less than one.
    expect(cycles.count % 10_000_000).toBe(0);
    expect(cycles.samples).toBe(cycles.count / 10_000_000);
    expect(cycles.truth - cycles.count).toBeGreaterThan(0);
    expect(cycles.truth - cycles.count).toBeLessThan(10_000_000 + 0.03 * cycles.truth);
    expect(vcpu.exits.pmi).toBeGreaterThanOrEqual(cycles.samples!);
    // Mediated: counter accesses, RDPMC and the global registers do not exit; the two event
    // selects do at the start and at the stop.
    expect(vcpu.exits.msr).toBe(4);
    expect(vcpu.exits.rdpmc ?? 0).toBe(0);
  });

  it("ref-cycles has no AMD encoding: <not supported> in place, the other events count", () => {
    const stat = runScenario(
      loadScenario(
        `name: t\nmachine: amd-server\nduration: 20ms\nvms:\n  - name: vm0\n    vcpus: [{ affinity: "2" }]\n    perf:\n      - { name: g, events: "ref-cycles,cycles", stop: 10ms }\n`,
        "t.yaml",
      ),
    ).perf.find((x) => x.name === "g")!;
    expect(stat.counters.map((c) => [c.event, c.status])).toEqual([
      ["ref-cycles", "not supported"],
      ["cycles", "counted"],
    ]);
    expect(stat.counters[0]!.count).toBe(0);
    const cycles = stat.counters[1]!;
    expect(cycles.count).toBeCloseTo(cycles.truth, -4);
    const { m } = record(true, "cycles,ref-cycles", "{ period: 10000000 }");
    expect(m.counters.map((c) => [c.event, c.status])).toEqual([
      ["cycles", "counted"],
      ["ref-cycles", "not supported"],
    ]);
  });

  it("a stop during a PMI handler waits for it: the next measurement starts clean", () => {
    // Record a stops at t, often in the middle of a handler (emulated: each access exits);
    // record b starts at the same instant on the same counters.
    for (let us = 30_000; us < 30_120; us += 6) {
      const text = `name: t
machine: amd-server
duration: 50ms
kernel: { nmi_watchdog: false, kvm: { enable_mediated_pmu: false } }
vms:
  - name: vm0
    vcpus: [{ affinity: "2" }]
    perf:
      - { name: a, events: "cycles,instructions,branches", start: 10ms, stop: ${us}us, record: { period: 20000 } }
      - { name: b, events: "cycles,instructions,branches", start: ${us}us, stop: 45ms, record: { period: 20000 } }
`;
      const r = runScenario(loadScenario(text, "t.yaml"));
      const a = r.perf.find((m) => m.name === "a")!;
      const b = r.perf.find((m) => m.name === "b")!;
      // b runs for 3/4 of a's time: its sample rate per event is about a's.
      for (const [k, c] of b.counters.entries()) {
        const ratio = c.samples! / a.counters[k]!.samples!;
        expect(ratio, `${c.event} at ${us} us`).toBeGreaterThan(0.5);
        expect(ratio, `${c.event} at ${us} us`).toBeLessThan(1);
      }
    }
  });

  it("7 events on 6 counters: stale status bits and overlapping PMIs take no sample", () => {
    const events = "cycles,instructions,branches,branch-misses,cache-references,r0c2,instructions";
    const emulated = record(false, events, "{ freq: 1000 }");
    const mediated = record(true, events, "{ freq: 1000 }");
    // Each handler reads its overflowed counters with RDPMC, which exits only when emulated.
    expect(emulated.vcpu.exits.rdpmc).toBeGreaterThanOrEqual(emulated.vcpu.exits.pmi!);
    expect(mediated.vcpu.exits.rdpmc ?? 0).toBe(0);
    // Each event is on a counter 6/7 of the time and perf report's count is unscaled. A status
    // bit left by the counter's previous event, or a second handler run on the same status,
    // would add a sample after next to no time and blow up that event's frequency-mode period
    // (cycles came out at 31% of the truth that way): both vPMUs agree instead.
    for (const c of emulated.m.counters) {
      const twin = mediated.m.counters.find((x) => x.event === c.event)!;
      expect(c.count / c.truth, c.event).toBeGreaterThan(0.6);
      expect(Math.abs(c.count / c.truth - twin.count / twin.truth), c.event).toBeLessThan(0.1);
    }
    const cycles = emulated.m.counters.find((c) => c.event === "cycles")!;
    expect(cycles.count / cycles.truth).toBeGreaterThan(0.75);
  });
});
