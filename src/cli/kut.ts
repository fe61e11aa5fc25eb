import type { Command } from "commander";
import { ARM_PMU_TESTS, type ArmPmuTest } from "../guest/kvm-unit-tests/arm-pmu.js";
import { runArmPmuTest } from "../guest/kvm-unit-tests/harness.js";
import { formatCpuList, parseCpuList } from "../hw/cpulist.js";
import { PRESET_SUMMARY, preset } from "../hw/presets.js";
import type { ArmVmmFlow } from "../kvm/arm64/vmm.js";

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
  machine: string;
  vmm: string;
  cpus?: string;
  vmmCpu?: string;
  kernel: string;
  cpi?: string;
  verbose?: boolean;
}

/** `vpmu kvm-unit-tests`: runs kvm-unit-tests arm/pmu cases in a simulated arm64 guest. */
export function registerKutCommand(program: Command): void {
  program
    .command("kvm-unit-tests")
    .description(
      "run the kvm-unit-tests arm/pmu cases as guest programs on a simulated arm64 host, one VM per test",
    )
    .argument("[tests...]", `test names or "all" (${ARM_PMU_TESTS.join(", ")})`, ["all"])
    .option("-m, --machine <preset>", "arm64 machine preset", "rk3399")
    .option("--vmm <flow>", "VMM PMU setup: qemu, kvmtool or firecracker", "qemu")
    .option("--cpus <list>", "CPUs the vCPU thread is pinned to, e.g. 4-5 (default: all)")
    .option(
      "--vmm-cpu <n>",
      "CPU the VMM makes its setup ioctls on (KVM_ARM_VCPU_INIT, kvmtool's find_pmu); default: the first of --cpus, as with taskset",
    )
    .option("--kernel <profile>", "kernel profile: 7.0 or 5.18", "7.0")
    .option("--cpi <n>", "cycle-counter: expected cycles per instruction (0: no strict check)")
    .option("-v, --verbose", "print the VMM's ioctls for each test")
    .action((names: string[], o: KutOpts) => {
      const machine = preset(o.machine);
      if (!machine)
        usage(
          `--machine: unknown preset "${o.machine}" (one of: ${Object.keys(PRESET_SUMMARY).join(", ")})`,
        );
      if (machine.arch !== "arm64") usage(`--machine: "${o.machine}" is not an arm64 machine`);
      if (!["qemu", "kvmtool", "firecracker"].includes(o.vmm))
        usage(`--vmm: "${o.vmm}" is not one of qemu, kvmtool, firecracker`);
      if (o.kernel !== "7.0" && o.kernel !== "5.18")
        usage(`--kernel: "${o.kernel}" is not 7.0 or 5.18`);
      const nrCpus = machine.cpus.length;
      let cpus: number[] | undefined;
      if (o.cpus !== undefined) {
        const r = parseCpuList(o.cpus);
        if (typeof r === "string") usage(`--cpus: ${r}`);
        const bad = r.find((c) => c >= nrCpus);
        if (bad !== undefined)
          usage(`--cpus: CPU ${bad} does not exist (${o.machine} has CPUs 0-${nrCpus - 1})`);
        cpus = r;
      }
      let vmmCpu: number | undefined;
      if (o.vmmCpu !== undefined) {
        if (!/^\d+$/.test(o.vmmCpu) || Number(o.vmmCpu) >= nrCpus)
          usage(`--vmm-cpu: "${o.vmmCpu}" is not a CPU of ${o.machine} (0-${nrCpus - 1})`);
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
        `kvm-unit-tests arm/pmu on ${o.machine} (kernel ${o.kernel}), vmm ${o.vmm}, vCPU pinned to ${pin}, VMM setup on CPU ${vmmCpu ?? cpus?.[0] ?? 0}\n`,
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
