import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { QUIET_CHECKS, SimTimeCoordinator } from "../src/cli/exec-clock.js";
import { ExecHost } from "../src/cli/exec-host.js";
import { decodeHello, encodeReply, OP, splitRequests } from "../src/cli/exec-protocol.js";
import { livePreset, liveScenario } from "../src/cli/exec-scenario.js";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import {
  attrSizeRejected,
  decodePerfEventAttr,
  encodePerfEventAttr,
} from "../src/perf/attr-abi.js";
import { PERF_EVENT_STATE } from "../src/perf/event.js";
import { perfEventExec } from "../src/perf/exec.js";
import { PERF_EVENT_IOC, perfIoctlRaw } from "../src/perf/ioctl-abi.js";
import { formatCpuMask, sysfsView } from "../src/perf/sysfs.js";
import {
  PERF_FORMAT_GROUP,
  PERF_FORMAT_ID,
  PERF_FORMAT_TOTAL_TIME_ENABLED,
  PERF_FORMAT_TOTAL_TIME_RUNNING,
  PERF_TYPE_HARDWARE,
  PERF_TYPE_RAW,
} from "../src/perf/uapi.js";
import { loadScenario } from "../src/scenario/load.js";
import { ERRNO } from "../src/sim/errno.js";
import type { Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

const TE_TR = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;

/** The struct with `size` in its size field, as many bytes as the shim sends for it. */
function withSize(bytes: Uint8Array, size: number): Uint8Array {
  const n = size === 0 ? 64 : size;
  const out = new Uint8Array(Math.max(bytes.length, n));
  out.set(bytes);
  new DataView(out.buffer).setUint32(4, size, true);
  return out.subarray(0, n < 64 || n > 4096 ? 8 : n);
}

describe("struct perf_event_attr from bytes (perf_copy_attr)", () => {
  it("decodes the fields and flag bits perf stat sets", () => {
    const bytes = encodePerfEventAttr(
      {
        type: PERF_TYPE_HARDWARE,
        config: 0x1n,
        read_format: TE_TR,
        disabled: true,
        inherit: true,
        enable_on_exec: true,
        exclude_guest: true,
        precise_ip: 2,
        config1: 0xabcn,
      },
      128,
    );
    const a = decodePerfEventAttr(bytes);
    expect(a).toMatchObject({
      type: 0,
      size: 128,
      config: 1n,
      read_format: 3,
      disabled: true,
      inherit: true,
      enable_on_exec: true,
      exclude_guest: true,
      precise_ip: 2,
      config1: 0xabcn,
    });
    expect((a as { pinned?: boolean }).pinned).toBeUndefined();
  });

  it("sample_period and sample_freq share their u64, chosen by freq", () => {
    const f = decodePerfEventAttr(encodePerfEventAttr({ type: 0, freq: true, sample_freq: 4000 }));
    const p = decodePerfEventAttr(encodePerfEventAttr({ type: 0, sample_period: 100003 }));
    expect(f).toMatchObject({ freq: true, sample_freq: 4000 });
    expect(p).toMatchObject({ sample_period: 100003 });
  });

  it("__reserved_1 (bit 38 up), __reserved_2 and __reserved_3 give EINVAL", () => {
    const base = encodePerfEventAttr({ type: PERF_TYPE_RAW, config: 0xc0 });
    for (const [off, byte] of [
      [44, 0x40], // bit 38 of the flags word
      [47, 0x80], // bit 63
      [110, 1], // __reserved_2
      [116, 8], // aux_action bit 3 (__reserved_3 in 6.13+)
    ] as const) {
      const b = new Uint8Array(base);
      b[off] = byte;
      expect(decodePerfEventAttr(b), `offset ${off}`).toBe(-ERRNO.EINVAL);
    }
    // aux_start_paused is a 6.13+ bit, reserved before.
    const aux = new Uint8Array(base);
    aux[116] = 1;
    expect(typeof decodePerfEventAttr(aux)).toBe("object");
    expect(decodePerfEventAttr(aux, { auxAction: false })).toBe(-ERRNO.EINVAL);
  });

  it("every size version opens; a short struct reads as zeros past its size", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const full = encodePerfEventAttr({ type: PERF_TYPE_RAW, config: 0xc0, config3: 5n });
    for (const size of [0, 64, 72, 80, 96, 104, 112, 120, 128, 136]) {
      const a = decodePerfEventAttr(withSize(full, size));
      expect(typeof a, `size ${size}`).toBe("object");
      expect((a as { config3?: bigint }).config3).toBe(size >= 136 ? 5n : 0n);
      const fd = sys.perfEventOpen(a as never, -1, 0);
      sys.close(fd);
    }
  });

  it("sizes below VER0 or above a page, and non-zero bytes past the struct, are E2BIG", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const full = encodePerfEventAttr({ type: PERF_TYPE_RAW, config: 0xc0 }, 4096);
    const open = (b: Uint8Array) => {
      const a = decodePerfEventAttr(b);
      if (typeof a === "number") return a;
      try {
        sys.close(sys.perfEventOpen(a, -1, 0));
        return 0;
      } catch (e) {
        return (e as { errno: number }).errno;
      }
    };
    expect(open(withSize(full, 32))).toBe(-ERRNO.E2BIG);
    expect(open(withSize(full, 4097))).toBe(-ERRNO.E2BIG);
    expect(open(withSize(full, 4096))).toBe(0);
    const tail = new Uint8Array(withSize(full, 200));
    tail[199] = 1;
    expect(open(tail)).toBe(-ERRNO.E2BIG);
    expect(attrSizeRejected(tail)).toBe(true);
    expect(attrSizeRejected(withSize(full, 200))).toBe(false);
    expect(attrSizeRejected(withSize(full, 32))).toBe(true);
  });

  it("property: encode then decode keeps every field", () => {
    fc.assert(
      fc.property(
        fc.record({
          type: fc.integer({ min: 0, max: 20 }),
          config: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          read_format: fc.integer({ min: 0, max: 31 }),
          disabled: fc.boolean(),
          pinned: fc.boolean(),
          exclude_kernel: fc.boolean(),
          exclude_host: fc.boolean(),
          sigtrap: fc.boolean(),
          precise_ip: fc.integer({ min: 0, max: 3 }),
          config2: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        }),
        (r) => {
          const a = decodePerfEventAttr(encodePerfEventAttr(r)) as Record<string, unknown>;
          for (const [k, v] of Object.entries(r)) {
            if (v === false) expect(a[k]).toBeUndefined();
            else expect(a[k]).toEqual(v);
          }
        },
      ),
    );
  });
});

