import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PROC_KERNEL_FILES, SYSFS_VIEW_ROOTS, type SysfsView } from "../perf/sysfs.js";
import type { Ns } from "../sim/time.js";

/**
 * The files of `vpmu exec`: the shim's location, the command to run, and what the server
 * writes into its private directory for the shim (the sysfs view and the clock page).
 */

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
export class ViewWriter {
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
 * A directory whose path would leave no room for the socket's name (108 bytes with the
 * terminating NUL) is passed over.
 */
export function runtimeDir(): string {
  const candidates = [process.env.TMPDIR, "/dev/shm", tmpdir(), "/tmp"];
  for (const d of candidates) {
    if (!d || d.length > 80) continue;
    try {
      accessSync(d, constants.W_OK | constants.X_OK);
      if (statSync(d).isDirectory()) return d;
    } catch {}
  }
  return "/tmp";
}

/** The clock page the shim maps: model ns, then CLOCK_REALTIME at model time 0. */
export class ClockPage {
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
export function rewritePrefixes(view: SysfsView): string[] {
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
