import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArmGuestPerfStat } from "../src/guest/arm-perf-stat.js";
import { GuestPerfStat } from "../src/guest/perf-stat.js";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { KvmDevice, type VmHandle } from "../src/kvm/api.js";
import { KVM_ARM_VCPU_PMU_V3, KvmArm64, type KvmArmVcpu, PMU_ATTR } from "../src/kvm/arm64/kvm.js";
import type { KvmVcpu } from "../src/kvm/vcpu.js";
import { GuestPmuOps } from "../src/kvm/vcpu.js";
import { loadScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";
import { ArgumentError } from "../src/sim/argument.js";
import { ERRNO, KernelError } from "../src/sim/errno.js";
import type { Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

/**
 * Hostile arguments across the public API. The rule (issue 14, part 4): a kernel-shaped call
 * converts its arguments as the C ABI would and answers with an errno (KernelError from the
 * throwing wrappers, a negative number from the errno-returning ones); a model call checks
 * its input where it enters and throws ArgumentError naming the argument. Nothing else may
 * come out, bad input accepted at one call must not fail a later one, the invariant checker
 * (throw mode in tests) stays silent, the clock stays a whole number of ns, and the same
 * sequence gives the same log twice.
 */
const hostile = fc.oneof(
  fc.integer({ min: -3, max: 8 }),
  fc.constantFrom(
    -1,
    2 ** 32 - 1,
    2 ** 32 + 1,
    2 ** 53,
    -(2 ** 63),
    Number.NaN,
    1.5,
    -0.5,
    Number.POSITIVE_INFINITY,
  ),
  fc.bigInt({ min: -2n, max: (1n << 65n) + 1n }),
  fc.constantFrom(0n, 1n, -1n, 1n << 64n),
  fc.constantFrom(null, undefined, "", "3", true, false, Symbol("s"), () => 0),
  fc.constantFrom({}, [], [0], [1, 2], { run: 5 }, { perfmon: "yes" }, new Map()),
);
/** Mostly a good value, sometimes a hostile one. */
const h = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: hostile });
const cpuish = h(fc.integer({ min: -1, max: 7 }));
const workloadish = fc.oneof(
  { weight: 3, arbitrary: fc.constant(BUILTIN_WORKLOADS.compute!) },
  fc.constant({ name: "w", base: { ...BUILTIN_WORKLOADS.compute!.base, ipc: -1 }, overrides: {} }),
  fc.constant({ name: "w", base: { ipc: 1 }, overrides: {} }),
  hostile,
);
const affinityish = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  fc.array(cpuish, { maxLength: 3 }),
  hostile,
);

