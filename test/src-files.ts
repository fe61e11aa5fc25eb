import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

/** The repository's src/ folder. */
export const SRC = join(import.meta.dirname, "..", "src");

/** Every .ts file under src/, as a path relative to it. */
export function srcTsFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory()
      ? srcTsFiles(join(dir, d.name))
      : d.name.endsWith(".ts")
        ? [relative(SRC, join(dir, d.name))]
        : [],
  );
}
