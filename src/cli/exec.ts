import { spawn } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import {
  PROC_KERNEL_FILES,
  SYSFS_VIEW_ROOTS,
  type SysfsView,
  sysfsDynamicView,
  sysfsView,
} from "../perf/sysfs.js";
import { formatDiagnostic } from "../scenario/diagnostics.js";
import { type Ns, parseDuration } from "../sim/time.js";
import { SimTimeCoordinator } from "./exec-clock.js";
import { ExecHost } from "./exec-host.js";
import { type LiveScenario, livePreset, liveScenario } from "./exec-scenario.js";
import { ExecServer } from "./exec-server.js";
import { loadScenarioFile } from "./io.js";

const EXIT_USAGE = 2;

class ExecUsage extends Error {
  constructor(
    message: string,
    readonly code = EXIT_USAGE,
  ) {
    super(message);
  }
}

/** Where `npm run build` puts the shim (scripts/postbuild.mjs), or $VPMU_SHIM (packagers). */
export function shimPath(): string {
  return (
    process.env.VPMU_SHIM ?? fileURLToPath(new URL("../native/libvpmu-preload.so", import.meta.url))
  );
}

/** The message for a missing shim: how to get a compiler and build it. */
export function missingShimMessage(path: string): string {
  return (
    `the preload shim ${path} is missing: it is built from native/vpmu-preload.c with the ` +
    "system C compiler by `npm install` or `npm run build`. Install a C compiler (Debian, " +
    "Ubuntu: apt-get install gcc; Fedora: dnf install gcc; Alpine: apk add build-base) and run " +
    "`npm run build` again"
  );
}

/** The file a command name runs (PATH search as execvp does), or null. */
export function resolveCommand(cmd: string): string | null {
  const candidates = cmd.includes("/")
    ? [cmd]
    : (process.env.PATH ?? "/usr/bin:/bin").split(delimiter).map((d) => join(d || ".", cmd));
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {}
  }
  return null;
}

