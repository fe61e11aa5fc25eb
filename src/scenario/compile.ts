import { INVARIANT_RULES } from "../check/invariants.js";
import { GUEST_ARM_EVENTS } from "../guest/arm-perf-stat.js";
import { GUEST_AMD_EVENTS, GUEST_AMD_UNSUPPORTED, GUEST_ARCH_EVENTS } from "../guest/perf-stat.js";
import { parseCpuList } from "../hw/cpulist.js";
import type { CoreType, MachineDesc } from "../hw/machine.js";
import { ARMV8_COMMON_EVENTS, armv8PmuDesc, isAmdPmu, x86PmuDesc } from "../hw/pmu-desc.js";
import { PRESETS, preset } from "../hw/presets.js";
import { MODE_NAMES, QUANTITY_NAMES, quantityByName } from "../hw/quantity.js";
import { BUILTIN_WORKLOADS, type Workload, type WorkloadProfile } from "../hw/workload.js";
import { DEFAULT_KVM_COSTS, type KvmCosts } from "../kvm/costs.js";
import { KVM_MAX_NR_AMD_GP_COUNTERS } from "../kvm/x86/msr.js";
import { isErrnoName } from "../sim/errno.js";
import { type Ns, parseDuration } from "../sim/time.js";
import { type Diagnostic, formatPath } from "./diagnostics.js";
import type {
  ActionSpec,
  ExpectationSpec,
  PerfMeasurementSpec,
  ScenarioFile,
  VmSpecFile,
} from "./schema.js";
import type { ScenarioSource } from "./source.js";
import { deriveVariant, inFileOrder, onePerEntry, type VariantContext } from "./variants.js";

/** Kernel options of a scenario, with defaults applied. */
export interface KernelOptions {
  profile: "7.0" | "5.18" | "rfc-v1";
  hz: number;
  schedLatency: Ns;
  schedMinGranularity: Ns;
  /** undefined: the preset's default (on for x86, as a stock kernel). */
  nmiWatchdog: boolean | undefined;
  perfEventParanoid: number;
  perfEventMaxSampleRate: number;
  /** Per-PMU multiplexing interval override (ms), by PMU name. */
  muxIntervalMs: Record<string, number>;
  nrOpen: number;
  rfcFixSiblingLoop: boolean;
  kvm: { enablePmu: boolean; enableMediatedPmu: boolean; costs: KvmCosts };
}

/** A VM as the scenario declares it. */
export interface VmDecl {
  index: number;
  spec: VmSpecFile;
  workload: Workload;
  vcpus: Array<{
    affinity: number[] | undefined;
    start: Ns;
    exitRate: number;
    expect?: { ret?: number; errno?: string; ok?: boolean };
  }>;
  perf: Array<{
    name: string;
    vcpu: number;
    events: string[];
    start: Ns;
    stop: Ns;
    /** perf record: sampling frequency or fixed period. */
    record?: { freq?: number; period?: number };
  }>;
}

/** A task as the scenario declares it. */
export interface TaskDecl {
  name: string;
  workload: Workload;
  affinity: number[] | undefined;
  start: Ns;
  duty: { run: Ns; sleep: Ns } | null;
  exitAfter: Ns | null;
}

/** A timed action with its position in the file. */
export interface ActionDecl {
  index: number;
  at: Ns;
  spec: ActionSpec;
  cpus?: number[];
}

/** A perf measurement (perf stat-like). */
export interface MeasurementDecl {
  index: number;
  spec: PerfMeasurementSpec;
  events: string[];
  cpus: number[] | undefined;
  task: string | undefined;
  start: Ns;
  stop: Ns;
  interval: Ns | null;
}

/** A comparison to make at the end of the run. */
export type Comparator =
  | { kind: "equals"; value: number | string | boolean }
  | { kind: "approx"; value: number; tolerance: Tolerance }
  | { kind: "range"; min: number | undefined; max: number | undefined }
  | { kind: "one_of"; values: Array<number | string | boolean> }
  | { kind: "near_truth"; tolerance: Tolerance };

/** An absolute or relative tolerance. */
export type Tolerance = { abs: number } | { pct: number };

/** An end-of-run expectation. */
export interface ExpectationDecl {
  index: number;
  label: string;
  spec: ExpectationSpec;
  cmp: Comparator;
  cpus?: number[];
}

/** A compiled scenario, ready to run. */
export interface Scenario {
  name: string;
  description: string;
  seed: number;
  duration: Ns;
  machine: MachineDesc;
  offline: number[];
  kernel: KernelOptions;
  workloads: Map<string, Workload>;
  tasks: TaskDecl[];
  perf: MeasurementDecl[];
  vms: VmDecl[];
  actions: ActionDecl[];
  expect: ExpectationDecl[];
  expectedFindings: string[];
  source: ScenarioSource | undefined;
  /** The variant this scenario is (its name), or undefined for the document as written. */
  variant: string | undefined;
  /** The compiled variants of the document (empty in a variant itself, or without variants). */
  variants: VariantDecl[];
}

/** A variant: the document with its `set` values written in, compiled. */
export interface VariantDecl {
  index: number;
  name: string;
  description: string;
  /** The `set` entries as written. */
  set: Record<string, unknown>;
  scenario: Scenario;
}

/** Longest simulated run a scenario may ask for (a resource limit). */
export const MAX_DURATION = 3_600_000_000_000 as Ns;

/** Default run length when a scenario gives none. */
export const DEFAULT_DURATION = 100_000_000 as Ns;

const TIME_FIELDS = new Set(["runtime", "busy", "idle", "enabled", "running"]);

