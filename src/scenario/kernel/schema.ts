import { z } from "zod";
import { Duration } from "../values.js";

/** `kernel.kvm.costs`: the KVM cost model, each figure in ns (src/kvm/costs.ts). */
const KvmCostsSpec = z.strictObject({
  exit_base_ns: z.number().nonnegative().optional(),
  pmu_msr_ns: z.number().nonnegative().optional(),
  perf_event_create_ns: z.number().nonnegative().optional(),
  pmu_switch_ns: z.number().nonnegative().optional(),
  pmi_inject_ns: z.number().nonnegative().optional(),
  /** Emulated vPMU: perf_event_pause() of a backing event. */
  perf_event_pause_ns: z.number().nonnegative().optional(),
  /** Emulated vPMU: perf_event_period() on an active backing event. */
  perf_event_period_ns: z.number().nonnegative().optional(),
  /** Emulated vPMU: perf_event_enable() of a backing event. */
  perf_event_enable_ns: z.number().nonnegative().optional(),
  /** Emulated vPMU: per enabled backing event, the ctx_resched() an enable triggers. */
  perf_ctx_event_ns: z.number().nonnegative().optional(),
  /** Emulated vPMU: the host NMI for one backing event's overflow. */
  host_pmi_ns: z.number().nonnegative().optional(),
  /** Guest perf's PMI handler per PMI (guest kernel time). */
  guest_pmi_ns: z.number().nonnegative().optional(),
  /** Guest perf per sample: perf_event_overflow() and the ring buffer write (guest kernel time). */
  guest_sample_ns: z.number().nonnegative().optional(),
  /** Guest perf record's userspace draining per sample (guest user time). */
  guest_drain_ns: z.number().nonnegative().optional(),
});

/** The fields of kernel.kvm.costs, one per figure of the cost model. */
export const KVM_COSTS_FIELDS: readonly string[] = Object.keys(KvmCostsSpec.shape);

/** `kernel`: the kernel profile, scheduler and perf sysctls, and KVM's parameters and costs. */
export const KernelSpec = z.strictObject({
  profile: z.enum(["7.0", "5.18", "rfc-v1"]).optional(),
  hz: z.number().int().min(100).max(1000).optional(),
  sched_latency: Duration.optional(),
  sched_min_granularity: Duration.optional(),
  nmi_watchdog: z.boolean().optional(),
  perf_event_paranoid: z.number().int().min(-1).max(4).optional(),
  perf_event_max_sample_rate: z.number().int().min(1).optional(),
  perf_event_mux_interval_ms: z.record(z.string(), z.number().int().min(1)).optional(),
  nr_open: z.number().int().min(8).max(1048576).optional(),
  /** rfc-v1 only: apply the evident fix to the RFC's sibling loop. */
  rfc_fix_sibling_loop: z.boolean().optional(),
  /** KVM module parameters and cost model. */
  kvm: z
    .strictObject({
      enable_pmu: z.boolean().optional(),
      /** 7.0: kvm-intel.enable_mediated_pmu; rfc-v1: enable_passthrough_pmu. */
      enable_mediated_pmu: z.boolean().optional(),
      costs: KvmCostsSpec.optional(),
    })
    .optional(),
});

export type KernelSpecFile = z.infer<typeof KernelSpec>;
