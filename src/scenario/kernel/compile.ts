import { DEFAULT_KVM_COSTS, type KvmCosts } from "../../kvm/costs.js";
import type { Ns } from "../../sim/time.js";
import type { CompileContext } from "../context.js";
import { pmuNames } from "../machine/compile.js";
import type { KernelSpecFile } from "./schema.js";

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

/** Compiles `kernel`: defaults, and the PMU names of the multiplexing intervals. */
export function compileKernel(
  spec: KernelSpecFile | undefined,
  ctx: CompileContext,
): KernelOptions {
  const k = spec ?? {};
  const kernel: KernelOptions = {
    profile: k.profile ?? "7.0",
    hz: k.hz ?? 250,
    schedLatency: ctx.dur(k.sched_latency, ["kernel", "sched_latency"], 6_000_000 as Ns),
    schedMinGranularity: ctx.dur(
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
      costs: kvmCosts(k.kvm?.costs),
    },
  };
  if (ctx.machine) {
    const names = new Set(pmuNames(ctx.machine));
    for (const name of Object.keys(kernel.muxIntervalMs)) {
      if (!names.has(name)) {
        ctx.err(
          ["kernel", "perf_event_mux_interval_ms", name],
          `no PMU named "${name}"`,
          `one of: ${[...names].join(", ")}`,
        );
      }
    }
  }
  return kernel;
}

type CostsSpec = NonNullable<NonNullable<KernelSpecFile["kvm"]>["costs"]>;

/** The KVM cost model: each figure as given (by its snake_case name), or its default. */
function kvmCosts(c: CostsSpec = {}): KvmCosts {
  const given = c as Record<string, number | undefined>;
  const snake = (k: string) => k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
  return Object.fromEntries(
    Object.entries(DEFAULT_KVM_COSTS).map(([k, d]) => [k, given[snake(k)] ?? d]),
  ) as unknown as KvmCosts;
}

/**
 * Kernel options that only matter to VMs, checked once when the scenario has VMs: the RFC's
 * sibling-loop fix outside rfc-v1, and rfc-v1 (an x86 design) on arm64.
 */
export function checkKernelForVms(
  spec: KernelSpecFile | undefined,
  kernel: KernelOptions,
  ctx: CompileContext,
): void {
  if (spec?.rfc_fix_sibling_loop !== undefined && kernel.profile !== "rfc-v1") {
    ctx.err(
      ["kernel", "rfc_fix_sibling_loop"],
      "only meaningful with the rfc-v1 profile",
      'profile: "rfc-v1"',
    );
  }
  if (ctx.machine?.arch === "arm64" && kernel.profile === "rfc-v1")
    ctx.err(["kernel", "profile"], "rfc-v1 is an x86 profile", '"7.0" or "5.18" on arm64');
}