/**
 * Resolves names and units and checks everything the schema cannot: references between
 * sections, CPU numbers against the machine, and one subject and one comparison per
 * expectation. Problems come back as diagnostics at their line and column.
 */
export function compileScenario(
  f: ScenarioFile,
  src: ScenarioSource | undefined,
  file = src?.file ?? "<scenario>",
  variant?: VariantContext,
): { ok: true; scenario: Scenario } | { ok: false; diagnostics: Diagnostic[] } {
  const diags: Diagnostic[] = [];
  const err = (path: PropertyKey[], message: string, expected?: string): void => {
    if (variant) {
      diags.push(variant.diagnostic(formatPath(path), message, expected, path));
      return;
    }
    const pos = src ? src.position(path) : { line: 1, col: 1 };
    diags.push({
      file,
      ...pos,
      path: formatPath(path),
      message,
      ...(expected ? { expected } : {}),
    });
  };
  const dur = (v: string | number | undefined, path: PropertyKey[], dflt: Ns): Ns => {
    if (v === undefined) return dflt;
    const d = parseDuration(v);
    if (d === undefined) {
      err(path, `${JSON.stringify(v)} is not a duration`, "e.g. 250ms");
      return dflt;
    }
    return d;
  };

  // Machine.
  const machine = compileMachine(f.machine, err);
  const nrCpus = machine?.cpus.length ?? 0;
  const offline = typeof f.machine === "object" ? (f.machine.offline ?? []) : [];
  offline.forEach((c, i) => {
    if (c >= nrCpus)
      err(["machine", "offline", i], `CPU ${c} does not exist`, `a CPU below ${nrCpus}`);
  });
  if (machine && offline.length > 0 && offline.length >= nrCpus) {
    err(["machine", "offline"], "every CPU is offline", "at least one online CPU");
  }
  const cpuList = (v: string | number | undefined, path: PropertyKey[]): number[] | undefined => {
    if (v === undefined) return undefined;
    if (typeof v === "string" && v.trim() === "all")
      return Array.from({ length: nrCpus }, (_, i) => i);
    const r = parseCpuList(v);
    if (typeof r === "string") {
      err(path, r, 'a CPU list such as "0-3,6"');
      return undefined;
    }
    const bad = r.find((c) => c >= nrCpus);
    if (machine && bad !== undefined) {
      err(path, `CPU ${bad} does not exist on ${machine.name}`, `CPUs 0-${nrCpus - 1}`);
      return undefined;
    }
    return r;
  };

  const duration = dur(f.duration, ["duration"], DEFAULT_DURATION);
  if (duration <= 0) err(["duration"], "the run has no length", "a positive duration");
  if (duration > MAX_DURATION)
    err(["duration"], `${duration / 1e9}s is longer than vpmu runs`, "at most 3600s");

  // Kernel.
  const k = f.kernel ?? {};
  const kernel: KernelOptions = {
    profile: k.profile ?? "7.0",
    hz: k.hz ?? 250,
    schedLatency: dur(k.sched_latency, ["kernel", "sched_latency"], 6_000_000 as Ns),
    schedMinGranularity: dur(
      k.sched_min_granularity,
      ["kernel", "sched_min_granularity"],
      750_000 as Ns,
    ),
    nmiWatchdog: k.nmi_watchdog,
    perfEventParanoid: k.perf_event_paranoid ?? 2,
    perfEventMaxSampleRate: k.perf_event_max_sample_rate ?? 100_000,
    muxIntervalMs: k.perf_event_mux_interval_ms ?? {},
    nrOpen: k.nr_open ?? 1024,
    rfcFixSiblingLoop: k.rfc_fix_sibling_loop ?? false,
    kvm: {
      enablePmu: k.kvm?.enable_pmu ?? true,
      enableMediatedPmu: k.kvm?.enable_mediated_pmu ?? false,
      costs: {
        exitBaseNs: k.kvm?.costs?.exit_base_ns ?? DEFAULT_KVM_COSTS.exitBaseNs,
        pmuMsrNs: k.kvm?.costs?.pmu_msr_ns ?? DEFAULT_KVM_COSTS.pmuMsrNs,
        perfEventCreateNs:
          k.kvm?.costs?.perf_event_create_ns ?? DEFAULT_KVM_COSTS.perfEventCreateNs,
        pmuSwitchNs: k.kvm?.costs?.pmu_switch_ns ?? DEFAULT_KVM_COSTS.pmuSwitchNs,
        pmiInjectNs: k.kvm?.costs?.pmi_inject_ns ?? DEFAULT_KVM_COSTS.pmiInjectNs,
        perfEventPauseNs: k.kvm?.costs?.perf_event_pause_ns ?? DEFAULT_KVM_COSTS.perfEventPauseNs,
        perfEventPeriodNs:
          k.kvm?.costs?.perf_event_period_ns ?? DEFAULT_KVM_COSTS.perfEventPeriodNs,
        perfEventEnableNs:
          k.kvm?.costs?.perf_event_enable_ns ?? DEFAULT_KVM_COSTS.perfEventEnableNs,
        perfCtxEventNs: k.kvm?.costs?.perf_ctx_event_ns ?? DEFAULT_KVM_COSTS.perfCtxEventNs,
        hostPmiNs: k.kvm?.costs?.host_pmi_ns ?? DEFAULT_KVM_COSTS.hostPmiNs,
        guestPmiNs: k.kvm?.costs?.guest_pmi_ns ?? DEFAULT_KVM_COSTS.guestPmiNs,
        guestSampleNs: k.kvm?.costs?.guest_sample_ns ?? DEFAULT_KVM_COSTS.guestSampleNs,
        guestDrainNs: k.kvm?.costs?.guest_drain_ns ?? DEFAULT_KVM_COSTS.guestDrainNs,
      },
    },
  };
  if (machine) {
    const pmuNames = new Set(machine.coreTypes.map((t) => t.pmu.name));
    for (const u of machine.uncore) pmuNames.add(u.name);
    if (machine.tracePmu) pmuNames.add(machine.tracePmu);
    pmuNames.add("software");
    for (const name of Object.keys(kernel.muxIntervalMs)) {
      if (!pmuNames.has(name)) {
        err(
          ["kernel", "perf_event_mux_interval_ms", name],
          `no PMU named "${name}"`,
          `one of: ${[...pmuNames].join(", ")}`,
        );
      }
    }
  }

  // Workloads.
  const workloads = new Map<string, Workload>(Object.entries(BUILTIN_WORKLOADS));
  for (const [name, def] of Object.entries(f.workloads ?? {})) {
    const baseName = def.base ?? "compute";
    const base = workloads.get(baseName);
    if (!base) {
      err(
        ["workloads", name, "base"],
        `unknown workload "${baseName}"`,
        `one of: ${[...workloads.keys()].join(", ")}`,
      );
      continue;
    }
    const { base: _b, per_core_type, ...fields } = def;
    const overrides: Record<string, Partial<WorkloadProfile>> = {};
    for (const [ct, o] of Object.entries(per_core_type ?? {})) {
      if (machine && !machine.coreTypes.some((t) => t.name === ct)) {
        err(
          ["workloads", name, "per_core_type", ct],
          `no core type "${ct}" on ${machine.name}`,
          `one of: ${machine.coreTypes.map((t) => t.name).join(", ")}`,
        );
      }
      overrides[ct] = profileFields(o);
    }
    workloads.set(name, {
      name,
      base: { ...base.base, ...profileFields(fields) },
      overrides: { ...base.overrides, ...overrides },
    });
  }

  // Tasks.
  const tasks: TaskDecl[] = [];
  const taskNames = new Set<string>();
  (f.tasks ?? []).forEach((t, i) => {
    if (taskNames.has(t.name))
      err(["tasks", i, "name"], `task "${t.name}" is declared twice`, "unique task names");
    taskNames.add(t.name);
    const w = workloads.get(t.workload);
    if (!w)
      err(
        ["tasks", i, "workload"],
        `unknown workload "${t.workload}"`,
        `one of: ${[...workloads.keys()].join(", ")}`,
      );
    const start = dur(t.start, ["tasks", i, "start"], 0 as Ns);
    if (start > duration)
      err(["tasks", i, "start"], "starts after the end of the run", `at most ${duration}ns`);
    tasks.push({
      name: t.name,
      workload: w ?? BUILTIN_WORKLOADS.compute!,
      affinity: cpuList(t.affinity, ["tasks", i, "affinity"]),
      start,
      duty: t.duty
        ? {
            run: dur(t.duty.run, ["tasks", i, "duty", "run"], 0 as Ns),
            sleep: dur(t.duty.sleep, ["tasks", i, "duty", "sleep"], 0 as Ns),
          }
        : null,
      exitAfter:
        t.exit_after === undefined ? null : dur(t.exit_after, ["tasks", i, "exit_after"], 0 as Ns),
    });
    if (t.duty && parseDuration(t.duty.run) === 0)
      err(["tasks", i, "duty", "run"], "a duty cycle needs run time", "a positive duration");
    // Resource limit: nanosecond duty cycles would schedule millions of wakeups per run.
    for (const k of ["run", "sleep"] as const) {
      const d = t.duty ? parseDuration(t.duty[k]) : undefined;
      if (d !== undefined && d > 0 && d < 1000)
        err(
          ["tasks", i, "duty", k],
          `${t.duty![k]} is shorter than the 1us minimum`,
          "at least 1us",
        );
    }
  });
  const needTask = (name: string | undefined, path: PropertyKey[], vcpuOk = false): void => {
    if (name !== undefined && !taskNames.has(name) && !(vcpuOk && vcpuTaskNames.has(name))) {
      err(
        path,
        `unknown task "${name}"`,
        taskNames.size ? `one of: ${[...taskNames].join(", ")}` : "a task declared under tasks",
      );
    }
  };

  // Perf measurements.
  const perf: MeasurementDecl[] = [];
  const measNames = new Set<string>();
  (f.perf ?? []).forEach((m, i) => {
    if (measNames.has(m.name))
      err(["perf", i, "name"], `measurement "${m.name}" is declared twice`, "unique names");
    measNames.add(m.name);
    needTask(m.task, ["perf", i, "task"]);
    if (m.task !== undefined && m.cpus !== undefined) {
      err(["perf", i, "cpus"], "give either cpus (system-wide) or task, not both", "one target");
    }
    const events = (Array.isArray(m.events) ? m.events : splitEvents(m.events)).map((e) =>
      e.trim(),
    );
    const start = dur(m.start, ["perf", i, "start"], 0 as Ns);
    const stop = dur(m.stop, ["perf", i, "stop"], duration);
    if (stop <= start) err(["perf", i, "stop"], "stops before it starts", "stop after start");
    if (stop > duration)
      err(["perf", i, "stop"], "after the end of the run", `at most the duration, ${duration}ns`);
    if (start >= duration)
      err(["perf", i, "start"], "at or after the end of the run", `before ${duration}ns`);
    const interval =
      m.interval === undefined ? null : dur(m.interval, ["perf", i, "interval"], 0 as Ns);
    if (interval !== null && interval <= 0)
      err(["perf", i, "interval"], "zero interval", "a positive duration");
    perf.push({
      index: i,
      spec: m,
      events,
      cpus:
        m.task === undefined ? (cpuList(m.cpus ?? "all", ["perf", i, "cpus"]) ?? []) : undefined,
      task: m.task,
      start,
      stop,
      interval,
    });
  });

  // VMs.
  const vms: VmDecl[] = [];
  const vcpuTaskNames = new Set<string>();
  const vmNames = new Set<string>();
  // Kernel options that only matter to VMs: checked once, when the scenario has VMs.
  if ((f.vms ?? []).length > 0) {
    if (k.rfc_fix_sibling_loop !== undefined && kernel.profile !== "rfc-v1") {
      err(
        ["kernel", "rfc_fix_sibling_loop"],
        "only meaningful with the rfc-v1 profile",
        'profile: "rfc-v1"',
      );
    }
    if (machine?.arch === "arm64" && kernel.profile === "rfc-v1")
      err(["kernel", "profile"], "rfc-v1 is an x86 profile", '"7.0" or "5.18" on arm64');
  }
  (f.vms ?? []).forEach((v, i) => {
    if (vmNames.has(v.name))
      err(["vms", i, "name"], `VM "${v.name}" is declared twice`, "unique VM names");
    vmNames.add(v.name);
    if (measNames.has(v.name))
      err(["vms", i, "name"], `"${v.name}" is also a measurement name`, "distinct names");
    const arm = machine?.arch === "arm64";
    const amd = machine !== undefined && !arm && machine.coreTypes.some((t) => isAmdPmu(t.pmu));
    if (amd && v.cpuid !== undefined)
      err(
        ["vms", i, "cpuid"],
        "cpuid is Intel's CPUID leaf 0xA, which KVM does not use on an AMD host",
        "amd_cpuid (PerfCtrExtCore, PerfMonV2, NumCorePmc) on an AMD machine",
      );
    if (!amd && v.amd_cpuid !== undefined)
      err(
        ["vms", i, "amd_cpuid"],
        "amd_cpuid shapes the vPMU of an AMD host",
        arm ? "an AMD x86_64 machine" : "cpuid (leaf 0xA) on an Intel machine",
      );
    // KVM gives the guest at most this many counters, but the guest's perf believes CPUID
    // and would take #GP on the others.
    // (NumCorePmc counts only with PerfMonV2.)
    const nrPmc = v.amd_cpuid?.perfmon_v2 === false ? undefined : v.amd_cpuid?.num_core_pmc;
    if (amd && nrPmc !== undefined) {
      const kvmMax = Math.min(machine.coreTypes[0]!.pmu.nrGp, KVM_MAX_NR_AMD_GP_COUNTERS);
      if (nrPmc > kvmMax)
        err(
          ["vms", i, "amd_cpuid", "num_core_pmc"],
          `KVM gives the guest at most ${kvmMax} counters, and its perf would fault on the others`,
          `at most ${kvmMax}`,
        );
    }
    const guestEvents = arm ? GUEST_ARM_EVENTS : amd ? GUEST_AMD_EVENTS : GUEST_ARCH_EVENTS;
    // Known to perf but with no AMD encoding: accepted, and reported <not supported>.
    const unsupported = amd ? GUEST_AMD_UNSUPPORTED : [];
    if (!arm) {
      for (const k2 of ["vmm", "vmm_cpu", "pmu", "vgic_ready"] as const) {
        if (v[k2] !== undefined)
          err(["vms", i, k2], `${k2} applies to arm64 VMs`, "an arm64 machine");
      }
    } else {
      for (const k2 of ["cpuid", "filter"] as const) {
        if (v[k2] !== undefined)
          err(
            ["vms", i, k2],
            `${k2} applies to x86 VMs`,
            "an x86_64 machine; on arm64 use kvm_set_device_attr filter",
          );
      }
      if (v.vmm_cpu !== undefined && v.vmm_cpu >= nrCpus)
        err(["vms", i, "vmm_cpu"], `CPU ${v.vmm_cpu} does not exist`, `a CPU below ${nrCpus}`);
      if (v.vmm === "none") {
        // No VMM flow: nothing calls KVM_RUN, so a vCPU's expect would never be checked.
        v.vcpus.forEach((c, j) => {
          if (c.expect !== undefined)
            err(
              ["vms", i, "vcpus", j, "expect"],
              "vmm none makes no KVM_RUN to check",
              "a kvm_run action with its own expect",
            );
        });
      }
    }
    const wname = v.workload ?? "compute";
    const w = workloads.get(wname);
    if (!w)
      err(
        ["vms", i, "workload"],
        `unknown workload "${wname}"`,
        `one of: ${[...workloads.keys()].join(", ")}`,
      );
    const vcpus = v.vcpus.map((c, j) => ({
      affinity: cpuList(c.affinity, ["vms", i, "vcpus", j, "affinity"]),
      start: dur(c.start, ["vms", i, "vcpus", j, "start"], 0 as Ns),
      exitRate: c.exit_rate ?? 0,
      ...(c.expect ? { expect: c.expect } : {}),
    }));
    const perfs = (v.perf ?? []).map((m, j) => {
      if (measNames.has(m.name))
        err(
          ["vms", i, "perf", j, "name"],
          `measurement "${m.name}" is declared twice`,
          "unique names",
        );
      measNames.add(m.name);
      const vcpu = m.vcpu ?? 0;
      if (vcpu >= vcpus.length)
        err(
          ["vms", i, "perf", j, "vcpu"],
          `the VM has ${vcpus.length} vCPUs`,
          `a vCPU below ${vcpus.length}`,
        );
      const events = (Array.isArray(m.events) ? m.events : splitEvents(m.events)).map((e) =>
        e.trim(),
      );
      for (const [k2, e] of events.entries()) {
        if (
          !(
            Object.hasOwn(guestEvents, e) ||
            unsupported.includes(e) ||
            /^r[0-9a-fA-F]{1,4}$/.test(e)
          )
        ) {
          err(
            ["vms", i, "perf", j, "events"],
            `guest event "${e}" is not an architectural event or rNNNN`,
            `one of: ${[...Object.keys(guestEvents), ...unsupported].join(", ")} or r0011`,
          );
          void k2;
        }
      }
      const start = dur(m.start, ["vms", i, "perf", j, "start"], 0 as Ns);
      const stop = dur(m.stop, ["vms", i, "perf", j, "stop"], duration);
      if (stop <= start || stop > duration)
        err(
          ["vms", i, "perf", j, "stop"],
          "stops before it starts or after the run",
          "start < stop <= duration",
        );
      if (m.record && machine?.arch === "arm64")
        err(
          ["vms", i, "perf", j, "record"],
          "guest perf record is modelled on x86 guests only",
          "no record on arm64",
        );
      return { name: m.name, vcpu, events, start, stop, ...(m.record ? { record: m.record } : {}) };
    });
    // The guest's perf stat or perf record programs every counter of the vCPU's PMU itself,
    // so two of them at once on one vCPU would overwrite each other's counters.
    perfs.forEach((m, j) => {
      const other = perfs.findIndex(
        (o, k) => k < j && o.vcpu === m.vcpu && o.start < m.stop && m.start < o.stop,
      );
      if (other >= 0)
        err(
          ["vms", i, "perf", j, "start"],
          `overlaps "${perfs[other]!.name}" on vCPU ${m.vcpu}: a guest measurement uses the whole vPMU`,
          `start at or after ${perfs[other]!.stop / 1e6}ms, or another vCPU`,
        );
    });
    vms.push({ index: i, spec: v, workload: w ?? BUILTIN_WORKLOADS.compute!, vcpus, perf: perfs });
    // vCPU threads are host tasks too: actions may name them "<vm>/vcpu<N>".
    for (let j = 0; j < vcpus.length; j++) vcpuTaskNames.add(`${v.name}/vcpu${j}`);
  });
  // ...and so are the vCPUs that kvm_create_vcpu actions create.
  for (const a of f.actions ?? []) {
    if (a.do === "kvm_create_vcpu" && vmNames.has(a.vm)) vcpuTaskNames.add(`${a.vm}/vcpu${a.id}`);
  }
  const needVm = (name: string, path: PropertyKey[]): void => {
    if (!vmNames.has(name))
      err(
        path,
        `unknown VM "${name}"`,
        vmNames.size ? `one of: ${[...vmNames].join(", ")}` : "a VM declared under vms",
      );
  };

  // Actions.
  const actions: ActionDecl[] = [];
  const fdNames = new Set<string>();
  (f.actions ?? []).forEach((a, i) => {
    const at = dur(a.at, ["actions", i, "at"], 0 as Ns);
    if (at > duration)
      err(["actions", i, "at"], "after the end of the run", `at most ${duration}ns`);
    const decl: ActionDecl = { index: i, at, spec: a };
    switch (a.do) {
      case "sched_setaffinity": {
        needTask(a.task, ["actions", i, "task"], true);
        const r =
          typeof a.cpus === "string" && a.cpus.trim() === "all" ? undefined : parseCpuList(a.cpus);
        if (typeof r === "string") err(["actions", i, "cpus"], r, 'a CPU list such as "0-3"');
        else decl.cpus = r ?? Array.from({ length: nrCpus }, (_, c) => c);
        break;
      }
      case "kill":
        needTask(a.task, ["actions", i, "task"], true);
        break;
      case "perf_event_open":
        needTask(a.task, ["actions", i, "task"]);
        if (machine && typeof a.attr?.type === "string") {
          const names = [
            ...machine.coreTypes.map((t) => t.pmu.name),
            ...machine.uncore.map((u) => u.name),
            ...(machine.tracePmu ? [machine.tracePmu] : []),
            "software",
          ];
          if (!names.includes(a.attr.type))
            err(
              ["actions", i, "attr", "type"],
              `no PMU named "${a.attr.type}" on ${machine.name}`,
              `one of: ${names.join(", ")} or a type id`,
            );
        }
        if ((a.event === undefined) === (a.attr === undefined)) {
          err(["actions", i], "give exactly one of event (perf syntax) or attr", "event or attr");
        }
        if (a.task !== undefined && a.pid !== undefined)
          err(["actions", i, "pid"], "give task or pid, not both", "one target");
        if (a.group !== undefined && !fdNames.has(a.group)) {
          err(
            ["actions", i, "group"],
            `no earlier perf_event_open named "${a.group}"`,
            "the name of an earlier open",
          );
        }
        if (a.name !== undefined) fdNames.add(a.name);
        break;
      case "kvm_arm_vcpu_init":
      case "kvm_set_device_attr":
      case "kvm_has_device_attr":
      case "kvm_get_device_attr":
      case "kvm_run":
        needVm(a.vm, ["actions", i, "vm"]);
        if (machine && machine.arch !== "arm64")
          err(["actions", i, "do"], `${a.do} is an arm64 call`, "an arm64 machine");
        break;
      case "kvm_enable_cap":
      case "kvm_set_pmu_event_filter":
        if (machine && machine.arch !== "x86_64")
          err(
            ["actions", i, "do"],
            `${a.do} is an x86 call`,
            a.do === "kvm_set_pmu_event_filter"
              ? "an x86_64 machine; on arm64 use kvm_set_device_attr with attr: filter"
              : "an x86_64 machine",
          );
        needVm(a.vm, ["actions", i, "vm"]);
        break;
      case "kvm_create_vcpu":
      case "kvm_destroy_vm":
        needVm(a.vm, ["actions", i, "vm"]);
        if (a.do === "kvm_create_vcpu") decl.cpus = cpuList(a.affinity, ["actions", i, "affinity"]);
        break;
      case "ioctl":
      case "read":
      case "close":
        if (!fdNames.has(a.fd))
          err(
            ["actions", i, "fd"],
            `no earlier perf_event_open named "${a.fd}"`,
            "the name of an earlier open",
          );
        break;
      default:
        break;
    }
    if (a.expect) {
      const keys = Object.keys(a.expect);
      if (keys.length !== 1)
        err(["actions", i, "expect"], "give exactly one of ret, errno or ok", "one result");
      if (a.expect.errno !== undefined && !isErrnoName(a.expect.errno)) {
        err(
          ["actions", i, "expect", "errno"],
          `unknown errno "${a.expect.errno}"`,
          "an errno name such as EBUSY",
        );
      }
    }
    actions.push(decl);
  });
  actions.sort((a, b) => a.at - b.at || a.index - b.index);

  // Expectations.
  const expect: ExpectationDecl[] = [];
  const variantNames = new Set<string>();
  (f.variants ?? []).forEach((v, i) => {
    if (variantNames.has(v.name))
      err(["variants", i, "name"], `variant "${v.name}" is declared twice`, "unique variant names");
    variantNames.add(v.name);
  });
  (f.expect ?? []).forEach((e, i) => {
    const p = (...rest: PropertyKey[]) => ["expect", i, ...rest];
    if (e.variant !== undefined) {
      // The document as written checks the name; each variant checks its own expectations.
      if (!variant && !variantNames.has(e.variant)) {
        err(
          p("variant"),
          `unknown variant "${e.variant}"`,
          variantNames.size
            ? `one of: ${[...variantNames].join(", ")}`
            : "a name declared under variants",
        );
      }
      if (e.variant !== variant?.name) return;
    }
    const subjects = (["truth", "task", "cpu", "event", "vcpu"] as const).filter(
      (s) => e[s] !== undefined,
    );
    if (subjects.length !== 1) {
      err(
        p(),
        subjects.length === 0 ? "no subject" : `several subjects (${subjects.join(", ")})`,
        "exactly one of truth, task, cpu, event, vcpu",
      );
      return;
    }
    const decl: Partial<ExpectationDecl> = { index: i, spec: e };
    let isTime = false;
    if (e.truth) {
      if (quantityByName(e.truth.event) === undefined) {
        err(
          p("truth", "event"),
          `unknown quantity "${e.truth.event}"`,
          `one of: ${QUANTITY_NAMES.join(", ")}`,
        );
      }
      needTask(e.truth.task, p("truth", "task"));
      decl.cpus = cpuList(e.truth.cpus, p("truth", "cpus"));
    }
    if (e.task) {
      needTask(e.task.name, p("task", "name"));
      isTime = TIME_FIELDS.has(e.task.field);
    }
    if (e.cpu) {
      if (machine && e.cpu.id >= nrCpus)
        err(p("cpu", "id"), `CPU ${e.cpu.id} does not exist`, `a CPU below ${nrCpus}`);
      isTime = TIME_FIELDS.has(e.cpu.field);
    }
    if (e.event) {
      const ev = e.event;
      if ((ev.measurement === undefined) === (ev.fd === undefined)) {
        err(p("event"), "give exactly one of measurement or fd", "measurement or fd");
      }
      if (ev.measurement !== undefined && !measNames.has(ev.measurement)) {
        err(
          p("event", "measurement"),
          `unknown measurement "${ev.measurement}"`,
          "a name under perf",
        );
      }
      if (ev.fd !== undefined && !fdNames.has(ev.fd)) {
        err(
          p("event", "fd"),
          `no perf_event_open named "${ev.fd}"`,
          "the name of a perf_event_open action",
        );
      }
      if (ev.fd !== undefined && (ev.event !== undefined || ev.cpu !== undefined)) {
        err(
          p("event", ev.event !== undefined ? "event" : "cpu"),
          "an fd names one event on one CPU already",
          "only fd and field",
        );
      }
      if (ev.fd !== undefined && (ev.field === "truth" || ev.field === "samples"))
        err(
          p("event", "field"),
          ev.field === "truth"
            ? "no ground truth is kept for a raw fd"
            : "samples are counted by a perf record measurement, not a raw fd",
          "count, scaled, enabled, running, state or percent",
        );
      if (ev.measurement !== undefined && ev.event === undefined) {
        err(p("event", "event"), "which event of the measurement?", "event: as written under perf");
      }
      isTime = TIME_FIELDS.has(ev.field);
    }
    const num = (v: number | string | undefined, key: string): number | undefined => {
      if (v === undefined || typeof v === "number") return v;
      if (isTime) {
        const d = parseDuration(v);
        if (d !== undefined) return d;
      }
      err(
        p(key),
        `${JSON.stringify(v)} is not a number${isTime ? " or a duration" : ""}`,
        isTime ? "e.g. 40ms" : "a number",
      );
      return undefined;
    };
    const cmps = (["equals", "approx", "one_of", "near_truth"] as const).filter(
      (c) => e[c] !== undefined,
    );
    const hasRange = e.min !== undefined || e.max !== undefined;
    if (cmps.length + (hasRange ? 1 : 0) !== 1) {
      err(
        p(),
        cmps.length === 0 && !hasRange ? "no comparison" : "several comparisons",
        "exactly one of equals, approx (+ tolerance), min/max, one_of, near_truth",
      );
      return;
    }
    if (e.tolerance !== undefined && e.approx === undefined)
      err(p("tolerance"), "tolerance without approx", "approx: value");
    if (e.equals !== undefined) {
      let v = e.equals;
      if (typeof v === "string" && isTime && parseDuration(v) !== undefined) v = parseDuration(v)!;
      decl.cmp = { kind: "equals", value: v };
    } else if (e.approx !== undefined) {
      if (e.tolerance === undefined)
        err(p("approx"), "approx needs a tolerance", "tolerance: 2% or an absolute number");
      decl.cmp = {
        kind: "approx",
        value: num(e.approx, "approx") ?? 0,
        tolerance: tolerance(e.tolerance ?? 0),
      };
    } else if (e.one_of !== undefined) {
      decl.cmp = { kind: "one_of", values: e.one_of };
    } else if (e.near_truth !== undefined) {
      if (!e.event || e.event.measurement === undefined) {
        err(
          p("near_truth"),
          "near_truth compares a measurement's event with its ground truth",
          "an event subject with measurement",
        );
      }
      decl.cmp = { kind: "near_truth", tolerance: tolerance(e.near_truth) };
    } else {
      decl.cmp = { kind: "range", min: num(e.min, "min"), max: num(e.max, "max") };
    }
    decl.label = e.label ?? describeExpectation(e);
    expect.push(decl as ExpectationDecl);
  });

  for (const [i, name] of (f.expected_findings ?? []).entries()) {
    if (!(INVARIANT_RULES as readonly string[]).includes(name)) {
      err(
        ["expected_findings", i],
        `"${name}" is not an invariant rule`,
        `one of: ${INVARIANT_RULES.join(", ")}`,
      );
    }
  }

  if (diags.length > 0 || !machine) return { ok: false, diagnostics: onePerEntry(diags) };

  // Variants: each is the document with its values written in, checked like a scenario.
  const variants: VariantDecl[] = [];
  if (!variant) {
    for (const [i, v] of (f.variants ?? []).entries()) {
      const d = deriveVariant(f, i, src, file);
      if (!d.ok) {
        diags.push(...d.diagnostics);
        continue;
      }
      const c = compileScenario(d.file, src, file, d.ctx);
      if (!c.ok) {
        diags.push(...inFileOrder(c.diagnostics));
        continue;
      }
      variants.push({
        index: i,
        name: v.name,
        description: v.description ?? "",
        set: v.set ?? {},
        scenario: c.scenario,
      });
    }
    if (diags.length > 0) return { ok: false, diagnostics: diags };
  }
  return {
    ok: true,
    scenario: {
      name: f.name,
      description: f.description ?? "",
      seed: f.seed ?? 1,
      duration,
      machine,
      offline,
      kernel,
      workloads,
      tasks,
      perf,
      vms,
      actions,
      expect,
      expectedFindings: f.expected_findings ?? [],
      source: src,
      variant: variant?.name,
      variants,
    },
  };
}

