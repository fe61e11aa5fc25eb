import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { KVM_ARM_VCPU_PMU_V3, KvmArm64, PMU_ATTR } from "../src/kvm/arm64/kvm.js";
import {
  KVM_PMU_EVENT_ALLOW,
  KVM_PMU_EVENT_DENY,
  KVM_PMU_EVENT_FLAG_MASKED_EVENTS,
  type KvmPmuEventFilter,
  PmuEventFilter,
} from "../src/kvm/filter.js";
import { Kvm } from "../src/kvm/kvm.js";
import { AMD_MSR, EVENTSEL } from "../src/kvm/x86/msr.js";
import type { VpmuProfile } from "../src/perf/guest.js";
import { perfEventOutput } from "../src/perf/set-output.js";
import {
  PERF_COUNT_SW_CPU_CLOCK,
  PERF_FLAG_FD_NO_GROUP,
  PERF_FLAG_FD_OUTPUT,
  PERF_FORMAT_GROUP,
  PERF_FORMAT_ID,
  PERF_FORMAT_LOST,
  PERF_FORMAT_TOTAL_TIME_ENABLED,
  PERF_FORMAT_TOTAL_TIME_RUNNING,
  PERF_TYPE_SOFTWARE,
  type PerfEventAttr,
} from "../src/perf/uapi.js";
import { ERRNO } from "../src/sim/errno.js";
import { msToNs } from "../src/sim/time.js";
import { System } from "../src/system.js";
import { errOf } from "./kernel-errors.js";

const CLOCK: PerfEventAttr = { type: PERF_TYPE_SOFTWARE, config: PERF_COUNT_SW_CPU_CLOCK };
const ALL_FORMATS =
  PERF_FORMAT_GROUP |
  PERF_FORMAT_ID |
  PERF_FORMAT_LOST |
  PERF_FORMAT_TOTAL_TIME_ENABLED |
  PERF_FORMAT_TOTAL_TIME_RUNNING;

function host(profile: VpmuProfile = "7.0"): System {
  return new System({ machine: preset("x86-server")!, profile, perf: { nrOpen: 4096 } });
}

/** Opens a leader with `leaderFormat`, then plain siblings until one fails; the errno and count. */
function fillGroup(sys: System, leaderFormat: number, max = 1500): { added: number; err: string } {
  const leader = sys.perfEventOpen({ ...CLOCK, read_format: leaderFormat }, -1, 0);
  for (let i = 0; i < max; i++) {
    const err = errOf(() => sys.perfEventOpen(CLOCK, -1, 0, leader));
    if (err !== "OK") return { added: i, err };
  }
  return { added: max, err: "OK" };
}

