import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { Kvm } from "../src/kvm/kvm.js";
import type { KvmVcpu } from "../src/kvm/vcpu.js";
import type { VpmuProfile } from "../src/perf/guest.js";
import type { Task } from "../src/sched/task.js";
import { msToNs, type Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

/*
 * Host multiplexing on a CPU where a mediated (7.0) or passthrough (rfc-v1) vCPU runs.
 * perf_load/put_guest_context() and perf_guest_enter/exit() run with IRQs off around
 * VM-entry and VM-exit, so the multiplexing hrtimer's handler never finds the guest owning
 * the PMU: its interrupt exits the guest first. And a context switch the tick asks for
 * happens as the interrupt returns, after the multiplexing hrtimer due at the same instant.
 * Either way the rotation goes on through the whole run, as without a VM.
 */

const RAW = 4;
const CPU = 2;
const NR_GP = 8;
const RUN = msToNs(1000);

interface Host {
  sys: System;
  vcpu: KvmVcpu;
  task: Task | null;
}

/** x86-server, a vCPU on CPU 2 (mediated or passthrough unless `emulated`), maybe a host task. */
function host(
  profile: VpmuProfile,
  opts: { hostTask?: boolean; emulated?: boolean; muxMs?: number; cpuEvents?: number } = {},
): Host {
  const sys = new System({ machine: preset("x86-server")!, profile });
  sys.perf.registry.byType(RAW)!.hrtimerIntervalMs = opts.muxMs ?? 0;
  // CPU-wide events opened before the vCPU first enters the guest.
  openH(sys, opts.cpuEvents ?? 0, null);
  const kvm = new Kvm(sys, { enableMediatedPmu: !opts.emulated });
  const vcpu = kvm
    .createVm("vm0")
    .createVcpu(0, { workload: BUILTIN_WORKLOADS.compute!, affinity: [CPU] }, sys.now);
  if (typeof vcpu === "number") throw new Error(`createVcpu: ${vcpu}`);
  const task =
    opts.hostTask === false
      ? null
      : sys.spawn({ comm: "host", workload: BUILTIN_WORKLOADS.compute!, affinity: [CPU] });
  return { sys, vcpu, task };
}

/** `n` exclude_guest counting events on the general-purpose counters: CPU-wide or on `task`. */
function openH(sys: System, n: number, task: Task | null): number[] {
  const fds: number[] = [];
  for (let i = 0; i < n; i++)
    fds.push(
      sys.perfEventOpen(
        { type: RAW, config: 0xc4, exclude_guest: true, read_format: 3 },
        task ? task.pid : -1,
        task ? -1 : CPU,
      ),
    );
  return fds;
}

/** Time CPU 2 spent outside guest mode between `from` and now. */
function hostTime(h: Host, from: Ns, guestFrom: number): number {
  return h.sys.now - from - (h.vcpu.guestTimeAt(h.sys.now) - guestFrom);
}

describe("host multiplexing next to a vCPU that owns the PMU", () => {
  for (const profile of ["7.0", "rfc-v1"] as const) {
    for (const target of ["CPU-wide", "task"] as const) {
      it(`${profile}, ${target}: 14 :H events on 8 counters each run 8/14 of the host's time`, () => {
        const h = host(profile);
        const fds = openH(h.sys, 14, target === "task" ? h.task : null);
        h.sys.run(RUN);
        // The vCPU and the host task share the CPU: about half of it is guest time.
        const guest = h.vcpu.guestTimeAt(RUN);
        expect(guest / RUN).toBeGreaterThan(0.4);
        expect(guest / RUN).toBeLessThan(0.6);
        const hostNs = RUN - guest;
        const task = h.task!;
        for (const fd of fds) {
          const r = h.sys.read(fd);
          const enabled = r.time_enabled!;
          const running = r.time_running!;
          if (target === "task") expect(enabled).toBe(task.runtime);
          // 7.0: guest time is not enabled time; the RFC leaves the clock running.
          else expect(enabled).toBe(profile === "7.0" ? hostNs : RUN);
          // The events' share of the time the host had the counters.
          const share = running / (target === "task" ? task.runtime : hostNs);
          expect(share).toBeGreaterThan(NR_GP / 14 - 0.03);
          expect(share).toBeLessThan(NR_GP / 14 + 0.03);
        }
        // One rotation per 4 ms interval the host's events were on the CPU.
        expect(h.sys.perf.stats.rotations).toBeGreaterThan(100);
      });
    }

    it(`${profile}: a 9th event opened while the vCPU is in the guest gets its turns`, () => {
      const h = host(profile);
      const fds = openH(h.sys, NR_GP, null);
      // Run on until the vCPU is in guest mode.
      let t = msToNs(50);
      h.sys.run(t);
      while (h.vcpu.state !== "guest") h.sys.run((t += 100_000) as Ns);
      const from = h.sys.now;
      const guestFrom = h.vcpu.guestTimeAt(from);
      const before = fds.map((fd) => h.sys.read(fd).time_running!);
      const late = openH(h.sys, 1, null)[0]!;
      h.sys.run(RUN);
      const hostNs = hostTime(h, from, guestFrom);
      const shares = [...fds, late].map(
        (fd, i) => (h.sys.read(fd).time_running! - (before[i] ?? 0)) / hostNs,
      );
      for (const s of shares) {
        expect(s).toBeGreaterThan(NR_GP / 9 - 0.03);
        expect(s).toBeLessThan(NR_GP / 9 + 0.03);
      }
    });

    it(`${profile}: the multiplexing hrtimer never runs with the guest owning the PMU`, () => {
      const h = host(profile, { muxMs: 1 });
      const st = h.sys.perf.guest!;
      let rotations = 0;
      const seen: string[] = [];
      h.sys.trace.attach({
        write: (r) => {
          if (r.kind !== "perf_rotate" || r.cpu !== CPU) return;
          rotations++;
          if (st.guestCtxLoaded[CPU] || st.forceExcludeGuest[CPU]) seen.push(`${r.t}`);
          if (h.vcpu.state === "guest") seen.push(`${r.t} in guest mode`);
        },
      });
      openH(h.sys, 10, null);
      openH(h.sys, 10, h.task);
      h.sys.run(msToNs(400));
      expect(seen).toEqual([]);
      expect(rotations).toBeGreaterThan(300);
    });
  }

  for (const [mode, profile, emulated] of [
    ["mediated", "7.0", false],
    ["passthrough", "rfc-v1", false],
    ["emulated", "7.0", true],
  ] as const) {
    it(`${mode}: a multiplexing hrtimer between ticks is a VM-exit ("timer")`, () => {
      const h = host(profile, { hostTask: false, emulated, muxMs: 1, cpuEvents: 10 });
      h.sys.run(msToNs(400));
      // Expiries every 1 ms; those on the 4 ms tick find the vCPU already out for the tick.
      expect(h.vcpu.exits.tick).toBe(100);
      expect(h.vcpu.exits.timer).toBe(300);
      expect(h.sys.perf.stats.rotations).toBe(400);
    });
  }

  it("at a tick that switches to the vCPU, the rotation comes first: no extra exit", () => {
    // The default interval is the tick's: each expiry meets a tick, and at every other tick
    // the vCPU thread comes back on the CPU. The rotation runs before the switch, as the
    // kernel's does in the interrupt, so the vCPU enters once, with nothing left to rotate
    // (and every expiry after the first rotates).
    const h = host("7.0");
    openH(h.sys, 14, null);
    h.sys.run(msToNs(400));
    expect(h.sys.perf.stats.rotations).toBe(99);
    // One entry per 4 ms slot of the vCPU thread, each ended by the tick that preempts it.
    expect(h.vcpu.exits).toEqual({ tick: 51 });
    expect(h.vcpu.nrEntries).toBe(51);
  });
});
