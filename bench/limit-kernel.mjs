// The practical limit of guest entry/exit in this simulation: a hand-written array kernel that
// makes the same state updates as vpmu's mediated PMU switch, and nothing else (no scheduler,
// timers, ticks, ground truth, traces or checks). It is a floor to compare bench/guest-switch.mjs
// with, not a model: run in the same process, the ratio of the two is what a bench line shows.
//
// Per CPU: host exclude_guest counting events (8 general-purpose counters; with more events,
// the first 8 in rotation order go on and the rotation moves one to the tail every 4 ms), the
// context clock with guest time, and the guest's 11 counter registers. At each VM-entry
// (perf_load_guest_context, kvm_mediated_pmu_load): the context clock advances, every active
// host event is folded from its counter, charged enabled and running time and goes INACTIVE,
// its counter stops; the guest's register state is swapped in. At each VM-exit
// (kvm_mediated_pmu_put, perf_put_guest_context): the guest's state is swapped out, the
// clock advances with guest time, and the host events go back on in order, charged enabled
// time, their counters restarted. The guest programs no counter (as in the vpmu bench), so
// its registers need no fold. Structure of arrays in typed arrays, one loop per CPU per step.

const NR_GP = 8;
const EXIT_NS = 100_000; // 10,000 exits per simulated second
const EXIT_COST_NS = 1100; // exit_base_ns + 2 x pmu_switch_ns
const MUX_NS = 4_000_000;
const HOST_RATE = 1.5; // counts per ns in KVM's host code

/**
 * Runs `simNs` of `nrCpus` CPUs with `nrEvents` host events each; returns wall ms and the
 * number of transitions (entries + exits), and a checksum so the work cannot be elided.
 */
export function runLimit(simNs, nrEvents = 8, nrCpus = 64) {
  const E = nrEvents;
  const nOn = Math.min(E, NR_GP);
  const nEv = nrCpus * E;
  const evCount = new Float64Array(nEv);
  const evPrev = new Float64Array(nEv);
  const evTstamp = new Float64Array(nEv);
  const evEnabled = new Float64Array(nEv);
  const evRunning = new Float64Array(nEv);
  const evState = new Int8Array(nEv); // 0 INACTIVE, 1 ACTIVE
  const evCounter = new Int8Array(nEv).fill(-1);
  const cnt = nrCpus * NR_GP;
  const cLife = new Float64Array(cnt);
  const cSince = new Float64Array(cnt);
  const cRate = new Float64Array(cnt);
  /** Which register state each CPU runs: 0 the host's, 1 the guest's. */
  const regs = new Uint8Array(nrCpus);
  const ctxTime = new Float64Array(nrCpus);
  const ctxStamp = new Float64Array(nrCpus);
  const ctxGuest = new Float64Array(nrCpus);
  const loaded = new Uint8Array(nrCpus);
  const rotStart = new Int32Array(nrCpus);
  const rotNeeded = new Uint8Array(nrCpus);
  const lastRot = new Float64Array(nrCpus);

  const clock = (c, t) => {
    const d = t - ctxStamp[c];
    ctxTime[c] += d;
    if (loaded[c]) ctxGuest[c] += d;
    ctxStamp[c] = t;
  };
  const schedOut = (c, t) => {
    const et = ctxTime[c] - ctxGuest[c];
    const base = c * E;
    let i = rotStart[c];
    for (let k = 0; k < nOn; k++, i = i + 1 === E ? 0 : i + 1) {
      const e = base + i;
      if (evState[e] !== 1) continue;
      const ci = c * NR_GP + evCounter[e];
      cLife[ci] += cRate[ci] * (t - cSince[ci]);
      cSince[ci] = t;
      cRate[ci] = 0;
      evCount[e] += cLife[ci] - evPrev[e];
      const d = et - evTstamp[e];
      evEnabled[e] += d;
      evRunning[e] += d;
      evTstamp[e] = et;
      evState[e] = 0;
      evCounter[e] = -1;
    }
  };
  const schedIn = (c, t) => {
    const et = ctxTime[c] - ctxGuest[c];
    const base = c * E;
    let i = rotStart[c];
    for (let k = 0; k < nOn; k++, i = i + 1 === E ? 0 : i + 1) {
      const e = base + i;
      evEnabled[e] += et - evTstamp[e];
      evTstamp[e] = et;
      evState[e] = 1;
      evCounter[e] = k;
      const ci = c * NR_GP + k;
      cSince[ci] = t;
      cRate[ci] = HOST_RATE;
      evPrev[e] = cLife[ci];
    }
    if (E > NR_GP) rotNeeded[c] = 1;
  };
  const entry = (c, t) => {
    clock(c, t);
    schedOut(c, t);
    loaded[c] = 1;
    regs[c] = 1;
  };
  const exit = (c, t) => {
    regs[c] = 0;
    clock(c, t);
    loaded[c] = 0;
    schedIn(c, t);
    // perf_rotate_context() at the multiplexing interval, on the host side of an exit.
    if (rotNeeded[c] && t - lastRot[c] >= MUX_NS) {
      lastRot[c] = t;
      rotNeeded[c] = 0;
      schedOut(c, t);
      rotStart[c] = (rotStart[c] + 1) % E;
      schedIn(c, t);
    }
  };

  for (let c = 0; c < nrCpus; c++) schedIn(c, 0);
  const steps = Math.floor(simNs / EXIT_NS);
  const t0 = performance.now();
  for (let c = 0; c < nrCpus; c++) entry(c, EXIT_COST_NS);
  for (let s = 1; s < steps; s++) {
    const t = s * EXIT_NS;
    for (let c = 0; c < nrCpus; c++) {
      exit(c, t);
      entry(c, t + EXIT_COST_NS);
    }
  }
  const wall = performance.now() - t0;
  let sum = 0;
  for (let e = 0; e < nEv; e++) sum += evCount[e] + evRunning[e];
  return { wall, transitions: nrCpus * (2 * steps - 1), checksum: sum };
}
