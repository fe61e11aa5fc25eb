import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { KvmDevice } from "../src/kvm/api.js";
import type { KvmVcpu } from "../src/kvm/vcpu.js";
import { KVM_CAP_PMU_CAPABILITY } from "../src/kvm/vm.js";
import { stateName } from "../src/perf/event.js";
import { ArgumentError } from "../src/sim/argument.js";
import { KernelError } from "../src/sim/errno.js";
import type { Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

/**
 * Random and hostile call sequences through the public library API: only KernelErrors
 * (and ArgumentErrors for bad model input such as a time of NaN) may come back, the invariant checker (throw mode in tests) must stay silent, and the
 * same sequence must give the same results twice.
 */
const hostileInt = fc.oneof(
  fc.integer({ min: -3, max: 12 }),
  fc.constantFrom(-1, 0, 2 ** 31, 2 ** 53, -(2 ** 40), Number.NaN, 1.5, Number.POSITIVE_INFINITY),
);
const anyValue = fc.oneof(
  hostileInt,
  fc.constant(null),
  fc.constant(undefined),
  fc.string({ maxLength: 3 }),
  fc.boolean(),
);

const flag = fc.option(fc.boolean(), { nil: undefined });
const goodAttr = fc.record(
  {
    type: fc.constantFrom(0, 0, 1, 3, 4, 4, 6, 7, 8),
    config: fc.constantFrom(0, 1, 3, 4, 5, 9, 0xc4, 0xc0, 0x3c, 0x11, 0x08, 0x0300, 0x10002, 0x304),
    disabled: flag,
    pinned: fc.option(fc.boolean(), { nil: undefined }),
    exclude_user: flag,
    exclude_kernel: flag,
    exclude_guest: flag,
    sample_period: fc.option(fc.constantFrom(0, 0, 0, 50_000, 1_000_000), { nil: undefined }),
    read_format: fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }),
  },
  { requiredKeys: ["type"] },
);

const attrArb = fc.oneof(
  { weight: 4, arbitrary: goodAttr },
  fc.record(
    {
      type: fc.oneof(fc.integer({ min: 0, max: 9 }), hostileInt),
      config: fc.oneof(
        fc.constantFrom(0, 1, 2, 3, 4, 5, 9, 0xc4, 0xc0, 0x3c, 0x11, 0x08, 0x0300),
        fc.bigInt({ min: -5n, max: 1n << 66n }),
        hostileInt,
      ),
      size: fc.option(fc.oneof(fc.constantFrom(0, 64, 136, 4096, 4097, 8), hostileInt), {
        nil: undefined,
      }),
      disabled: fc.option(fc.boolean(), { nil: undefined }),
      pinned: fc.option(fc.boolean(), { nil: undefined }),
      exclusive: fc.option(fc.boolean(), { nil: undefined }),
      exclude_user: fc.option(fc.boolean(), { nil: undefined }),
      exclude_kernel: fc.option(fc.boolean(), { nil: undefined }),
      exclude_guest: fc.option(fc.boolean(), { nil: undefined }),
      exclude_idle: fc.option(fc.boolean(), { nil: undefined }),
      sample_period: fc.option(fc.oneof(fc.constantFrom(0, 1000, 100_000), hostileInt), {
        nil: undefined,
      }),
      freq: fc.option(fc.boolean(), { nil: undefined }),
      sample_freq: fc.option(fc.constantFrom(0, 100, 1000, 200_000), { nil: undefined }),
      read_format: fc.option(fc.oneof(fc.integer({ min: 0, max: 40 }), hostileInt), {
        nil: undefined,
      }),
      sample_type: fc.option(fc.constantFrom(0, 1, 2 ** 30), { nil: undefined }),
      tail: fc.option(fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 3 }), {
        nil: undefined,
      }),
    },
    { requiredKeys: ["type"] },
  ),
  anyValue,
);

const cmdArb = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant("open" as const),
      attr: goodAttr,
      pid: fc.constantFrom(-1, -1, 1, 2, 3),
      cpu: fc.constantFrom(0, 1, 2, 4, 5),
      group: fc.constantFrom(0, 0, 0, 0, 3, 4, 5),
      flags: fc.constant(0),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant("open" as const),
      attr: attrArb,
      pid: fc.oneof(fc.constantFrom(-1, -1, 1, 2, 3), hostileInt),
      cpu: fc.oneof(fc.constantFrom(-1, 0, 1, 2, 4, 5), hostileInt),
      group: fc.oneof(fc.constantFrom(0, 0, 0, 3, 4, 5), hostileInt),
      flags: fc.oneof(fc.constantFrom(0, 0, 0, 1, 8, 16), hostileInt),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("read" as const),
      fd: fc.integer({ min: 0, max: 8 }),
      count: fc.oneof(fc.constantFrom(4096, 8, 0), hostileInt),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("ioctl" as const),
      fd: fc.oneof(fc.integer({ min: 0, max: 8 }), hostileInt),
      cmd: fc.constantFrom("ENABLE", "DISABLE", "RESET", "REFRESH", "PERIOD", "ID", "BOGUS"),
      arg: anyValue,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("close" as const),
      fd: fc.oneof(fc.integer({ min: 0, max: 8 }), hostileInt),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("run" as const),
      dt: fc.oneof(
        fc.integer({ min: 1, max: 20_000_000 }),
        fc.constantFrom(0, -5, Number.NaN, Number.NEGATIVE_INFINITY),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("affinity" as const),
      task: fc.integer({ min: 0, max: 3 }),
      cpus: fc.oneof(fc.array(hostileInt, { maxLength: 3 }), anyValue),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("kill" as const),
      task: fc.oneof(fc.integer({ min: 0, max: 3 }), hostileInt),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("hotplug" as const),
      cpu: hostileInt,
      online: fc.boolean(),
    }),
  },
);

