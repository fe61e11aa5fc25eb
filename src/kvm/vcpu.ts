import type { Cpu } from "../hw/cpu.js";
import type { ExecState } from "../hw/exec.js";
import { BUILTIN_WORKLOADS, type Workload } from "../hw/workload.js";
import { WorkloadExec } from "../hw/workload-exec.js";
import type { SchedHook } from "../sched/scheduler.js";
import { PF_VCPU, type Task } from "../sched/task.js";
import { abiU32, abiU64 } from "../sim/abi.js";
import { ArgumentError, checkFunction, checkNat, checkOneOf, checkTime } from "../sim/argument.js";
import { TIMER_SCOPE_SELF, Timer } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import type { System } from "../system.js";
import type { KvmCosts } from "./costs.js";
import type { EmulatedBackend } from "./x86/emulated.js";
import type { MediatedBackend } from "./x86/mediated.js";
import type { KvmX86Pmu } from "./x86/pmu.js";

declare module "../sim/trace.js" {
  interface TraceRecordMap {
    kvm_entry: { vm: string; vcpu: number; cpu: number };
    kvm_exit: { vm: string; vcpu: number; cpu: number; reason: string };
  }
}

/** Why the vCPU left the guest ("sysreg" is the arm64 trapped system-register access, ESR EC 0x18). */
export type ExitReason =
  | "tick"
  /** A host hrtimer interrupt other than the tick (perf's multiplexing timer). */
  | "timer"
  | "io"
  | "msr"
  | "sysreg"
  | "rdpmc"
  | "pmi"
  | "preempt"
  /** An instruction KVM emulates (forced emulation, MMIO). */
  | "emulation"
  /** The guest left its NMI handler with a PMI held (KVM's NMI window: IRET intercept). */
  | "nmi_window";

/** A guest instruction that touches the PMU, run when the vCPU is in guest mode. */
export interface GuestOp {
  /** Does the instruction exit (an intercepted MSR or RDPMC)? */
  intercepted: boolean;
  reason: ExitReason;
  /** Extra KVM work (ns) when it exits. */
  costNs: number;
  /**
   * Guest software work (ns) the vCPU spends in guest mode before `run` (guest perf's PMI
   * handler and sample writing, perf record's draining): the guest workload does not
   * progress meanwhile. Only for ops that do not exit.
   */
  workNs?: number;
  /** The work runs in guest user mode (default: guest kernel mode). */
  workUser?: boolean;
  /** Part of the guest's NMI (PMI) handler: runs before other guest code, which waits for it. */
  nmi?: boolean;
  run(now: Ns): void;
}

/** What a vCPU needs from its KVM (x86 or arm64). */
export interface KvmHost {
  readonly sys: System;
  readonly costs: KvmCosts;
  exitCost(v: KvmVcpu): number;
  guestPmuLoad(v: KvmVcpu, cpu: Cpu, now: Ns): void;
  guestPmuPut(v: KvmVcpu, cpu: Cpu, now: Ns): void;
  /**
   * kvm_arch_vcpu_load(). Returns false when the vCPU may not run on this CPU (arm64:
   * KVM_EXIT_FAIL_ENTRY / CPU_UNSUPPORTED after SET_PMU).
   */
  vcpuLoaded(v: KvmVcpu, cpu: Cpu, now: Ns): boolean;
}

/** The VM a vCPU belongs to, as the run loop sees it. */
export interface VcpuVm {
  readonly name: string;
  readonly kvm: KvmHost;
}

/** The work KVM does on the host side of an exit: kernel-mode code. */
const KVM_EXIT_WORKLOAD: Workload = {
  ...BUILTIN_WORKLOADS.syscall!,
  name: "kvm",
  base: { ...BUILTIN_WORKLOADS.syscall!.base, userFraction: 0 },
};

/** Guest software sampling work (perf's PMI handler, perf record): kernel or user code in the guest. */
const GUEST_SAMPLING_KERNEL: Workload = {
  ...BUILTIN_WORKLOADS.syscall!,
  name: "guest-perf-handler",
  base: { ...BUILTIN_WORKLOADS.syscall!.base, userFraction: 0 },
};
const GUEST_SAMPLING_USER: Workload = {
  ...BUILTIN_WORKLOADS.syscall!,
  name: "guest-perf-record",
  base: { ...BUILTIN_WORKLOADS.syscall!.base, userFraction: 1 },
};