describe("perf_event_validate_size() (kernel/events/core.c)", () => {
  it("since v6.7 the leader's read_format counts: GROUP|ID|LOST|TOTAL_TIME_* with plain siblings is E2BIG at the 681st sibling", () => {
    // 24 bytes of header, 24 per entry: 24 + 24 * 682 = 16392 > 16384.
    expect(fillGroup(host("7.0"), ALL_FORMATS)).toEqual({ added: 680, err: "E2BIG" });
    expect(fillGroup(host("rfc-v1"), ALL_FORMATS)).toEqual({ added: 680, err: "E2BIG" });
  });

  it("before v6.7 (profile 5.18) only the new event's own size is checked: plain siblings never fail", () => {
    expect(fillGroup(host("5.18"), ALL_FORMATS, 1200)).toEqual({ added: 1200, err: "OK" });
  });

  it("the limit is 16 KiB exactly: a group read of 16384 bytes is allowed, one entry more is not", () => {
    // GROUP|ID|LOST|TOTAL_TIME_ENABLED: 16 + 24 * nr; nr = 682 (leader + 681) is 16384 bytes.
    const fmt =
      PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_LOST | PERF_FORMAT_TOTAL_TIME_ENABLED;
    expect(fillGroup(host("7.0"), fmt)).toEqual({ added: 681, err: "E2BIG" });
  });

  it("every sibling is checked with its own read_format at the new group size", () => {
    const sys = host("7.0");
    const leader = sys.perfEventOpen(CLOCK, -1, 0);
    sys.perfEventOpen({ ...CLOCK, read_format: ALL_FORMATS }, -1, 0, leader);
    let added = 1;
    while (errOf(() => sys.perfEventOpen(CLOCK, -1, 0, leader)) === "OK") added++;
    expect(added).toBe(680);
  });

  it("before v6.7 the new event's sample and id headers count, with >= 16 KiB refused", () => {
    const sys = host("5.18");
    const fmt = PERF_FORMAT_GROUP | PERF_FORMAT_ID; // 8 + 16 * nr
    const leader = sys.perfEventOpen({ ...CLOCK, read_format: fmt }, -1, 0);
    for (let i = 0; i < 1020; i++) sys.perfEventOpen({ ...CLOCK, read_format: fmt }, -1, 0, leader);
    const open = (sampleType: number) =>
      errOf(() =>
        sys.perfEventOpen({ ...CLOCK, read_format: fmt, sample_type: sampleType }, -1, 0, leader),
      );
    // nr = 1022: 8 + 16 * 1022 + an 8-byte record header = 16368, plus IP (8): 16376 < 16384.
    expect(open(1)).toBe("OK");
    // nr = 1023: 8 + 16368 + 8 = 16384, not below 16 KiB: refused even without a sample header.
    expect(open(0)).toBe("E2BIG");
  });
});

describe("PERF_EVENT_IOC_SET_OUTPUT and PERF_FLAG_FD_OUTPUT (perf_event_set_output())", () => {
  it("EINVAL for the event itself, another CPU, another task's per-task buffer, another clock, another direction", () => {
    const sys = host();
    const t1 = sys.spawn({ comm: "a", workload: BUILTIN_WORKLOADS.compute!, affinity: [0] }).pid;
    const t2 = sys.spawn({ comm: "b", workload: BUILTIN_WORKLOADS.compute!, affinity: [1] }).pid;
    const c0 = sys.perfEventOpen(CLOCK, -1, 0);
    const c0b = sys.perfEventOpen(CLOCK, -1, 0);
    const c1 = sys.perfEventOpen(CLOCK, -1, 1);
    const mono = sys.perfEventOpen({ ...CLOCK, use_clockid: true, clockid: 1 }, -1, 0);
    const back = sys.perfEventOpen({ ...CLOCK, write_backward: true }, -1, 0);
    const p1 = sys.perfEventOpen(CLOCK, t1, -1);
    const p1b = sys.perfEventOpen(CLOCK, t1, -1);
    const p2 = sys.perfEventOpen(CLOCK, t2, -1);
    const io = (fd: number, target: number) => errOf(() => sys.ioctl(fd, "SET_OUTPUT", target));
    expect(io(c0, c0)).toBe("EINVAL");
    expect(io(c0, c1)).toBe("EINVAL");
    expect(io(c0, mono)).toBe("EINVAL");
    expect(io(c0, back)).toBe("EINVAL");
    expect(io(p1, p2)).toBe("EINVAL");
    expect(io(p1, c0)).toBe("EINVAL");
    expect(io(c0, 999)).toBe("EBADF");
    expect(perfEventOutput(sys.perf.fds.get(c0)!)).toBeNull();
    expect(io(c0, c0b)).toBe("OK");
    expect(perfEventOutput(sys.perf.fds.get(c0)!)).toBe(sys.perf.fds.get(c0b));
    expect(io(p1, p1b)).toBe("OK");
    expect(io(c0, -1)).toBe("OK");
    expect(perfEventOutput(sys.perf.fds.get(c0)!)).toBeNull();
  });

  it("perf_event_open() with PERF_FLAG_FD_OUTPUT applies the same rules to the group fd's event", () => {
    const sys = host();
    const c0 = sys.perfEventOpen(CLOCK, -1, 0);
    const out = PERF_FLAG_FD_OUTPUT | PERF_FLAG_FD_NO_GROUP;
    expect(errOf(() => sys.perfEventOpen(CLOCK, -1, 1, c0, out))).toBe("EINVAL");
    const mono = { ...CLOCK, use_clockid: true, clockid: 1 };
    expect(errOf(() => sys.perfEventOpen(mono, -1, 0, c0, out))).toBe("EINVAL");
    const fd = sys.perfEventOpen(CLOCK, -1, 0, c0, out);
    expect(perfEventOutput(sys.perf.fds.get(fd)!)).toBe(sys.perf.fds.get(c0));
    // Without NO_GROUP the event also joins the group.
    const g = sys.perfEventOpen(CLOCK, -1, 0, c0, PERF_FLAG_FD_OUTPUT);
    expect(sys.perf.fds.get(g)!.groupLeader).toBe(sys.perf.fds.get(c0));
  });

  it("perf_event_set_clock(): unknown clockids and NMI-unsafe clocks on an NMI PMU are EINVAL; a group shares one clock", () => {
    const sys = host();
    expect(errOf(() => sys.perfEventOpen({ ...CLOCK, use_clockid: true, clockid: 3 }, -1, 0))).toBe(
      "EINVAL",
    );
    // CLOCK_REALTIME is not NMI-safe: fine on the software PMU, EINVAL on the core PMU.
    expect(errOf(() => sys.perfEventOpen({ ...CLOCK, use_clockid: true, clockid: 0 }, -1, 0))).toBe(
      "OK",
    );
    expect(
      errOf(() => sys.perfEventOpen({ type: 0, config: 0, use_clockid: true, clockid: 0 }, -1, 0)),
    ).toBe("EINVAL");
    const leader = sys.perfEventOpen(CLOCK, -1, 0);
    expect(
      errOf(() => sys.perfEventOpen({ ...CLOCK, use_clockid: true, clockid: 1 }, -1, 0, leader)),
    ).toBe("EINVAL");
  });
});