/** Splits "cycles,{a,b},c" at top-level commas (braces and slashes group). */
export function splitEvents(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let slash = false;
  let cur = "";
  for (const ch of s) {
    if (ch === "{") depth++;
    if (ch === "}") depth--;
    if (ch === "/") slash = !slash;
    if (ch === "," && depth === 0 && !slash) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur.trim() !== "") out.push(cur);
  return out;
}

function tolerance(v: string | number): Tolerance {
  if (typeof v === "number") return { abs: v };
  return { pct: Number.parseFloat(v) };
}

function profileFields(o: Record<string, number | undefined>): Partial<WorkloadProfile> {
  const map: Record<string, keyof WorkloadProfile> = {
    freq_mhz: "freqMHz",
    ipc: "ipc",
    branch_ratio: "branchRatio",
    branch_miss_ratio: "branchMissRatio",
    mem_ratio: "memRatio",
    load_fraction: "loadFraction",
    l1d_miss_ratio: "l1dMissRatio",
    llc_ref_ratio: "llcRefRatio",
    llc_miss_ratio: "llcMissRatio",
    stall_frontend: "stallFrontend",
    stall_backend: "stallBackend",
    user_fraction: "userFraction",
  };
  const out: Partial<WorkloadProfile> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && map[k]) out[map[k]!] = v;
  return out;
}

