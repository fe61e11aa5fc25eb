// `npm test`: lint, build and the web build side by side (two lanes, one per core: they
// write to different folders of dist/), then the suite (vitest's checked and unchecked
// projects), then every example's own checks. `npm run test:all` (`--all`) runs the
// integration project too: the tests that drive Chromium, the perf binary and GNU parallel.
// A lane's output is shown when it fails, so two lanes never interleave.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const npm = process.platform === "win32" ? "npm.cmd" : "npm";

/** Runs `cmd args` with its output captured; resolves with the exit code and the output. */
function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("close", (code) =>
      resolve({ code: code ?? 1, out, what: `${cmd} ${args.join(" ")}` }),
    );
  });
}

/** Runs the steps one after the other, stopping at the first that fails. */
async function lane(steps) {
  for (const [cmd, ...args] of steps) {
    const r = await run(cmd, args);
    if (r.code !== 0) return r;
  }
  return null;
}

const failed = (
  await Promise.all([
    lane([[npm, "run", "--silent", "build"]]),
    lane([
      ["npx", "biome", "check", "."],
      [npm, "run", "--silent", "build:web"],
    ]),
  ])
).filter((r) => r !== null);
for (const r of failed)
  process.stderr.write(`${r.out}\nnpm test: \`${r.what}\` failed (exit ${r.code})\n`);
if (failed.length > 0) process.exit(1);

const step = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
const all = process.argv.includes("--all");
step("npx", ["vitest", "run", ...(all ? [] : ["--project", "checked", "--project", "unchecked"])]);
const examples = readdirSync("examples")
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => `examples/${f}`);
step(process.execPath, ["dist/bin/vpmu.js", "check", ...examples]);