const NOOP = (_now: Ns): void => {};

/**
 * A vCPU: a host task (PF_VCPU while in guest mode) whose run loop enters the guest, runs
 * the guest workload until an exit (the host tick, a configured exit rate, an intercepted
 * PMU access, a PMI), pays the exit cost on the host side and re-enters. The PMU switch
 * for the passthrough (RFC) or mediated (7.0) vPMU wraps every guest run.
 */
export class KvmVcpu {
  readonly task: Task;
  /** out: not running; guest: in guest mode; host: handling an exit. */
  state: "out" | "guest" | "host" = "out";
  /** Exits by reason. */
  readonly exits: Record<string, number> = {};
  nrEntries = 0;
  /** Time in guest mode and in exit handling (ns). */
  guestNs = 0;
  hostNs = 0;
  /**
   * Part of guestNs the guest spent on its own sampling work (guest perf's PMI handler,
   * samples, perf record's draining) rather than on its workload (ns).
   */
  guestSamplingNs = 0;
  /** The guest op whose work is under way (guest mode, sampling exec), or null. */
  private work: GuestOp | null = null;
  private workEnd = 0;
  private readonly workTimer: Timer;
  private readonly samplingKernelExec: WorkloadExec;
  private readonly samplingUserExec: WorkloadExec;
  /** The guest ran at least once (KVM_RUN). */
  hasRun = false;
  private since: Ns = 0 as Ns;
  private readonly guestExec: WorkloadExec;
  private readonly hostExec = new WorkloadExec(KVM_EXIT_WORKLOAD, "kvm", false);
  /**
   * The vCPU's next step: in guest mode its exit at `exitRate`, in host mode its entry after
   * the exit's cost. One timer for both, as only one is ever pending.
   */
  private readonly stepTimer: Timer;
  /** Time in guest mode between two exits at `exitRate` (ns). */
  private readonly exitPeriodNs: number;
  private readonly ops: GuestOp[] = [];
  /** Instructions of the guest's PMI handler, which run first. */
  private readonly nmiOps: GuestOp[] = [];
  private cpu: Cpu | null = null;
  /** Extra host work (ns) to add to the next exit (perf event creation in a reprogram). */
  pendingCostNs = 0;
  pmu: KvmX86Pmu | null = null;
  emulated: EmulatedBackend | null = null;
  mediated: MediatedBackend | null = null;

  constructor(
    readonly vm: VcpuVm,
    readonly id: number,
    guestWorkload: Workload,
    affinity: number[] | undefined,
    /** Configured exits per second from guest mode (I/O, timers), 0 for none. */
    readonly exitRate: number,
  ) {
    this.guestExec = new WorkloadExec(guestWorkload, `${vm.name}/${id}`, true);
    this.samplingKernelExec = new WorkloadExec(GUEST_SAMPLING_KERNEL, `${vm.name}/${id}`, true);
    this.samplingUserExec = new WorkloadExec(GUEST_SAMPLING_USER, `${vm.name}/${id}`, true);
    this.workTimer = new Timer(`guest work ${vm.name}/${id}`, (now) => this.workDone(now));
    const sys = vm.kvm.sys;
    this.task = sys.sched.spawn({
      comm: `${vm.name}/vcpu${id}`,
      exec: { execOn: (cpu: Cpu) => this.execOn(cpu) },
      affinity,
      isVcpu: true,
    });
    this.task.owner = this;
    this.exitPeriodNs = exitRate > 0 ? Math.round(1e9 / exitRate) : 0;
    this.stepTimer = new Timer(`run ${vm.name}/${id}`, (now) => this.step(now));
    // Entry and exit switch this CPU's PMU themselves (lazy loads: perf/guest-switch.ts).
    this.stepTimer.scope = TIMER_SCOPE_SELF;
  }

