import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseSweep, type SweepResult } from "../scenario/sweep/load.js";

/**
 * Reads and checks a sweep file and its base (by path, against the sweep file's folder).
 * The command and its worker threads read it alike, so a worker needs no plan handed over.
 */
export function readSweepFile(
  file: string,
): SweepResult | { ok: false; unreadable: string; diagnostics: [] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    return { ok: false, unreadable: `${file}: cannot read (${code})`, diagnostics: [] };
  }
  return parseSweep(text, file, (p) => {
    const path = resolve(dirname(file), p);
    try {
      return {
        ok: true,
        text: readFileSync(path, "utf8"),
        file: p.startsWith("/") ? p : `${dirname(file)}/${p}`,
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { ok: false, message: code === "ENOENT" ? "no such file" : `cannot read (${code})` };
    }
  });
}
