import type { Command } from "commander";
import { ARM_PMU_TESTS, type ArmPmuTest } from "../guest/kvm-unit-tests/arm-pmu.js";
import { runArmPmuTest } from "../guest/kvm-unit-tests/harness.js";
import type { X86CpuidOverrides, X86KutTest } from "../guest/kvm-unit-tests/x86-harness.js";
import { formatCpuList, parseCpuList } from "../hw/cpulist.js";
import type { MachineDesc } from "../hw/machine.js";
import { preset } from "../hw/presets.js";
import type { ArmVmmFlow } from "../kvm/arm64/vmm.js";
import { unknownMachineFlag } from "./flags.js";
import { parseCpuidOverrides, runX86KutCli, X86_KUT_TESTS } from "./kut-x86.js";

const EXIT_USAGE = 2;

function usage(msg: string): never {
  process.stderr.write(`vpmu: ${msg}\n`);
  process.exit(EXIT_USAGE);
}

/** "pmu-cycle-counter" (unittests.cfg) and "cycle-counter" (the binary's argument) both work. */
function testOf(name: string): ArmPmuTest {
  const n = name === "pmu-cycle-counter" ? "cycle-counter" : name;
  if ((ARM_PMU_TESTS as readonly string[]).includes(n)) return n as ArmPmuTest;
  usage(`unknown test "${name}" (one of: all, ${ARM_PMU_TESTS.join(", ")})`);
}

interface KutOpts {
  arch?: string;
  machine?: string;
  vmm?: string;
  cpus?: string;
  vmmCpu?: string;
  kernel: string;
  cpi?: string;
  verbose?: boolean;
  vpmu?: string;
  cpuid?: string;
  fep?: boolean;
  hostPinned?: string;
  hostExcludeGuest?: boolean;
  compare?: boolean;
}

/** Options that belong to one architecture only. */
const ARM_ONLY: Array<[keyof KutOpts, string]> = [
  ["vmm", "--vmm"],
  ["vmmCpu", "--vmm-cpu"],
  ["cpi", "--cpi"],
];
const X86_ONLY: Array<[keyof KutOpts, string]> = [
  ["vpmu", "--vpmu"],
  ["cpuid", "--cpuid"],
  ["fep", "--fep"],
  ["hostPinned", "--host-pinned"],
  ["hostExcludeGuest", "--host-exclude-guest"],
  ["compare", "--compare"],
];

/** The machine and architecture the options name: --arch, else the preset's, else arm64. */
function machineOf(o: KutOpts): { name: string; machine: MachineDesc; arch: "arm64" | "x86" } {
  if (o.arch !== undefined && o.arch !== "arm64" && o.arch !== "x86")
    usage(`--arch: "${o.arch}" is not arm64 or x86`);
  const name = o.machine ?? (o.arch === "x86" ? "x86-server" : "rk3399");
  const machine = preset(name);
  if (!machine) usage(unknownMachineFlag(name));
  const arch = machine.arch === "arm64" ? "arm64" : "x86";
  if (o.arch !== undefined && o.arch !== arch)
    usage(`--machine: "${name}" is not an ${o.arch === "x86" ? "x86" : "arm64"} machine`);
  const foreign = arch === "x86" ? ARM_ONLY : X86_ONLY;
  for (const [k, flag] of foreign)
    if (o[k] !== undefined)
      usage(`${flag} applies to --arch ${arch === "x86" ? "arm64" : "x86"} only`);
  return { name, machine, arch };
}

/** Parses --cpus against a machine. */
function cpusOf(o: KutOpts, machine: MachineDesc, name: string): number[] | undefined {
  if (o.cpus === undefined) return undefined;
  const nrCpus = machine.cpus.length;
  const r = parseCpuList(o.cpus);
  if (typeof r === "string") usage(`--cpus: ${r}`);
  const bad = r.find((c) => c >= nrCpus);
  if (bad !== undefined)
    usage(`--cpus: CPU ${bad} does not exist (${name} has CPUs 0-${nrCpus - 1})`);
  return r;
}