  /**
   * Guest code with its own execution profile (a test program's measured loop), run in
   * place of the guest workload while set; null: the workload.
   */
  private guestCode: ExecState | null = null;

  /** Switches the guest between its workload (null) and a given piece of code. */
  setGuestCode(exec: ExecState | null, now: Ns): void {
    this.guestCode = exec;
    if (this.state === "guest" && this.work === null)
      this.vm.kvm.sys.sched.refreshExec(this.task, now);
  }

  /** Label for traces. */
  get label(): string {
    return `${this.vm.name}/${this.id}`;
  }

  /** What the CPU executes for this task now. */
  execOn(cpu: Cpu): ExecState {
    if (this.state !== "guest") return this.hostExec.execOn(cpu);
    const w = this.work;
    if (w === null) return this.guestCode ?? this.guestExec.execOn(cpu);
    return (w.workUser ? this.samplingUserExec : this.samplingKernelExec).execOn(cpu);
  }

  /** The vCPU thread got a CPU (kvm_sched_in): it goes back into the guest. */
  scheduledIn(cpu: Cpu, now: Ns): void {
    this.cpu = cpu;
    this.state = "host";
    this.since = now;
    if (!this.vm.kvm.vcpuLoaded(this, cpu, now)) {
      // KVM_RUN returns to userspace before entering the guest; the thread waits for the
      // VMM to call KVM_RUN again.
      this.failEntry = { cpu: cpu.id, at: now };
      this.nrFailEntries++;
      this.account(now);
      this.state = "out";
      // Return to userspace once the context switch that brought us here is complete.
      const sys = this.vm.kvm.sys;
      sys.at(now, `fail-entry ${this.label}`, (t) => sys.sched.block(this.task, t));
      return;
    }
    this.enter(now);
  }

  /** Virtual PMIs KVM delivered to the guest at entry (KVM_REQ_PMI). */
  pmisDelivered = 0;
  /**
   * The guest is in its PMI handler (an NMI): a further PMI stays pending until the handler
   * returns (nmiReturn), as the CPU blocks NMIs until IRET.
   */
  private inNmi = false;
  /**
   * The guest's LVTPC is masked: KVM masks it when it delivers a PMI to an Intel guest, and
   * the guest's handler unmasks it (unmaskLvtpc). A PMI meanwhile is lost.
   */
  private lvtpcMasked = false;
  /** PMIs KVM could not deliver because the guest's LVTPC was masked (Intel guests). */
  pmisLost = 0;
  /** Guest software's PMI handler (a sampling guest perf), called when KVM injects a PMI. */
  onGuestPmi: ((now: Ns) => void) | null = null;

  /** The arm64 side of this vCPU, if any. */
  armVcpu: unknown = null;
  /** The last KVM_EXIT_FAIL_ENTRY (CPU_UNSUPPORTED) KVM_RUN reported, if any. */
  failEntry: { cpu: number; at: Ns } | null = null;
  nrFailEntries = 0;

  /** The vCPU thread loses its CPU (kvm_sched_out): leave guest mode first. */
  scheduledOut(now: Ns): void {
    if (this.state === "guest") this.leaveGuest(now, "preempt");
    this.account(now);
    const q = this.vm.kvm.sys.queue;
    if (this.stepTimer.armed) q.cancel(this.stepTimer);
    this.state = "out";
    this.cpu = null;
  }

  /** The host tick on this vCPU's CPU: an external-interrupt exit. */
  tick(now: Ns): void {
    if (this.state === "guest") this.exit(now, "tick", 0);
  }

  /** Another host timer interrupt on this vCPU's CPU: an external-interrupt exit. */
  timerInterrupt(now: Ns): void {
    if (this.state === "guest") this.exit(now, "timer", 0);
  }

  private account(now: Ns): void {
    const dt = now - this.since;
    if (this.state === "guest") {
      this.guestNs += dt;
      if (this.work !== null) this.guestSamplingNs += dt;
    } else if (this.state === "host") this.hostNs += dt;
    this.since = now;
  }