describe("ioctl request numbers (perf_ioctl)", () => {
  const raw = (cmd: number, arg = 0, extra = new Uint8Array()) => ({
    cmd,
    arg,
    argNull: false,
    argBadFd: false,
    extra,
    perfmon: true,
  });

  it("maps the _IO numbers to the model and answers the rest as the kernel does", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const fd = sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc0, disabled: true }, -1, 0);
    const core = sys.perf;
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.ENABLE))).toBe(0);
    expect(core.fds.get(fd)!.state).toBe(PERF_EVENT_STATE.ACTIVE);
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.DISABLE))).toBe(0);
    expect(core.fds.get(fd)!.state).toBe(PERF_EVENT_STATE.OFF);
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.ID))).toBe(core.fds.get(fd)!.id);
    expect(perfIoctlRaw(core, fd, { ...raw(PERF_EVENT_IOC.ID), argNull: true })).toBe(
      -ERRNO.EFAULT,
    );
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.PERIOD, 100))).toBe(-ERRNO.EINVAL);
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.PAUSE_OUTPUT, 1))).toBe(-ERRNO.EINVAL);
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.SET_FILTER))).toBe(-ERRNO.EINVAL);
    expect(perfIoctlRaw(core, fd, { ...raw(PERF_EVENT_IOC.SET_FILTER), argNull: true })).toBe(
      -ERRNO.EFAULT,
    );
    expect(perfIoctlRaw(core, fd, { ...raw(PERF_EVENT_IOC.SET_BPF), argBadFd: true })).toBe(
      -ERRNO.EBADF,
    );
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.SET_BPF, 0))).toBe(-ERRNO.EINVAL);
    expect(perfIoctlRaw(core, fd, { ...raw(PERF_EVENT_IOC.QUERY_BPF), perfmon: false })).toBe(
      -ERRNO.EPERM,
    );
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.QUERY_BPF))).toBe(-ERRNO.EINVAL);
    // MODIFY_ATTRIBUTES: perf_copy_attr() first, then only breakpoints.
    const same = encodePerfEventAttr({ type: PERF_TYPE_RAW, config: 0xc0 });
    const other = encodePerfEventAttr({ type: PERF_TYPE_HARDWARE });
    const bad = encodePerfEventAttr({ type: PERF_TYPE_RAW }, 32);
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.MODIFY_ATTRIBUTES, 0, same))).toBe(
      -ERRNO.EOPNOTSUPP,
    );
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.MODIFY_ATTRIBUTES, 0, other))).toBe(
      -ERRNO.EINVAL,
    );
    expect(perfIoctlRaw(core, fd, raw(PERF_EVENT_IOC.MODIFY_ATTRIBUTES, 0, bad))).toBe(
      -ERRNO.E2BIG,
    );
    // The whole request must match: PERIOD's number with another size is not PERIOD.
    expect(perfIoctlRaw(core, fd, raw(0x40042404))).toBe(-ERRNO.ENOTTY);
    expect(perfIoctlRaw(core, 999, raw(PERF_EVENT_IOC.ENABLE))).toBe(-ERRNO.EBADF);
  });
});

