import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { sysfsDynamicView, sysfsView } from "../perf/sysfs.js";
import { formatDiagnostic } from "../scenario/diagnostics.js";
import { type Ns, parseDuration } from "../sim/time.js";
import { SimTimeCoordinator } from "./exec-clock.js";
import {
  ClockPage,
  isStaticElf,
  missingShimMessage,
  resolveCommand,
  rewritePrefixes,
  runtimeDir,
  shimPath,
  ViewWriter,
} from "./exec-files.js";
import { ExecHost } from "./exec-host.js";
import { ProcView } from "./exec-procfs.js";
import { type LiveScenario, livePreset, liveScenario } from "./exec-scenario.js";
import { ExecServer } from "./exec-server.js";
import { loadScenarioFile, pickVariant } from "./io.js";

const EXIT_USAGE = 2;
/** Simulated-time mode: the most model work between two turns of the event loop (ms). */
const ADVANCE_SLICE_MS = 50;

class ExecUsage extends Error {
  constructor(
    message: string,
    readonly code = EXIT_USAGE,
  ) {
    super(message);
  }
}

interface ExecOpts {
  machine?: string;
  wallClock?: boolean;
  timeScale?: string;
  task?: string;
  seed?: string;
  unprivileged?: boolean;
  at?: string;
  variant?: string;
}

/** Splits `vpmu exec [scenario] -- COMMAND...` into the scenario and the command. */
function splitArgs(args: string[], o: ExecOpts): { file?: string; command: string[] } {
  // Commander takes the first "--" itself: what follows it in argv is the command.
  const dd = process.argv.indexOf("--", process.argv.indexOf("exec") + 1);
  let before = dd >= 0 ? args.length - (process.argv.length - dd - 1) : o.machine ? 0 : 1;
  before = Math.max(0, Math.min(before, args.length));
  if (before > 1)
    throw new ExecUsage(`give one scenario file or --machine, then -- COMMAND (got ${args[1]})`);
  const file = before === 1 ? args[0] : undefined;
  const command = args.slice(before);
  if (file !== undefined && o.machine)
    throw new ExecUsage("--machine: give a scenario file or --machine, not both");
  if (file === undefined && !o.machine)
    throw new ExecUsage(
      "give a scenario file or --machine PRESET (e.g. vpmu exec --machine rk3399 -- perf stat -a sleep 1)",
    );
  if (command.length === 0) throw new ExecUsage("no command to run (vpmu exec ... -- COMMAND)");
  return { file, command };
}

function liveHost(file: string | undefined, o: ExecOpts): LiveScenario {
  const seed = o.seed === undefined ? undefined : Number(o.seed);
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff))
    throw new ExecUsage(`--seed: "${o.seed}" is not an integer between 0 and 4294967295`);
  const loaded = file !== undefined ? loadScenarioFile(file) : null;
  if (loaded && !loaded.ok) {
    for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.exit(EXIT_USAGE);
  }
  if (loaded?.ok) {
    const sc = loaded.scenario;
    const names = sc.variants.map((v) => v.name);
    if (o.variant === undefined) {
      if (names.length > 0)
        throw new ExecUsage(`--variant: ${file} has variants (one of: ${names.join(", ")})`);
      return liveScenario(sc, seed);
    }
    const v = pickVariant(sc, file!, o.variant);
    if (typeof v === "string") throw new ExecUsage(v);
    return liveScenario(v, seed);
  }
  if (o.variant !== undefined) throw new ExecUsage("--variant: give a scenario file");
  const p = livePreset(o.machine!, seed);
  if (!p.ok) {
    const d = p.diagnostics[0]!;
    throw new ExecUsage(`--machine: ${d.message}${d.expected ? ` (${d.expected})` : ""}`);
  }
  return p.live;
}

/** The wall-clock mapping: model ns = monotonic ns since start x scale. */
function timeScale(o: ExecOpts): number | null {
  if (!o.wallClock) {
    if (o.timeScale !== undefined) throw new ExecUsage("--time-scale: only with --wall-clock");
    return null;
  }
  const x = o.timeScale === undefined ? 1 : Number(o.timeScale);
  if (!(Number.isFinite(x) && x > 0))
    throw new ExecUsage(`--time-scale: "${o.timeScale}" is not a positive number`);
  return x;
}