type Cmd = typeof cmdArb extends fc.Arbitrary<infer T> ? T : never;

function play(machine: string, cmds: Cmd[]): string[] {
  const sys = new System({ machine: preset(machine)! });
  const pids = [
    0,
    ...[0, 1, 2].map(
      (i) => sys.spawn({ comm: `t${i}`, workload: BUILTIN_WORKLOADS.compute!, affinity: [i] }).pid,
    ),
  ];
  const log: string[] = [];
  const call = (what: string, fn: () => unknown): void => {
    try {
      const r = fn();
      log.push(
        `${what}=${typeof r === "object" && r !== null ? JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? String(v) : v)) : String(r)}`,
      );
    } catch (e) {
      if (e instanceof ArgumentError) {
        log.push(`${what}=ArgumentError(${e.argument})`);
        return;
      }
      if (!(e instanceof KernelError)) throw e;
      expect(e.errno).toBeLessThan(0);
      log.push(`${what}=${e.code}`);
    }
  };
  for (const c of cmds) {
    switch (c.op) {
      case "open":
        call("open", () =>
          sys.perfEventOpen(
            c.attr as never,
            typeof c.pid === "number" && c.pid >= 1 && c.pid <= 3
              ? pids[c.pid]!
              : (c.pid as number),
            c.pid !== -1 && c.flags === 0 && typeof c.cpu === "number" && c.cpu === 5
              ? -1
              : (c.cpu as number),
            c.group === 0 ? -1 : (c.group as number),
            c.flags as number,
          ),
        );
        break;
      case "read":
        call("read", () => sys.read(c.fd, c.count as number));
        break;
      case "ioctl":
        call("ioctl", () => sys.ioctl(c.fd as number, c.cmd as never, c.arg as never));
        break;
      case "close":
        call("close", () => sys.close(c.fd as number));
        break;
      case "run":
        // A time that is not a whole, non-negative ns is bad model input (ArgumentError).
        call("run", () => sys.run((sys.now + (c.dt as number)) as Ns));
        log.push(`t=${sys.now}`);
        break;
      case "affinity":
        call("affinity", () => sys.schedSetaffinity(pids[c.task]!, c.cpus as never));
        break;
      case "kill":
        call("kill", () =>
          sys.kill(
            typeof c.task === "number" && c.task >= 1 && c.task <= 3
              ? pids[c.task]!
              : (c.task as number),
          ),
        );
        break;
      case "hotplug":
        call("hotplug", () => sys.setCpuOnline(c.cpu as number, c.online));
        break;
    }
  }
  sys.run((sys.now + 5_000_000) as Ns);
  for (const e of sys.perf.events.values())
    log.push(
      `${e.id}:${stateName(e.state)}:${Math.floor(e.count)}:${e.totalTimeEnabled}:${e.totalTimeRunning}`,
    );
  return log;
}

describe("robustness: random and hostile API sequences", () => {
  for (const machine of ["x86-server", "rk3399", "x86-hybrid"]) {
    it(`${machine}: only errnos, no invariant violations, deterministic`, () => {
      fc.assert(
        fc.property(fc.array(cmdArb, { maxLength: 60 }), (cmds) => {
          const a = play(machine, cmds);
          const b = play(machine, cmds);
          expect(a).toEqual(b);
        }),
        { seed: 1234, numRuns: 300 },
      );
    });
  }
});

