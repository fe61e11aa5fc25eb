import { ArmGuestPerfStat } from "../guest/arm-perf-stat.js";
import { GuestPerfRecord } from "../guest/perf-record.js";
import { GUEST_AMD_UNSUPPORTED, GuestPerfStat } from "../guest/perf-stat.js";
import { TruthAccount } from "../hw/ledger.js";
import { ALL_MODES, MODE_NAMES, Mode, Q, quantityByName } from "../hw/quantity.js";
import { KvmArm64, type KvmArmVcpu, type KvmArmVm, PMU_ATTR } from "../kvm/arm64/kvm.js";
import { armVmmRun, armVmmSetupVcpu } from "../kvm/arm64/vmm.js";
import { Kvm } from "../kvm/kvm.js";
import { KVM_CAP_PMU_CAPABILITY, type KvmVm } from "../kvm/vm.js";
import { type PerfEvent, stateName } from "../perf/event.js";
import { perfEventRelease } from "../perf/install.js";
import { sysClose, sysIoctl } from "../perf/ioctl.js";
import { ROOT, sysPerfEventOpen } from "../perf/open.js";
import { sysRead } from "../perf/read.js";
import { parseEvent } from "../perf/tool/parse-events.js";
import { resolveEvent } from "../perf/tool/resolve.js";
import { PerfStat } from "../perf/tool/stat.js";
import type { PerfEventAttr } from "../perf/uapi.js";
import { PERF_IOC_FLAG_GROUP } from "../perf/uapi.js";
import { startNmiWatchdog } from "../perf/watchdog.js";
import type {
  ActionResult,
  ExpectationResult,
  FindingResult,
  MeasurementResult,
  RunResult,
  TaskResult,
  TruthSlice,
  VariantRunResult,
} from "../report/result.js";
import type { Task } from "../sched/task.js";
import { ERRNO, errnoName } from "../sim/errno.js";
import { Timer } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import type { TraceSink } from "../sim/trace.js";
import { System } from "../system.js";
import { VERSION } from "../version.js";
import type { ActionDecl, ExpectationDecl, MeasurementDecl, Scenario, VmDecl } from "./compile.js";
import { compare, counterField, findCounter, type Observed } from "./expect.js";
import { guestEvents, inEventOrder } from "./guest-events.js";
import { armVmResult, x86VmResult } from "./vm-results.js";

/** Options of a run. */
export interface RunOptions {
  /** Overrides the scenario's seed. */
  seed?: number;
  /** Overrides the scenario's duration. */
  duration?: Ns;
  /** Receives trace records. */
  traceSinks?: TraceSink[];
  /** Called between chunks of simulated time (for progress bars). */
  onProgress?: (now: Ns, total: Ns) => void;
  /** Run the invariant checker and report its findings. */
  checkInvariants?: boolean;
}

/** A value an expectation can observe. */

/**
 * Runs a compiled scenario: builds the system, starts tasks, fires timed actions, runs to
 * the end and evaluates every expectation. Deterministic: the same scenario and seed give
 * the same result.
 */
export class ScenarioRun {
  readonly sys: System;
  readonly duration: Ns;
  readonly tasksByName = new Map<string, Task>();
  readonly actionResults: ActionResult[] = [];
  /** perf_event_open actions by handle name → fd. */
  readonly handles = new Map<string, number>();
  /** Last values of handles that were closed. */
  private readonly closedReads = new Map<
    string,
    { count: number; enabled: number; running: number; state: string }
  >();
  readonly stats = new Map<string, PerfStat>();
  kvm: Kvm | null = null;
  kvmArm: KvmArm64 | null = null;
  readonly armVms = new Map<string, KvmArmVm>();
  /** The last KVM_EXIT_FAIL_ENTRY of each arm64 vCPU, kept across a later KVM_RUN. */
  private readonly lastFailEntry = new Map<KvmArmVcpu, { cpu: number; at: Ns }>();
  /** The NMI watchdog's events while it runs. */
  private watchdog: PerfEvent[] = [];
  readonly vms = new Map<string, KvmVm>();
  private readonly guestStats = new Map<
    string,
    {
      stat: GuestPerfStat | ArmGuestPerfStat;
      target: string;
      start: number;
      stop: number;
      /** The measurement's events, and those perf could not open (reported in place). */
      events?: readonly string[];
      unsupported?: readonly string[];
    }
  >();
  readonly measurements = new Map<string, MeasurementResult>();