/** The file COMMAND runs, refused when it cannot run or the shim cannot follow it. */
function commandFile(command: string[]): string {
  const exe = resolveCommand(command[0]!);
  if (!exe) throw new ExecUsage(`${command[0]}: command not found`, 127);
  try {
    accessSync(exe, constants.X_OK);
  } catch {
    throw new ExecUsage(`${command[0]}: permission denied`, 126);
  }
  if (isStaticElf(exe))
    throw new ExecUsage(
      `${exe} is statically linked: the preload shim cannot interpose it (LD_PRELOAD only reaches dynamically linked programs), so its perf_event_open would go to the real kernel`,
    );
  return exe;
}

/** The live host with --task checked and the scenario run up to --at. */
function preparedHost(file: string | undefined, o: ExecOpts): LiveScenario {
  const live = liveHost(file, o);
  if (o.task !== undefined && !live.taskNames().includes(o.task) && !live.taskNamed(o.task))
    throw new ExecUsage(
      `--task: no task "${o.task}" in ${file ?? "the preset"} (tasks: ${live.taskNames().join(", ") || "none"})`,
    );
  if (o.at !== undefined) {
    const at = parseDuration(o.at);
    if (at === undefined || at < 0)
      throw new ExecUsage(`--at: "${o.at}" is not a duration (e.g. 20ms, 1s)`);
    live.sys.run(at);
  }
  // The simulated host has no fd budget of its own: the real RLIMIT_NOFILE limits the
  // descriptors behind the shim's perf fds.
  live.sys.perf.opts.nrOpen = 1 << 30;
  return live;
}

/** The server of one run, and the environment COMMAND gets to reach it. */
interface Serving {
  server: ExecServer;
  host: ExecHost;
  clock: ClockPage;
  coordinator: SimTimeCoordinator | null;
  env: NodeJS.ProcessEnv;
  /** Closes the server, the ring buffers and the clock page; nothing advances after it. */
  stop(): void;
}

/** Writes the view and the clock page into `dir`, and starts the server on a socket there. */
async function serve(
  dir: string,
  live: LiveScenario,
  o: ExecOpts,
  scale: number | null,
): Promise<Serving> {
  const sys = live.sys;
  const root = join(dir, "root");
  const views = new ViewWriter(root);
  const view = sysfsView(sys);
  views.update(view);
  const clock = new ClockPage(join(dir, "clock"), BigInt(Date.now()) * 1_000_000n);
  clock.set(sys.now);
  const host = new ExecHost(sys, {
    cred: { perfmon: !o.unprivileged },
    task: o.task === undefined ? undefined : () => live.taskNamed(o.task!),
    pidAlive,
    auxAction: live.auxAction,
    ringDir: dir,
  });
  const procs = new ProcView(root);
  procs.update(host.modelTasks());
  // Set once COMMAND has exited: a slice still queued (setImmediate) must not write into
  // the closed clock page or the removed view.
  let stopped = false;
  const refresh = (): void => {
    if (stopped) return;
    clock.set(sys.now);
    views.update(sysfsDynamicView(sys));
    procs.update(host.modelTasks());
  };
  // The server is made after the coordinator: the model stops for the polls it holds.
  let server: ExecServer | null = null;
  const coordinator =
    scale === null
      ? new SimTimeCoordinator(
          () => sys.now,
          (t) => {
            if (stopped) return;
            // In slices of ADVANCE_SLICE_MS of work: between two, signals and sockets are
            // served (a long simulated sleep must not make vpmu exec deaf to Ctrl-C).
            const deadline = performance.now() + ADVANCE_SLICE_MS;
            let n = 0;
            let sliced = false;
            host.advance(
              t,
              () =>
                (server?.pollReady() ?? false) ||
                ((++n & 63) === 0 && (sliced = performance.now() > deadline)),
            );
            refresh();
            server?.wakePolls();
            if (sliced) setImmediate(() => coordinator?.step());
          },
          (pid) => host.exited(pid),
        )
      : null;
  const t0 = process.hrtime.bigint();
  const socketPath = join(dir, "sock");
  server = new ExecServer(host, {
    socketPath,
    coordinator,
    wallNow:
      scale === null ? undefined : () => (Number(process.hrtime.bigint() - t0) * scale) as Ns,
    uid: process.getuid?.() ?? 0,
    perfmon: !o.unprivileged,
    onAdvance: refresh,
    onProblem: (m) => process.stderr.write(`vpmu exec: ${m}\n`),
  });
  await server.listen();
  const shim = shimPath();
  const env = {
    ...process.env,
    LD_PRELOAD: [shim, process.env.LD_PRELOAD].filter(Boolean).join(":"),
    VPMU_SOCK: socketPath,
    VPMU_ROOT: root,
    VPMU_CLOCK: clock.path,
    VPMU_TIME: scale === null ? "sim" : "wall",
    VPMU_REWRITE: rewritePrefixes(view).join(":"),
    VPMU_PRELOAD: shim,
    VPMU_NR_CPUS: String(sys.machine.nrCpus),
    // perf matches its JSON event tables against the real CPU's cpuid; the simulated CPU is
    // not that one, so no table applies (unless the caller chose one).
    PERF_CPUID: process.env.PERF_CPUID ?? "vpmu-0-0-0",
  };
  const stop = (): void => {
    stopped = true;
    server.close();
    host.rings.close();
    clock.close();
  };
  return { server, clock, coordinator, env, host, stop };
}

