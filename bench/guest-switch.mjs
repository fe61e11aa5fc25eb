// The guest entry/exit benchmark (section 5 of run.mjs), also runnable alone for profiling:
//   node --cpu-prof bench/guest-switch.mjs [simulated ms] [host events per CPU] [CPUs]
// 64 CPUs, one mediated (7.0) vCPU pinned per CPU exiting 10,000 times per simulated
// second, 8 host exclude_guest events per CPU (the arguments change those numbers); the
// limit kernel (limit-kernel.mjs) runs the same shape right after.
import { pathToFileURL } from "node:url";
import { x86PmuDesc } from "../dist/hw/pmu-desc.js";
import { BUILTIN_WORKLOADS } from "../dist/hw/workload.js";
import { Kvm } from "../dist/kvm/kvm.js";
import { System } from "../dist/system.js";
import { runLimit } from "./limit-kernel.mjs";

/** An x86 host with `nrCpus` CPUs of one core type (8 GP and 3 fixed counters each). */
export function machineOf(nrCpus) {
  return {
    name: `x86-${nrCpus}cpu`,
    arch: "x86_64",
    coreTypes: [
      {
        name: "core",
        scaling: { freqMHz: 3000, ipcScale: 1, refMHz: 2000 },
        pmu: x86PmuDesc({ name: "cpu", coreType: "core" }),
      },
    ],
    cpus: Array.from({ length: nrCpus }, () => ({ coreType: "core", cluster: 0 })),
    uncore: [],
    probeOrder: ["core"],
  };
}

/**
 * Runs `simNs` of the setup with `nrEvents` host events on each of `nrCpus` CPUs; returns wall
 * ms of the run and the number of transitions.
 */
export function runGuestSwitch(simNs, nrEvents = 8, nrCpus = 64) {
  const NR_CPUS = nrCpus;
  const sys = new System({
    machine: machineOf(nrCpus),
    profile: "7.0",
    checkInvariants: false,
    perf: { nrOpen: nrCpus * nrEvents + 64 },
  });
  for (let c = 0; c < NR_CPUS; c++) {
    for (let i = 0; i < nrEvents; i++)
      sys.perfEventOpen({ type: 4, config: 0xc4, exclude_guest: true }, -1, c);
  }
  const kvm = new Kvm(sys, { enableMediatedPmu: true });
  const vm = kvm.createVm("vm0");
  const vcpus = [];
  for (let c = 0; c < NR_CPUS; c++)
    vcpus.push(
      vm.createVcpu(c, { workload: BUILTIN_WORKLOADS.compute, affinity: [c], exitRate: 10_000 }, 0),
    );
  const t0 = performance.now();
  sys.run(simNs);
  const wall = performance.now() - t0;
  const transitions = vcpus.reduce((s, v) => s + v.nrEntries + v.nrExits, 0);
  return { wall, transitions };
}

/**
 * vpmu and the limit kernel on one shape, best of `reps` runs each, after a warm-up;
 * ns per transition of both.
 */
export function compareWithLimit(simNs, nrEvents, nrCpus, reps = 3) {
  const best = (run) => {
    run(Math.min(simNs, 50_000_000));
    let b = null;
    for (let i = 0; i < reps; i++) {
      const r = run(simNs);
      if (!b || r.wall < b.wall) b = r;
    }
    return { ns: (b.wall * 1e6) / b.transitions, ...b };
  };
  const vpmu = best((ns) => runGuestSwitch(ns, nrEvents, nrCpus));
  const limit = best((ns) => runLimit(ns, nrEvents, nrCpus));
  return { vpmu, limit, ratio: vpmu.ns / limit.ns };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ms = Number(process.argv[2] ?? 1000);
  const nrEvents = Number(process.argv[3] ?? 8);
  const nrCpus = Number(process.argv[4] ?? 64);
  if (
    !(ms > 0) ||
    !Number.isInteger(nrEvents) ||
    nrEvents < 0 ||
    !Number.isInteger(nrCpus) ||
    nrCpus < 1 ||
    nrCpus > 1024
  ) {
    console.error(
      "usage: node bench/guest-switch.mjs [simulated ms > 0] [host events per CPU >= 0] [CPUs 1-1024]",
    );
    process.exit(2);
  }
  const { vpmu, limit, ratio } = compareWithLimit(ms * 1e6, nrEvents, nrCpus, 1);
  console.log(
    `${Math.round(vpmu.ns)} ns/transition (limit ${Math.round(limit.ns)} ns, ${ratio.toFixed(1)}x), ${vpmu.transitions} transitions, ${(vpmu.wall / 1000).toFixed(3)} s wall`,
  );
}