  constructor(
    readonly sc: Scenario,
    readonly opts: RunOptions = {},
  ) {
    this.duration = opts.duration ?? sc.duration;
    this.sys = new System({
      machine: sc.machine,
      seed: opts.seed ?? sc.seed,
      sched: {
        hz: sc.kernel.hz,
        latency: sc.kernel.schedLatency,
        minGranularity: sc.kernel.schedMinGranularity,
      },
      perf: {
        paranoid: sc.kernel.perfEventParanoid,
        maxSampleRate: sc.kernel.perfEventMaxSampleRate,
        nrOpen: sc.kernel.nrOpen,
      },
      ...(opts.checkInvariants ? { checkInvariants: "record" as const } : {}),
      profile: sc.kernel.profile,
      fixSiblingLoop: sc.kernel.rfcFixSiblingLoop,
    });
    const wantsKvm = sc.vms.length > 0 || sc.actions.some((a) => a.spec.do.startsWith("kvm_"));
    if (wantsKvm && sc.machine.arch === "arm64") {
      this.kvmArm = new KvmArm64(
        this.sys,
        sc.kernel.profile === "5.18" ? "5.18" : "7.0",
        sc.kernel.kvm.costs,
      );
    } else if (wantsKvm) {
      this.kvm = new Kvm(
        this.sys,
        { enablePmu: sc.kernel.kvm.enablePmu, enableMediatedPmu: sc.kernel.kvm.enableMediatedPmu },
        sc.kernel.kvm.costs,
      );
    }
    for (const [name, ms] of Object.entries(sc.kernel.muxIntervalMs)) {
      const pmu = this.sys.perf.registry.byName(name);
      if (pmu) pmu.hrtimerIntervalMs = ms;
    }
    for (const s of opts.traceSinks ?? []) this.sys.trace.attach(s);
    for (const c of sc.offline) this.sys.sched.setOnline(c, false, this.sys.now);
    for (const t of sc.tasks) {
      const start = (): void => {
        const task = this.sys.spawn({
          comm: t.name,
          workload: t.workload,
          affinity: t.affinity,
          duty: t.duty,
          exitAfter: t.exitAfter,
        });
        this.tasksByName.set(t.name, task);
      };
      if (t.start === 0) start();
      else this.sys.at(t.start, `start ${t.name}`, start);
    }
    for (const a of sc.actions) this.sys.at(a.at, `action ${a.index}`, () => this.doAction(a));
    const watchdog = sc.kernel.nmiWatchdog ?? sc.machine.arch === "x86_64";
    if (watchdog) this.watchdog = startNmiWatchdog(this.sys.perf, sc.kernel.profile === "rfc-v1");
    for (const m of sc.perf) this.scheduleMeasurement(m);
    for (const vm of sc.vms) this.scheduleVm(vm);
  }

  /**
   * An arm64 VM: created now with its vCPUs (KVM_CREATE_VCPU); at each vCPU's start the chosen
   * VMM flow (src/kvm/arm64/vmm.ts) sets it up and calls KVM_RUN. With vmm none the actions do
   * all of that.
   */
  private scheduleArmVm(d: VmDecl): void {
    const kvm = this.kvmArm!;
    const vm = kvm.createVm(d.spec.name);
    this.armVms.set(d.spec.name, vm);
    if (d.spec.irqchip === false) vm.irqchip = false;
    if (d.spec.vgic_ready === false) vm.vgicReady = false;
    const vmmCpu = d.spec.vmm_cpu ?? 0;
    const flow = d.spec.vmm ?? "qemu";
    const record = (
      label: string,
      ret: number,
      now: number,
      expect?: { ret?: number; errno?: string; ok?: boolean },
    ) => {
      const out: ActionResult = {
        at_ns: now,
        do: label.split("(")[0]!.trim(),
        label,
        result: ret < 0 ? { errno: errnoName(ret) ?? String(ret) } : { ret },
      };
      if (expect) {
        out.expected = expect;
        out.ok = actionMatches(expect, ret);
      }
      this.actionResults.push(out);
    };
    d.vcpus.forEach((c, id) => {
      const r = vm.createVcpu(id, d.workload, c.affinity, c.exitRate);
      // vmm none: KVM_CREATE_VCPU only; VCPU_INIT, the PMU attributes and KVM_RUN are actions.
      if (typeof r === "number" || flow === "none") return;
      this.sys.at(c.start, `vmm ${d.spec.name}/${id}`, (now) => {
        const steps = armVmmSetupVcpu(kvm, r, flow, { vmmCpu, pmu: d.spec.pmu !== false });
        // A VMM dies on a failed call (QEMU aborts, kvmtool die_perror()s): no KVM_RUN then,
        // and the vCPU's expect is checked against the call it died on.
        const died = steps.findIndex((x) => x.ret < 0);
        steps.forEach((x, k) => {
          record(x.label, x.ret, now, k === died ? c.expect : undefined);
        });
        if (died >= 0) return;
        const run = armVmmRun(r, now);
        record(run.label, run.ret, now, c.expect);
      });
    });
    for (const m of d.perf) {
      let stat: ArmGuestPerfStat | null = null;
      this.sys.at(m.start, `guest perf ${m.name}`, (now) => {
        const v = vm.vcpus.find((x) => x.id === m.vcpu);
        if (!v) return;
        stat = new ArmGuestPerfStat(v, m.events);
        stat.start(now);
      });
      this.sys.at(m.stop, `guest perf stop ${m.name}`, (now) => {
        if (!stat) return;
        stat.stop(now);
        this.guestStats.set(m.name, {
          stat,
          target: `guest ${d.spec.name}/vcpu${m.vcpu}`,
          start: m.start,
          stop: now,
        });
      });
    }
  }

