import { z } from "zod";
import { CallExpect, CpuList, Duration, FilterEvent, Name } from "../values.js";

/** `vms`: KVM guests, their vCPUs, and the perf they run inside. */

const FilterSpec = z.strictObject({
  action: z.enum(["allow", "deny"]),
  /** eventsel | umask << 8 entries (or masked entries with masked: true). */
  events: z.array(FilterEvent),
  fixed_counter_bitmap: z.number().int().nonnegative().optional(),
  masked: z.boolean().optional(),
});

const VcpuSpec = z.strictObject({
  affinity: CpuList.optional(),
  start: Duration.optional(),
  /** VM exits per second besides the host tick (I/O, timers). */
  exit_rate: z.number().nonnegative().max(1_000_000).optional(),
  expect: z.lazy(() => CallExpect).optional(),
});

/** perf stat (or perf record) inside the guest. */
const GuestPerfSpec = z.strictObject({
  name: Name,
  vcpu: z.number().int().nonnegative().optional(),
  events: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    error: 'guest events such as "cycles,instructions,branches" or raw r00c4',
  }),
  start: Duration.optional(),
  stop: Duration.optional(),
  /** perf record instead of perf stat: -F <freq> or -c <period>, with guest PMIs. */
  record: z
    .union(
      [
        z.strictObject({ freq: z.number().int().min(1).max(100_000) }),
        z.strictObject({
          period: z
            .number()
            .int()
            .min(1)
            .max(2 ** 47),
        }),
      ],
      { error: "record needs { freq: <1-100000 Hz> } or { period: <events> }" },
    )
    .optional(),
});

export const VmSpec = z.strictObject({
  name: Name,
  /**
   * arm64: how the VMM sets up the PMU of each vCPU (src/kvm/arm64/vmm.ts): qemu (IRQ, INIT),
   * kvmtool (IRQ, SET_PMU of the PMU covering the VMM thread's CPU, INIT), firecracker
   * (feature bit, no INIT), or none (KVM_CREATE_VCPU only: VCPU_INIT, the PMU attributes and
   * KVM_RUN are actions).
   */
  vmm: z.enum(["qemu", "kvmtool", "firecracker", "none"]).optional(),
  /** arm64: the CPU the VMM's main thread runs on (where VCPU_INIT executes). */
  vmm_cpu: z.number().int().nonnegative().optional(),
  /** arm64: request the PMUv3 vCPU feature (default true). */
  pmu: z.boolean().optional(),
  /** arm64: the vGIC is initialized before the PMU (default true). */
  vgic_ready: z.boolean().optional(),
  /** An in-kernel irqchip (local APIC); without it the 7.0 mediated vPMU is silently off. */
  irqchip: z.boolean().optional(),
  /** Guest CPUID leaf 0xA; defaults to what KVM supports. */
  cpuid: z
    .strictObject({
      version: z.number().int().min(0).max(255),
      gp: z.number().int().min(0).max(255),
      gp_width: z.number().int().min(0).max(64).optional(),
      fixed: z.number().int().min(0).max(31).optional(),
      fixed_width: z.number().int().min(0).max(64).optional(),
    })
    .optional(),
  /**
   * AMD hosts: the guest CPUID bits that shape the AMD vPMU (0x80000001 ECX PerfCtrExtCore,
   * 0x80000022 PerfMonV2 and NumCorePmc); each defaults to what KVM supports.
   */
  amd_cpuid: z
    .strictObject({
      perfctr_core: z.boolean().optional(),
      perfmon_v2: z.boolean().optional(),
      num_core_pmc: z.number().int().min(0).max(15).optional(),
    })
    .optional(),
  filter: FilterSpec.optional(),
  /** The guest's workload (what its vCPUs execute in guest mode). */
  workload: z.string().optional(),
  vcpus: z.array(VcpuSpec).min(1).max(256),
  /** perf stat inside the guest. */
  perf: z.array(GuestPerfSpec).optional(),
});

export type VmSpecFile = z.infer<typeof VmSpec>;
export type GuestPerfSpecFile = z.infer<typeof GuestPerfSpec>;