describe("robustness: random and hostile KVM sequences", () => {
  const kvmCmd = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("vcpu" as const),
        vm: fc.nat(2),
        id: fc.oneof(fc.nat(3), hostileInt),
        cpu: fc.oneof(fc.nat(7), hostileInt),
        rate: fc.oneof(fc.constantFrom(0, 1000, 20_000), hostileInt),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("cap" as const),
        vm: fc.nat(2),
        args: fc.oneof(fc.constantFrom(0, 1, 2), hostileInt),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("filter" as const),
        vm: fc.nat(2),
        action: fc.oneof(fc.constantFrom(0, 1, 2), hostileInt),
        flags: fc.oneof(fc.constantFrom(0, 1, 2), hostileInt),
        events: fc.array(
          fc.oneof(
            fc.constantFrom(0xc4, 0xc0, 0x3c, 0x1ff),
            fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          ),
          { maxLength: 4 },
        ),
        nevents: fc.option(fc.constantFrom(0, 3, 300, 301, -1), { nil: undefined }),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant("msr" as const),
        vcpu: fc.nat(3),
        write: fc.boolean(),
        msr: fc.oneof(
          fc.constantFrom(
            0xc1,
            0xc2,
            0x186,
            0x187,
            0x309,
            0x38d,
            0x38e,
            0x38f,
            0x390,
            0x4c1,
            0x345,
          ),
          fc.nat(0x1000),
        ),
        value: fc.oneof(
          fc.constantFrom(0n, (1n << 22n) | 0xc4n | (3n << 16n), (1n << 64n) - 1n, 0x80000000n, 7n),
          fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("rdpmc" as const),
        vcpu: fc.nat(3),
        ecx: fc.oneof(fc.constantFrom(0, 1, 64, 1 << 30, (1 << 30) | 2, 1 << 31), fc.integer()),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("host" as const),
        cpu: fc.nat(7),
        exclude_guest: fc.boolean(),
        pinned: fc.boolean(),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("run" as const),
        dt: fc.integer({ min: 1, max: 6_000_000 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("destroy" as const), vm: fc.nat(2) }) },
  );
  type K = typeof kvmCmd extends fc.Arbitrary<infer T> ? T : never;

  function playKvm(profile: "7.0" | "rfc-v1", mediated: boolean, cmds: K[]): string[] {
    // The RFC breaks its own contract by design (only active groups are forced at entry):
    // record those findings; every other rule must hold.
    const sys = new System({
      machine: preset("x86-server")!,
      profile,
      fixSiblingLoop: true,
      checkInvariants: "record",
    });
    const dev = new KvmDevice(sys, { enableMediatedPmu: mediated });
    const vms = [0, 1, 2].map((i) => dev.createVm(`vm${i}`));
    const vcpus: KvmVcpu[] = [];
    const log: string[] = [];
    const call = (what: string, fn: () => unknown): void => {
      try {
        const r = fn();
        log.push(
          `${what}=${typeof r === "bigint" || typeof r === "number" || typeof r === "boolean" || typeof r === "symbol" ? String(r) : "ok"}`,
        );
      } catch (e) {
        if (e instanceof ArgumentError) {
          log.push(`${what}=ArgumentError(${e.argument})`);
          return;
        }
        if (!(e instanceof KernelError)) throw e;
        log.push(`${what}=${e.code}`);
      }
    };
    for (const c of cmds) {
      switch (c.op) {
        case "vcpu":
          call("vcpu", () =>
            vcpus.push(
              vms[c.vm]!.createVcpu(c.id as number, {
                workload: BUILTIN_WORKLOADS.compute!,
                affinity: [c.cpu as number],
                exitRate: c.rate as number,
              }),
            ),
          );
          break;
        case "cap":
          call("cap", () => vms[c.vm]!.enableCap(KVM_CAP_PMU_CAPABILITY, c.args as number));
          break;
        case "filter":
          call("filter", () =>
            vms[c.vm]!.setPmuEventFilter({
              action: c.action as number,
              flags: c.flags as number,
              events: c.events,
              ...(c.nevents !== undefined ? { nevents: c.nevents } : {}),
            }),
          );
          break;
        case "msr": {
          const p = vcpus[c.vcpu]?.pmu;
          if (p)
            call("msr", () =>
              c.write ? p.wrmsr(c.msr, c.value, sys.now) : p.rdmsr(c.msr, sys.now),
            );
          break;
        }
        case "rdpmc": {
          const p = vcpus[c.vcpu]?.pmu;
          if (p) call("rdpmc", () => p.rdpmc(c.ecx, sys.now));
          break;
        }
        case "host":
          call("host", () =>
            sys.perfEventOpen(
              { type: 4, config: 0xc4, exclude_guest: c.exclude_guest, pinned: c.pinned },
              -1,
              c.cpu,
            ),
          );
          break;
        case "run":
          sys.run((sys.now + c.dt) as Ns);
          log.push(`t=${sys.now}`);
          break;
        case "destroy":
          vms[c.vm]!.destroy();
          break;
      }
    }
    sys.run((sys.now + 5_000_000) as Ns);
    const bad = sys.invariants!.findings.filter((f) => f.rule !== "exclude-guest-in-guest");
    expect(bad).toEqual([]);
    for (const v of vcpus) log.push(`${v.label}:${v.nrEntries}:${JSON.stringify(v.exits)}`);
    return log;
  }

  for (const [profile, mediated] of [
    ["7.0", false],
    ["7.0", true],
    ["rfc-v1", true],
  ] as const) {
    it(`${profile}${mediated ? " mediated" : " emulated"}: only errnos or #GP, invariants hold, deterministic`, () => {
      fc.assert(
        fc.property(fc.array(kvmCmd, { maxLength: 40 }), (cmds) => {
          expect(playKvm(profile, mediated, cmds)).toEqual(playKvm(profile, mediated, cmds));
        }),
        { seed: 99, numRuns: 60 },
      );
    });
  }
});