  /** Creates a declared VM now, and its vCPUs and guest measurements at their times. */
  private scheduleVm(d: VmDecl): void {
    if (this.kvmArm) {
      this.scheduleArmVm(d);
      return;
    }
    const kvm = this.kvm!;
    const vm = kvm.createVm(d.spec.name);
    this.vms.set(d.spec.name, vm);
    if (d.spec.irqchip === false) vm.irqchip = false;
    if (d.spec.cpuid) {
      const c = d.spec.cpuid;
      vm.cpuid = {
        version: c.version,
        nrGp: c.gp,
        gpWidth: c.gp_width ?? 48,
        nrFixed: c.fixed ?? 0,
        fixedWidth: c.fixed_width ?? 48,
      };
    }
    if (d.spec.amd_cpuid) {
      const c = d.spec.amd_cpuid;
      vm.amdCpuid = {
        perfCtrCore: c.perfctr_core ?? vm.amdCpuid.perfCtrCore,
        perfMonV2: c.perfmon_v2 ?? vm.amdCpuid.perfMonV2,
        numCorePmc: c.num_core_pmc ?? vm.amdCpuid.numCorePmc,
      };
    }
    if (d.spec.filter) {
      const f = d.spec.filter;
      vm.setPmuEventFilter(
        {
          action: f.action === "allow" ? 0 : 1,
          events: f.events.map((e) => (typeof e === "string" ? BigInt(e.trim()) : e)),
          fixed_counter_bitmap: f.fixed_counter_bitmap ?? 0,
          flags: f.masked ? 1 : 0,
        },
        this.sys.now,
      );
    }
    d.vcpus.forEach((c, id) => {
      this.sys.at(c.start, `create ${d.spec.name}/${id}`, (now) => {
        const r = vm.createVcpu(
          id,
          { workload: d.workload, affinity: c.affinity, exitRate: c.exitRate },
          now,
        );
        const ret = typeof r === "number" ? r : 0;
        const out: ActionResult = {
          at_ns: now,
          do: "kvm_create_vcpu",
          label: `KVM_CREATE_VCPU(${d.spec.name}, ${id})`,
          result: ret < 0 ? { errno: errnoName(ret) ?? String(ret) } : { ret },
        };
        if (c.expect) {
          out.expected = c.expect;
          out.ok = actionMatches(c.expect, ret);
        }
        this.actionResults.push(out);
      });
    });
    for (const m of d.perf) {
      if (m.record) {
        this.scheduleGuestRecord(vm, d.spec.name, m, m.record);
        continue;
      }
      let stat: GuestPerfStat | null = null;
      const unsupported = kvm.amd ? GUEST_AMD_UNSUPPORTED : [];
      this.sys.at(m.start, `guest perf ${m.name}`, (now) => {
        const v = vm.vcpus.find((x) => x.id === m.vcpu);
        if (!v) return;
        stat = new GuestPerfStat(v, guestEvents(m.events, kvm.amd, unsupported));
        stat.start(now);
      });
      this.sys.at(m.stop, `guest perf stop ${m.name}`, (now) => {
        const target = `guest ${d.spec.name}/vcpu${m.vcpu}`;
        if (!stat) {
          this.noVcpu(m, target, d.spec.name, now);
          return;
        }
        const st = stat;
        st.stop(now);
        // Give the stop's reads a chance to run (they may wait for the vCPU).
        this.guestStats.set(m.name, {
          stat: st,
          target,
          start: m.start,
          stop: now,
          events: m.events,
          unsupported,
        });
      });
    }
  }

  /** A guest measurement whose vCPU was never created. */
  private noVcpu(m: VmDecl["perf"][number], target: string, vmName: string, now: number): void {
    this.measurements.set(m.name, {
      name: m.name,
      target,
      start_ns: m.start,
      stop_ns: now,
      counters: [],
      intervals: [],
      error: `Error: vCPU ${m.vcpu} of ${vmName} does not exist`,
    });
  }

  /** perf record inside the guest: sampling with guest PMIs, reported as perf report would. */
  private scheduleGuestRecord(
    vm: KvmVm,
    vmName: string,
    m: VmDecl["perf"][number],
    opts: { freq?: number; period?: number },
  ): void {
    const target = `guest ${vmName}/vcpu${m.vcpu}`;
    let rec: GuestPerfRecord | null = null;
    const unsupported = vm.kvm.amd ? GUEST_AMD_UNSUPPORTED : [];
    this.sys.at(m.start, `guest perf record ${m.name}`, (now) => {
      const v = vm.vcpus.find((x) => x.id === m.vcpu);
      if (!v) return;
      rec = new GuestPerfRecord(v, guestEvents(m.events, vm.kvm.amd, unsupported), opts);
      rec.start(now);
    });
    this.sys.at(m.stop, `guest perf record stop ${m.name}`, (now) => {
      if (!rec) {
        this.noVcpu(m, target, vmName, now);
        return;
      }
      const r = rec;
      r.stop(now);
      const enabled = now - m.start;
      const mode = opts.freq ? `-F ${opts.freq}` : `-c ${opts.period}`;
      this.measurements.set(m.name, {
        name: m.name,
        target: `${target} (perf record ${mode}, ${r.pmis} PMIs)`,
        start_ns: m.start,
        stop_ns: now,
        counters: inEventOrder(
          m.events,
          unsupported,
          r.result().map((c) => ({
            event: c.event,
            // perf report's "Event count (approx.)": the periods that elapsed.
            count: c.approx,
            enabled_ns: enabled,
            running_ns: c.running_ns,
            scaled: r.noPmu ? null : c.approx,
            status: r.noPmu ? "not supported" : c.samples > 0 ? "counted" : "not counted",
            truth: c.truth,
            state: r.noPmu ? "no vPMU" : "guest",
            samples: c.samples,
          })),
        ),
        intervals: [],
      });
    });
  }