/** An ELF executable without PT_INTERP: statically linked, out of LD_PRELOAD's reach. */
export function isStaticElf(path: string): boolean {
  let fd = -1;
  try {
    fd = openSync(path, "r");
    const eh = Buffer.alloc(64);
    if (readSync(fd, eh, 0, 64, 0) < 64 || eh.readUInt32BE(0) !== 0x7f454c46) return false;
    if (eh[4] !== 2) return false; // ELFCLASS64
    const phoff = Number(eh.readBigUInt64LE(32));
    const phentsize = eh.readUInt16LE(54);
    const phnum = eh.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Writes a sysfs view under `root` (files and links). */
export function writeSysfsView(root: string, view: SysfsView): void {
  new ViewWriter(root).update(view);
}

/** Writes the sysfs view under `root`, then keeps it in step with the model. */
class ViewWriter {
  private readonly last: SysfsView = new Map();

  constructor(private readonly root: string) {}

  /** Writes the entries of `view` that differ from what was written (a partial view is fine). */
  update(view: SysfsView): void {
    for (const [rel, v] of view) {
      const old = this.last.get(rel);
      if (old !== undefined && (typeof old === "string" ? old === v : typeof v !== "string"))
        continue;
      const path = join(this.root, rel);
      mkdirSync(dirname(path), { recursive: true });
      if (typeof v === "string") writeFileSync(path, v);
      else {
        if (existsSync(path)) unlinkSync(path);
        symlinkSync(v.link, path);
      }
      this.last.set(rel, v);
    }
  }
}

/**
 * Where the private directory goes: $TMPDIR when set, else /dev/shm (a tmpfs: the view's
 * hundreds of small files are written and removed there in milliseconds), else the tmpdir.
 */
function runtimeDir(): string {
  if (process.env.TMPDIR) return process.env.TMPDIR;
  try {
    accessSync("/dev/shm", constants.W_OK | constants.X_OK);
    if (statSync("/dev/shm").isDirectory()) return "/dev/shm";
  } catch {}
  return tmpdir();
}

/** The clock page the shim maps: model ns, then CLOCK_REALTIME at model time 0. */
class ClockPage {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(16);

  constructor(
    readonly path: string,
    realtimeBase: bigint,
  ) {
    writeFileSync(path, Buffer.alloc(4096));
    this.fd = openSync(path, "r+");
    this.buf.writeBigUInt64LE(realtimeBase, 8);
  }

  set(now: Ns): void {
    this.buf.writeBigUInt64LE(BigInt(Math.round(now)), 0);
    writeSync(this.fd, this.buf, 0, 16, 0);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The real paths the shim redirects to the view: sysfs roots, every PMU device, sysctls. */
function rewritePrefixes(view: SysfsView): string[] {
  const pmus = new Set<string>();
  for (const k of view.keys()) {
    const m = /^sys\/bus\/event_source\/devices\/([^/]+)$/.exec(k);
    if (m) pmus.add(m[1]!);
  }
  try {
    for (const n of readdirSync("/sys/bus/event_source/devices")) pmus.add(n);
  } catch {}
  return [
    ...SYSFS_VIEW_ROOTS.map((r) => `/${r}`),
    // The model has no tracepoint PMU: the simulated host has no tracefs either.
    "/sys/kernel/tracing",
    "/sys/kernel/debug/tracing",
    ...[...pmus].sort().map((p) => `/sys/devices/${p}`),
    ...PROC_KERNEL_FILES.map((f) => `/proc/sys/kernel/${f}`),
  ];
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
    const v = sc.variants.find((x) => x.name === o.variant);
    if (!v)
      throw new ExecUsage(
        names.length === 0
          ? `--variant: ${file} has no variants`
          : `--variant: no variant "${o.variant}" in ${file} (one of: ${names.join(", ")})`,
      );
    return liveScenario(v.scenario, seed);
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

/** Runs COMMAND against the live host; resolves to its exit status. */
async function execCommand(args: string[], o: ExecOpts): Promise<number> {
  const { file, command } = splitArgs(args, o);
  const scale = timeScale(o);
  const shim = shimPath();
  if (!existsSync(shim)) throw new ExecUsage(missingShimMessage(shim));
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
  const live = liveHost(file, o);
  if (o.task !== undefined && !live.taskNames().includes(o.task) && !live.taskNamed(o.task))
    throw new ExecUsage(
      `--task: no task "${o.task}" in ${file ?? "the preset"} (tasks: ${live.taskNames().join(", ") || "none"})`,
    );
  const sys = live.sys;
  if (o.at !== undefined) {
    const at = parseDuration(o.at);
    if (at === undefined || at < 0)
      throw new ExecUsage(`--at: "${o.at}" is not a duration (e.g. 20ms, 1s)`);
    sys.run(at);
  }
  // The simulated host has its own fd budget: the real RLIMIT_NOFILE applies to the memfds.
  sys.perf.opts.nrOpen = 1 << 30;

  const dir = mkdtempSync(join(runtimeDir(), "vpmu-exec-"));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const root = join(dir, "root");
    const views = new ViewWriter(root);
    views.update(sysfsView(sys));
    const clock = new ClockPage(join(dir, "clock"), BigInt(Date.now()) * 1_000_000n);
    clock.set(sys.now);
    const refresh = (): void => {
      clock.set(sys.now);
      views.update(sysfsDynamicView(sys));
    };
    const host = new ExecHost(sys, {
      cred: { perfmon: !o.unprivileged },
      task: o.task === undefined ? undefined : () => live.taskNamed(o.task!),
      pidAlive: (pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch (e) {
          return (e as NodeJS.ErrnoException).code === "EPERM";
        }
      },
      auxAction: live.auxAction,
    });
    const coordinator =
      scale === null
        ? new SimTimeCoordinator(
            () => sys.now,
            (t) => {
              host.advance(t);
              refresh();
            },
            (pid) => host.exited(pid),
          )
        : null;
    const t0 = process.hrtime.bigint();
    const socketPath = join(dir, "sock");
    const server = new ExecServer(host, {
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
    const env = {
      ...process.env,
      LD_PRELOAD: [shim, process.env.LD_PRELOAD].filter(Boolean).join(":"),
      VPMU_SOCK: socketPath,
      VPMU_ROOT: root,
      VPMU_CLOCK: clock.path,
      VPMU_TIME: scale === null ? "sim" : "wall",
      VPMU_REWRITE: rewritePrefixes(sysfsView(sys)).join(":"),
      VPMU_PRELOAD: shim,
      VPMU_NR_CPUS: String(sys.machine.nrCpus),
      // perf matches its JSON event tables against the real CPU's cpuid; the simulated CPU is
      // not that one, so no table applies (unless the caller chose one).
      PERF_CPUID: process.env.PERF_CPUID ?? "vpmu-0-0-0",
    };
    const status = await new Promise<number>((resolve) => {
      const child = spawn(exe, command.slice(1), { stdio: "inherit", env, argv0: command[0] });
      if (child.pid !== undefined) coordinator?.spawned(child.pid, process.pid);
      // vpmu exec stays until the command ends; the signals it gets are passed on (a ^C from
      // the terminal reaches the command anyway, so it may see that one twice).
      const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
      const handlers: Array<[NodeJS.Signals, () => void]> = (
        ["SIGINT", "SIGQUIT", "SIGTERM", "SIGHUP"] as const
      ).map((s) => [s, forward(s)]);
      for (const [s, h] of handlers) process.on(s, h);
      child.on("error", (e) => {
        process.stderr.write(`vpmu exec: ${command[0]}: ${e.message}\n`);
        resolve(126);
      });
      child.on("exit", (code, signal) => {
        for (const [s, h] of handlers) process.off(s, h);
        resolve(code ?? 128 + (signal ? signalNumber(signal) : 0));
      });
    });
    server.close();
    clock.close();
    return status;
  } finally {
    cleanup();
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