describe("enable_on_exec and remove_on_exec (perf_event_exec)", () => {
  it("an OFF enable_on_exec event becomes INACTIVE/ACTIVE at exec, once; others stay OFF", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const t = sys.spawn({ comm: "w", workload: BUILTIN_WORKLOADS.compute!, affinity: [2] });
    const rf = TE_TR;
    const on = sys.perfEventOpen(
      { type: PERF_TYPE_RAW, config: 0xc0, disabled: true, enable_on_exec: true, read_format: rf },
      t.pid,
      -1,
    );
    const off = sys.perfEventOpen(
      { type: PERF_TYPE_RAW, config: 0xc0, disabled: true, read_format: rf },
      t.pid,
      -1,
    );
    sys.run(10_000_000 as Ns);
    expect(sys.read(on).time_enabled).toBe(0);
    expect(perfEventExec(sys.perf, t, sys.now)).toBe(1);
    const e = sys.perf.fds.get(on)!;
    expect(e.state).toBe(PERF_EVENT_STATE.ACTIVE);
    expect(e.attr.enable_on_exec).toBe(false);
    expect(sys.perf.fds.get(off)!.state).toBe(PERF_EVENT_STATE.OFF);
    sys.run(30_000_000 as Ns);
    const r = sys.read(on);
    expect(r.time_enabled).toBe(20_000_000);
    expect(r.time_running).toBe(20_000_000);
    expect(r.value).toBeGreaterThan(0);
    // A second exec finds the flag consumed.
    expect(perfEventExec(sys.perf, t, sys.now)).toBe(0);
  });

  it("remove_on_exec events leave the task at exec and end in EXIT, still readable", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const t = sys.spawn({ comm: "w", workload: BUILTIN_WORKLOADS.compute!, affinity: [2] });
    const rm = sys.perfEventOpen(
      { type: PERF_TYPE_RAW, config: 0xc0, remove_on_exec: true, read_format: TE_TR },
      t.pid,
      -1,
    );
    const keep = sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc0 }, t.pid, -1);
    sys.run(10_000_000 as Ns);
    perfEventExec(sys.perf, t, sys.now);
    const e = sys.perf.fds.get(rm)!;
    expect(e.state).toBe(PERF_EVENT_STATE.EXIT);
    expect(e.ctx?.eventList.includes(e) ?? false).toBe(false);
    const before = sys.read(rm);
    sys.run(20_000_000 as Ns);
    expect(sys.read(rm).value).toBe(before.value);
    expect(before.time_enabled).toBe(10_000_000);
    expect(sys.perf.fds.get(keep)!.state).toBe(PERF_EVENT_STATE.ACTIVE);
  });
});