  private scheduleMeasurement(m: MeasurementDecl): void {
    const begin = (): void => {
      const task = m.task !== undefined ? this.tasksByName.get(m.task) : undefined;
      if (m.task !== undefined && !task) {
        this.measurements.set(m.spec.name, {
          name: m.spec.name,
          target: `task ${m.task}`,
          start_ns: this.sys.now,
          stop_ns: this.sys.now,
          counters: [],
          intervals: [],
          error: `Error: task ${m.task} is not running yet`,
        });
        return;
      }
      const stat = new PerfStat(this.sys, {
        name: m.spec.name,
        events: m.events,
        cpus: m.cpus,
        task,
        interval: m.interval,
        legacy: m.spec.generic_events === "legacy",
        cred: m.spec.unprivileged ? { perfmon: false } : ROOT,
      });
      this.stats.set(m.spec.name, stat);
      stat.start();
      if (m.interval !== null) {
        const iv = m.interval;
        const timer = new Timer(`interval ${m.spec.name}`, (now) => {
          stat.interval();
          if (now + iv <= m.stop) this.sys.queue.arm(timer, (now + iv) as Ns);
        });
        if (m.start + iv <= m.stop) this.sys.queue.arm(timer, (m.start + iv) as Ns);
      }
      this.sys.at(m.stop, `stop ${m.spec.name}`, () => {
        this.measurements.set(m.spec.name, stat.stop());
      });
    };
    // Tasks start before measurements at the same instant (timers fire in arming order).
    this.sys.at(m.start, `start ${m.spec.name}`, begin);
  }

  /** Runs to the end and returns the result. */
  run(): RunResult {
    const total = this.duration;
    const chunk = Math.max(1_000_000, Math.floor(total / 100));
    for (let t = Math.min(chunk, total); ; t = Math.min(t + chunk, total)) {
      this.sys.run(t as Ns);
      this.opts.onProgress?.(t as Ns, total);
      if (t >= total) break;
    }
    for (const [name, g] of this.guestStats) {
      const counted = g.stat.result().map((c) => ({
        event: c.event,
        count: c.count,
        enabled_ns: c.enabled_ns,
        running_ns: c.running_ns,
        scaled: c.scaled,
        status: g.stat.noPmu ? "not supported" : c.running_ns > 0 ? "counted" : "not counted",
        truth: c.truth,
        state: g.stat.noPmu ? "no vPMU" : "guest",
      }));
      const counters = g.events ? inEventOrder(g.events, g.unsupported ?? [], counted) : counted;
      this.measurements.set(name, {
        name,
        target: g.target,
        start_ns: g.start,
        stop_ns: g.stop,
        counters,
        intervals: [],
      });
    }
    // A run cut short (--duration) still reports its measurements, stopped at the end.
    for (const [name, stat] of this.stats) {
      if (!this.measurements.has(name)) this.measurements.set(name, stat.stop());
    }
    this.sys.sync();
    return this.result();
  }

  /** A scenario task, or a vCPU thread named "<vm>/vcpu<N>" once KVM_CREATE_VCPU made it. */
  private taskNamed(name: string): Task | undefined {
    const t = this.tasksByName.get(name);
    if (t) return t;
    for (const vm of this.vms.values())
      for (const v of vm.vcpus) if (v.task.comm === name) return v.task;
    for (const vm of this.armVms.values())
      for (const v of vm.vcpus) if (v.run.task.comm === name) return v.run.task;
    return undefined;
  }