/** amd-server, KVM, one VM and vCPU 0 on CPU 2. */
function amdGuest() {
  const sys = new System({ machine: preset("amd-server")!, profile: "7.0" });
  const kvm = new Kvm(sys, { enablePmu: true });
  const vm = kvm.createVm("vm0");
  const v = vm.createVcpu(
    0,
    { workload: BUILTIN_WORKLOADS.compute!, affinity: [2], exitRate: 1000 },
    sys.now,
  );
  if (typeof v === "number") throw new Error(`KVM_CREATE_VCPU: ${v}`);
  const EN = BigInt(EVENTSEL.ENABLE | EVENTSEL.OS | EVENTSEL.USR);
  const select = (i: number, sel: bigint) =>
    v.pmu!.wrmsr(AMD_MSR.F15H_PERF_CTL0 + 2 * i, EN | sel, sys.now);
  const backed = (i: number) => v.emulated!.eventOf(v.pmu!.gp[i]!);
  return { sys, vm, v, select, backed };
}

/** KVM_PMU_ENCODE_MASKED_ENTRY(), with event select bits 11:8 at 35:32. */
function masked(eventSelect: number, mask: number, match: number, exclude: boolean): bigint {
  return (
    BigInt(eventSelect & 0xff) |
    (BigInt(eventSelect & 0xf00) << 24n) |
    (BigInt(mask) << 56n) |
    (BigInt(match) << 8n) |
    (exclude ? 1n << 55n : 0n)
  );
}

const filter = (f: Partial<KvmPmuEventFilter>): KvmPmuEventFilter => ({
  action: KVM_PMU_EVENT_ALLOW,
  events: [],
  ...f,
});

