import { GUEST_ARM_EVENTS } from "../../guest/arm-perf-stat.js";
import {
  GUEST_AMD_EVENTS,
  GUEST_AMD_UNSUPPORTED,
  GUEST_ARCH_EVENTS,
} from "../../guest/perf-stat.js";
import { isAmdPmu } from "../../hw/pmu-desc.js";
import { BUILTIN_WORKLOADS, type Workload } from "../../hw/workload.js";
import type { ArmVmmFlow } from "../../kvm/arm64/vmm.js";
import type { KvmPmuEventFilter } from "../../kvm/filter.js";
import type { AmdPmuCpuid } from "../../kvm/x86/amd.js";
import { KVM_MAX_NR_AMD_GP_COUNTERS } from "../../kvm/x86/msr.js";
import type { CpuidLeafA } from "../../kvm/x86/pmu.js";
import type { Ns } from "../../sim/time.js";
import type { CompileContext } from "../context.js";
import { forEachItem } from "../perf/events.js";
import { closest } from "../suggest.js";
import { type CallExpectSpec, eventNames, filterEvents } from "../values.js";
import type { GuestPerfSpecFile, VmSpecFile } from "./schema.js";

/** A vCPU of a declared VM. */
export interface VcpuDecl {
  affinity: number[] | undefined;
  start: Ns;
  exitRate: number;
  /** The result its creation (x86) or the VMM's setup and KVM_RUN (arm64) should have. */
  expect?: CallExpectSpec;
}

/** perf stat (or perf record) inside a guest. */
export interface GuestPerfDecl {
  name: string;
  vcpu: number;
  events: string[];
  start: Ns;
  stop: Ns;
  /** perf record: sampling frequency or fixed period. */
  record?: { freq?: number; period?: number };
}

/** A VM as the scenario declares it, defaults applied. */
export interface VmDecl {
  index: number;
  name: string;
  workload: Workload;
  /** An in-kernel irqchip (the vGIC on arm64). */
  irqchip: boolean;
  vcpus: VcpuDecl[];
  perf: GuestPerfDecl[];
  /** x86: guest CPUID leaf 0xA (undefined: what KVM supports). */
  cpuid?: CpuidLeafA;
  /** AMD: the CPUID bits given (the others: what KVM supports). */
  amdCpuid?: Partial<AmdPmuCpuid>;
  /** x86: the event filter set at creation. */
  filter?: KvmPmuEventFilter;
  /** arm64: the VMM flow, the CPU of its main thread, the PMUv3 feature, the vGIC's state. */
  arm: { vmm: ArmVmmFlow; vmmCpu: number; pmu: boolean; vgicReady: boolean };
}

/** Compiles `vms`: names, per-architecture options, vCPUs and the guest measurements. */
export function compileVms(specs: VmSpecFile[] | undefined, ctx: CompileContext): VmDecl[] {
  return (specs ?? []).map((v, i) => {
    const decl = compileVm(v, i, ctx);
    // vCPU threads are host tasks too: actions may name them "<vm>/vcpu<N>".
    for (let j = 0; j < decl.vcpus.length; j++) ctx.names.vcpuThreads.add(`${v.name}/vcpu${j}`);
    return decl;
  });
}

function compileVm(v: VmSpecFile, i: number, ctx: CompileContext): VmDecl {
  const { vms, measurements } = ctx.names;
  if (vms.has(v.name))
    ctx.err(["vms", i, "name"], `VM "${v.name}" is declared twice`, "unique VM names");
  vms.add(v.name);
  if (measurements.has(v.name))
    ctx.err(["vms", i, "name"], `"${v.name}" is also a measurement name`, "distinct names");
  checkCpuidOptions(v, i, ctx);
  if (ctx.machine?.arch !== "arm64") checkX86Options(v, i, ctx);
  else checkArmOptions(v, i, ctx);
  const workload = ctx.workload(v.workload ?? "compute", ["vms", i, "workload"]);
  const vcpus = v.vcpus.map((c, j) => ({
    affinity: ctx.cpuList(c.affinity, ["vms", i, "vcpus", j, "affinity"]),
    start: ctx.dur(c.start, ["vms", i, "vcpus", j, "start"], 0 as Ns),
    exitRate: c.exit_rate ?? 0,
    ...(c.expect ? { expect: c.expect } : {}),
  }));
  const perf = (v.perf ?? []).map((m, j) => compileGuestPerf(m, i, j, vcpus.length, ctx));
  checkGuestPerfOverlap(perf, i, ctx);
  return {
    index: i,
    name: v.name,
    workload: workload ?? BUILTIN_WORKLOADS.compute!,
    irqchip: v.irqchip !== false,
    vcpus,
    perf,
    ...(v.cpuid ? { cpuid: cpuidLeafA(v.cpuid) } : {}),
    ...(v.amd_cpuid ? { amdCpuid: amdCpuid(v.amd_cpuid) } : {}),
    ...(v.filter ? { filter: eventFilter(v.filter) } : {}),
    arm: {
      vmm: v.vmm ?? "qemu",
      vmmCpu: v.vmm_cpu ?? 0,
      pmu: v.pmu !== false,
      vgicReady: v.vgic_ready !== false,
    },
  };
}

