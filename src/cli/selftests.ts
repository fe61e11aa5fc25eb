import type { Command } from "commander";
import { runSelftests, SELFTESTS, type SelftestName } from "../guest/selftests/index.js";
import { preset } from "../hw/presets.js";
import { unknownMachineFlag } from "./flags.js";

const EXIT_USAGE = 2;

function usage(msg: string): never {
  process.stderr.write(`vpmu: ${msg}\n`);
  process.exit(EXIT_USAGE);
}

interface SelftestsOpts {
  machine?: string;
  vpmu: string;
  fep?: boolean;
  kernel: string;
  hostPinned?: string;
  hostExcludeGuest?: boolean;
}

/** Test names as given: the binary's name, with or without its directory (x86/, arm64/). */
function testOf(name: string): SelftestName {
  const n = name.replace(/^(x86|x86_64|arm64|aarch64)\//, "").replace(/\.c$/, "");
  const t = SELFTESTS.find((s) => s.name === n);
  if (!t) usage(`unknown test "${name}" (one of: ${SELFTESTS.map((s) => s.name).join(", ")})`);
  return t.name;
}

/** `vpmu selftests`: the KVM PMU selftests against the model, with run_kselftest.sh's TAP. */
export function registerSelftestsCommand(program: Command): void {
  program
    .command("selftests")
    .description(
      "run the KVM PMU selftests (x86 pmu_counters_test, pmu_event_filter_test, vmx_pmu_caps_test; arm64 vpmu_counter_access) against the model and print TAP as run_kselftest.sh does",
    )
    .argument("[tests...]", `test names (default: all): ${SELFTESTS.map((s) => s.name).join(", ")}`)
    .option(
      "-m, --machine <preset>",
      "host for every test (default: x86-server for x86 tests, rk3399 for arm64 ones); tests of the other architecture are skipped",
    )
    .option(
      "--vpmu <mode>",
      "x86: emulated (default) or mediated (enable_mediated_pmu)",
      "emulated",
    )
    .option(
      "--fep",
      "x86: kvm.force_emulation_prefix=1 (pmu_counters_test repeats its checks force-emulated)",
    )
    .option(
      "--host-pinned <n>",
      "x86: open n pinned CPU-wide host events per CPU first (host contention)",
    )
    .option("--host-exclude-guest", "x86: the --host-pinned events count the host only (:H)")
    .option("--kernel <profile>", "kernel profile (7.0 only)", "7.0")
    .action((names: string[], o: SelftestsOpts) => {
      if (o.kernel !== "7.0") usage(`--kernel: the selftests run on kernel 7.0 only`);
      if (o.vpmu !== "emulated" && o.vpmu !== "mediated")
        usage(`--vpmu: "${o.vpmu}" is not emulated or mediated`);
      let machine: ReturnType<typeof preset>;
      if (o.machine !== undefined) {
        machine = preset(o.machine);
        if (!machine) usage(unknownMachineFlag(o.machine));
      }
      let hostPinned = 0;
      if (o.hostPinned !== undefined) {
        if (!/^\d+$/.test(o.hostPinned) || Number(o.hostPinned) > 64)
          usage(`--host-pinned: "${o.hostPinned}" is not a number of events (0-64)`);
        hostPinned = Number(o.hostPinned);
      }
      const tests = names.length ? names.map(testOf) : SELFTESTS.map((s) => s.name);
      const r = runSelftests(tests, {
        vpmu: o.vpmu,
        fep: o.fep ?? false,
        hostPinned,
        hostExcludeGuest: o.hostExcludeGuest ?? false,
        ...(machine ? { machine, machineName: o.machine! } : {}),
      });
      process.stdout.write(`${r.lines.join("\n")}\n`);
      process.exit(r.results.some((x) => x.status === "fail") ? 1 : 0);
    });
}