describe("AMD EventSelect[11:8] (bits 35:32) in KVM's event filter (arch/x86/kvm/pmu.c, svm/pmu.c)", () => {
  it("is_masked_filter_valid(): kvm_pmu_ops.EVENTSEL_EVENT is vendor-aware: bits 35:32 are valid on AMD only", () => {
    const f = filter({
      flags: KVM_PMU_EVENT_FLAG_MASKED_EVENTS,
      events: [masked(0x1c0, 0xff, 0, false)],
    });
    expect(PmuEventFilter.create(f, true)).toBeInstanceOf(PmuEventFilter);
    expect(PmuEventFilter.create(f, false)).toBe(-ERRNO.EINVAL);
  });

  it("convert_to_masked_filter(): an unmasked AMD entry with bits 35:32 is kept, an Intel one dropped", () => {
    const f = filter({ action: KVM_PMU_EVENT_ALLOW, events: [0x1_0000_00c0n] });
    const amd = PmuEventFilter.create(f, true) as PmuEventFilter;
    const intel = PmuEventFilter.create(f, false) as PmuEventFilter;
    // vpmu encodings keep EventSelect[11:8] at bits 19:16.
    expect(amd.gpAllowed(0x1_00c0)).toBe(true);
    expect(amd.gpAllowed(0x00c0)).toBe(false);
    expect(intel.gpAllowed(0x00c0)).toBe(false);
  });

  it("filter_contains_match(): guest event 0x1C0 is not matched as 0xC0, and 0xC0 not as 0x1C0", () => {
    const g = amdGuest();
    const deny = filter({ action: KVM_PMU_EVENT_DENY, events: [0xc0] });
    expect(g.vm.setPmuEventFilter(deny, g.sys.now)).toBe(0);
    g.select(0, 0xc0n);
    g.select(1, 0x1_0000_00c0n);
    expect(g.backed(0)).toBeNull();
    expect(g.backed(1)).not.toBeNull();
    const deny2 = filter({ action: KVM_PMU_EVENT_DENY, events: [0x1_0000_00c0n] });
    expect(g.vm.setPmuEventFilter(deny2, g.sys.now)).toBe(0);
    const allowed = (i: number) => g.vm.allowed(g.v.pmu!, g.v.pmu!.gp[i]!);
    expect([allowed(0), allowed(1)]).toEqual([true, false]);
  });

  it("reprogram_counter(): the guest event reaches perf with AMD64_RAW_EVENT_MASK, bits 35:32 included", () => {
    const g = amdGuest();
    g.select(0, 0x1_0000_00c0n);
    const e = g.backed(0)!;
    expect(e.attr.config & 0xf_0000_ffffn).toBe(0x1_0000_00c0n);
    // Not instructions retired (0xC0): it counts nothing vpmu models.
    g.sys.run(msToNs(2));
    expect(e.count).toBe(0);
  });
});

/** rk3399, one vCPU with the PMUv3 feature, initialised on CPU 0. */
function armSetup() {
  const sys = new System({ machine: preset("rk3399")!, profile: "7.0" });
  const kvm = new KvmArm64(sys, "7.0");
  const vm = kvm.createVm("vm0");
  const v = vm.createVcpu(0, BUILTIN_WORKLOADS.compute!, [1]);
  if (typeof v === "number") throw new Error(`KVM_CREATE_VCPU: ${v}`);
  expect(v.init(1 << KVM_ARM_VCPU_PMU_V3, 0)).toBe(0);
  return { sys, v };
}