/** Whether the machine is an AMD x86 host (its vPMU follows AMD's CPUID, not leaf 0xA). */
function isAmd(ctx: CompileContext): boolean {
  const m = ctx.machine;
  return m !== undefined && m.arch !== "arm64" && m.coreTypes.some((t) => isAmdPmu(t.pmu));
}

/** cpuid is Intel's, amd_cpuid AMD's, and a guest gets at most the counters KVM has. */
function checkCpuidOptions(v: VmSpecFile, i: number, ctx: CompileContext): void {
  const amd = isAmd(ctx);
  if (amd && v.cpuid !== undefined)
    ctx.err(
      ["vms", i, "cpuid"],
      "cpuid is Intel's CPUID leaf 0xA, which KVM does not use on an AMD host",
      "amd_cpuid (PerfCtrExtCore, PerfMonV2, NumCorePmc) on an AMD machine",
    );
  if (!amd && v.amd_cpuid !== undefined)
    ctx.err(
      ["vms", i, "amd_cpuid"],
      "amd_cpuid shapes the vPMU of an AMD host",
      ctx.machine?.arch === "arm64"
        ? "an AMD x86_64 machine"
        : "cpuid (leaf 0xA) on an Intel machine",
    );
  // KVM gives the guest at most this many counters, but the guest's perf believes CPUID
  // and would take #GP on the others. (NumCorePmc counts only with PerfMonV2.)
  const nrPmc = v.amd_cpuid?.perfmon_v2 === false ? undefined : v.amd_cpuid?.num_core_pmc;
  if (amd && nrPmc !== undefined) {
    const kvmMax = Math.min(ctx.machine!.coreTypes[0]!.pmu.nrGp, KVM_MAX_NR_AMD_GP_COUNTERS);
    if (nrPmc > kvmMax)
      ctx.err(
        ["vms", i, "amd_cpuid", "num_core_pmc"],
        `KVM gives the guest at most ${kvmMax} counters, and its perf would fault on the others`,
        `at most ${kvmMax}`,
      );
  }
}

function checkX86Options(v: VmSpecFile, i: number, ctx: CompileContext): void {
  for (const k of ["vmm", "vmm_cpu", "pmu", "vgic_ready"] as const) {
    if (v[k] !== undefined) ctx.err(["vms", i, k], `${k} applies to arm64 VMs`, "an arm64 machine");
  }
}

function checkArmOptions(v: VmSpecFile, i: number, ctx: CompileContext): void {
  for (const k of ["cpuid", "filter"] as const) {
    if (v[k] !== undefined)
      ctx.err(
        ["vms", i, k],
        `${k} applies to x86 VMs`,
        "an x86_64 machine; on arm64 use kvm_set_device_attr filter",
      );
  }
  if (v.vmm_cpu !== undefined && v.vmm_cpu >= ctx.nrCpus)
    ctx.err(["vms", i, "vmm_cpu"], `CPU ${v.vmm_cpu} does not exist`, `a CPU below ${ctx.nrCpus}`);
  if (v.vmm === "none") {
    // No VMM flow: nothing calls KVM_RUN, so a vCPU's expect would never be checked.
    v.vcpus.forEach((c, j) => {
      if (c.expect !== undefined)
        ctx.err(
          ["vms", i, "vcpus", j, "expect"],
          "vmm none makes no KVM_RUN to check",
          "a kvm_run action with its own expect",
        );
    });
  }
}

