import type { Ns } from "../../sim/time.js";
import { KVM_ARM_VCPU_PMU_V3, type KvmArm64, type KvmArmVcpu, PMU_ATTR } from "./kvm.js";

/**
 * How a VMM sets up the vCPU PMU on arm64:
 * - `qemu`: KVM_ARM_VCPU_INIT with PMU_V3, then IRQ and INIT (no SET_PMU).
 * - `kvmtool`: HAS+SET IRQ 23, SET_PMU with the type of the PMU whose `cpus` holds the CPU
 *   the main thread runs on (when KVM has SET_PMU), then HAS+SET INIT.
 * - `firecracker`: the PMU_V3 feature bit only, so the first KVM_RUN fails.
 * - `none`: nothing; the scenario's own actions do the setup.
 */
export type ArmVmmFlow = "qemu" | "kvmtool" | "firecracker" | "none";

/** One ioctl a VMM made and what it returned (0 or -errno). */
export interface VmmStep {
  label: string;
  ret: number;
}

/** The PMU interrupt kvmtool and QEMU use (a PPI). */
export const KVM_ARM_PMUV3_PPI = 23;

/**
 * Runs a VMM's vCPU setup up to (not including) KVM_RUN. Stops at the first failing call,
 * as VMMs die on it. `vmmCpu` is the CPU the VMM thread making the calls runs on.
 */
export function armVmmSetupVcpu(
  kvm: KvmArm64,
  v: KvmArmVcpu,
  flow: ArmVmmFlow,
  opts: { vmmCpu: number; pmu: boolean },
): VmmStep[] {
  const steps: VmmStep[] = [];
  if (flow === "none") return steps;
  const tag = `${v.vm.name}, ${v.id}`;
  const call = (label: string, fn: () => number): boolean => {
    const ret = fn();
    steps.push({ label, ret });
    return ret >= 0;
  };
  const features = opts.pmu ? 1 << KVM_ARM_VCPU_PMU_V3 : 0;
  if (
    !call(`KVM_ARM_VCPU_INIT(${tag}${opts.pmu ? ", PMU_V3" : ""})`, () =>
      v.init(features, opts.vmmCpu),
    )
  )
    return steps;
  if (!opts.pmu || flow === "firecracker") return steps;
  if (flow === "kvmtool") {
    // kvmtool find_pmu(): the first PMU whose cpus include sched_getcpu() of the main thread.
    let pmu: ReturnType<KvmArm64["armPmus"]>[number] | undefined;
    if (v.hasAttr(PMU_ATTR.SET_PMU) === 0)
      pmu = kvm.armPmus().find((p) => p.cpus.includes(opts.vmmCpu));
    if (!call(`HAS IRQ (${tag})`, () => v.hasAttr(PMU_ATTR.IRQ))) return steps;
    if (
      !call(`SET IRQ ${KVM_ARM_PMUV3_PPI} (${tag})`, () =>
        v.setAttr(PMU_ATTR.IRQ, KVM_ARM_PMUV3_PPI),
      )
    )
      return steps;
    if (pmu) {
      const p = pmu;
      if (
        !call(`SET SET_PMU ${p.name} type ${p.type} (${tag})`, () =>
          v.setAttr(PMU_ATTR.SET_PMU, p.type),
        )
      )
        return steps;
    }
    if (!call(`HAS INIT (${tag})`, () => v.hasAttr(PMU_ATTR.INIT))) return steps;
    call(`SET INIT (${tag})`, () => v.setAttr(PMU_ATTR.INIT, 0));
    return steps;
  }
  if (
    !call(`SET IRQ ${KVM_ARM_PMUV3_PPI} (${tag})`, () => v.setAttr(PMU_ATTR.IRQ, KVM_ARM_PMUV3_PPI))
  )
    return steps;
  call(`SET INIT (${tag})`, () => v.setAttr(PMU_ATTR.INIT, 0));
  return steps;
}

/** KVM_RUN as a step. */
export function armVmmRun(v: KvmArmVcpu, now: Ns): VmmStep {
  return { label: `KVM_RUN(${v.vm.name}, ${v.id})`, ret: v.kvmRun(now) };
}