const op = fc.oneof(
  fc.record({
    k: fc.constant("spawn" as const),
    comm: h(fc.constant("t")),
    w: workloadish,
    aff: affinityish,
    duty: fc.oneof(fc.constant(undefined), fc.constant({ run: 100_000, sleep: 50_000 }), hostile),
    exitAfter: h(fc.constant(undefined)),
  }),
  fc.record({
    k: fc.constant("at" as const),
    t: h(fc.nat(5_000_000)),
    name: h(fc.constant("x")),
    fn: fc.oneof(
      fc.constant(() => {}),
      hostile,
    ),
  }),
  fc.record({ k: fc.constant("run" as const), dt: h(fc.nat(3_000_000)) }),
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("open" as const),
      type: h(fc.constantFrom(0, 1, 1, 4)),
      config: h(fc.constantFrom(0, 0, 1, 0xc0)),
      pid: h(fc.constantFrom(-1, 0, 1)),
      cpu: cpuish,
      group: h(fc.constantFrom(-1, -1, 3)),
      flags: h(fc.constant(0)),
      cred: fc.oneof(
        { weight: 6, arbitrary: fc.constant(undefined) },
        fc.constantFrom({ perfmon: false }, null),
        hostile,
      ),
    }),
  },
  fc.record({
    k: fc.constant("read" as const),
    fd: h(fc.integer({ min: 2, max: 6 })),
    count: h(fc.constant(4096)),
  }),
  fc.record({
    k: fc.constant("ioctl" as const),
    fd: h(fc.integer({ min: 2, max: 6 })),
    cmd: fc.constantFrom(
      "ENABLE",
      "DISABLE",
      "RESET",
      "REFRESH",
      "PERIOD",
      "ID",
      "SET_OUTPUT",
      "nope",
    ),
    arg: hostile,
  }),
  fc.record({ k: fc.constant("close" as const), fd: h(fc.integer({ min: 2, max: 6 })) }),
  fc.record({
    k: fc.constant("affinity" as const),
    pid: h(fc.nat(3)),
    cpus: affinityish,
  }),
  fc.record({
    k: fc.constant("online" as const),
    cpu: cpuish,
    on: h(fc.boolean()),
  }),
  fc.record({ k: fc.constant("kill" as const), pid: h(fc.nat(3)) }),
  fc.record({
    k: fc.constant("affmask" as const),
    pid: h(fc.nat(3)),
    len: h(fc.constantFrom(0, 1, 8, 128)),
    mask: fc.oneof(
      fc.uint8Array({ maxLength: 9 }),
      fc.constant(Uint8Array.from([3, 0, 0, 0, 0, 0, 0, 0])),
      hostile,
    ),
  }),
);
const x86Op = fc.oneof(
  { weight: 8, arbitrary: op },
  fc.record({
    k: fc.constant("vcpu" as const),
    id: h(fc.nat(2)),
    w: workloadish,
    aff: affinityish,
    rate: h(fc.constant(undefined)),
  }),
  fc.record({
    k: fc.constant("filter" as const),
    action: h(fc.constantFrom(0, 1)),
    flags: h(fc.constantFrom(0, 1)),
    events: fc.oneof(fc.array(hostile, { maxLength: 3 }), hostile),
    nevents: h(fc.constant(undefined)),
  }),
  fc.record({
    k: fc.constant("cap" as const),
    cap: h(fc.constant(113)),
    arg: hostile,
  }),
  // Guest instructions (GuestPmuOps) and the guest's perf stat, on a vCPU made above.
  fc.record({
    k: fc.constant("guest" as const),
    v: fc.nat(2),
    insn: fc.constantFrom("wrmsr", "rdmsr", "rdpmc", "emulate", "code"),
    a: h(fc.constantFrom(0x186, 0xc1, 0x38f, 0x40000001, 0)),
    b: h(fc.constantFrom(0x43003c, 0, 1)),
    c: h(fc.constantFrom(0, 3)),
    now: h(fc.constant(undefined)),
    done: fc.oneof({ weight: 3, arbitrary: fc.constant(() => {}) }, hostile),
  }),
  fc.record({
    k: fc.constant("gstat" as const),
    v: fc.nat(2),
    events: fc.oneof(
      { weight: 3, arbitrary: fc.constant([{ name: "cycles", encoding: 0x3c }]) },
      fc.array(fc.oneof(fc.constant({ name: "x", encoding: 0xc0 }), hostile), { maxLength: 3 }),
      hostile,
    ),
    mux: h(fc.constant(4_000_000)),
    now: h(fc.constant(undefined)),
  }),
);
const armOp = fc.oneof(
  { weight: 6, arbitrary: op },
  fc.record({
    k: fc.constant("avcpu" as const),
    id: h(fc.nat(2)),
    w: workloadish,
    aff: affinityish,
  }),
  fc.record({
    k: fc.constant("init" as const),
    v: fc.nat(2),
    features: h(fc.constant(1 << KVM_ARM_VCPU_PMU_V3)),
    vmm: cpuish,
  }),
  fc.record({
    k: fc.constant("attr" as const),
    v: fc.nat(2),
    set: fc.boolean(),
    attr: h(fc.constantFrom(...Object.values(PMU_ATTR))),
    value: fc.oneof(
      fc.constantFrom(23, 0, 6),
      fc.constant({ base_event: 8, nevents: 1, action: 1 }),
      hostile,
    ),
  }),
  fc.record({
    k: fc.constant("onereg" as const),
    v: fc.nat(2),
    set: fc.boolean(),
    reg: h(fc.constantFrom("PMCR_EL0", "ID_AA64DFR0_EL1", "PMCNTENSET_EL0")),
    value: hostile,
  }),
  fc.record({ k: fc.constant("krun" as const), v: fc.nat(2), now: h(fc.constant(undefined)) }),
  fc.record({
    k: fc.constant("astat" as const),
    v: fc.nat(2),
    events: fc.oneof(
      { weight: 3, arbitrary: fc.constant(["cpu_cycles", "r08"]) },
      fc.array(hostile, { maxLength: 2 }),
      hostile,
    ),
    mux: h(fc.constant(4_000_000)),
    now: h(fc.constant(undefined)),
  }),
);
type Op = typeof x86Op extends fc.Arbitrary<infer T> ? T : never;
type ArmOp = typeof armOp extends fc.Arbitrary<infer T> ? T : never;