  private doAction(a: ActionDecl): void {
    const s = a.spec;
    const now = this.sys.now;
    let ret = 0;
    let data: unknown;
    switch (s.do) {
      case "sched_setaffinity": {
        const t = this.taskNamed(s.task);
        ret = t ? this.sys.sched.setAffinity(t.pid, a.cpus ?? [], now) : -ERRNO.ESRCH;
        break;
      }
      case "kill": {
        const t = this.taskNamed(s.task);
        ret = t ? this.sys.sched.kill(t.pid, now) : -ERRNO.ESRCH;
        break;
      }
      case "cpu_online":
      case "cpu_offline":
        ret = this.sys.sched.setOnline(s.cpu, s.do === "cpu_online", now);
        break;
      case "kvm_enable_cap":
        ret = this.vms.get(s.vm)!.enableCap(KVM_CAP_PMU_CAPABILITY, s.args);
        break;
      case "kvm_set_pmu_event_filter":
        ret = this.vms.get(s.vm)!.setPmuEventFilter(
          {
            action: s.action === "allow" ? 0 : s.action === "deny" ? 1 : s.action,
            events: s.events.map((e) => (typeof e === "string" ? BigInt(e.trim()) : e)),
            ...(s.nevents !== undefined ? { nevents: s.nevents } : {}),
            fixed_counter_bitmap: s.fixed_counter_bitmap ?? 0,
            flags: s.flags ?? 0,
          },
          now,
        );
        break;
      case "kvm_create_vcpu": {
        const decl = this.sc.vms.find((v) => v.spec.name === s.vm)!;
        const arm = this.armVms.get(s.vm);
        if (arm) {
          // arm64: the thread starts at the first KVM_RUN; VCPU_INIT and the rest are actions.
          const r = arm.createVcpu(s.id, decl.workload, a.cpus, s.exit_rate ?? 0);
          ret = typeof r === "number" ? r : 0;
          break;
        }
        const vm = this.vms.get(s.vm)!;
        const r = vm.createVcpu(
          s.id,
          { workload: decl.workload, affinity: a.cpus, exitRate: s.exit_rate ?? 0 },
          now,
        );
        ret = typeof r === "number" ? r : 0;
        break;
      }
      case "kvm_destroy_vm": {
        const arm = this.armVms.get(s.vm);
        if (!arm) {
          this.vms.get(s.vm)!.destroy(now);
          break;
        }
        // arm64 (kvm_arch_destroy_vm): the vCPU threads end and their guest perf events go.
        for (const v of arm.vcpus) {
          this.sys.sched.kill(v.run.task.pid, now);
          v.pmu?.destroy(now);
        }
        break;
      }
      case "kvm_arm_vcpu_init": {
        const v = this.armVms.get(s.vm)?.vcpus.find((x) => x.id === s.vcpu);
        ret = v ? v.init(s.features, s.vmm_cpu ?? 0) : -ERRNO.ENOENT;
        break;
      }
      case "kvm_set_device_attr":
      case "kvm_has_device_attr":
      case "kvm_get_device_attr": {
        const v = this.armVms.get(s.vm)?.vcpus.find((x) => x.id === s.vcpu);
        if (!v) {
          ret = -ERRNO.ENOENT;
          break;
        }
        const attr =
          typeof s.attr === "number"
            ? s.attr
            : PMU_ATTR[s.attr.toUpperCase() as keyof typeof PMU_ATTR];
        if (s.do === "kvm_has_device_attr") ret = v.hasAttr(attr);
        else if (s.do === "kvm_get_device_attr") ret = v.getAttr(attr);
        else {
          let value: unknown = s.value;
          if (typeof value === "string")
            value =
              this.kvmArm!.armPmus().find((p) => p.name === value)?.type ??
              this.sys.perf.registry.byName(value)?.type ??
              -1;
          if (value && typeof value === "object") {
            const f = value as { base_event: number; nevents: number; action: string | number };
            value = { ...f, action: f.action === "allow" ? 0 : f.action === "deny" ? 1 : f.action };
          }
          ret = v.setAttr(attr, value);
        }
        break;
      }
      case "kvm_run": {
        const v = this.armVms.get(s.vm)?.vcpus.find((x) => x.id === s.vcpu);
        // The FAIL_ENTRY exit the VMM is answering; KVM_RUN clears it from run->fail_entry.
        if (v?.run.failEntry) this.lastFailEntry.set(v, v.run.failEntry);
        ret = v ? v.kvmRun(now) : -ERRNO.ENOENT;
        break;
      }
      case "sysctl":
        ret = this.sysctl(s.name, s.value);
        break;
      default: {
        const r = this.doPerfAction(a);
        ret = r.ret;
        data = r.data;
      }
    }
    const result = ret < 0 ? { errno: errnoName(ret) ?? String(ret) } : { ret };
    const out: ActionResult = { at_ns: now, do: s.do, label: s.label ?? describeAction(a), result };
    if (data !== undefined) out.data = data;
    if (s.expect) {
      out.expected = s.expect;
      out.ok = actionMatches(s.expect, ret);
    }
    this.actionResults.push(out);
  }

  /** A runtime sysctl write (echo value > /proc/sys/...). Returns 0 or -EINVAL. */
  private sysctl(name: string, value: number): number {
    const now = this.sys.now;
    const core = this.sys.perf;
    switch (name) {
      case "kernel.nmi_watchdog":
        if (value !== 0 && value !== 1) return -ERRNO.EINVAL;
        if (value === 0) {
          for (const e of this.watchdog) perfEventRelease(core, e, now);
          this.watchdog = [];
        } else if (this.watchdog.length === 0) {
          this.watchdog = startNmiWatchdog(core, this.sc.kernel.profile === "rfc-v1");
        }
        return 0;
      case "kernel.perf_event_paranoid":
        core.opts.paranoid = value;
        return 0;
      case "kernel.perf_event_max_sample_rate":
        if (value < 1) return -ERRNO.EINVAL;
        core.opts.maxSampleRate = value;
        return 0;
      default:
        return -ERRNO.EINVAL;
    }
  }