  /** The step timer: an exit at `exitRate` in guest mode, else the entry after an exit. */
  private step(now: Ns): void {
    if (this.state === "guest") this.exit(now, "io", 0);
    else this.enter(now);
  }

  /**
   * What the CPU executes changes with the vCPU's mode or work (the scheduler's
   * refreshExec(), for the vCPU thread that is running its own loop).
   */
  private refreshExec(now: Ns): void {
    const cpu = this.cpu;
    if (cpu === null || this.task.state !== "running") return;
    cpu.setExec(now, this.execOn(cpu), this.task.accountOn(cpu.id));
  }

  /** VM-entry: switch the PMU to the guest, then run guest code. */
  private enter(now: Ns): void {
    if (this.state !== "host" || !this.cpu) return;
    this.account(now);
    this.hasRun = true;
    const sys = this.vm.kvm.sys;
    this.vm.kvm.guestPmuLoad(this, this.cpu, now);
    this.state = "guest";
    this.task.flags |= PF_VCPU;
    this.refreshExec(now);
    this.nrEntries++;
    if (sys.trace.enabled) this.traceEntry(now);
    if (this.exitRate > 0) sys.queue.arm(this.stepTimer, (now + this.exitPeriodNs) as Ns);
    // kernel: kvm_pmu_deliver_pmi() on KVM_REQ_PMI: the guest takes its PMI on entry.
    const pmu = this.pmu;
    // The PMI is an NMI: its handler runs before guest instructions already waiting, which
    // wait for its IRET. While the guest is in its handler, NMIs are blocked: on AMD the PMI
    // waits for the IRET; an Intel guest's LVTPC is masked, so KVM drops it (the handler's
    // second GLOBAL_STATUS read finds what it would have reported).
    if (pmu?.pmiPending) {
      if (this.lvtpcMasked) {
        pmu.pmiPending = false;
        this.pmisLost++;
      } else if (!this.inNmi) {
        const op = this.takePmi(pmu);
        if (op) this.nmiOps.push(op);
      }
    }
    // Guest PMU instructions that were waiting for the vCPU to run.
    const op = this.nextOp();
    if (op) this.runOp(op, now);
  }

  /** Leaves guest mode: exec back to the host, PMU back to the host. */
  private leaveGuest(now: Ns, reason: ExitReason): void {
    this.account(now);
    const sys = this.vm.kvm.sys;
    if (this.work !== null) this.interruptWork(now);
    this.state = "host";
    this.task.flags &= ~PF_VCPU;
    this.refreshExec(now);
    this.vm.kvm.guestPmuPut(this, this.cpu!, now);
    this.exits[reason] = (this.exits[reason] ?? 0) + 1;
    if (this.stepTimer.armed) sys.queue.cancel(this.stepTimer);
    if (sys.trace.enabled) this.traceExit(now, reason);
  }

  // Trace records apart from enter() and leaveGuest(), which run on every transition.
  private traceEntry(now: Ns): void {
    this.vm.kvm.sys.trace.emit({
      kind: "kvm_entry",
      t: now,
      vm: this.vm.name,
      vcpu: this.id,
      cpu: this.cpu!.id,
    });
  }

  private traceExit(now: Ns, reason: ExitReason): void {
    this.vm.kvm.sys.trace.emit({
      kind: "kvm_exit",
      t: now,
      vm: this.vm.name,
      vcpu: this.id,
      cpu: this.cpu!.id,
      reason,
    });
  }

  /** A VM exit: handle it on the host for its cost, then re-enter. */
  exit(now: Ns, reason: ExitReason, extraNs: number): void {
    if (this.state !== "guest") return;
    this.leaveGuest(now, reason);
    const cost = this.vm.kvm.exitCost(this) + extraNs;
    this.vm.kvm.sys.queue.arm(this.stepTimer, (now + Math.max(1, Math.round(cost))) as Ns);
  }

  /**
   * The guest executes a PMU instruction. A passthrough access runs at once; an
   * intercepted one exits and KVM emulates it. When the vCPU is not in guest mode the
   * instruction waits until it is.
   */
  guestOp(op: GuestOp, now: Ns): void {
    if (this.state !== "guest" || this.work !== null || (this.inNmi && !op.nmi)) {
      (op.nmi ? this.nmiOps : this.ops).push(op);
      return;
    }
    this.runOp(op, now);
  }

