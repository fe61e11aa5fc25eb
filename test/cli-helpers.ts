import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "vitest";

/** The repository root and the built CLI. */
export const root = join(import.meta.dirname, "..");
export const bin = join(root, "dist", "bin", "vpmu.js");

/** Runs the built `vpmu` CLI and returns its exit code and output. */
export function vpmu(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Writes `text` to a new temporary file named `name`. */
export function tmpFile(name: string, text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), "vpmu-")), name);
  writeFileSync(f, text);
  return f;
}

/**
 * `it` for a test that only drives the CLI: a child process, which the unchecked vitest
 * project (vitest.config.ts) does not change, so that project skips it.
 */
export const cliIt = process.env.VPMU_TEST_UNCHECKED === "1" ? it.skip : it;
