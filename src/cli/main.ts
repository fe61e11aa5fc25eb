#!/usr/bin/env node
import { Command, CommanderError, Option } from "commander";
import { PRESET_SUMMARY, preset } from "../hw/presets.js";
import { sysfsView, sysfsViewLines } from "../perf/sysfs.js";
import { csvReport } from "../report/csv.js";
import { jsonReport, variantsJsonReport } from "../report/json.js";
import { perfStatText } from "../report/perf-stat.js";
import { listPmus, pmusText } from "../report/pmus.js";
import type { RunResult, VariantRunResult } from "../report/result.js";
import { textReport, variantsTextReport } from "../report/text.js";
import type { Scenario } from "../scenario/compile.js";
import { TOUR } from "../scenario/default-scenario.js";
import { type Diagnostic, formatDiagnostic } from "../scenario/diagnostics.js";
import { parseScenario } from "../scenario/load.js";
import { runScenario } from "../scenario/runner.js";
import { scenarioJsonSchema } from "../scenario/schema.js";
import { sweepJsonSchema } from "../scenario/sweep/schema.js";
import { type Ns, parseDuration } from "../sim/time.js";
import { VERSION } from "../version.js";
import { registerExecCommand } from "./exec.js";
import { writeSysfsView } from "./exec-files.js";
import { livePreset } from "./exec-scenario.js";
import { unknownMachineFlag } from "./flags.js";
import { loadScenarioFile, pickVariant } from "./io.js";
import { registerKutCommand } from "./kut.js";
import { registerPlaygroundCommand } from "./playground.js";
import { Progress } from "./progress.js";
import { registerReportCommand } from "./report.js";
import { registerSelftestsCommand } from "./selftests.js";
import { registerSweepCommand } from "./sweep.js";
import { registerTraceCommand } from "./trace.js";

/** Exit codes: 0 success, 1 an expectation failed, 2 bad input. */
const EXIT_FAIL = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

function printDiagnostics(ds: Diagnostic[]): never {
  for (const d of ds) process.stderr.write(`${formatDiagnostic(d)}\n`);
  process.exit(EXIT_USAGE);
}

function parseSeed(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff)
    throw new UsageError(`--seed: "${v}" is not an integer between 0 and 4294967295`);
  return Number(v);
}

function parseDur(v: string | undefined): Ns | undefined {
  if (v === undefined) return undefined;
  const d = parseDuration(v);
  if (d === undefined || d <= 0)
    throw new UsageError(`--duration: "${v}" is not a positive duration (e.g. 250ms, 2s)`);
  return d;
}

function machineOf(name: string) {
  const m = preset(name);
  if (!m) throw new UsageError(unknownMachineFlag(name));
  return m;
}

interface RunOpts {
  format: string;
  seed?: string;
  duration?: string;
  truth?: boolean;
  checkInvariants?: boolean;
  variant?: string;
  measurement?: string;
}

/**
 * The result narrowed to --measurement, and CSV's rule: perf stat -x prints one
 * measurement, so a result with several needs --measurement.
 */
function selectMeasurement(r: RunResult, o: RunOpts, file: string): RunResult {
  const names = r.perf.map((m) => m.name);
  if (o.measurement !== undefined) {
    if (!names.includes(o.measurement))
      throw new UsageError(
        `--measurement: no measurement "${o.measurement}" in ${file} (${names.length ? `one of: ${names.join(", ")}` : "it has none"})`,
      );
    return { ...r, perf: r.perf.filter((m) => m.name === o.measurement) };
  }
  if (o.format === "csv" && names.length > 1)
    throw new UsageError(
      `--format csv prints one measurement, as perf stat -x does; ${file} has ${names.length} (${names.join(", ")}): choose one with --measurement NAME (--format json has them all)`,
    );
  return r;
}

function load(file: string | undefined, text?: string, name?: string): Scenario {
  const loaded =
    text !== undefined ? parseScenario(text, name ?? "<built-in tour>") : loadScenarioFile(file!);
  if (!loaded.ok) printDiagnostics(loaded.diagnostics);
  return loaded.scenario;
}

function runWithProgress(
  sc: Scenario,
  o: { seed?: string; duration?: string; checkInvariants?: boolean },
): RunResult {
  const progress = new Progress();
  try {
    return runScenario(sc, {
      seed: parseSeed(o.seed),
      duration: parseDur(o.duration),
      checkInvariants: o.checkInvariants ?? false,
      onProgress: (now, total) => progress.update(now, total),
    });
  } finally {
    progress.stop();
  }
}