  /**
   * The next guest instruction to run: the NMI handler's first; while the guest is in its
   * handler, nothing else (the CPU is in the NMI until IRET).
   */
  private nextOp(): GuestOp | undefined {
    if (this.nmiOps.length > 0) return this.nmiOps.shift();
    return this.inNmi ? undefined : this.ops.shift();
  }

  private runOp(op: GuestOp, now: Ns): void {
    if (!op.intercepted) {
      if (op.workNs !== undefined && op.workNs > 0) {
        this.startWork(op, now);
        return;
      }
      op.run(now);
      // The instruction may have led to an exit (its continuation trapped) or started guest
      // work: the rest waits.
      if (this.state !== "guest" || this.work !== null) return;
      const next = this.nextOp();
      if (next) this.runOp(next, now);
      return;
    }
    this.leaveGuest(now, op.reason);
    op.run(now);
    const cost = this.vm.kvm.exitCost(this) + op.costNs;
    this.vm.kvm.sys.queue.arm(this.stepTimer, (now + Math.max(1, Math.round(cost))) as Ns);
  }

  /**
   * Guest software work of `ns` in guest mode (kernel, or user with `user`), queued behind
   * the guest's pending PMU instructions; `done` runs when it completes. Exits interrupt
   * it and it resumes at the next entry; the guest workload makes no progress meanwhile.
   */
  guestWork(ns: number, user: boolean, now: Ns, done: (now: Ns) => void = NOOP, nmi = false): void {
    if (!(ns > 0)) {
      done(now);
      return;
    }
    this.guestOp(
      { intercepted: false, reason: "pmi", costNs: 0, workNs: ns, workUser: user, run: done, nmi },
      now,
    );
  }

  private startWork(op: GuestOp, now: Ns): void {
    this.account(now);
    this.work = op;
    this.workEnd = now + op.workNs!;
    this.refreshExec(now);
    this.vm.kvm.sys.queue.arm(this.workTimer, Math.max(now + 1, Math.round(this.workEnd)) as Ns);
  }

  private workDone(now: Ns): void {
    const op = this.work;
    if (op === null || this.state !== "guest") return;
    this.account(now);
    this.work = null;
    this.refreshExec(now);
    op.run(now);
    if (this.state !== "guest" || this.work !== null) return;
    const next = this.nextOp();
    if (next) this.runOp(next, now);
  }

  /** An exit during guest work: what is left of it resumes first at the next entry. */
  private interruptWork(now: Ns): void {
    const op = this.work!;
    this.work = null;
    if (this.workTimer.armed) this.vm.kvm.sys.queue.cancel(this.workTimer);
    const left = this.workEnd - now;
    (op.nmi ? this.nmiOps : this.ops).unshift(
      left > 0 ? { ...op, workNs: left } : { ...op, workNs: 0 },
    );
  }

  /** Delivers the pending PMI: the guest handler's op, or null when the guest has none. */
  private takePmi(pmu: KvmX86Pmu): GuestOp | null {
    pmu.pmiPending = false;
    this.pmisDelivered++;
    const h = this.onGuestPmi;
    if (!h) return null;
    this.inNmi = true;
    if (pmu.masksLvtpcOnPmi) this.lvtpcMasked = true;
    return { intercepted: false, reason: "pmi", costNs: 0, run: h, nmi: true };
  }

  /**
   * The guest's PMI handler returns (IRET): NMIs are unblocked. A PMI held meanwhile (its
   * LVTPC unmasked) is injected at the next entry: in guest mode, KVM's open NMI window
   * makes the IRET exit for it (kernel: svm's IRET intercept, VMX's NMI-window exit).
   */
  nmiReturn(now: Ns): void {
    this.inNmi = false;
    const pmu = this.pmu;
    if (pmu?.pmiPending && !this.lvtpcMasked && this.state === "guest")
      this.exit(now, "nmi_window", 0);
  }