  /** perf_event_open, ioctl, read and close actions. */
  protected doPerfAction(a: ActionDecl): { ret: number; data?: unknown } {
    const s = a.spec;
    const core = this.sys.perf;
    switch (s.do) {
      case "perf_event_open": {
        let attr: PerfEventAttr;
        if (s.event !== undefined) {
          const parsed = parseEvent(s.event);
          if (typeof parsed === "string") return { ret: -ERRNO.EINVAL, data: parsed };
          const r = resolveEvent(core.registry, parsed, true);
          if (typeof r === "string") return { ret: -ERRNO.ENOENT, data: r };
          attr = { ...r[0]!.attr };
        } else {
          const x = s.attr!;
          attr = {
            ...x,
            type:
              typeof x.type === "string"
                ? (core.registry.byName(x.type)?.type ?? 0xffff)
                : (x.type ?? 0),
            config: typeof x.config === "string" ? BigInt(x.config) : x.config,
            read_format: (x.read_format ?? []).reduce((m, f) => m | READ_FORMAT_BITS[f]!, 0),
          };
        }
        if (s.attr === undefined) attr.read_format = 3;
        let pid = s.pid ?? -1;
        if (s.task !== undefined) pid = this.tasksByName.get(s.task)?.pid ?? 999_999;
        const groupFd =
          s.group !== undefined ? (this.handles.get(s.group) ?? -1) : (s.group_fd ?? -1);
        const fd = sysPerfEventOpen(
          core,
          attr,
          pid,
          s.cpu ?? -1,
          groupFd,
          s.flags ?? 0,
          s.unprivileged ? { perfmon: false } : ROOT,
        );
        if (fd >= 0 && s.name !== undefined) {
          this.handles.set(s.name, fd);
          const e = core.fds.get(fd)!;
          e.name = s.event ?? s.name;
        }
        return { ret: fd };
      }
      case "ioctl": {
        const fd = this.handles.get(s.fd) ?? -1;
        const arg =
          s.op === "ENABLE" || s.op === "DISABLE" || s.op === "RESET"
            ? s.group
              ? PERF_IOC_FLAG_GROUP
              : 0
            : (s.arg ?? 0);
        return { ret: sysIoctl(core, fd, s.op, arg) };
      }
      case "read": {
        const fd = this.handles.get(s.fd) ?? -1;
        const r = sysRead(core, fd, 4096);
        if (typeof r === "number") return { ret: r };
        return {
          ret: r.bytes,
          data: {
            value: r.value,
            time_enabled: r.time_enabled,
            time_running: r.time_running,
            group: r.group,
          },
        };
      }
      case "close": {
        const fd = this.handles.get(s.fd) ?? -1;
        const e = core.fds.get(fd);
        if (e) {
          const r = sysRead(core, fd, 4096);
          const v = typeof r === "number" ? undefined : r;
          this.closedReads.set(s.fd, {
            count: v?.value ?? Math.floor(e.count),
            enabled: v?.time_enabled ?? Math.round(e.totalTimeEnabled),
            running: v?.time_running ?? Math.round(e.totalTimeRunning),
            state: "DEAD",
          });
        }
        return { ret: sysClose(core, fd) };
      }
      default:
        return { ret: -ERRNO.ENOSYS };
    }
  }

  /** Value of an event subject (measurement counter or perf fd). */
  private observeEvent(e: ExpectationDecl): Observed {
    const ev = e.spec.event!;
    if (ev.fd !== undefined) {
      let v = this.closedReads.get(ev.fd);
      const fd = this.handles.get(ev.fd);
      const pe = fd !== undefined ? this.sys.perf.fds.get(fd) : undefined;
      if (!v && pe && fd !== undefined) {
        const r = sysRead(this.sys.perf, fd, 4096);
        const rr = typeof r === "number" || r.bytes === 0 ? undefined : r;
        v = {
          count: rr?.value ?? Math.floor(pe.count),
          enabled: rr?.time_enabled ?? Math.round(pe.totalTimeEnabled),
          running: rr?.time_running ?? Math.round(pe.totalTimeRunning),
          state: stateName(pe.state),
        };
      }
      if (!v) return null;
      return counterField(ev.field, v.count, v.enabled, v.running, v.state, null);
    }
    const c = findCounter(this.measurements.get(ev.measurement!), ev.event);
    if (!c) return null;
    // perf record's samples of the event (null for a counting measurement).
    if (ev.field === "samples") return ev.cpu === undefined ? (c.samples ?? null) : null;
    if (ev.cpu !== undefined) {
      const p = c.per_cpu?.find((x) => x.cpu === ev.cpu);
      if (!p) return null;
      return counterField(ev.field, p.count, p.enabled_ns, p.running_ns, p.state, null);
    }
    if (ev.field === "truth") return c.truth;
    // A measurement's scaled value is the one it reported (perf record's is not scaled).
    const scaled = ev.field === "scaled" ? c.scaled : null;
    return counterField(ev.field, c.count, c.enabled_ns, c.running_ns, c.state, scaled);
  }