const KNOWN_ERRNOS = new Set(Object.values(ERRNO).map((e) => -e));

/** Runs `fn`; records its value, its errno, or the ArgumentError's argument. Anything else fails. */
function recorder(log: string[]) {
  return (what: string, fn: () => unknown): void => {
    try {
      const r = fn();
      if (typeof r === "number" && r < 0) expect(KNOWN_ERRNOS.has(r)).toBe(true);
      log.push(`${what}=${typeof r === "number" || typeof r === "bigint" ? String(r) : "ok"}`);
    } catch (e) {
      if (e instanceof KernelError) {
        expect(KNOWN_ERRNOS.has(e.errno)).toBe(true);
        log.push(`${what}=${e.code}`);
      } else if (e instanceof ArgumentError) {
        // One documented error type, whose message starts with the argument it names.
        expect(e.message.startsWith(`${e.argument}: expected `)).toBe(true);
        log.push(`${what}=ArgumentError(${e.argument})`);
      } else {
        throw e;
      }
    }
  };
}

/** The calls every System takes. */
function playCommon(
  sys: System,
  o: Op | ArmOp,
  call: ReturnType<typeof recorder>,
  pids: number[],
): void {
  const a = <T>(v: unknown) => v as T;
  switch (o.k) {
    case "spawn":
      call("spawn", () => {
        const t = sys.spawn(
          a({ comm: o.comm, workload: o.w, affinity: o.aff, duty: o.duty, exitAfter: o.exitAfter }),
        );
        pids.push(t.pid);
        return t.pid;
      });
      break;
    case "at":
      call("at", () => void sys.at(a(o.t), a(o.name), a(o.fn)));
      break;
    case "run":
      call("run", () => sys.run(a<Ns>(typeof o.dt === "number" ? sys.now + o.dt : o.dt)));
      break;
    case "open":
      call("open", () =>
        sys.perfEventOpen(
          a({ type: o.type, config: o.config }),
          a(o.pid),
          a(o.cpu),
          a(o.group),
          a(o.flags),
          a(o.cred),
        ),
      );
      break;
    case "read":
      call("read", () => sys.read(a(o.fd), a(o.count)).bytes);
      break;
    case "ioctl":
      call("ioctl", () => sys.ioctl(a(o.fd), a(o.cmd), a(o.arg)));
      break;
    case "close":
      call("close", () => sys.close(a(o.fd)));
      break;
    case "affinity":
      call("affinity", () =>
        sys.schedSetaffinity(
          typeof o.pid === "number" ? (pids[o.pid] ?? o.pid) : a(o.pid),
          a(o.cpus),
        ),
      );
      break;
    case "online":
      call("online", () => sys.setCpuOnline(a(o.cpu), a(o.on)));
      break;
    case "kill":
      call("kill", () => sys.kill(typeof o.pid === "number" ? (pids[o.pid] ?? o.pid) : a(o.pid)));
      break;
    case "affmask":
      call("affmask", () =>
        sys.schedSetaffinityMask(
          typeof o.pid === "number" ? (pids[o.pid] ?? o.pid) : o.pid,
          o.len,
          o.mask,
        ),
      );
      break;
  }
}

