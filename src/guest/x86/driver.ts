import type { ExecState } from "../../hw/exec.js";
import type { Kvm } from "../../kvm/kvm.js";
import type { ExitReason, KvmVcpu } from "../../kvm/vcpu.js";
import { kvmGuestRdmsr, kvmGuestWrmsr } from "../../kvm/x86/guest-msr.js";
import { GP_FAULT } from "../../kvm/x86/msr.js";
import type { Ns } from "../../sim/time.js";
import type { System } from "../../system.js";
import { afterGuestTime } from "../guest-time.js";
import { blockExec, haltedExec } from "./code.js";
import { type CodeBlock, GuestAbort, type Ucall, type X86Guest, type X86Req } from "./program.js";

/** What one instruction that does not exit retires (RDTSC, a LAPIC write, a direct MSR access). */
const ONE_INSN: CodeBlock = { insns: 1 };
/** PAUSE takes about 140 cycles on recent Intel cores (model parameter). */
const PAUSE_CYCLES = 140;

/** How a driven program ended, or null while it runs. */
export type X86GuestEnd =
  | { kind: "done" }
  | { kind: "abort"; msg: string }
  | { kind: "exception"; msg: string };

/**
 * Runs an x86 guest program on a vCPU. Each request becomes what the CPU does:
 * - an access KVM intercepts (every PMU MSR with the emulated vPMU, event selects and
 *   FIXED_CTR_CTRL with the mediated one, RDPMC unless passed through, CPUID, a forced-
 *   emulation prefix, a ucall) is a VM exit: KVM handles it, and when it completes the
 *   instruction it counts it as retired (kernel: kvm_skip_emulated_instruction() ->
 *   kvm_pmu_instruction_retired()), on the counters counting instructions after the access;
 * - an access the guest makes directly, and ordinary code, run in guest mode and retire on
 *   the (virtual or real) counters as hardware does: a WRMSR that stops a counter is counted
 *   by it, one that starts it is not.
 * A PMI KVM injects goes to the guest's LAPIC (fixed vector, as kvm-unit-tests programs
 * LVTPC) and is taken at the next STI.
 */
export class X86GuestDriver {
  end: X86GuestEnd | null = null;
  /** The last ucall the guest made that returned to the VMM (sync), not yet resumed. */
  ucall: Ucall | null = null;
  /** Interrupts the guest took. */
  irqsTaken = 0;
  /** printf() output (ucall printf, and kvm-unit-tests' own prints go through the report). */
  readonly prints: string[] = [];
  private irr = false;
  private pendingResume: ((t: Ns) => void) | null = null;
  private readonly halted: ExecState;
  private readonly kvm: Kvm;

  constructor(
    private readonly sys: System,
    private readonly vcpu: KvmVcpu,
    private readonly prog: X86Guest,
  ) {
    this.kvm = vcpu.vm.kvm as Kvm;
    this.halted = haltedExec(`guest ${vcpu.label}`);
    // kernel: kvm_pmu_deliver_pmi() -> kvm_apic_local_deliver(APIC_LVTPC): the interrupt is
    // pending in the LAPIC until the guest enables interrupts.
    // A local first: see vcpuPmuHooks() in kvm/vm.ts (no closure literal assigned to a property).
    const onGuestPmi = (t: Ns) => {
      this.irr = true;
      vcpu.nmiReturn(t);
    };
    vcpu.onGuestPmi = onGuestPmi;
  }

  get done(): boolean {
    return this.end !== null;
  }

  /** Starts the program at the vCPU's (next) guest entry. */
  start(now: Ns): void {
    this.vcpu.setGuestCode(this.halted, now);
    this.guestInsn(now, (t) => this.resume(0n, t));
  }

  /** The VMM resumes a guest stopped in a sync ucall (KVM_RUN again). */
  resumeFromUcall(now: Ns): void {
    const r = this.pendingResume;
    if (!r) return;
    this.pendingResume = null;
    this.ucall = null;
    r(now);
  }