  /** Value of an expectation's subject. */
  protected observe(e: ExpectationDecl): Observed {
    const s = e.spec;
    if (s.truth) {
      const q = quantityByName(s.truth.event)!;
      let mask = ALL_MODES;
      if (s.truth.modes) mask = s.truth.modes.reduce((m, n) => m | (1 << MODE_NAMES.indexOf(n)), 0);
      const acct = new TruthAccount();
      const inCpus = (c: number) => e.cpus === undefined || e.cpus.includes(c);
      if (s.truth.task !== undefined) {
        const t = this.tasksByName.get(s.truth.task);
        if (!t) return 0;
        for (const [cpu, a] of t.truth) if (inCpus(cpu)) acct.merge(a);
      } else {
        for (const cpu of this.sys.machine.cpus) if (inCpus(cpu.id)) acct.merge(cpu.truth);
      }
      return Math.round(acct.count(q, mask));
    }
    if (s.task) {
      const t = this.tasksByName.get(s.task.name);
      if (!t) return null;
      switch (s.task.field) {
        case "runtime":
          return t.runtime;
        case "migrations":
          return t.nrMigrations;
        case "switches":
          return t.nrSwitches;
        case "cpu":
          return t.cpu;
        case "state":
          return t.state;
      }
    }
    if (s.event) return this.observeEvent(e);
    if (s.vcpu) {
      const arm = this.armVms.get(s.vcpu.vm)?.vcpus.find((x) => x.id === s.vcpu!.id);
      if (arm) {
        if (s.vcpu.field === "fail_entries") return arm.run.nrFailEntries;
        if (s.vcpu.field === "fail_entry_cpu")
          return (arm.run.failEntry ?? this.lastFailEntry.get(arm))?.cpu ?? -1;
        if (s.vcpu.field === "irq_raised") return arm.pmu?.irqRaised ?? 0;
      }
      const v = this.vms.get(s.vcpu.vm)?.vcpus.find((x) => x.id === s.vcpu!.id) ?? arm?.run;
      if (s.vcpu.field === "created") return v !== undefined;
      if (!v) return null;
      v.sync(this.sys.now);
      if (s.vcpu.field === "exits") return v.nrExits;
      // KVM_RUN's FAIL_ENTRY returns are reported with the exits (see the VMs table).
      if (s.vcpu.field === "exits.fail_entry") return v.nrFailEntries;
      if (s.vcpu.field.startsWith("exits.")) return v.exits[s.vcpu.field.slice(6)] ?? 0;
      if (s.vcpu.field === "entries") return v.nrEntries;
      if (s.vcpu.field === "guest_time") return Math.round(v.guestNs);
      if (s.vcpu.field === "host_time") return Math.round(v.hostNs);
      if (s.vcpu.field === "guest_sampling_time") return Math.round(v.guestSamplingNs);
      if (s.vcpu.field === "slowdown") return Math.round(100 * v.slowdownPct) / 100;
      return null;
    }
    if (s.cpu) {
      const cpu = this.sys.machine.cpus[s.cpu.id]!;
      switch (s.cpu.field) {
        case "busy":
          return Math.round(cpu.truth.runtime);
        case "idle":
          return Math.round(cpu.idleTime);
        case "switches":
          return this.sys.sched.switchesOn(cpu.id);
      }
    }
    return null;
  }

  /** The truth to compare an event with (near_truth). */
  protected truthFor(e: ExpectationDecl): number | null {
    const ev = e.spec.event;
    if (!ev || ev.measurement === undefined) return null;
    return findCounter(this.measurements.get(ev.measurement), ev.event)?.truth ?? null;
  }

  private evaluate(e: ExpectationDecl): ExpectationResult {
    const observed = this.observe(e);
    const { ok, expected } = compare(e.cmp, observed, () => this.truthFor(e));
    return { label: e.label, ok, observed, expected };
  }

  /** Builds the result (after `run`). */
  protected result(): RunResult {
    const sys = this.sys;
    const sc = this.sc;
    const tasks: TaskResult[] = [];
    for (const decl of sc.tasks) {
      const t = this.tasksByName.get(decl.name);
      if (!t) continue;
      const truth: Record<string, TruthSlice> = {};
      for (const [cpu, a] of [...t.truth].sort((x, y) => x[0] - y[0])) {
        const ct = sys.machine.cpus[cpu]!.coreType.name;
        const slot = (truth[ct] ??= {
          runtime_ns: 0,
          cycles: 0,
          instructions: 0,
          user_ns: 0,
          kernel_ns: 0,
        });
        slot.runtime_ns += a.runtime;
        slot.cycles += a.count(Q.CYCLES, ALL_MODES);
        slot.instructions += a.count(Q.INSTRUCTIONS, ALL_MODES);
        slot.user_ns += a.timeIn((1 << Mode.HOST_USER) | (1 << Mode.GUEST_USER));
        slot.kernel_ns += a.timeIn((1 << Mode.HOST_KERNEL) | (1 << Mode.GUEST_KERNEL));
      }
      for (const s of Object.values(truth)) {
        for (const k of Object.keys(s) as Array<keyof TruthSlice>) s[k] = Math.round(s[k]);
      }
      tasks.push({
        name: decl.name,
        pid: t.pid,
        state: t.state,
        cpu: t.cpu,
        runtime_ns: t.runtime,
        migrations: t.nrMigrations,
        switches: t.nrSwitches,
        truth,
      });
    }
    const expectations = sc.expect.map((e) => this.evaluate(e));
    const findings: FindingResult[] = (sys.invariants?.findings ?? []).map((f) => ({
      t_ns: f.t,
      rule: f.rule,
      cpu: f.cpu,
      subject: f.subject,
      before: f.before,
      after: f.after,
      message: f.message,
      expected: sc.expectedFindings.includes(f.rule),
    }));
    // A rule the scenario expects must show up; any other finding is a failure.
    for (const rule of sys.invariants ? sc.expectedFindings : []) {
      const hit = findings.some((f) => f.rule === rule);
      expectations.push({
        label: `invariant finding ${rule} (expected)`,
        ok: hit,
        observed: hit ? "found" : "none",
        expected: "at least one finding",
      });
    }
    const unexpected = findings.filter((f) => !f.expected).length;
    const failedActions = this.actionResults.filter((a) => a.ok === false).length;
    const passedActions = this.actionResults.filter((a) => a.ok === true).length;
    const failed = expectations.filter((e) => !e.ok).length + failedActions + unexpected;
    const passed = expectations.filter((e) => e.ok).length + passedActions;
    return {
      format: 1,
      vpmu: VERSION,
      scenario: {
        name: sc.name,
        description: sc.description,
        seed: this.opts.seed ?? sc.seed,
        duration_ns: this.duration,
        kernel_profile: sc.kernel.profile,
        hz: sc.kernel.hz,
        ...(sc.variant !== undefined ? { variant: sc.variant } : {}),
      },
      machine: {
        name: sc.machine.name,
        arch: sc.machine.arch,
        cpus: sys.machine.cpus.map((c) => ({
          id: c.id,
          core_type: c.coreType.name,
          cluster: c.cluster,
          pmu: c.coreType.pmu.name,
          online: c.online,
        })),
      },
      tasks,
      cpus: sys.machine.cpus.map((c) => ({
        id: c.id,
        busy_ns: Math.round(c.truth.runtime),
        idle_ns: Math.round(c.idleTime),
        switches: sys.sched.switchesOn(c.id),
      })),
      actions: this.actionResults,
      perf: [
        ...this.sc.perf.map((m) => m.spec.name),
        ...this.sc.vms.flatMap((v) => v.perf.map((p) => p.name)),
      ].flatMap((n) => {
        const r = this.measurements.get(n);
        return r ? [r] : [];
      }),
      vms: [
        ...[...this.vms.values()].map((vm) => x86VmResult(vm, this.sc.kernel.profile, sys.now)),
        ...[...this.armVms.values()].map((vm) => armVmResult(vm, sys.now)),
      ],
      expectations,
      findings,
      summary: { passed, failed, events_processed: sys.eventsProcessed },
    };
  }
}