describe("sysfs view", () => {
  it("rk3399: per-cluster PMUs with cpus, links from the bus, CPU masks, node, sysctls", () => {
    const sys = new System({ machine: preset("rk3399")! });
    const v = sysfsView(sys);
    expect(v.get("sys/bus/event_source/devices/armv8_cortex_a53")).toEqual({
      link: "../../../devices/armv8_cortex_a53",
    });
    expect(v.get("sys/devices/armv8_cortex_a53/type")).toBe("6\n");
    expect(v.get("sys/devices/armv8_cortex_a53/cpus")).toBe("0-3\n");
    expect(v.get("sys/devices/armv8_cortex_a72/cpus")).toBe("4-5\n");
    expect(v.get("sys/devices/armv8_cortex_a72/events/cpu_cycles")).toBe("event=0x0011\n");
    expect(v.get("sys/devices/armv8_cortex_a72/format/event")).toBe("config:0-15\n");
    // The software PMU has a type and no events or cpus, as in the kernel.
    expect(v.get("sys/devices/software/type")).toBe("1\n");
    expect([...v.keys()].some((k) => k.startsWith("sys/devices/software/events"))).toBe(false);
    expect(v.get("sys/devices/software/cpus")).toBeUndefined();
    expect(v.get("sys/devices/system/cpu/online")).toBe("0-5\n");
    expect(v.get("sys/devices/system/cpu/possible")).toBe("0-5\n");
    expect(v.get("sys/devices/system/cpu/present")).toBe("0-5\n");
    expect(v.get("sys/devices/system/cpu/cpu4/topology/cluster_cpus_list")).toBe("4-5\n");
    expect(v.get("sys/devices/system/node/node0/cpulist")).toBe("0-5\n");
    expect(v.get("sys/devices/system/node/node0/cpumap")).toBe("3f\n");
    expect(v.get("proc/sys/kernel/perf_event_paranoid")).toBe("2\n");
    // No hard-lockup detector on this arm64 host: no nmi_watchdog file.
    expect(v.get("proc/sys/kernel/nmi_watchdog")).toBeUndefined();
  });

  it("x86: a lone cpu PMU has no cpus file; hybrid PMUs do; uncore has cpumask; the watchdog shows", () => {
    const live = livePreset("x86-server");
    expect(live.ok).toBe(true);
    if (!live.ok) return;
    const v = sysfsView(live.live.sys);
    expect(v.get("sys/devices/cpu/type")).toBe("4\n");
    expect(v.get("sys/devices/cpu/cpus")).toBeUndefined();
    expect(v.get("sys/devices/cpu/caps/max_precise")).toBe("3\n");
    expect(v.get("sys/devices/uncore_imc_0/cpumask")).toBe("0\n");
    expect(v.get("proc/sys/kernel/nmi_watchdog")).toBe("1\n");
    const hybrid = sysfsView(new System({ machine: preset("x86-hybrid")! }));
    expect(hybrid.get("sys/devices/cpu_core/cpus")).toBe("0-3\n");
    expect(hybrid.get("sys/devices/cpu_atom/cpus")).toBe("4-7\n");
    expect(hybrid.get("proc/sys/kernel/nmi_watchdog")).toBe("0\n");
  });

  it("follows the model: hotplug, sysctl actions", () => {
    const sc = loadScenario(
      "name: s\nmachine: x86-server\nactions:\n  - { at: 1ms, do: cpu_offline, cpu: 3 }\n  - { at: 1ms, do: sysctl, name: kernel.nmi_watchdog, value: 0 }\n  - { at: 1ms, do: sysctl, name: kernel.perf_event_paranoid, value: -1 }\n",
      "s.yaml",
    );
    const live = liveScenario(sc);
    live.sys.run(2_000_000 as Ns);
    const v = sysfsView(live.sys);
    expect(v.get("sys/devices/system/cpu/online")).toBe("0-2,4-7\n");
    expect(v.get("sys/devices/system/cpu/offline")).toBe("3\n");
    expect(v.get("sys/devices/system/cpu/cpu3/online")).toBe("0\n");
    expect(v.get("proc/sys/kernel/nmi_watchdog")).toBe("0\n");
    expect(v.get("proc/sys/kernel/perf_event_paranoid")).toBe("-1\n");
  });

  it("cpumask words: 32 bits each, most significant first", () => {
    expect(formatCpuMask([0, 1, 2, 3, 4, 5], 6)).toBe("3f");
    expect(formatCpuMask([0, 63], 64)).toBe("80000000,00000001");
    expect(formatCpuMask([0], 40)).toBe("00,00000001");
  });
});