  private resume(value: bigint | null, now: Ns): void {
    if (this.end) return;
    let r: IteratorResult<X86Req, void>;
    try {
      r = this.prog.next(value);
    } catch (e) {
      if (!(e instanceof GuestAbort)) throw e;
      this.finish({ kind: "abort", msg: e.message }, now);
      return;
    }
    if (r.done) {
      this.finish({ kind: "done" }, now);
      return;
    }
    this.step(r.value, now);
  }

  private finish(end: X86GuestEnd, now: Ns): void {
    this.end = end;
    this.vcpu.setGuestCode(this.halted, now);
  }

  private step(req: X86Req, now: Ns): void {
    switch (req.kind) {
      case "code":
        this.runCode(req.block, now, (t) => this.resume(0n, t));
        return;
      case "wrmsr":
      case "rdmsr":
      case "rdpmc":
        this.pmuAccess(req, now);
        return;
      case "cpuid":
        this.exit("io", now, (t) => this.completed(0n, t));
        return;
      case "fep":
        this.forcedEmulation(req.branch, now);
        return;
      case "lvtpc":
        this.runCode(ONE_INSN, now, (t) => {
          this.vcpu.unmaskLvtpc();
          this.resume(0n, t);
        });
        return;
      case "sti-wait":
        this.stiWait(req.pauses, now);
        return;
      case "rdtsc":
        this.runCode(ONE_INSN, now, (t) => this.resume(this.tsc(t), t));
        return;
      case "ucall":
        this.ucallExit(req.call, now);
        return;
    }
  }

  /** The guest TSC: the host's reference clock (no TSC offset or scaling). */
  private tsc(now: Ns): bigint {
    const cpu = this.vcpu.currentCpu ?? this.sys.machine.cpus[0]!;
    return BigInt(Math.floor(now * (cpu.coreType.scaling.refMHz / 1000)));
  }

  /** Runs a code block in guest mode (waiting for the vCPU to be in the guest). */
  private runCode(block: CodeBlock, now: Ns, then: (t: Ns) => void): void {
    const vc = this.vcpu;
    let ns = 0;
    afterGuestTime(
      this.sys,
      vc,
      now,
      (t) => {
        const cpu = vc.currentCpu ?? this.sys.machine.cpus[vc.task.cpu]!;
        const b = blockExec(block, cpu);
        ns = b.ns;
        vc.setGuestCode(b.exec, t);
        return ns;
      },
      (t) => {
        vc.setGuestCode(this.halted, t);
        then(t);
      },
    );
  }

  /** An instruction that exits: `handle` runs in KVM at the exit. */
  private exit(reason: ExitReason, now: Ns, handle: (t: Ns) => void): void {
    this.vcpu.guestOp(
      { intercepted: true, reason, costNs: this.kvm.costs.pmuMsrNs, run: handle },
      now,
    );
  }

  /** An instruction the guest executes without exiting (a no-op wrapper that waits for guest mode). */
  private guestInsn(now: Ns, run: (t: Ns) => void): void {
    this.vcpu.guestOp({ intercepted: false, reason: "msr", costNs: 0, run }, now);
  }

  /** KVM finished emulating an exiting instruction: it retires (and counts), then the guest goes on. */
  private completed(value: bigint | null, now: Ns): void {
    // kernel: kvm_skip_emulated_instruction() -> kvm_pmu_instruction_retired().
    this.vcpu.pmu?.instructionSkipped(0, now);
    this.resume(value, now);
  }

  private fault(req: X86Req & { safe: boolean }, now: Ns): void {
    if (req.safe) {
      this.resume(null, now);
      return;
    }
    const what =
      req.kind === "rdpmc"
        ? `rdpmc 0x${req.ecx.toString(16)}`
        : `${req.kind} 0x${(req as { msr: number }).msr.toString(16)}`;
    this.finish({ kind: "exception", msg: `Unhandled exception 13 #GP (${what})` }, now);
  }

