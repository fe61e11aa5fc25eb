import type { X86VcpuCpuid } from "../../kvm/x86/cpuid.js";

/**
 * x86 guest programs: generators that yield what the guest CPU does, one instruction that
 * matters to the PMU at a time (WRMSR, RDMSR, RDPMC, CPUID, RDTSC, a forced-emulation
 * prefix, a LAPIC write, STI), plus blocks of ordinary code that retire known numbers of
 * instructions, branches and memory accesses. The driver (driver.ts) turns each request into
 * what the vCPU does: a VM exit KVM handles, or guest execution the PMU counts.
 */

/** Ordinary guest code: what it retires and how long it takes, in cycles. */
export interface CodeBlock {
  insns: number;
  branches?: number;
  branchMisses?: number;
  loads?: number;
  stores?: number;
  /** Memory instructions (loads + stores, a read-modify-write once); default loads + stores. */
  memInsns?: number;
  /** Ops that load from and store to one address, as AMD's LS_DISPATCH counts them apart. */
  ldStOps?: number;
  llcRefs?: number;
  llcMisses?: number;
  /** Core cycles; default one per instruction. */
  cycles?: number;
  /** Privilege level the code runs at (default 0, the guest kernel). */
  cpl?: 0 | 3;
}

/** A guest call to its VMM (the selftests' ucall: a port I/O exit to userspace). */
export interface Ucall {
  cmd: "sync" | "done" | "abort" | "printf";
  args: bigint[];
  /** abort and printf: the formatted message. */
  msg?: string;
}

/** One thing the guest CPU does. Results: a value, or null when the instruction faulted. */
export type X86Req =
  /** WRMSR/RDMSR/RDPMC; `safe`: a fault is expected and returned (rdmsr_safe()), else it aborts. */
  | { kind: "wrmsr"; msr: number; value: bigint; safe: boolean }
  | { kind: "rdmsr"; msr: number; safe: boolean }
  /** `forced`: behind the forced-emulation prefix, so KVM's emulator runs it (#UD without). */
  | { kind: "rdpmc"; ecx: number; safe: boolean; forced?: boolean }
  | { kind: "code"; block: CodeBlock }
  /** CPUID: always exits; KVM emulates and skips it. */
  | { kind: "cpuid" }
  /** An instruction behind KVM's forced-emulation prefix (null: #UD, the prefix is off). */
  | { kind: "fep"; branch: boolean }
  /** apic_write(APIC_LVTPC, vector): the LVT entry unmasked. */
  | { kind: "lvtpc" }
  /** sti; up to `pauses` PAUSEs waiting for an interrupt; cli. Result 1 if one was taken. */
  | { kind: "sti-wait"; pauses: number }
  | { kind: "rdtsc" }
  | { kind: "ucall"; call: Ucall };

/** A guest program: yields requests, receives their results. */
export type X86Guest<T = void> = Generator<X86Req, T, bigint | null>;

/** WRMSR; a #GP ends the program (an unhandled exception). */
export function* wrmsr(msr: number, value: bigint | number): X86Guest {
  yield { kind: "wrmsr", msr, value: BigInt.asUintN(64, BigInt(value)), safe: false };
}

/** wrmsr_safe(): true when the write took, false on #GP. */
export function* wrmsrSafe(msr: number, value: bigint | number): X86Guest<boolean> {
  const r = yield { kind: "wrmsr", msr, value: BigInt.asUintN(64, BigInt(value)), safe: true };
  return r !== null;
}

/** RDMSR; a #GP ends the program. */
export function* rdmsr(msr: number): X86Guest<bigint> {
  return (yield { kind: "rdmsr", msr, safe: false }) ?? 0n;
}

/** rdmsr_safe(): the value, or null on #GP. */
export function* rdmsrSafe(msr: number): X86Guest<bigint | null> {
  return yield { kind: "rdmsr", msr, safe: true };
}

/** RDPMC; a #GP ends the program. */
export function* rdpmc(ecx: number): X86Guest<bigint> {
  return (yield { kind: "rdpmc", ecx: ecx >>> 0, safe: false }) ?? 0n;
}

/** rdpmc_safe(): the value, or null on #GP. */
export function* rdpmcSafe(ecx: number): X86Guest<bigint | null> {
  return yield { kind: "rdpmc", ecx: ecx >>> 0, safe: true };
}

/** rdpmc_safe_fep(): RDPMC behind the forced-emulation prefix; null on a fault. */
export function* rdpmcSafeFep(ecx: number): X86Guest<bigint | null> {
  return yield { kind: "rdpmc", ecx: ecx >>> 0, safe: true, forced: true };
}

/** Runs a block of ordinary code. */
export function* code(block: CodeBlock): X86Guest {
  yield { kind: "code", block };
}

export function* cpuid(): X86Guest {
  yield { kind: "cpuid" };
}

/** One force-emulated instruction; false when the prefix raised #UD. */
export function* fep(branch: boolean): X86Guest<boolean> {
  return (yield { kind: "fep", branch }) !== null;
}

export function* lvtpcUnmask(): X86Guest {
  yield { kind: "lvtpc" };
}

/** sti, wait up to `pauses` PAUSE instructions for an interrupt, cli: was one taken? */
export function* stiWait(pauses: number): X86Guest<boolean> {
  return (yield { kind: "sti-wait", pauses }) === 1n;
}

export function* rdtsc(): X86Guest<bigint> {
  return (yield { kind: "rdtsc" }) ?? 0n;
}

export function* ucall(call: Ucall): X86Guest<bigint> {
  return (yield { kind: "ucall", call }) ?? 0n;
}

export { GuestAbort } from "../abort.js";

/** What a guest knows of its CPU: the vendor and the CPUID the VMM gave its vCPU. */
export interface X86GuestEnv {
  vendor: "intel" | "amd";
  cpuid: X86VcpuCpuid;
}
