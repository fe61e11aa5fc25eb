// The guest entry/exit benchmark (section 5 of run.mjs), also runnable alone for profiling:
//   node --cpu-prof bench/guest-switch.mjs [simulated ms] [host events per CPU]
// 64 CPUs, one mediated (7.0) vCPU pinned per CPU exiting 10,000 times per simulated
// second, 8 host exclude_guest events per CPU (the second argument changes that number).
import { pathToFileURL } from "node:url";
import { x86PmuDesc } from "../dist/hw/pmu-desc.js";
import { BUILTIN_WORKLOADS } from "../dist/hw/workload.js";
import { Kvm } from "../dist/kvm/kvm.js";
import { System } from "../dist/system.js";

const NR_CPUS = 64;
const machine = {
  name: "x86-64cpu",
  arch: "x86_64",
  coreTypes: [
    {
      name: "core",
      scaling: { freqMHz: 3000, ipcScale: 1, refMHz: 2000 },
      pmu: x86PmuDesc({ name: "cpu", coreType: "core" }),
    },
  ],
  cpus: Array.from({ length: NR_CPUS }, () => ({ coreType: "core", cluster: 0 })),
  uncore: [],
  probeOrder: ["core"],
};

/**
 * Runs `simNs` of the setup with `nrEvents` host events per CPU; returns wall ms of the run
 * and the number of transitions.
 */
export function runGuestSwitch(simNs, nrEvents = 8) {
  const sys = new System({ machine, profile: "7.0", checkInvariants: false });
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

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const nrEvents = Number(process.argv[3] ?? 8);
  const ms = Number(process.argv[2] ?? 1000);
  // 64 CPUs share the process's 1024 perf fds (RLIMIT_NOFILE): at most 15 events per CPU.
  if (!Number.isInteger(nrEvents) || nrEvents < 0 || nrEvents > 15 || !(ms > 0)) {
    console.error(
      "usage: node bench/guest-switch.mjs [simulated ms > 0] [host events per CPU, 0-15]",
    );
    process.exit(2);
  }
  runGuestSwitch(50_000_000, nrEvents); // warm-up
  const simNs = ms * 1e6;
  const { wall, transitions } = runGuestSwitch(simNs, nrEvents);
  console.log(
    `${Math.round((wall * 1e6) / transitions)} ns/transition, ${transitions} transitions, ${(wall / 1000).toFixed(3)} s wall`,
  );
}