  private pmuAccess(req: Extract<X86Req, { kind: "wrmsr" | "rdmsr" | "rdpmc" }>, now: Ns): void {
    const v = this.vcpu;
    const pmu = v.pmu;
    const access = (t: Ns): bigint | null => {
      let r: bigint | true | typeof GP_FAULT;
      if (req.kind === "wrmsr") r = kvmGuestWrmsr(v, req.msr, req.value, t);
      else if (req.kind === "rdmsr") r = kvmGuestRdmsr(v, req.msr, t);
      else r = pmu ? pmu.rdpmc(req.ecx, t) : GP_FAULT;
      if (r === GP_FAULT) return null;
      return r === true ? 0n : r;
    };
    if (req.kind === "rdpmc" && req.forced) {
      this.exit("emulation", now, (t) => {
        const r = this.kvm.forceEmulationPrefix ? access(t) : null;
        if (r === null) {
          this.fault(req, t);
          return;
        }
        // kernel: the emulator retires the instruction (kvm_pmu_instruction_retired()).
        v.pmu?.emulatedInstructionRetired(false, 0, t);
        this.resume(r, t);
      });
      return;
    }
    const intercepted =
      req.kind === "rdpmc"
        ? !(v.mediated?.rdpmcPassthrough() ?? false)
        : !pmu || pmu.intercepts(req.msr);
    if (intercepted) {
      this.exit("msr", now, (t) => {
        const r = access(t);
        if (r === null) this.fault(req, t);
        else this.completed(r, t);
      });
      return;
    }
    // Passed through: the CPU executes it. A read sees the counters before the instruction
    // retires; a write takes effect after it.
    if (req.kind === "wrmsr") {
      this.runCode(ONE_INSN, now, (t) => {
        const r = access(t);
        if (r === null) this.fault(req, t);
        else this.resume(r, t);
      });
      return;
    }
    this.guestInsn(now, (t) => {
      const r = access(t);
      if (r === null) {
        this.fault(req, t);
        return;
      }
      this.runCode(ONE_INSN, t, (t2) => this.resume(r, t2));
    });
  }

  /**
   * kernel: handle_ud() with kvm.force_emulation_prefix: the prefixed instruction exits and
   * KVM's emulator runs it, counting an instruction (and a branch) retired. Without the
   * module parameter the guest takes #UD.
   */
  private forcedEmulation(branch: boolean, now: Ns): void {
    this.exit("emulation", now, (t) => {
      if (!this.kvm.forceEmulationPrefix) {
        this.resume(null, t);
        return;
      }
      this.vcpu.pmu?.emulatedInstructionRetired(branch, 0, t);
      this.resume(0n, t);
    });
  }

  /** sti; pause until an interrupt; cli. The handler acknowledges and unmasks LVTPC. */
  private stiWait(pauses: number, now: Ns): void {
    const take = (t: Ns): void => {
      this.irr = false;
      this.irqsTaken++;
      this.vcpu.unmaskLvtpc();
      this.resume(1n, t);
    };
    this.guestInsn(now, (t) => {
      if (this.irr) {
        take(t);
        return;
      }
      this.runCode({ insns: pauses, branches: pauses, cycles: pauses * PAUSE_CYCLES }, t, (t2) => {
        if (this.irr) take(t2);
        else this.resume(0n, t2);
      });
    });
  }

  /** A ucall: a port I/O exit to the VMM. A sync stops the vCPU until the VMM resumes it. */
  private ucallExit(call: Ucall, now: Ns): void {
    this.exit("io", now, (t) => {
      if (call.cmd === "printf") {
        this.prints.push(call.msg ?? "");
        this.completed(0n, t);
        return;
      }
      if (call.cmd === "done" || call.cmd === "abort") {
        this.finish(
          call.cmd === "done" ? { kind: "done" } : { kind: "abort", msg: call.msg ?? "" },
          t,
        );
        this.ucall = call;
        this.stopVcpu(t);
        return;
      }
      this.ucall = call;
      const resume = (t2: Ns) => {
        this.vcpu.vm.kvm.sys.sched.wake(this.vcpu.task, t2);
        this.completed(0n, t2);
      };
      this.pendingResume = resume;
      this.stopVcpu(t);
    });
  }

  /** KVM_RUN returns to userspace: the vCPU thread blocks once this exit is handled. */
  private stopVcpu(now: Ns): void {
    this.sys.at(now, `ucall ${this.vcpu.label}`, (t) => this.sys.sched.block(this.vcpu.task, t));
  }
}
