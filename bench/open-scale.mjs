// perf_event_open scaling (section 6 of run.mjs), also runnable alone for profiling:
//   node --cpu-prof bench/open-scale.mjs [events] [CPUs]
// Opens `events` CPU-bound counting events (pid -1, cpu round-robin over the CPUs, raw 0xc4,
// enabled: each goes through the install and ctx_resched() of its CPU) on an idle x86 host,
// and reports the mean cost of the 1,000 opens ending at 1k, 10k and 100k events.
import { pathToFileURL } from "node:url";
import { System } from "../dist/system.js";
import { machineOf } from "./guest-switch.mjs";

/**
 * Opens `total` events over `nrCpus` CPUs; returns the mean ns per open of the 1,000 opens
 * ending at each checkpoint, and the wall ms of all the opens.
 */
export function runOpenScaling(total, nrCpus = 64, checkpoints = [1_000, 10_000, 100_000]) {
  const sys = new System({
    machine: machineOf(nrCpus),
    checkInvariants: false,
    perf: { nrOpen: total + 64 },
  });
  const attr = { type: 4, config: 0xc4 };
  const means = {};
  let wall = 0;
  let windowStart = 0;
  let t0 = performance.now();
  for (let i = 1; i <= total; i++) {
    if (i % 1000 === 1) {
      const t = performance.now();
      wall += t - t0;
      t0 = t;
      windowStart = t;
    }
    sys.perfEventOpen(attr, -1, (i - 1) % nrCpus);
    if (i % 1000 === 0 && checkpoints.includes(i)) {
      means[i] = ((performance.now() - windowStart) * 1e6) / 1000;
    }
  }
  wall += performance.now() - t0;
  return { means, wall };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const total = Number(process.argv[2] ?? 100_000);
  const nrCpus = Number(process.argv[3] ?? 64);
  if (!Number.isInteger(total) || total < 1000 || !Number.isInteger(nrCpus) || nrCpus < 1) {
    console.error("usage: node bench/open-scale.mjs [events >= 1000] [CPUs >= 1]");
    process.exit(2);
  }
  runOpenScaling(2000, nrCpus); // warm-up
  const { means, wall } = runOpenScaling(total, nrCpus);
  for (const [n, ns] of Object.entries(means))
    console.log(`mean of the 1,000 opens ending at ${n}: ${Math.round(ns)} ns/open`);
  console.log(`${total} opens: ${(wall / 1000).toFixed(3)} s wall`);
}