/** `vpmu kvm-unit-tests --arch x86`: x86/pmu, pmu_lbr, pmu_pebs. */
function runX86(names: string[], o: KutOpts, name: string, machine: MachineDesc): never {
  if (o.kernel !== "7.0") usage(`--kernel: the x86 tests run on kernel 7.0 only`);
  const vpmu = o.vpmu ?? "emulated";
  if (vpmu !== "emulated" && vpmu !== "mediated")
    usage(`--vpmu: "${vpmu}" is not emulated or mediated`);
  if (o.compare && o.vpmu !== undefined) usage("--compare runs both vPMUs: drop --vpmu");
  let cpuid: X86CpuidOverrides | undefined;
  if (o.cpuid !== undefined) {
    const r = parseCpuidOverrides(o.cpuid);
    if (typeof r === "string") usage(`--cpuid: ${r}`);
    cpuid = r;
  }
  let hostPinned = 0;
  if (o.hostPinned !== undefined) {
    if (!/^\d+$/.test(o.hostPinned) || Number(o.hostPinned) > 64)
      usage(`--host-pinned: "${o.hostPinned}" is not a number of events (0-64)`);
    hostPinned = Number(o.hostPinned);
  }
  const known = X86_KUT_TESTS as readonly string[];
  const tests = names.includes("all")
    ? [...X86_KUT_TESTS]
    : names.map((n) => {
        if (!known.includes(n)) usage(`unknown test "${n}" (one of: all, ${known.join(", ")})`);
        return n as X86KutTest;
      });
  const cpus = cpusOf(o, machine, name);
  const r = runX86KutCli({
    machine,
    machineName: name,
    tests,
    vpmu,
    compare: o.compare ?? false,
    fep: o.fep ?? false,
    hostPinned,
    hostExcludeGuest: o.hostExcludeGuest ?? false,
    verbose: o.verbose ?? false,
    ...(cpuid ? { cpuid } : {}),
    ...(cpus ? { cpus } : {}),
  });
  process.stdout.write(`${r.out.join("\n")}\n`);
  process.exit(r.status);
}