describe("the live host (ExecHost)", () => {
  function host(task?: string) {
    const sc = loadScenario(
      "name: h\nmachine: rk3399\ntasks:\n  - { name: app, workload: compute, affinity: '1' }\n",
      "h.yaml",
    );
    const live = liveScenario(sc);
    const alive = new Set([100, 200, 300]);
    const h = new ExecHost(live.sys, {
      cred: { perfmon: true },
      task: task ? () => live.taskNamed(task) : undefined,
      pidAlive: (p) => alive.has(p),
      auxAction: true,
    });
    return { h, sys: live.sys, alive };
  }
  const attr = (extra: Record<string, unknown> = {}) =>
    encodePerfEventAttr({ type: PERF_TYPE_HARDWARE, config: 0, read_format: TE_TR, ...extra }, 128);

  it("a traced pid maps to a spawned compute task that starts counting at exec and ends with the process", () => {
    const { h, sys } = host();
    const r = h.open(100, 200, -1, -1, 8, attr({ disabled: true, enable_on_exec: true }));
    expect(r.ret).toBeGreaterThanOrEqual(0);
    const task = [...sys.sched.tasks.values()].find((t) => t.comm === "workload")!;
    expect(task).toBeDefined();
    h.hello(200, true, []);
    sys.run(50_000_000 as Ns);
    const read = h.read(r.ret, 24);
    expect(read.ret).toBe(24);
    const v = new DataView(read.data!.buffer);
    expect(v.getBigUint64(8, true)).toBe(50_000_000n);
    const [user, sys_] = h.rusage(200);
    expect(user + sys_).toBe(50_000_000);
    expect(sys_).toBeGreaterThan(0);
    h.exited(200);
    expect(task.state).toBe("dead");
    // perf (pid 100) still holds the event: it reads the final count.
    expect(h.read(r.ret, 24).ret).toBe(24);
    h.exited(100);
    expect(sys.perf.fds.has(r.ret)).toBe(false);
  });

  it("--task maps the first traced pid to the scenario task, which survives the process", () => {
    const { h, sys } = host("app");
    const r = h.open(100, 200, -1, -1, 0, attr());
    const ev = sys.perf.fds.get(r.ret)!;
    expect(ev.ctx?.task?.comm).toBe("app");
    h.exited(200);
    expect(ev.ctx?.task?.state).not.toBe("dead");
    // A second traced pid gets a task of its own.
    const r2 = h.open(100, 300, -1, -1, 0, attr());
    expect(sys.perf.fds.get(r2.ret)!.ctx?.task?.comm).toBe("workload");
  });

  it("unknown pids are ESRCH, pid 0 and the caller's own pid are the monitoring process", () => {
    const { h, sys } = host();
    expect(h.open(100, 4242, -1, -1, 0, attr()).ret).toBe(-ERRNO.ESRCH);
    const own = h.open(100, 100, -1, -1, 0, attr()).ret;
    expect(sys.perf.fds.get(own)!.ctx?.task).toBe(sys.perf.monitor);
  });

  it("an event lives while any process holds it (fork, exec without CLOEXEC)", () => {
    const { h, sys } = host();
    const fd = h.open(100, -1, 0, -1, 0, attr()).ret;
    h.hello(300, false, [fd]); // a forked child holding it
    h.close(100, fd);
    expect(sys.perf.fds.has(fd)).toBe(true);
    h.hello(300, true, []); // it exec'd: CLOEXEC closed it
    expect(sys.perf.fds.has(fd)).toBe(false);
  });

  it("E2BIG from the size writes the kernel's size back; a group fd that is not perf is EBADF", () => {
    const { h } = host();
    const big = new Uint8Array(200);
    big.set(attr());
    new DataView(big.buffer).setUint32(4, 200, true);
    big[190] = 1;
    expect(h.open(100, -1, 0, -1, 0, big)).toEqual({ ret: -ERRNO.E2BIG, writeback: 136 });
    expect(h.open(100, -1, 0, -2, 0, attr()).ret).toBe(-ERRNO.EBADF);
    const lead = h.open(
      100,
      -1,
      0,
      -1,
      0,
      attr({ read_format: PERF_FORMAT_GROUP | PERF_FORMAT_ID }),
    );
    expect(
      h.ioctl(lead.ret, {
        cmd: PERF_EVENT_IOC.ID,
        arg: 0,
        argNull: false,
        argBadFd: false,
        extra: new Uint8Array(),
        perfmon: true,
      }),
    ).toEqual({ ret: 0, out: expect.any(Number) });
  });
});

