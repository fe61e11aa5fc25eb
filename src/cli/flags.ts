import { unknownPreset } from "../scenario/machine/compile.js";
import { type Ns, parseDuration } from "../sim/time.js";

/** Exit code of bad input. */
export const EXIT_USAGE = 2;

/** Prints one `vpmu: ...` line and exits with code 2. */
export function fail(message: string): never {
  process.stderr.write(`vpmu: ${message}\n`);
  process.exit(EXIT_USAGE);
}

/** `--seed`: an unsigned 32-bit integer. */
export function parseSeed(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff)
    fail(`--seed: "${v}" is not an integer between 0 and 4294967295`);
  return Number(v);
}

/** `--duration`: a positive duration. */
export function parseDur(v: string | undefined): Ns | undefined {
  if (v === undefined) return undefined;
  const d = parseDuration(v);
  if (d === undefined || d <= 0)
    fail(`--duration: "${v}" is not a positive duration (e.g. 250ms, 2s)`);
  return d;
}

/** The message for a `--machine` that names no preset, with the closest name. */
export function unknownMachineFlag(name: string): string {
  const u = unknownPreset(name);
  return `--machine: ${u.message} (${u.expected})`;
}

/** `--where AXIS=VALUE` flags as a mapping. */
export function whereFlags(ws: string[]): Record<string, string> {
  const where: Record<string, string> = {};
  for (const w of ws) {
    const at = w.indexOf("=");
    if (at < 1) fail(`--where: "${w}" is not AXIS=VALUE`);
    where[w.slice(0, at)] = w.slice(at + 1);
  }
  return where;
}
