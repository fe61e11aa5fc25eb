import type { MachineDesc } from "../../hw/machine.js";
import { Q } from "../../hw/quantity.js";
import { BUILTIN_WORKLOADS, type Workload } from "../../hw/workload.js";
import { KvmArm64, type KvmArmVcpu } from "../../kvm/arm64/kvm.js";
import { UNDEF } from "../../kvm/arm64/pmuv3.js";
import { type ArmVmmFlow, armVmmRun, armVmmSetupVcpu } from "../../kvm/arm64/vmm.js";
import { errnoName } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import { System } from "../../system.js";
import { GuestAbort } from "../abort.js";
import { afterGuestTime } from "../guest-time.js";
import {
  type ArmPmuTest,
  armPmuMain,
  type Guest,
  type GuestReq,
  type KutCtx,
  pmuIrqHandler,
  UNDEF_RESULT,
} from "./arm-pmu.js";
import { KutReport } from "./libcflat.js";

/**
 * The kvm-unit-tests guest as a workload: EL1 only (no user-mode share), a tight loop of
 * subs/ldr/cmp/b.gt, so one load every four instructions. Model parameters.
 */
export const KUT_WORKLOAD: Workload = {
  name: "kvm-unit-tests",
  base: { ...BUILTIN_WORKLOADS.compute!.base, memRatio: 0.25, loadFraction: 1, userFraction: 0 },
  overrides: {},
};

/** Guest instructions retired around each trapped access (the access, its isb, the loop). */
const INSNS_PER_ACCESS = 2;

/** How one arm/pmu.c run is set up. */
export interface KutArmOptions {
  /** Machine description (an arm64 preset). */
  machine: MachineDesc;
  /** Test name (arm/pmu.c's first argument). */
  test: ArmPmuTest;
  /** VMM behaviour for the PMU setup. */
  vmm: ArmVmmFlow;
  /** CPUs the VMM process is pinned to (taskset); all CPUs when omitted. */
  cpus?: number[];
  /** CPU the VMM main thread runs on (default: the first pinned CPU). */
  vmmCpu?: number;
  /** Kernel profile. */
  profile?: "5.18" | "7.0";
  /** cycle-counter's CPI argument (0: no strict check). */
  cpi?: number;
  seed?: number;
  /** Give up after this much simulated time (ns); default 2 s. */
  limitNs?: number;
}

/** What a run produced. */
export interface KutArmResult {
  /** VMM ioctls and their results. */
  vmm: Array<{ label: string; result: string }>;
  /** The guest's output (PASS/FAIL/SKIP/INFO lines and prints), then the SUMMARY line. */
  lines: string[];
  report: KutReport;
  /** The KVM_RUN exit the VMM saw last, if it was not a normal one. */
  exit: string | null;
  /** Simulated time the guest took (ns). */
  elapsedNs: number;
}

/** Drives a guest program on a vCPU: each request becomes a trapped access or guest run time. */
export class GuestDriver {
  private readonly ctx: KutCtx;
  private main: Guest;
  private handler: Guest | null = null;
  private pendingMain: bigint = 0n;
  done = false;

  constructor(
    private readonly sys: System,
    private readonly v: KvmArmVcpu,
    private readonly report: KutReport,
    main: (c: KutCtx) => Guest,
  ) {
    this.ctx = {
      t: report,
      pmu: { version: 0, n: 0, pmcrRo: 0 },
      stats: { bitmap: 0, interrupts: new Array<number>(32).fill(0), unexpected: false },
      irqEnabled: false,
    };
    this.main = main(this.ctx);
  }

  /** Starts the program at the vCPU's first guest entry. */
  start(now: Ns): void {
    this.v.run.guestOp(
      { intercepted: false, reason: "sysreg", costNs: 0, run: (t) => this.resume(0n, t) },
      now,
    );
  }

  /** Delivers a result to the running program, taking a pending PMU interrupt first. */
  private resume(value: bigint, now: Ns): void {
    if (this.done) return;
    const pmu = this.v.pmu;
    if (!this.handler && this.ctx.irqEnabled && pmu?.irqLevel) {
      this.pendingMain = value;
      this.handler = pmuIrqHandler(this.ctx);
      this.step(this.handler.next(), now);
      return;
    }
    if (this.handler) {
      const r = this.handler.next(value);
      if (!r.done) {
        this.step(r, now);
        return;
      }
      this.handler = null;
      this.resume(this.pendingMain, now);
      return;
    }
    let r: IteratorResult<GuestReq, unknown>;
    try {
      r = this.main.next(value);
    } catch (e) {
      if (!(e instanceof GuestAbort)) throw e;
      this.report.abort(e.message);
      this.done = true;
      return;
    }
    this.step(r, now);
  }

