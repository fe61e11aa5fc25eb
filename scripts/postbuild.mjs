// After tsc: the unbundled CLI entry points (vpmu.js, main.js) stay runnable as scripts
// (tsc writes its outputs without the run bit); the package's bin is their bundle,
// dist/bin/vpmu.js (scripts/bundle.mjs).
// Then the preload shim of `vpmu exec` (native/vpmu-preload.c) is built with the system C
// compiler into dist/native/. Without a compiler the build still succeeds: vpmu works,
// and `vpmu exec` says how to get the shim.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

for (const f of ["main.js", "vpmu.js"])
  chmodSync(new URL(`../dist/cli/${f}`, import.meta.url), 0o755);

const src = fileURLToPath(new URL("../native/vpmu-preload.c", import.meta.url));
const outDir = fileURLToPath(new URL("../dist/native/", import.meta.url));
const out = `${outDir}libvpmu-preload.so`;

function compiler() {
  for (const cc of [process.env.CC, "cc", "gcc", "clang"]) {
    if (!cc) continue;
    const r = spawnSync(cc, ["--version"], { stdio: "ignore" });
    if (r.status === 0) return cc;
  }
  return null;
}

const upToDate = existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs;
if (!upToDate) {
  const cc = compiler();
  if (!cc) {
    process.stderr.write(
      "vpmu: no C compiler found (cc, gcc, clang): `vpmu exec` needs its preload shim, built " +
        "from native/vpmu-preload.c. Install one (Debian, Ubuntu: apt-get install gcc) and run " +
        "`npm run build`. Everything else works without it.\n",
    );
  } else {
    mkdirSync(outDir, { recursive: true });
    const args = [
      "-shared",
      "-fPIC",
      "-O2",
      "-Wall",
      "-U_FORTIFY_SOURCE",
      "-D_FORTIFY_SOURCE=0",
      "-o",
      out,
      src,
      "-ldl",
      "-lpthread",
    ];
    const r = spawnSync(cc, args, { stdio: "inherit" });
    if (r.status !== 0) {
      process.stderr.write(`vpmu: building the preload shim failed: ${cc} ${args.join(" ")}\n`);
      process.exit(1);
    }
  }
}