/** The guest events perf knows on this machine, and those it knows but cannot open (AMD). */
function guestEventNames(ctx: CompileContext): {
  known: Record<string, number>;
  unsupported: readonly string[];
} {
  if (ctx.machine?.arch === "arm64") return { known: GUEST_ARM_EVENTS, unsupported: [] };
  // Known to perf but with no AMD encoding: accepted, and reported <not supported>.
  if (isAmd(ctx)) return { known: GUEST_AMD_EVENTS, unsupported: GUEST_AMD_UNSUPPORTED };
  return { known: GUEST_ARCH_EVENTS, unsupported: [] };
}

function compileGuestPerf(
  m: GuestPerfSpecFile,
  i: number,
  j: number,
  nrVcpus: number,
  ctx: CompileContext,
): GuestPerfDecl {
  const p = (...rest: PropertyKey[]) => ["vms", i, "perf", j, ...rest];
  const names = ctx.names.measurements;
  if (names.has(m.name))
    ctx.err(p("name"), `measurement "${m.name}" is declared twice`, "unique names");
  names.add(m.name);
  const vcpu = m.vcpu ?? 0;
  if (vcpu >= nrVcpus) ctx.err(p("vcpu"), `the VM has ${nrVcpus} vCPUs`, `a vCPU below ${nrVcpus}`);
  const events = eventNames(m.events);
  ctx.counterNames.set(m.name, events);
  const { known, unsupported } = guestEventNames(ctx);
  const guestNames = [...Object.keys(known), ...unsupported];
  forEachItem(m.events, p("events"), ctx, (item) => {
    const e = item.trim();
    if (Object.hasOwn(known, e) || unsupported.includes(e) || /^r[0-9a-fA-F]{1,4}$/.test(e))
      return undefined;
    const best = closest(e, guestNames);
    if (best !== undefined)
      return { at: e, message: `unknown guest event '${e}'`, expected: `did you mean '${best}'?` };
    return {
      at: e,
      message: `guest event "${e}" is not an architectural event or rNNNN`,
      expected: `one of: ${guestNames.join(", ")} or r0011`,
    };
  });
  const start = ctx.dur(m.start, p("start"), 0 as Ns);
  const stop = ctx.dur(m.stop, p("stop"), ctx.duration);
  if (stop <= start || stop > ctx.duration)
    ctx.err(p("stop"), "stops before it starts or after the run", "start < stop <= duration");
  if (m.record && ctx.machine?.arch === "arm64")
    ctx.err(p("record"), "guest perf record is modelled on x86 guests only", "no record on arm64");
  return { name: m.name, vcpu, events, start, stop, ...(m.record ? { record: m.record } : {}) };
}

/**
 * The guest's perf stat or perf record programs every counter of the vCPU's PMU itself, so
 * two of them at once on one vCPU would overwrite each other's counters.
 */
function checkGuestPerfOverlap(perfs: GuestPerfDecl[], i: number, ctx: CompileContext): void {
  perfs.forEach((m, j) => {
    const other = perfs.findIndex(
      (o, k) => k < j && o.vcpu === m.vcpu && o.start < m.stop && m.start < o.stop,
    );
    if (other >= 0)
      ctx.err(
        ["vms", i, "perf", j, "start"],
        `overlaps "${perfs[other]!.name}" on vCPU ${m.vcpu}: a guest measurement uses the whole vPMU`,
        `start at or after ${perfs[other]!.stop / 1e6}ms, or another vCPU`,
      );
  });
}

function cpuidLeafA(c: NonNullable<VmSpecFile["cpuid"]>): CpuidLeafA {
  return {
    version: c.version,
    nrGp: c.gp,
    gpWidth: c.gp_width ?? 48,
    nrFixed: c.fixed ?? 0,
    fixedWidth: c.fixed_width ?? 48,
  };
}

function amdCpuid(c: NonNullable<VmSpecFile["amd_cpuid"]>): Partial<AmdPmuCpuid> {
  return {
    ...(c.perfctr_core !== undefined ? { perfCtrCore: c.perfctr_core } : {}),
    ...(c.perfmon_v2 !== undefined ? { perfMonV2: c.perfmon_v2 } : {}),
    ...(c.num_core_pmc !== undefined ? { numCorePmc: c.num_core_pmc } : {}),
  };
}

function eventFilter(f: NonNullable<VmSpecFile["filter"]>): KvmPmuEventFilter {
  return {
    action: f.action === "allow" ? 0 : 1,
    events: filterEvents(f.events),
    fixed_counter_bitmap: f.fixed_counter_bitmap ?? 0,
    flags: f.masked ? 1 : 0,
  };
}