  private step(r: IteratorResult<GuestReq, unknown>, now: Ns): void {
    if (r.done) {
      if (this.handler) {
        this.handler = null;
        this.resume(this.pendingMain, now);
        return;
      }
      this.done = true;
      return;
    }
    const req = r.value;
    if (req.kind === "run") {
      this.runGuest(req.quantity, req.count, now, (t) => this.resume(0n, t));
      return;
    }
    // The instructions around the access run first, then the access traps to KVM.
    this.runGuest(Q.INSTRUCTIONS, INSNS_PER_ACCESS, now, (t) => this.access(req, t));
  }

  private access(req: Extract<GuestReq, { kind: "mrs" | "msr" }>, now: Ns): void {
    const v = this.v;
    v.run.guestOp(
      {
        intercepted: true,
        reason: "sysreg",
        costNs: v.vm.kvm.costs.pmuMsrNs,
        run: (t) => {
          let out: bigint | typeof UNDEF;
          if (req.reg === "ID_AA64DFR0_EL1") {
            out = v.idAa64Dfr0();
          } else if (!v.pmu) {
            out = UNDEF;
          } else if (req.kind === "mrs") {
            out = v.pmu.read(req.reg, req.idx, v.run.task.cpu);
          } else {
            out = v.pmu.write(req.reg, req.idx, req.value, t) === true ? 0n : UNDEF;
          }
          if (out === UNDEF && req.safe) {
            this.resume(UNDEF_RESULT, t);
            return;
          }
          if (out === UNDEF) {
            this.report.abort(
              `Unhandled exception: undefined instruction (${req.kind} ${req.reg}${req.idx ? `[${req.idx}]` : ""})`,
            );
            this.done = true;
            return;
          }
          this.resume(out, t);
        },
      },
      now,
    );
  }

  /** Lets the guest run ordinary code until `count` of `quantity` retired, in guest time. */
  private runGuest(quantity: number, count: number, now: Ns, then: (t: Ns) => void): void {
    const vc = this.v.run;
    const need = (): number => {
      const cpu = vc.currentCpu;
      const rate = cpu ? vc.guestRate(quantity, cpu) : 0;
      return rate > 0 ? count / rate : 0;
    };
    afterGuestTime(this.sys, vc, now, need, then);
  }
}

/**
 * Boots a one-vCPU VM on a simulated arm64 host with the chosen VMM behaviour and pinning,
 * runs one arm/pmu.c test in it and returns its output.
 */
export function runArmPmuTest(opts: KutArmOptions): KutArmResult {
  const sys = new System({
    machine: opts.machine,
    seed: opts.seed ?? 1,
    profile: opts.profile ?? "7.0",
  });
  const kvm = new KvmArm64(sys, opts.profile ?? "7.0");
  const report = new KutReport();
  const cpus = opts.cpus ?? sys.machine.cpus.map((c) => c.id);
  const vmmCpu = opts.vmmCpu ?? cpus[0]!;
  const vm = kvm.createVm("kut");
  const v = vm.createVcpu(0, KUT_WORKLOAD, cpus) as KvmArmVcpu;
  const vmmSteps = armVmmSetupVcpu(kvm, v, opts.vmm, { vmmCpu, pmu: true });
  const fmt = (ret: number) => (ret < 0 ? (errnoName(ret) ?? String(ret)) : String(ret));
  const vmmOut = vmmSteps.map((s) => ({ label: s.label, result: fmt(s.ret) }));
  let exit: string | null = null;
  const limit = opts.limitNs ?? 2_000_000_000;
  let elapsed = 0;
  if (vmmSteps.every((s) => s.ret >= 0)) {
    const r = armVmmRun(v, 0 as Ns);
    vmmOut.push({ label: r.label, result: fmt(r.ret) });
    if (r.ret < 0) {
      exit = `KVM_RUN failed: ${fmt(r.ret)}`;
    } else {
      const d = new GuestDriver(sys, v, report, (c) => armPmuMain(c, opts.test, opts.cpi ?? 0));
      d.start(0 as Ns);
      const chunk = 1_000_000;
      for (let t = chunk; t <= limit && !d.done; t += chunk) {
        sys.run(t as Ns);
        elapsed = t;
        const fe = v.run.failEntry;
        if (fe) {
          exit = `KVM_EXIT_FAIL_ENTRY: hardware_entry_failure_reason 0x1 (CPU_UNSUPPORTED), cpu ${fe.cpu}`;
          break;
        }
      }
      if (!d.done && !exit) exit = `guest did not finish within ${limit / 1e9} s of simulated time`;
    }
  } else {
    exit = "the VMM gave up before KVM_RUN";
  }
  if (exit) report.abort(exit);
  return {
    vmm: vmmOut,
    lines: [...report.lines, report.summary()],
    report,
    exit,
    elapsedNs: elapsed,
  };
}