describe("simulated time for real processes", () => {
  function coordinator() {
    let now = 0 as Ns;
    const log: string[] = [];
    const exits: number[] = [];
    const c = new SimTimeCoordinator(
      () => now,
      (t) => {
        now = t;
        log.push(`advance ${t}`);
      },
      (pid) => exits.push(pid),
    );
    return { c, log, exits, now: () => now };
  }

  it("the clock waits for every running process, then wakes the earliest sleeper", () => {
    const { c, log } = coordinator();
    c.connected(10, 1, 1); // perf
    c.connected(11, 10, 2); // its workload
    const woke: string[] = [];
    c.sleep(11, 1_000_000_000 as Ns, false, (r) => woke.push(`11:${r}`));
    expect(log).toEqual([]); // perf still runs
    c.sleep(10, 100_000_000 as Ns, true, (r) => woke.push(`10:${r}`));
    expect(log).toEqual(["advance 100000000"]);
    expect(woke).toEqual(["10:0"]);
    c.block(10, 11); // perf in wait4(child)
    expect(woke).toEqual(["10:0", "11:0"]);
    c.exited(11);
    expect(c.alive()).toEqual([10]);
  });

  it("equal wake times: the newest process first; a child's exit interrupts a SIGCHLD sleeper", () => {
    const { c, log } = coordinator();
    c.connected(10, 1, 1);
    c.connected(11, 10, 2);
    const woke: string[] = [];
    c.sleep(10, 200 as Ns, true, (r) => woke.push(`10:${r}`));
    c.sleep(11, 200 as Ns, false, (r) => woke.push(`11:${r}`));
    expect(woke).toEqual(["11:0"]);
    c.disconnected(11, 2);
    c.exited(11);
    expect(woke).toEqual(["11:0", "10:-4"]);
    expect(log).toEqual(["advance 200"]);
  });

  it("a process without a connection holds the clock until it connects or exits", () => {
    const { c, log } = coordinator();
    c.connected(10, 1, 1);
    c.spawned(12, 10);
    c.sleep(10, 5 as Ns, false, () => {});
    expect(log).toEqual([]);
    expect(c.unconnected()).toEqual([12]);
    c.exited(12);
    expect(log).toEqual(["advance 5"]);
  });

  it("a process seen blocked in the kernel long enough, with no request, stops holding the clock", () => {
    const { c, log } = coordinator();
    c.connected(10, 1, 1);
    c.connected(13, 10, 2);
    c.sleep(10, 7 as Ns, false, () => {});
    expect(c.stalled()).toBe(true);
    for (let i = 0; i < QUIET_CHECKS - 1; i++) c.observed(13, true);
    c.activity(13); // a request: it is working after all
    for (let i = 0; i < QUIET_CHECKS - 1; i++) c.observed(13, true);
    c.observed(13, false);
    for (let i = 0; i < QUIET_CHECKS - 1; i++) c.observed(13, true);
    expect(log).toEqual([]);
    c.observed(13, true);
    expect(log).toEqual(["advance 7"]);
  });

  it("a wait4 for one child is not ended by another child's exit", () => {
    const { c } = coordinator();
    c.connected(10, 1, 1);
    c.spawned(11, 10);
    c.spawned(12, 10);
    c.block(10, 12);
    c.exited(11);
    expect(c.holders()).toEqual([12]);
    c.exited(12);
    expect(c.holders()).toEqual([10]);
  });
});