/** A task and three perf fds (a group of two on CPU 0, one on the task) for the calls to hit. */
function setup(sys: System, pids: number[]): void {
  const t = sys.spawn({ comm: "w", workload: BUILTIN_WORKLOADS.compute!, affinity: [0, 1] });
  pids.push(t.pid);
  const leader = sys.perfEventOpen({ type: 1, config: 0, sample_period: 100_000 }, -1, 0);
  sys.perfEventOpen({ type: 0, config: 1 }, -1, 0, leader);
  sys.perfEventOpen({ type: 0, config: 0 }, t.pid, -1);
}

function finish(sys: System, log: string[]): string[] {
  sys.run((sys.now + 2_000_000) as Ns);
  expect(Number.isSafeInteger(sys.now)).toBe(true);
  for (const e of sys.perf.events.values()) log.push(`${e.id}:${e.state}:${Math.floor(e.count)}`);
  return log;
}

function playX86(ops: Op[]): string[] {
  const sys = new System({ machine: preset("x86-server")! });
  const vm: VmHandle = new KvmDevice(sys).createVm("vm0");
  const vcpus: KvmVcpu[] = [];
  const log: string[] = [];
  const call = recorder(log);
  const pids: number[] = [];
  setup(sys, pids);
  const a = <T>(v: unknown) => v as T;
  for (const o of ops) {
    switch (o.k) {
      case "vcpu":
        call("vcpu", () =>
          vcpus.push(
            vm.createVcpu(a(o.id), a({ workload: o.w, affinity: o.aff, exitRate: o.rate })),
          ),
        );
        break;
      case "filter":
        call("filter", () =>
          vm.setPmuEventFilter(
            a({ action: o.action, flags: o.flags, events: o.events, nevents: o.nevents }),
          ),
        );
        break;
      case "cap":
        call("cap", () => vm.enableCap(a(o.cap), a(o.arg)));
        break;
      case "guest": {
        const v = vcpus[o.v];
        if (!v) break;
        // undefined stands for "now": the time a caller would pass.
        const now = a<Ns>(o.now === undefined ? sys.now : o.now);
        const g = new GuestPmuOps(v);
        call(`guest.${o.insn}`, () => {
          if (o.insn === "wrmsr") g.wrmsr(a(o.a), a(o.b), now, a(o.done));
          else if (o.insn === "rdmsr") g.rdmsr(a(o.a), now, a(o.done));
          else if (o.insn === "rdpmc") g.rdpmc(a(o.a), now, a(o.done));
          else if (o.insn === "emulate") g.emulate(a(o.b), 0, a(o.c), now, a(o.done));
          else g.code(now, a(o.done));
        });
        break;
      }
      case "gstat": {
        const v = vcpus[o.v];
        if (!v) break;
        const now = a<Ns>(o.now === undefined ? sys.now : o.now);
        call("gstat", () => {
          const st = new GuestPerfStat(v, a(o.events), a(o.mux));
          st.start(now);
          sys.run((sys.now + 1_000_000) as Ns);
          st.stop(sys.now);
          st.finishReads(sys.now);
          return st.result().length;
        });
        break;
      }
      default:
        playCommon(sys, o, call, pids);
    }
  }
  return finish(sys, log);
}