function describeExpectation(e: ExpectationSpec): string {
  if (e.truth) {
    const who = e.truth.task ? `task ${e.truth.task}` : "machine";
    const where = e.truth.cpus !== undefined ? ` on CPUs ${e.truth.cpus}` : "";
    const modes = e.truth.modes ? ` (${e.truth.modes.join("+")})` : "";
    return `true ${e.truth.event} of ${who}${where}${modes}`;
  }
  if (e.task) return `task ${e.task.name} ${e.task.field}`;
  if (e.cpu) return `CPU ${e.cpu.id} ${e.cpu.field}`;
  if (e.event) {
    const src =
      e.event.measurement !== undefined
        ? `${e.event.measurement}/${e.event.event}`
        : `fd ${e.event.fd}`;
    const cpu = e.event.cpu !== undefined ? ` on CPU ${e.event.cpu}` : "";
    return `${src}${cpu} ${e.event.field}`;
  }
  return "expectation";
}

type ErrFn = (path: PropertyKey[], message: string, expected?: string) => void;

function compileMachine(m: ScenarioFile["machine"], err: ErrFn): MachineDesc | undefined {
  const presetNames = Object.keys(PRESETS).join(", ");
  if (typeof m === "string" || "preset" in m) {
    const name = typeof m === "string" ? m : m.preset;
    const desc = preset(name);
    const path = typeof m === "string" ? ["machine"] : ["machine", "preset"];
    if (!desc) {
      err(path, `unknown preset "${name}"`, `one of: ${presetNames}`);
      return undefined;
    }
    if (typeof m === "object" && m.probe_order) {
      const order = resolveProbeOrder(desc, m.probe_order, ["machine", "probe_order"], err);
      if (order) desc.probeOrder = order;
    }
    return desc;
  }
  const coreTypes: CoreType[] = m.core_types.map((ct) => {
    const scaling = {
      freqMHz: ct.freq_mhz,
      ipcScale: ct.ipc_scale ?? 1,
      refMHz: ct.ref_mhz ?? (m.arch === "x86_64" ? 2000 : 25),
    };
    const pmu =
      m.arch === "x86_64"
        ? x86PmuDesc({
            name: ct.pmu.name,
            coreType: ct.name,
            nrGp: ct.pmu.counters,
            nrFixed: ct.pmu.fixed ?? 3,
            width: ct.pmu.width ?? 48,
            version: ct.pmu.version ?? 5,
          })
        : armv8PmuDesc({
            name: ct.pmu.name,
            coreType: ct.name,
            nrCounters: ct.pmu.counters,
            version: ct.pmu.version ?? 1,
            pmuv3p5: ct.pmu.pmuv3p5 ?? false,
            events: ct.pmu.events ?? [...Array(0x1f).keys()],
          });
    return { name: ct.name, scaling, pmu };
  });
  const names = new Set<string>();
  m.core_types.forEach((ct, i) => {
    if (names.has(ct.name))
      err(
        ["machine", "core_types", i, "name"],
        `core type "${ct.name}" declared twice`,
        "unique names",
      );
    names.add(ct.name);
    const pp = ["machine", "core_types", i, "pmu"];
    if (m.arch === "x86_64" && ct.pmu.pmuv3p5)
      err([...pp, "pmuv3p5"], "PMUv3p5 is an arm64 feature", "arch: arm64");
    if (m.arch === "x86_64" && ct.pmu.events)
      err(
        [...pp, "events"],
        "x86 PMUs offer the architectural events; events lists arm64 PMUv3 event numbers",
        "arch: arm64",
      );
    if (m.arch === "arm64" && ct.pmu.fixed !== undefined)
      err(
        [...pp, "fixed"],
        "arm64 PMUs have exactly one fixed counter, the cycle counter",
        "fixed only on x86_64",
      );
    if (m.arch === "arm64" && ct.pmu.width !== undefined)
      err(
        [...pp, "width"],
        "arm64 counter widths are architectural (32-bit, 64-bit with pmuv3p5)",
        "pmuv3p5: true for 64-bit event counters",
      );
    for (const [k, ev] of (ct.pmu.events ?? []).entries()) {
      if (!ARMV8_COMMON_EVENTS.some(([n]) => n === ev)) {
        err(
          [...pp, "events", k],
          `0x${ev.toString(16)} is not a PMUv3 common event vpmu models`,
          `one of: ${ARMV8_COMMON_EVENTS.map(([n]) => `0x${n.toString(16)}`).join(", ")}`,
        );
      }
    }
  });
  const cpus: MachineDesc["cpus"] = [];
  m.cpus.forEach((c, i) => {
    if (!names.has(c.core_type)) {
      err(
        ["machine", "cpus", i, "core_type"],
        `unknown core type "${c.core_type}"`,
        `one of: ${[...names].join(", ")}`,
      );
    }
    for (let n = 0; n < (c.count ?? 1); n++)
      cpus.push({ coreType: c.core_type, cluster: c.cluster ?? i });
  });
  if (cpus.length > 1024) err(["machine", "cpus"], `${cpus.length} CPUs`, "at most 1024");
  const desc: MachineDesc = {
    name: m.name,
    arch: m.arch,
    coreTypes,
    cpus,
    uncore: m.uncore
      ? [
          {
            name: m.arch === "x86_64" ? "uncore_imc_0" : "arm_cmn_0",
            cpumask: [0],
            nrCounters: 4,
            events: { clockticks: 0xff },
          },
        ]
      : [],
    probeOrder: coreTypes.map((t) => t.name),
  };
  if (m.probe_order) {
    const order = resolveProbeOrder(desc, m.probe_order, ["machine", "probe_order"], err);
    if (order) desc.probeOrder = order;
  }
  return desc;
}

function resolveProbeOrder(
  desc: MachineDesc,
  order: string[],
  path: PropertyKey[],
  err: ErrFn,
): string[] | undefined {
  const out: string[] = [];
  for (const [i, name] of order.entries()) {
    const ct = desc.coreTypes.find((t) => t.name === name || t.pmu.name === name);
    if (!ct) {
      err(
        [...path, i],
        `no core type or PMU "${name}"`,
        `one of: ${desc.coreTypes.flatMap((t) => [t.name, t.pmu.name]).join(", ")}`,
      );
      return undefined;
    }
    out.push(ct.name);
  }
  if (new Set(out).size !== out.length || out.length !== desc.coreTypes.length) {
    err(
      path,
      "the probe order must list every core PMU once",
      desc.coreTypes.map((t) => t.pmu.name).join(", "),
    );
    return undefined;
  }
  return out;
}

/** Mode names accepted in expectations. */
export const MODE_LIST = MODE_NAMES;