describe("wire format", () => {
  it("splits a stream into requests, keeps a partial one, refuses oversized ones", () => {
    const a = Buffer.from([4, 0, 0, 0, OP.CLOSE, 0, 0, 0, 7, 0, 0, 0]);
    const b = Buffer.from([0, 0, 0, 0, OP.UNBLOCK, 0, 0, 0, 9, 0]);
    const r = splitRequests(Buffer.concat([a, b]));
    expect(typeof r).toBe("object");
    if (typeof r === "string") return;
    expect(r.requests.map((x) => x.op)).toEqual([OP.CLOSE, OP.UNBLOCK]);
    expect(r.requests[0]!.body.readInt32LE(0)).toBe(7);
    expect([...r.rest]).toEqual([9, 0]);
    const huge = Buffer.alloc(8);
    huge.writeUInt32LE(1 << 20, 0);
    expect(typeof splitRequests(huge)).toBe("string");
    const rep = encodeReply(-ERRNO.EBADF, Buffer.from([1, 2]));
    expect(rep.readUInt32LE(0)).toBe(2);
    expect(rep.readBigInt64LE(8)).toBe(-9n);
  });

  it("decodes HELLO", () => {
    const b = Buffer.alloc(44);
    b.writeUInt32LE(123, 0);
    b.writeUInt32LE(1, 4);
    b.writeUInt32LE(1000, 8);
    b.writeUInt32LE(1, 12);
    b.write("perf", 16, "latin1");
    b.writeUInt32LE(2, 32);
    b.writeInt32LE(5, 36);
    b.writeInt32LE(6, 40);
    expect(decodeHello(b)).toEqual({
      pid: 123,
      ppid: 1,
      uid: 1000,
      flags: 1,
      comm: "perf",
      handles: [5, 6],
    });
    expect(decodeHello(b.subarray(0, 40))).toBeNull();
  });
});

describe("vpmu sysfs", () => {
  it("prints the view: links from the bus, the CPU masks, the perf sysctls", async () => {
    const { vpmu } = await import("./cli-helpers.js");
    const r = vpmu("sysfs", "--machine", "x86-hybrid");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines).toContain("/sys/bus/event_source/devices/cpu_core -> ../../../devices/cpu_core");
    expect(lines).toContain("/sys/devices/cpu_atom/cpus: 4-7");
    expect(lines).toContain("/sys/devices/system/cpu/online: 0-7");
    expect(lines).toContain("/proc/sys/kernel/nmi_watchdog: 1");
  });
});