function playArm(ops: ArmOp[]): string[] {
  const sys = new System({ machine: preset("rk3399")! });
  const vm = new KvmArm64(sys).createVm("vm0");
  const vcpus: KvmArmVcpu[] = [];
  const log: string[] = [];
  const call = recorder(log);
  const pids: number[] = [];
  setup(sys, pids);
  const a = <T>(v: unknown) => v as T;
  for (const o of ops) {
    const v = "v" in o ? vcpus[o.v] : undefined;
    switch (o.k) {
      case "avcpu":
        call("avcpu", () => {
          const r = vm.createVcpu(a(o.id), a(o.w), a(o.aff));
          if (typeof r === "number") return r;
          vcpus.push(r);
          return 0;
        });
        break;
      case "init":
        if (v) call("init", () => v.init(a(o.features), a(o.vmm)));
        break;
      case "attr":
        if (v) call("attr", () => (o.set ? v.setAttr(a(o.attr), o.value) : v.hasAttr(a(o.attr))));
        break;
      case "onereg":
        if (v)
          call("onereg", () => (o.set ? v.setOneReg(a(o.reg), a(o.value)) : v.getOneReg(a(o.reg))));
        break;
      case "krun":
        if (v) call("krun", () => v.kvmRun(a(o.now === undefined ? sys.now : o.now)));
        break;
      case "astat":
        if (v) {
          const now = a<Ns>(o.now === undefined ? sys.now : o.now);
          call("astat", () => {
            const st = new ArmGuestPerfStat(v, a(o.events), a(o.mux));
            st.start(now);
            sys.run((sys.now + 1_000_000) as Ns);
            st.stop(sys.now);
            st.finishReads(sys.now);
            return st.result().length;
          });
        }
        break;
      default:
        playCommon(sys, o, call, pids);
    }
  }
  return finish(sys, log);
}

describe("hostile arguments across the public API: only errnos or ArgumentError, invariants hold", () => {
  it("x86-server: System, perf calls, KVM VM and vCPU calls", () => {
    fc.assert(
      fc.property(fc.array(x86Op, { maxLength: 30 }), (ops) => {
        expect(playX86(ops)).toEqual(playX86(ops));
      }),
      { seed: 14, numRuns: 250 },
    );
  });

  it("rk3399: System, perf calls, KVM arm64 vCPU init, device attributes and ONE_REG", () => {
    fc.assert(
      fc.property(fc.array(armOp, { maxLength: 30 }), (ops) => {
        expect(playArm(ops)).toEqual(playArm(ops));
      }),
      { seed: 14, numRuns: 250 },
    );
  });
});

describe("runScenario() with hostile objects: ArgumentError naming the field, nothing run", () => {
  const good = loadScenario("name: g\nmachine: x86-server\nduration: 1ms\n");
  const cases: Array<[string, unknown, unknown, string]> = [
    ["null", null, undefined, "runScenario(scenario)"],
    ["a string", "name: x", undefined, "runScenario(scenario)"],
    ["{}", {}, undefined, "runScenario(scenario.name)"],
    [
      "a NaN duration",
      { ...good, duration: Number.NaN },
      undefined,
      "runScenario(scenario.duration)",
    ],
    ["a bigint seed", { ...good, seed: 1n }, undefined, "runScenario(scenario.seed)"],
    ["tasks not a list", { ...good, tasks: {} }, undefined, "runScenario(scenario.tasks)"],
    [
      "workloads not a Map",
      { ...good, workloads: {} },
      undefined,
      "runScenario(scenario.workloads)",
    ],
    ["opts null", good, null, "runScenario(opts)"],
    ["a negative seed", good, { seed: -1 }, "runScenario(opts.seed)"],
    ["a fractional duration", good, { duration: 1.5 }, "runScenario(opts.duration)"],
    ["onProgress not a function", good, { onProgress: 3 }, "runScenario(opts.onProgress)"],
    ["traceSinks not a list", good, { traceSinks: {} }, "runScenario(opts.traceSinks)"],
  ];
  it.each(cases)("%s", (_what, sc, opts, argument) => {
    let err: unknown;
    try {
      runScenario(sc as never, opts as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as ArgumentError).argument).toBe(argument);
  });

  it("a spread copy of a compiled scenario still runs (its shape is what is checked)", () => {
    const r = runScenario({ ...good, duration: 2_000_000 as Ns });
    expect(r.scenario.duration_ns).toBe(2_000_000);
  });
});
