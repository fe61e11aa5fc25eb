import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { KVM_ARM_VCPU_PMU_V3, KvmArm64, type KvmArmVcpu } from "../src/kvm/arm64/kvm.js";
import type { PmuReg } from "../src/kvm/arm64/pmuv3.js";
import type { Ns } from "../src/sim/time.js";
import { System } from "../src/system.js";

/**
 * Random and hostile arm64 KVM call sequences through the library API (VCPU_INIT, the
 * PMU_V3 device attributes, SET/GET_ONE_REG, KVM_RUN, re-pinning, guest PMU register
 * accesses): calls return 0, a value or a negative errno, never throw; the invariant
 * checker stays silent; the same sequence gives the same log twice.
 */
const hostileInt = fc.oneof(
  fc.integer({ min: -3, max: 12 }),
  fc.constantFrom(
    -1,
    0,
    6,
    7,
    23,
    2 ** 31,
    2 ** 53,
    -(2 ** 40),
    Number.NaN,
    1.5,
    Number.POSITIVE_INFINITY,
  ),
);
const hostileValue = fc.oneof(
  hostileInt,
  fc.constant(null),
  fc.constant(undefined),
  fc.string({ maxLength: 3 }),
  fc.record({
    base_event: hostileInt,
    nevents: hostileInt,
    action: hostileInt,
  }),
);
const REGS: PmuReg[] = [
  "PMCR_EL0",
  "PMCNTENSET_EL0",
  "PMCNTENCLR_EL0",
  "PMINTENSET_EL1",
  "PMINTENCLR_EL1",
  "PMOVSSET_EL0",
  "PMOVSCLR_EL0",
  "PMSWINC_EL0",
  "PMSELR_EL0",
  "PMXEVTYPER_EL0",
  "PMXEVCNTR_EL0",
  "PMEVTYPER_EL0",
  "PMEVCNTR_EL0",
  "PMCCNTR_EL0",
  "PMCCFILTR_EL0",
  "PMCEID0_EL0",
  "PMCEID1_EL0",
  "PMUSERENR_EL0",
];

const cmd = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("init" as const),
      v: fc.nat(2),
      features: fc.oneof(fc.constantFrom(0, 1 << KVM_ARM_VCPU_PMU_V3, 0x100, 0x18), hostileInt),
      vmmCpu: fc.nat(5),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom("set" as const, "has" as const, "get" as const),
      v: fc.nat(2),
      attr: fc.oneof(fc.nat(5), hostileInt),
      value: hostileValue,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("onereg" as const),
      v: fc.nat(2),
      write: fc.boolean(),
      value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("kvmrun" as const), v: fc.nat(2) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("pin" as const), v: fc.nat(2), cpu: fc.nat(5) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("reg" as const),
      v: fc.nat(2),
      reg: fc.constantFrom(...REGS),
      idx: fc.oneof(fc.nat(31), hostileInt),
      write: fc.boolean(),
      value: fc.oneof(
        fc.constantFrom(0n, 1n, 0x11n, 0x13n, 0x1en, 0xffff_fff0n, (1n << 64n) - 1n, 0x8000_0001n),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("run" as const),
      dt: fc.integer({ min: 1, max: 5_000_000 }),
    }),
  },
);
type C = typeof cmd extends fc.Arbitrary<infer T> ? T : never;

function play(profile: "5.18" | "7.0", cmds: C[]): string[] {
  const sys = new System({ machine: preset("rk3399")!, profile: "7.0", checkInvariants: "record" });
  const kvm = new KvmArm64(sys, profile);
  const vm = kvm.createVm("vm0");
  const vcpus = [0, 1, 2].map(
    (i) => vm.createVcpu(i, BUILTIN_WORKLOADS.compute!, [i * 2]) as KvmArmVcpu,
  );
  const log: string[] = [];
  const out = (what: string, r: unknown): void => {
    if (typeof r === "number" || typeof r === "bigint") log.push(`${what}=${r}`);
    else if (typeof r === "symbol") log.push(`${what}=UNDEF`);
    else if (r === true) log.push(`${what}=ok`);
    else throw new Error(`${what} returned ${String(r)}`);
  };
  for (const c of cmds) {
    const v = vcpus[c.op === "run" ? 0 : c.v]!;
    switch (c.op) {
      case "init":
        out("init", v.init(c.features as number, c.vmmCpu));
        break;
      case "set":
        out("set", v.setAttr(c.attr as number, c.value));
        break;
      case "has":
        out("has", v.hasAttr(c.attr as number));
        break;
      case "get":
        out("get", v.getAttr(c.attr as number));
        break;
      case "onereg":
        out("onereg", c.write ? v.setOneReg("PMCR_EL0", c.value) : v.getOneReg("PMCR_EL0"));
        break;
      case "kvmrun":
        out("kvmrun", v.kvmRun(sys.now));
        break;
      case "pin":
        out("pin", sys.sched.setAffinity(v.run.task.pid, [c.cpu], sys.now));
        break;
      case "reg":
        if (v.pmu)
          out(
            "reg",
            c.write
              ? v.pmu.write(c.reg, c.idx as number, c.value, sys.now)
              : v.pmu.read(c.reg, c.idx as number, v.run.task.cpu),
          );
        break;
      case "run":
        sys.run((sys.now + c.dt) as Ns);
        log.push(`t=${sys.now}`);
        break;
    }
  }
  sys.run((sys.now + 5_000_000) as Ns);
  expect(sys.invariants!.findings).toEqual([]);
  for (const v of vcpus)
    log.push(`${v.id}:${v.run.nrEntries}:${v.run.nrFailEntries}:${JSON.stringify(v.run.exits)}`);
  return log;
}

describe("robustness: random and hostile arm64 KVM sequences", () => {
  for (const profile of ["7.0", "5.18"] as const) {
    it(`${profile}: only values or errnos, invariants hold, deterministic`, () => {
      fc.assert(
        fc.property(fc.array(cmd, { maxLength: 50 }), (cmds) => {
          expect(play(profile, cmds)).toEqual(play(profile, cmds));
        }),
        { seed: 7, numRuns: 80 },
      );
    });
  }
});
