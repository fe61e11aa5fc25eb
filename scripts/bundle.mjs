// The `vpmu` command is a bundle of tsc's output (its entry dist/cli/vpmu.js, which loads
// dist/cli/main.js, and the sweep worker)
// into dist/bin/: one file to load instead of some 400 modules (vpmu's, zod's, yaml's),
// which halves the command's start (0.35 s to 0.17 s), and every test, sweep worker and
// `vpmu exec` that starts it pays that start. dist/bin/ sits at the same depth as
// dist/cli/, so the paths the CLI resolves from its own URL (../native, ../viewer,
// ../playground, ./sweep-worker.js) hold in both.
import { chmodSync, rmSync } from "node:fs";
import { rolldown } from "rolldown";

const dist = new URL("../dist/", import.meta.url);
rmSync(new URL("bin/", dist), { recursive: true, force: true });
const bundle = await rolldown({
  input: {
    vpmu: new URL("cli/vpmu.js", dist).pathname,
    "sweep-worker": new URL("cli/sweep-worker.js", dist).pathname,
  },
  platform: "node",
  external: [/^node:/],
  logLevel: "warn",
});
await bundle.write({
  dir: new URL("bin/", dist).pathname,
  format: "esm",
  entryFileNames: "[name].js",
  chunkFileNames: "vpmu-[name].js",
});
await bundle.close();
chmodSync(new URL("bin/vpmu.js", dist), 0o755);
