// Guest entry/exit benchmark alone (section 5 of run.mjs), for profiling:
// node --cpu-prof bench/guest-switch.mjs [simMs]
import { x86PmuDesc as desc } from "../dist/hw/pmu-desc.js";
import { BUILTIN_WORKLOADS } from "../dist/hw/workload.js";
import { Kvm } from "../dist/kvm/kvm.js";
import { System } from "../dist/system.js";

const machine = {
  name: "x86-64cpu",
  arch: "x86_64",
  coreTypes: [
    {
      name: "core",
      scaling: { freqMHz: 3000, ipcScale: 1, refMHz: 2000 },
      pmu: desc({ name: "cpu", coreType: "core" }),
    },
  ],
  cpus: Array.from({ length: 64 }, () => ({ coreType: "core", cluster: 0 })),
  uncore: [],
  probeOrder: ["core"],
};
const run = (simNs) => {
  const sys = new System({ machine, profile: "7.0", checkInvariants: false });
  for (let c = 0; c < 64; c++) {
    for (let i = 0; i < 8; i++)
      sys.perfEventOpen({ type: 4, config: 0xc4, exclude_guest: true }, -1, c);
  }
  const kvm = new Kvm(sys, { enableMediatedPmu: true });
  const vm = kvm.createVm("vm0");
  const vcpus = [];
  for (let c = 0; c < 64; c++)
    vcpus.push(
      vm.createVcpu(c, { workload: BUILTIN_WORKLOADS.compute, affinity: [c], exitRate: 10_000 }, 0),
    );
  const c0 = process.cpuUsage();
  sys.run(simNs);
  const c1 = process.cpuUsage(c0);
  const wall = (c1.user + c1.system) / 1000;
  const transitions = vcpus.reduce((s, v) => s + v.nrEntries + v.nrExits, 0);
  return { wall, transitions };
};
run(50_000_000);
const simNs = Number(process.argv[2] ?? 1000) * 1e6;
const { wall, transitions } = run(simNs);
console.log(
  `${Math.round((wall * 1e6) / transitions)} ns/transition, ${transitions} transitions, ${(wall / 1000).toFixed(3)} s cpu`,
);