describe("unsigned arguments arrive as the C ABI converts them", () => {
  it("KVM_SET_PMU_EVENT_FILTER: nevents is a __u32, so -1 is 4294967295 and E2BIG (kvm_vm_ioctl_set_pmu_event_filter())", () => {
    expect(PmuEventFilter.create(filter({ events: [0xc0], nevents: -1 }))).toBe(-ERRNO.E2BIG);
    expect(PmuEventFilter.create(filter({ events: [0xc0], action: -1 }))).toBe(-ERRNO.EINVAL);
    expect(PmuEventFilter.create(filter({ events: [0xc0], nevents: 1.5 }))).toBe(-ERRNO.EFAULT);
  });

  it("KVM_ARM_VCPU_PMU_V3_SET_NR_COUNTERS: get_user() of an unsigned int, -1 is above any PMU: EINVAL (kvm_arm_pmu_v3_set_nr_counters())", () => {
    const { v } = armSetup();
    expect(v.setAttr(PMU_ATTR.SET_NR_COUNTERS, -1)).toBe(-ERRNO.EINVAL);
    expect(v.setAttr(PMU_ATTR.SET_NR_COUNTERS, 2 ** 32 + 2)).toBe(0);
    expect(v.setAttr(PMU_ATTR.SET_NR_COUNTERS, 1.5)).toBe(-ERRNO.EFAULT);
  });
});

describe("sched_setaffinity(pid, len, mask) reads the mask as get_user_cpu_mask() (kernel/sched/syscalls.c)", () => {
  it("a short len reads that many bytes, a long one is cut to cpumask_size(); bits past nr_cpu_ids are no CPUs", () => {
    // rk3399: 6 CPUs, cpumask_size() = 8 bytes (one unsigned long).
    const sys = new System({ machine: preset("rk3399")! });
    const t = sys.spawn({ comm: "a", workload: BUILTIN_WORKLOADS.compute!, affinity: [0] });
    const mask = (...bytes: number[]) => Uint8Array.from(bytes);
    // CPU 5 is bit 5 of byte 0; bit 6 (CPU 6) is past nr_cpu_ids and ignored.
    sys.schedSetaffinityMask(t.pid, 1, mask(0b0110_0000));
    expect(t.affinity).toEqual([5]);
    // len 4096 (a glibc cpu_set_t is 128 bytes, any len is taken): only 8 bytes are read,
    // so a buffer of 8 is enough.
    sys.schedSetaffinityMask(t.pid, 4096, mask(0b11, 0, 0, 0, 0, 0, 0, 0));
    expect(t.affinity).toEqual([0, 1]);
    // -1 as an unsigned int is 0xffffffff: cut to 8 bytes as well.
    sys.schedSetaffinityMask(t.pid, -1, mask(0b100, 0, 0, 0, 0, 0, 0, 0));
    expect(t.affinity).toEqual([2]);
  });

  it("EFAULT for memory that does not hold the bytes read, before the pid is looked up; ESRCH; EINVAL for no online CPU", () => {
    const sys = new System({ machine: preset("rk3399")! });
    const t = sys.spawn({ comm: "a", workload: BUILTIN_WORKLOADS.compute!, affinity: [0] });
    expect(errOf(() => sys.schedSetaffinityMask(t.pid, 8, Uint8Array.from([1, 0, 0])))).toBe(
      "EFAULT",
    );
    expect(errOf(() => sys.schedSetaffinityMask(t.pid, 2, null))).toBe("EFAULT");
    expect(errOf(() => sys.schedSetaffinityMask(99999, 8, null))).toBe("EFAULT");
    expect(errOf(() => sys.schedSetaffinityMask(99999, 1, Uint8Array.from([1])))).toBe("ESRCH");
    // len 0 copies nothing: an empty mask (kernel: no CPU of cpu_active_mask in it).
    expect(errOf(() => sys.schedSetaffinityMask(t.pid, 0, null))).toBe("EINVAL");
    // Only CPU 6 and 7: past nr_cpu_ids, so no CPU at all.
    expect(errOf(() => sys.schedSetaffinityMask(t.pid, 1, Uint8Array.from([0b1100_0000])))).toBe(
      "EINVAL",
    );
    expect(t.affinity).toEqual([0]);
    sys.setCpuOnline(3, false);
    expect(errOf(() => sys.schedSetaffinityMask(t.pid, 1, Uint8Array.from([0b1000])))).toBe(
      "EINVAL",
    );
  });
});