  /**
   * The guest writes LVTPC unmasked (apic_write(APIC_LVTPC, APIC_DM_NMI) in its PMI handler:
   * at the start in x86_pmu_handle_irq(), at the end in intel_pmu_handle_irq() on CPUs with
   * late_ack). The APIC write itself is not modelled as an exit.
   */
  unmaskLvtpc(): void {
    this.lvtpcMasked = false;
  }

  /** Queues a PMI exit (the host overflow interrupt lands while the guest runs). */
  pmiExit(now: Ns): void {
    this.exit(now, "pmi", this.vm.kvm.costs.pmiInjectNs);
  }

  /** Total exits. */
  get nrExits(): number {
    return Object.values(this.exits).reduce((s, x) => s + x, 0);
  }

  /**
   * Model estimate of the workload's throughput loss (%): host exit handling plus the
   * guest's own sampling work, over the vCPU's run time (guest + host). Call sync() first.
   */
  get slowdownPct(): number {
    const run = this.guestNs + this.hostNs;
    return run > 0 ? (100 * (this.hostNs + this.guestSamplingNs)) / run : 0;
  }

  /** Guest-mode time so far, including the stretch in progress (ns). */
  guestTimeAt(now: Ns): number {
    return this.guestNs + (this.state === "guest" ? now - this.since : 0);
  }

  /** The CPU the vCPU thread is on, or null while it is not running. */
  get currentCpu(): Cpu | null {
    return this.cpu;
  }

  /** Rate per ns at which the guest workload produces quantity `q` on `cpu`. */
  guestRate(q: number, cpu: Cpu): number {
    return this.guestExec.execOn(cpu).rates[q] ?? 0;
  }

  /** Brings time accounting up to `now` (end of run). */
  sync(now: Ns): void {
    this.account(now);
  }
}

/** Builds the guest instructions that access the PMU of a vCPU (WRMSR, RDMSR, RDPMC). */
export class GuestPmuOps {
  /** #GP faults the guest took. */
  faults = 0;

  constructor(
    readonly vcpu: KvmVcpu,
    /** The instructions belong to the guest's PMI (NMI) handler. */
    readonly nmi = false,
  ) {
    if (!(vcpu instanceof KvmVcpu)) throw new ArgumentError("GuestPmuOps(vcpu)", "a KvmVcpu", vcpu);
    if (typeof nmi !== "boolean") throw new ArgumentError("GuestPmuOps(nmi)", "a boolean", nmi);
  }

  /** Runs `run` as a guest instruction; it exits (at the PMU MSR cost) when `intercepted`. */
  private issue(intercepted: boolean, reason: ExitReason, now: Ns, run: (t: Ns) => void): void {
    const costNs = this.vcpu.vm.kvm.costs.pmuMsrNs;
    this.vcpu.guestOp({ intercepted, reason, costNs, run, nmi: this.nmi }, now);
  }

  /**
   * Guest kernel code that touches no PMU register (a timer interrupt's handler), run in
   * order with the guest's other instructions: it waits while the vCPU is out or in an NMI.
   */
  code(now: Ns, run: (t: Ns) => void): void {
    checkTime("GuestPmuOps.code(now)", now, this.vcpu.vm.kvm.sys.now);
    checkFunction("GuestPmuOps.code(run)", run);
    this.vcpu.guestOp({ intercepted: false, reason: "msr", costNs: 0, run, nmi: this.nmi }, now);
  }

  /** A read's result for the guest: the value, or null after counting a #GP. */
  private value(r: bigint | symbol): bigint | null {
    if (typeof r === "bigint") return r;
    this.faults++;
    return null;
  }

  /** WRMSR: exits when KVM intercepts the MSR. */
  wrmsr(msr: number, value: bigint | number, now: Ns, done?: (ok: boolean) => void): void {
    checkTime("GuestPmuOps.wrmsr(now)", now, this.vcpu.vm.kvm.sys.now);
    if (done !== undefined) checkFunction("GuestPmuOps.wrmsr(done)", done);
    const pmu = this.vcpu.pmu;
    // ECX and EDX:EAX as the instruction takes them; a value no register holds is #GP.
    const idx = abiU32(msr);
    const v = abiU64(value);
    this.issue(!pmu || idx === null || pmu.intercepts(idx), "msr", now, (t) => {
      const r = pmu && idx !== null && v !== null ? pmu.wrmsr(idx, v, t) : GP_FAULT_;
      if (r !== true) this.faults++;
      done?.(r === true);
    });
  }

