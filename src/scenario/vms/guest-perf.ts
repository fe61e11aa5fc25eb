import { ArmGuestPerfStat } from "../../guest/arm-perf-stat.js";
import { GuestPerfRecord } from "../../guest/perf-record.js";
import {
  GUEST_AMD_UNSUPPORTED,
  type GuestCounterResult,
  GuestPerfStat,
} from "../../guest/perf-stat.js";
import type { KvmArmVm } from "../../kvm/arm64/kvm.js";
import type { KvmVm } from "../../kvm/vm.js";
import { parseEvent } from "../../perf/tool/parse-events.js";
import { attachMetrics, counterAttr } from "../../perf/tool/stat-shadow.js";
import type { CounterResult, MeasurementResult } from "../../report/result.js";
import type { RunContext } from "../run-context.js";
import type { GuestPerfDecl } from "./compile.js";
import { guestEvents, inEventOrder } from "./guest-events.js";

/** A guest perf stat as the runner drives it (x86 or arm64). */
interface GuestStat {
  readonly noPmu: boolean;
  start(now: number): void;
  stop(now: number): void;
  /** The end of the run: reads still waiting for the vCPU take the counters as they are. */
  finishReads(now: number): void;
  result(): GuestCounterResult[];
}

/**
 * perf stat inside an x86 guest: started on its vCPU at its start, stopped at its stop, its
 * counters read at the end of the run; events with no AMD encoding stay `<not supported>`.
 */
export function scheduleGuestStat(vm: KvmVm, m: GuestPerfDecl, run: RunContext): void {
  const unsupported = vm.kvm.amd ? GUEST_AMD_UNSUPPORTED : [];
  const target = guestTarget(vm.name, m);
  scheduleStat(run, m, target, {
    make: () => {
      const v = vm.vcpus.find((x) => x.id === m.vcpu);
      return v && new GuestPerfStat(v, guestEvents(m.events, vm.kvm.amd, unsupported));
    },
    counters: (counted) => inEventOrder(m.events, unsupported, counted),
    missing: (now) => run.measurements.set(m.name, noVcpu(m, target, vm.name, now)),
  });
}

/** perf stat inside an arm64 guest; a vCPU that never existed leaves no result. */
export function scheduleArmGuestStat(vm: KvmArmVm, m: GuestPerfDecl, run: RunContext): void {
  scheduleStat(run, m, guestTarget(vm.name, m), {
    make: () => {
      const v = vm.vcpus.find((x) => x.id === m.vcpu);
      return v && new ArmGuestPerfStat(v, m.events);
    },
    counters: (counted) => counted,
    missing: () => {},
  });
}

function scheduleStat(
  run: RunContext,
  m: GuestPerfDecl,
  target: string,
  how: {
    make: () => GuestStat | undefined;
    counters: (counted: CounterResult[]) => CounterResult[];
    missing: (now: number) => void;
  },
): void {
  let stat: GuestStat | undefined;
  run.sys.at(m.start, `guest perf ${m.name}`, (now) => {
    stat = how.make();
    stat?.start(now);
  });
  run.sys.at(m.stop, `guest perf stop ${m.name}`, (now) => {
    if (!stat) {
      how.missing(now);
      return;
    }
    const st = stat;
    st.stop(now);
    // The stop's reads may wait for the vCPU (an exiting read waits for the next entry):
    // the result is made at the end of the run, where reads still waiting are taken.
    run.measurements.readAtEnd(m.name, () => {
      st.finishReads(run.sys.now);
      return {
        name: m.name,
        target,
        start_ns: m.start,
        stop_ns: now,
        counters: withMetrics(how.counters(statCounters(st)), now - m.start),
        intervals: [],
      };
    });
  });
}

/**
 * perf stat in the guest prints the metric column as it does on a host: each counter gets
 * the attr the guest's perf opened it with (a perf name or a raw rNNNN) and the shadow
 * metrics of the guest's scaled counts over the guest's wall time.
 */
function withMetrics(counters: CounterResult[], walltimeNs: number): CounterResult[] {
  for (const c of counters) {
    const e = parseEvent(c.event);
    if (typeof e === "string") continue;
    c.attr = counterAttr({
      type: e.type,
      config: e.config,
      exclude_user: e.excludeUser,
      exclude_kernel: e.excludeKernel,
      exclude_hv: e.excludeHv,
    });
  }
  attachMetrics(counters, walltimeNs);
  return counters;
}

/** A guest perf stat's counters in the result's shape. */
function statCounters(stat: GuestStat): CounterResult[] {
  return stat.result().map((c) => ({
    event: c.event,
    count: c.count,
    enabled_ns: c.enabled_ns,
    running_ns: c.running_ns,
    scaled: c.scaled,
    status: stat.noPmu ? "not supported" : c.running_ns > 0 ? "counted" : "not counted",
    truth: c.truth,
    state: stat.noPmu ? "no vPMU" : "guest",
  }));
}

/** perf record inside an x86 guest: sampling with guest PMIs, reported as perf report would. */
export function scheduleGuestRecord(
  vm: KvmVm,
  m: GuestPerfDecl,
  opts: { freq?: number; period?: number },
  run: RunContext,
): void {
  const target = guestTarget(vm.name, m);
  let rec: GuestPerfRecord | null = null;
  const unsupported = vm.kvm.amd ? GUEST_AMD_UNSUPPORTED : [];
  run.sys.at(m.start, `guest perf record ${m.name}`, (now) => {
    const v = vm.vcpus.find((x) => x.id === m.vcpu);
    if (!v) return;
    rec = new GuestPerfRecord(v, guestEvents(m.events, vm.kvm.amd, unsupported), opts);
    rec.start(now);
  });
  run.sys.at(m.stop, `guest perf record stop ${m.name}`, (now) => {
    if (!rec) {
      run.measurements.set(m.name, noVcpu(m, target, vm.name, now));
      return;
    }
    rec.stop(now);
    const mode = opts.freq ? `-F ${opts.freq}` : `-c ${opts.period}`;
    run.measurements.set(m.name, {
      name: m.name,
      target: `${target} (perf record ${mode}, ${rec.pmis} PMIs)`,
      start_ns: m.start,
      stop_ns: now,
      counters: inEventOrder(m.events, unsupported, recordCounters(rec, now - m.start)),
      intervals: [],
    });
  });
}

/** perf report's view of each event: "Event count (approx.)", the periods that elapsed. */
function recordCounters(r: GuestPerfRecord, enabled: number): CounterResult[] {
  return r.result().map((c) => ({
    event: c.event,
    count: c.approx,
    enabled_ns: enabled,
    running_ns: c.running_ns,
    scaled: r.noPmu ? null : c.approx,
    status: r.noPmu ? "not supported" : c.samples > 0 ? "counted" : "not counted",
    truth: c.truth,
    state: r.noPmu ? "no vPMU" : "guest",
    samples: c.samples,
  }));
}

function guestTarget(vmName: string, m: GuestPerfDecl): string {
  return `guest ${vmName}/vcpu${m.vcpu}`;
}

/** A guest measurement whose vCPU was never created. */
function noVcpu(m: GuestPerfDecl, target: string, vmName: string, now: number): MeasurementResult {
  return {
    name: m.name,
    target,
    start_ns: m.start,
    stop_ns: now,
    counters: [],
    intervals: [],
    error: `vCPU ${m.vcpu} of ${vmName} does not exist`,
  };
}
