// After tsc: the CLI entry point is the package's bin, so it must stay executable
// (tsc writes its outputs without the run bit, and `npx vpmu` would answer EACCES).
import { chmodSync } from "node:fs";

chmodSync(new URL("../dist/cli/main.js", import.meta.url), 0o755);