  /** RDMSR. */
  rdmsr(msr: number, now: Ns, done: (v: bigint | null) => void): void {
    checkTime("GuestPmuOps.rdmsr(now)", now, this.vcpu.vm.kvm.sys.now);
    checkFunction("GuestPmuOps.rdmsr(done)", done);
    const pmu = this.vcpu.pmu;
    const idx = abiU32(msr);
    this.issue(!pmu || idx === null || pmu.intercepts(idx), "msr", now, (t) =>
      done(this.value(pmu && idx !== null ? pmu.rdmsr(idx, t) : GP_FAULT_)),
    );
  }

  /**
   * Instructions KVM emulates (the KVM forced-emulation prefix): one exit, then each counts
   * once on the matching counters (the last `branches` of them are branches), at CPL `cpl`.
   */
  emulate(count: number, branches: number, cpl: 0 | 3, now: Ns, done?: () => void): void {
    checkNat("GuestPmuOps.emulate(count)", count);
    checkNat("GuestPmuOps.emulate(branches)", branches, count);
    checkOneOf("GuestPmuOps.emulate(cpl)", cpl, [0, 3] as const);
    checkTime("GuestPmuOps.emulate(now)", now, this.vcpu.vm.kvm.sys.now);
    if (done !== undefined) checkFunction("GuestPmuOps.emulate(done)", done);
    const pmu = this.vcpu.pmu;
    this.issue(true, "emulation", now, (t) => {
      for (let i = 0; i < count; i++)
        pmu?.emulatedInstructionRetired(i >= count - branches, cpl, t);
      done?.();
    });
  }

  /** RDPMC: passes through only with a mediated PMU that has every host counter. */
  rdpmc(ecx: number, now: Ns, done: (v: bigint | null) => void): void {
    checkTime("GuestPmuOps.rdpmc(now)", now, this.vcpu.vm.kvm.sys.now);
    checkFunction("GuestPmuOps.rdpmc(done)", done);
    const pmu = this.vcpu.pmu;
    const m = this.vcpu.mediated;
    const idx = abiU32(ecx);
    this.issue(!(m?.rdpmcPassthrough() ?? false), "rdpmc", now, (t) =>
      done(this.value(pmu && idx !== null ? pmu.rdpmc(idx, t) : GP_FAULT_)),
    );
  }
}

const GP_FAULT_ = Symbol("#GP");

/**
 * kvm_sched_out() / kvm_sched_in() (preempt notifiers): a vCPU thread leaves guest mode
 * before perf_event_task_sched_out() and re-enters after perf_event_task_sched_in(); the
 * host tick on its CPU is an exit. Installed once per KVM.
 */
export function registerVcpuPreemptNotifiers(sys: System): void {
  const out: SchedHook = {
    schedOut: (_cpu, prev, _next, now) => {
      if (prev.owner instanceof KvmVcpu) prev.owner.scheduledOut(now);
    },
    // The tick's exit comes before perf's tick hook, which then finds the guest put.
    tick: (cpu, now) => {
      const t = sys.sched.current(cpu.id);
      if (t?.owner instanceof KvmVcpu) t.owner.tick(now);
    },
  };
  const inn: SchedHook = {
    schedIn: (cpu, _prev, next, now) => {
      if (next.owner instanceof KvmVcpu) next.owner.scheduledIn(cpu, now);
    },
  };
  sys.sched.hooks.unshift(out);
  sys.sched.hooks.push(inn);
  // The perf core's multiplexing hrtimer is an interrupt too.
  sys.perf.irqHooks.push((cpu, now) => {
    const t = sys.sched.current(cpu);
    if (t?.owner instanceof KvmVcpu) t.owner.timerInterrupt(now);
  });
}