/** kill(pid, 0): does the real process exist? */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Runs COMMAND to its end; resolves to its status (128 + N for a signal N, as a shell). */
function runCommand(exe: string, command: string[], s: Serving): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn(exe, command.slice(1), { stdio: "inherit", env: s.env, argv0: command[0] });
    if (child.pid !== undefined) s.coordinator?.spawned(child.pid, process.pid);
    // vpmu exec stays until the command ends; the signals it gets are passed on (a ^C from
    // the terminal reaches the command anyway, so it may see that one twice).
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const handlers: Array<[NodeJS.Signals, () => void]> = (
      ["SIGINT", "SIGQUIT", "SIGTERM", "SIGHUP"] as const
    ).map((sig) => [sig, forward(sig)]);
    for (const [sig, h] of handlers) process.on(sig, h);
    child.on("error", (e) => {
      process.stderr.write(`vpmu exec: ${command[0]}: ${e.message}\n`);
      resolve(126);
    });
    child.on("exit", (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      resolve(code ?? 128 + (signal ? signalNumber(signal) : 0));
    });
  });
}

/** Runs COMMAND against the live host; resolves to its exit status. */
async function execCommand(args: string[], o: ExecOpts): Promise<number> {
  const { file, command } = splitArgs(args, o);
  const scale = timeScale(o);
  const shim = shimPath();
  if (!existsSync(shim)) throw new ExecUsage(missingShimMessage(shim));
  const exe = commandFile(command);
  const live = preparedHost(file, o);
  const dir = mkdtempSync(join(runtimeDir(), "vpmu-exec-"));
  try {
    const s = await serve(dir, live, o, scale);
    const status = await runCommand(exe, command, s);
    s.stop();
    return status;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function signalNumber(s: NodeJS.Signals): number {
  return osConstants.signals[s] ?? 0;
}

/** `vpmu exec`: runs a real command (perf) against a live simulated host. */
export function registerExecCommand(program: Command): void {
  program
    .command("exec")
    .description(
      "run a real command (the perf tool) against a live simulated host: its perf_event_open, perf fds, sysfs and (by default) clocks and sleeps go to the model",
    )
    .argument("[args...]", "[scenario.yaml] -- COMMAND [ARGS...]")
    .option("-m, --machine <preset>", "a bare preset instead of a scenario file")
    .option(
      "--wall-clock",
      "simulated time follows the monotonic wall clock (default: simulated time)",
    )
    .option("--time-scale <x>", "with --wall-clock: simulated ns per wall ns")
    .option("--task <name>", "the scenario task the traced command's pid maps to")
    .option("--variant <name>", "the variant of a scenario with variants")
    .option("--at <time>", "run the scenario up to this simulated time before COMMAND starts")
    .option("-s, --seed <n>", "seed (overrides the scenario's)")
    .option("--unprivileged", "the command has no CAP_PERFMON on the simulated host")
    .action(async (args: string[], o: ExecOpts) => {
      try {
        process.exitCode = await execCommand(args, o);
      } catch (e) {
        if (!(e instanceof ExecUsage)) throw e;
        process.stderr.write(`vpmu exec: ${e.message}\n`);
        process.exitCode = e.code;
      }
    });
}
