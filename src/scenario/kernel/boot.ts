import { KvmArm64 } from "../../kvm/arm64/kvm.js";
import { Kvm } from "../../kvm/kvm.js";
import { startNmiWatchdog } from "../../perf/watchdog.js";
import { System } from "../../system.js";
import type { Scenario } from "../compiled.js";
import { newRunContext, type RunContext, type RunOptions } from "../run-context.js";

/**
 * Boots the scenario's kernel on its machine: the system with the kernel's scheduler and
 * perf settings, KVM when the scenario uses it, the multiplexing intervals, the trace sinks
 * and the CPUs that start offline.
 */
export function boot(sc: Scenario, opts: RunOptions): RunContext {
  const k = sc.kernel;
  const sys = new System({
    machine: sc.machine,
    seed: opts.seed ?? sc.seed,
    sched: { hz: k.hz, latency: k.schedLatency, minGranularity: k.schedMinGranularity },
    perf: {
      paranoid: k.perfEventParanoid,
      maxSampleRate: k.perfEventMaxSampleRate,
      nrOpen: k.nrOpen,
    },
    ...(opts.checkInvariants ? { checkInvariants: "record" as const } : {}),
    profile: k.profile,
    fixSiblingLoop: k.rfcFixSiblingLoop,
  });
  const run = newRunContext(sys, k, loadKvm(sc, sys));
  for (const [name, ms] of Object.entries(k.muxIntervalMs)) {
    const pmu = sys.perf.registry.byName(name);
    if (pmu) pmu.hrtimerIntervalMs = ms;
  }
  for (const s of opts.traceSinks ?? []) sys.trace.attach(s);
  for (const c of sc.offline) sys.sched.setOnline(c, false, sys.now);
  return run;
}

/** KVM (x86 or arm64) when the scenario has VMs or makes KVM calls. */
function loadKvm(sc: Scenario, sys: System): RunContext["kvm"] {
  const k = sc.kernel;
  if (sc.vms.length === 0 && !sc.actions.some((a) => a.kind.kvm)) return { x86: null, arm: null };
  if (sc.machine.arch === "arm64")
    return {
      x86: null,
      arm: new KvmArm64(sys, k.profile === "5.18" ? "5.18" : "7.0", k.kvm.costs),
    };
  const params = { enablePmu: k.kvm.enablePmu, enableMediatedPmu: k.kvm.enableMediatedPmu };
  return { x86: new Kvm(sys, params, k.kvm.costs), arm: null };
}

/** The NMI watchdog's events (a stock x86 kernel has it on). */
export function startWatchdog(sc: Scenario, run: RunContext): void {
  if (sc.kernel.nmiWatchdog ?? sc.machine.arch === "x86_64")
    run.watchdog = startNmiWatchdog(run.sys.perf, sc.kernel.profile === "rfc-v1");
}