/** `vpmu kvm-unit-tests`: runs kvm-unit-tests PMU cases as guest programs (arm64 or x86). */
export function registerKutCommand(program: Command): void {
  program
    .command("kvm-unit-tests")
    .description(
      "run the kvm-unit-tests PMU tests as guest programs on a simulated host, one VM per test: arm/pmu cases (arm64) or x86/pmu, pmu_lbr, pmu_pebs (--arch x86)",
    )
    .argument(
      "[tests...]",
      `test names or "all" (arm64: ${ARM_PMU_TESTS.join(", ")}; x86: ${X86_KUT_TESTS.join(", ")})`,
      ["all"],
    )
    .option("--arch <arch>", "arm64 (default) or x86; default: the --machine preset's")
    .option(
      "-m, --machine <preset>",
      "machine preset (default: rk3399, or x86-server with --arch x86)",
    )
    .option("--vmm <flow>", "arm64: VMM PMU setup: qemu (default), kvmtool or firecracker")
    .option("--cpus <list>", "CPUs the vCPU thread is pinned to, e.g. 4-5 (default: all)")
    .option(
      "--vmm-cpu <n>",
      "CPU the VMM makes its setup ioctls on (KVM_ARM_VCPU_INIT, kvmtool's find_pmu); default: the first of --cpus, as with taskset",
    )
    .option("--kernel <profile>", "kernel profile: 7.0 or 5.18", "7.0")
    .option(
      "--cpi <n>",
      "arm64 cycle-counter: expected cycles per instruction (0: no strict check)",
    )
    .option(
      "--vpmu <mode>",
      "x86: emulated (default, perf-backed) or mediated (kvm-intel/kvm-amd enable_mediated_pmu)",
    )
    .option(
      "--compare",
      "x86: run every test with the emulated and the mediated vPMU and explain each check that differs",
    )
    .option(
      "--cpuid <list>",
      "x86: change the guest CPUID, e.g. version=1,gp=4,pdcm=0,perfmon_v2=0 (keys: version, gp, gp_width, fixed, fixed_width, events_length, events_unavailable, pdcm, perfctr_core, perfmon_v2, num_core_pmc, leaf_a)",
    )
    .option("--fep", "x86: kvm.force_emulation_prefix=1 (the emulated-instruction check needs it)")
    .option(
      "--host-pinned <n>",
      "x86: open n pinned CPU-wide host events per CPU before the VM (host contention)",
    )
    .option("--host-exclude-guest", "x86: the --host-pinned events count the host only (:H)")
    .option(
      "-v, --verbose",
      "print the VMM's ioctls (arm64) or the host set-up (x86) for each test",
    )
    .action((names: string[], o: KutOpts) => {
      const { name: machineName, machine, arch } = machineOf(o);
      if (arch === "x86") runX86(names, o, machineName, machine);
      o.vmm ??= "qemu";
      if (!["qemu", "kvmtool", "firecracker"].includes(o.vmm))
        usage(`--vmm: "${o.vmm}" is not one of qemu, kvmtool, firecracker`);
      if (o.kernel !== "7.0" && o.kernel !== "5.18")
        usage(`--kernel: "${o.kernel}" is not 7.0 or 5.18`);
      const nrCpus = machine.cpus.length;
      const cpus = cpusOf(o, machine, machineName);
      let vmmCpu: number | undefined;
      if (o.vmmCpu !== undefined) {
        if (!/^\d+$/.test(o.vmmCpu) || Number(o.vmmCpu) >= nrCpus)
          usage(`--vmm-cpu: "${o.vmmCpu}" is not a CPU of ${machineName} (0-${nrCpus - 1})`);
        vmmCpu = Number(o.vmmCpu);
      }
      let cpi = 0;
      if (o.cpi !== undefined) {
        if (!/^\d+$/.test(o.cpi)) usage(`--cpi: "${o.cpi}" is not a non-negative integer`);
        cpi = Number(o.cpi);
      }
      const tests = names.includes("all") ? [...ARM_PMU_TESTS] : names.map(testOf);
      const pin = cpus ? formatCpuList(cpus) : `0-${nrCpus - 1}`;
      process.stdout.write(
        `kvm-unit-tests arm/pmu on ${machineName} (kernel ${o.kernel}), vmm ${o.vmm}, vCPU pinned to ${pin}, VMM setup on CPU ${vmmCpu ?? cpus?.[0] ?? 0}\n`,
      );
      const summary: string[] = [];
      let failed = false;
      for (const test of tests) {
        const r = runArmPmuTest({
          machine,
          test,
          vmm: o.vmm as ArmVmmFlow,
          ...(cpus ? { cpus } : {}),
          ...(vmmCpu !== undefined ? { vmmCpu } : {}),
          profile: o.kernel,
          cpi,
        });
        const name = test === "cycle-counter" ? "pmu-cycle-counter" : test;
        process.stdout.write(`\n== ${name} ==\n`);
        if (o.verbose || r.exit)
          for (const s of r.vmm) process.stdout.write(`  ${s.label} = ${s.result}\n`);
        for (const l of r.lines) process.stdout.write(`${l}\n`);
        const rep = r.report;
        const st = rep.status;
        if (st === 1) failed = true;
        const detail = r.lines[r.lines.length - 1]!.replace(/^SUMMARY: /, "");
        summary.push(
          `${st === 0 ? "PASS" : st === 77 ? "SKIP" : "FAIL"} ${name} (${detail}${rep.aborted ? ", aborted" : ""})`,
        );
      }
      process.stdout.write(`\n${summary.join("\n")}\n`);
      process.exit(failed ? 1 : 0);
    });
}