function runOne(file: string | undefined, o: RunOpts, text?: string, name?: string): RunResult {
  return runWithProgress(load(file, text, name), o);
}

/** The variant named `name` of a scenario, or a usage error naming the choices. */
function variantOf(sc: Scenario, file: string, name: string): Scenario {
  const v = pickVariant(sc, file, name);
  if (typeof v === "string") throw new UsageError(v);
  return v;
}

const program = new Command();
program
  .name("vpmu")
  .description("A deterministic, executable model of Linux PMU virtualization.")
  .version(VERSION, "-V, --version")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command("run")
  .description("run a scenario (the built-in tour when no file is given) and print its report")
  .argument("[file]", "scenario file (YAML or JSON)")
  .addOption(
    new Option("-f, --format <format>", "output format")
      .choices(["text", "json", "csv"])
      .default("text"),
  )
  .option("-s, --seed <n>", "seed (overrides the scenario's)")
  .option("-d, --duration <time>", "simulated duration (overrides the scenario's), e.g. 500ms")
  .option("--truth", "print the ground truth and the error next to each perf value")
  .option("--check-invariants", "verify the model's invariants at every state change")
  .option("--variant <name>", "run only this variant of a scenario with variants")
  .option(
    "--measurement <name>",
    "print only this measurement, exactly as perf prints it (text: perf stat's stderr; csv: perf stat -x,)",
  )
  .action((file: string | undefined, o: RunOpts) => {
    const render = (r: RunResult): string =>
      o.format === "json"
        ? jsonReport(r)
        : o.format === "csv"
          ? csvReport(r)
          : o.measurement !== undefined
            ? perfStatText(r.perf[0]!, { truth: o.truth ?? false })
            : textReport(r, { truth: o.truth ?? false });
    if (file !== undefined) {
      const sc = load(file);
      if (
        sc.variants.length > 0 &&
        o.variant === undefined &&
        (o.format === "csv" || o.measurement !== undefined)
      )
        throw new UsageError(
          `${o.format === "csv" ? "--format csv" : "--measurement"} reads one run; ${file} has variants (${sc.variants.map((v) => v.name).join(", ")}): choose one with --variant NAME`,
        );
      if (sc.variants.length > 0 && o.variant === undefined) {
        // Every variant with the same options, then side by side.
        const runs: VariantRunResult[] = sc.variants.map((v) => ({
          name: v.name,
          description: v.description,
          set: v.set,
          result: runWithProgress(v.scenario, o),
        }));
        process.stdout.write(
          o.format === "json"
            ? variantsJsonReport(runs)
            : variantsTextReport(runs, { truth: o.truth ?? false }),
        );
        process.exitCode = runs.some((v) => v.result.summary.failed > 0) ? EXIT_FAIL : 0;
        return;
      }
      const r = runWithProgress(o.variant === undefined ? sc : variantOf(sc, file, o.variant), o);
      process.stdout.write(render(selectMeasurement(r, o, file)));
      process.exitCode = r.summary.failed > 0 ? EXIT_FAIL : 0;
      return;
    }
    if (o.variant !== undefined) throw new UsageError("--variant: give a scenario file");
    if (o.measurement !== undefined) throw new UsageError("--measurement: give a scenario file");
    if (o.format === "csv")
      throw new UsageError("--format csv prints one measurement of a scenario file: give one");
    // The built-in tour: one report per stop (JSON: an array of results).
    const results = TOUR.map((t) => runOne(undefined, o, t.text, `<built-in ${t.name}>`));
    if (o.format === "json") process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    else process.stdout.write(results.map(render).join(o.format === "csv" ? "" : "\n"));
    process.exitCode = results.some((r) => r.summary.failed > 0) ? EXIT_FAIL : 0;
  });