const READ_FORMAT_BITS: Record<string, number> = {
  total_time_enabled: 1,
  total_time_running: 2,
  id: 4,
  group: 8,
  lost: 16,
};

function actionMatches(exp: { ret?: number; errno?: string; ok?: boolean }, ret: number): boolean {
  if (exp.errno !== undefined) return ret < 0 && errnoName(ret) === exp.errno;
  if (exp.ret !== undefined) return ret === exp.ret;
  if (exp.ok !== undefined) return ret >= 0 === exp.ok;
  return true;
}

function describeAction(a: ActionDecl): string {
  const s = a.spec;
  switch (s.do) {
    case "kvm_enable_cap":
      return `KVM_ENABLE_CAP(${s.vm}, PMU_CAPABILITY, ${s.args})`;
    case "kvm_set_pmu_event_filter":
      return `KVM_SET_PMU_EVENT_FILTER(${s.vm}, ${s.action}, ${s.events.length} events)`;
    case "kvm_create_vcpu":
      return `KVM_CREATE_VCPU(${s.vm}, ${s.id})`;
    case "kvm_destroy_vm":
      return `destroy VM ${s.vm}`;
    case "kvm_arm_vcpu_init":
      return `KVM_ARM_VCPU_INIT(${s.vm}, ${s.vcpu}, features 0x${s.features.toString(16)})`;
    case "kvm_set_device_attr":
    case "kvm_has_device_attr":
    case "kvm_get_device_attr":
      return `${s.do === "kvm_set_device_attr" ? "SET" : s.do === "kvm_has_device_attr" ? "HAS" : "GET"} ${String(s.attr).toUpperCase()}${s.value !== undefined ? ` ${typeof s.value === "object" ? JSON.stringify(s.value) : s.value}` : ""} (${s.vm}, ${s.vcpu})`;
    case "kvm_run":
      return `KVM_RUN(${s.vm}, ${s.vcpu})`;
    case "sysctl":
      return `sysctl ${s.name}=${s.value}`;
    case "sched_setaffinity":
      return `sched_setaffinity(${s.task}, ${s.cpus})`;
    case "kill":
      return `kill(${s.task})`;
    case "cpu_online":
    case "cpu_offline":
      return `${s.do}(${s.cpu})`;
    case "perf_event_open":
      return `perf_event_open(${s.event ?? "attr"}${s.name ? ` as ${s.name}` : ""})`;
    case "ioctl":
      return `ioctl(${s.fd}, ${s.op}${s.group ? " | GROUP" : ""})`;
    case "read":
    case "close":
      return `${s.do}(${s.fd})`;
  }
}

/** Runs a scenario and returns its result. */
export function runScenario(sc: Scenario, opts: RunOptions = {}): RunResult {
  return new ScenarioRun(sc, opts).run();
}

/**
 * Runs every variant of a scenario, one after the other, each on a fresh system with the
 * same options (and so the same seed). `only` picks one variant by name.
 */
export function runVariants(
  sc: Scenario,
  opts: RunOptions = {},
  only?: string,
): VariantRunResult[] {
  return sc.variants
    .filter((v) => only === undefined || v.name === only)
    .map((v) => ({
      name: v.name,
      description: v.description,
      set: v.set,
      result: runScenario(v.scenario, opts),
    }));
}
