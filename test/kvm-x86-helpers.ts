import type { GP_FAULT } from "../src/kvm/x86/msr.js";
import type { KvmX86Pmu } from "../src/kvm/x86/pmu.js";
import type { Ns } from "../src/sim/time.js";
import type { System } from "../src/system.js";

/** What the x86 KVM tests' guest helpers need: the system and the vCPU's PMU. */
export interface PmuGuest {
  sys: System;
  pmu: KvmX86Pmu;
}

export function runFor(sys: System, ns: number): void {
  sys.run((sys.now + ns) as Ns);
}

/** A WRMSR applied to the vCPU's PMU directly (host-initiated with `host`). */
export function wr(
  g: PmuGuest,
  msr: number,
  value: bigint | number,
  host = false,
): true | typeof GP_FAULT {
  return g.pmu.wrmsr(msr, BigInt(value), g.sys.now, host);
}

/** An RDMSR of the vCPU's PMU. */
export function rd(g: PmuGuest, msr: number): bigint | typeof GP_FAULT {
  return g.pmu.rdmsr(msr, g.sys.now);
}