program
  .command("check")
  .description(
    "run scenarios and check every expectation; prints failures and 'N passed, M failed'",
  )
  .argument("<files...>", "scenario files")
  .option("-s, --seed <n>", "seed (overrides each scenario's)")
  .option("--check-invariants", "verify the model's invariants at every state change")
  .action((files: string[], o: { seed?: string; checkInvariants?: boolean }) => {
    parseSeed(o.seed); // a bad --seed is reported before any run
    let passed = 0;
    let failed = 0;
    let rejected = 0;
    for (const f of files) {
      const loaded = loadScenarioFile(f);
      if (!loaded.ok) {
        for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
        rejected++;
        continue;
      }
      // A scenario with variants is checked in each of them, labelled "file [variant]".
      const sc = loaded.scenario;
      const runs =
        sc.variants.length > 0
          ? sc.variants.map((v) => ({ label: `${f} [${v.name}]`, sc: v.scenario }))
          : [{ label: f, sc }];
      for (const run of runs) {
        const r = runWithProgress(run.sc, { seed: o.seed, checkInvariants: o.checkInvariants });
        report(run.label, r);
      }
    }
    // A file that did not load is neither: the summary says how many were not checked.
    const notLoaded =
      rejected > 0 ? `, ${rejected} ${rejected === 1 ? "file" : "files"} not loaded` : "";
    process.stdout.write(`${passed} passed, ${failed} failed${notLoaded}\n`);
    process.exitCode = rejected > 0 ? EXIT_USAGE : failed > 0 ? EXIT_FAIL : 0;

    function report(f: string, r: RunResult): void {
      for (const a of r.actions) {
        if (a.ok === false) {
          const got = "errno" in a.result ? a.result.errno : String(a.result.ret);
          const want =
            a.expected?.errno ??
            (a.expected?.ret !== undefined
              ? String(a.expected.ret)
              : a.expected?.ok
                ? "success"
                : "failure");
          process.stdout.write(
            `FAIL ${f}: action at ${a.at_ns}ns ${a.label}: got ${got}, expected ${want}\n`,
          );
        }
      }
      for (const x of r.findings) {
        if (!x.expected) {
          process.stdout.write(
            `FAIL ${f}: invariant ${x.rule} at ${x.t_ns}ns on CPU ${x.cpu}: ${x.subject}: ${x.before} -> ${x.after}: ${x.message}\n`,
          );
        }
      }
      for (const e of r.expectations) {
        if (!e.ok)
          process.stdout.write(
            `FAIL ${f}: ${e.label}: observed ${JSON.stringify(e.observed)}, expected ${e.expected}\n`,
          );
      }
      passed += r.summary.passed;
      failed += r.summary.failed;
      process.stdout.write(
        `${r.summary.failed === 0 ? "ok  " : "FAIL"} ${f} (${r.summary.passed} passed, ${r.summary.failed} failed)\n`,
      );
    }
  });

const list = program.command("list").description("list presets or PMUs");
list
  .command("presets")
  .description("the built-in machines")
  .action(() => {
    for (const [name, s] of Object.entries(PRESET_SUMMARY))
      process.stdout.write(`${name.padEnd(14)} ${s}\n`);
  });
list
  .command("pmus")
  .description("the PMUs of a machine: name, perf type id, CPUs (cpulist) and counters")
  .requiredOption("-m, --machine <preset>", "machine preset")
  .option("--json", "print JSON")
  .action((o: { machine: string; json?: boolean }) => {
    const m = machineOf(o.machine);
    process.stdout.write(o.json ? JSON.stringify(listPmus(m), null, 2) + "\n" : pmusText(m));
  });

program
  .command("sysfs")
  .description(
    "print or write the sysfs and procfs view of a simulated host (what vpmu exec shows perf)",
  )
  .requiredOption("-m, --machine <preset>", "machine preset")
  .option("-o, --out <dir>", "write the files under this directory instead of printing them")
  .action((o: { machine: string; out?: string }) => {
    machineOf(o.machine);
    const live = livePreset(o.machine);
    if (!live.ok) printDiagnostics(live.diagnostics);
    const view = sysfsView(live.live.sys);
    if (o.out) {
      writeSysfsView(o.out, view);
      process.stdout.write(`wrote ${view.size} entries under ${o.out}\n`);
    } else {
      process.stdout.write(`${sysfsViewLines(view).join("\n")}\n`);
    }
  });

program
  .command("schema")
  .description("print the JSON Schema of scenario files (of sweep files with --sweep)")
  .option("--sweep", "the JSON Schema of sweep files (docs/sweeps.md) instead")
  .action((o: { sweep?: boolean }) => {
    const schema = o.sweep ? sweepJsonSchema() : scenarioJsonSchema();
    process.stdout.write(JSON.stringify(schema, null, 2) + "\n");
  });

registerTraceCommand(program);
registerKutCommand(program);
registerSelftestsCommand(program);
registerExecCommand(program);
registerSweepCommand(program);
registerReportCommand(program);
registerPlaygroundCommand(program);

try {
  program.parse(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  if (e instanceof UsageError) {
    process.stderr.write(`vpmu: ${e.message}\n`);
    process.exit(EXIT_USAGE);
  }
  throw e;
}
