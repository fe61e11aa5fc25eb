import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { bin, root, tmpFile } from "./cli-helpers.js";
import { SWEEP } from "./sweep-helpers.js";

/**
 * The array-job recipes of deploy/: the Kubernetes manifests checked against the Kubernetes
 * API schema (kubernetes-models), then each recipe run for real here as its engine would run
 * it, one process per index, and merged.
 */

const manifest = (f: string) => parse(readFileSync(join(root, "deploy", "kubernetes", f), "utf8"));

function runArgs(args: string[]): Promise<number | null> {
  return new Promise((done) => {
    const c = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: "ignore" });
    c.on("exit", (code) => done(code));
  });
}

/** The small sweep run by one process: what every recipe's merged result must equal. */
let oneRun: Promise<string> | undefined;
function whole(): Promise<string> {
  oneRun ??= (async () => {
    const out = join(mkdtempSync(join(tmpdir(), "vpmu-one-")), "one.jsonl");
    expect(await runArgs(["sweep", tmpFile("one.yaml", SWEEP), "-o", out])).toBe(0);
    return readFileSync(out, "utf8");
  })();
  return oneRun;
}

describe("deploy/kubernetes", () => {
  const job = manifest("sweep-job.yaml");
  const merge = manifest("merge-job.yaml");
  const shard = job.spec.template.spec.containers[0];
  const n = job.spec.completions as number;

  it("validates against the Kubernetes schema, and the schema check can fail", () => {
    expect(() => new Job(job).validate()).not.toThrow();
    expect(() => new Job(merge).validate()).not.toThrow();
    expect(() => new PersistentVolumeClaim(manifest("results-pvc.yaml")).validate()).not.toThrow();
    const bad = structuredClone(job);
    bad.spec.completionMode = "indexed";
    expect(() => new Job(bad).validate()).toThrow(/completionMode/);
  });

  it("is an Indexed Job whose index is the shard, writing to the shared volume", () => {
    expect(job.spec).toMatchObject({ completionMode: "Indexed", parallelism: n });
    const args = shard.args as string[];
    expect(args[0]).toBe("sweep");
    expect(args[args.indexOf("--shard") + 1]).toBe(`$(JOB_COMPLETION_INDEX)/${n}`);
    expect(args).toContain("--resume");
    const out = args[args.indexOf("-o") + 1]!;
    const mount = shard.volumeMounts[0].mountPath as string;
    expect(out.startsWith(`${mount}/`)).toBe(true);
    expect(job.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe(
      manifest("results-pvc.yaml").metadata.name,
    );
    // The merge reads every index's part.
    const margs = merge.spec.template.spec.containers[0].args as string[];
    expect(margs.slice(0, 2)).toEqual(["sweep", "merge"]);
    expect(margs.slice(3)).toEqual(
      Array.from({ length: n }, (_, i) => out.replace("$(JOB_COMPLETION_INDEX)", String(i))),
    );
  });

  it("runs here as the Job controller would, one process per index, merged as one run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vpmu-k8s-"));
    const local = (a: string) => a.replace(/^\/results/, dir);
    const args = (shard.args as string[]).map(local);
    // The manifest's sweep file, swapped for a small one (the recipe is what is tested).
    expect(args[1]).toBe("examples/sweeps/guest-accuracy.yaml");
    args[1] = tmpFile("small.yaml", SWEEP);
    const codes = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        runArgs(args.map((a) => a.replaceAll("$(JOB_COMPLETION_INDEX)", String(i)))),
      ),
    );
    expect(codes).toEqual(Array(n).fill(0));
    const margs = (merge.spec.template.spec.containers[0].args as string[]).map(local);
    expect(await runArgs(margs)).toBe(0);
    expect(readFileSync(margs[2]!, "utf8")).toBe(await whole());
  });
});

describe("deploy/slurm", () => {
  it("runs as a job array (SLURM_ARRAY_TASK_ID per task), then merges", async () => {
    const sweep = tmpFile("s.yaml", SWEEP);
    const results = join(sweep, "..", "results");
    const env = {
      ...process.env,
      SWEEP: sweep,
      RESULTS: results,
      VPMU: `${process.execPath} ${bin}`,
      SLURM_ARRAY_TASK_COUNT: "3",
    };
    const task = (i: number) =>
      new Promise<number | null>((done) => {
        const c = spawn("bash", [join(root, "deploy", "slurm", "sweep.sbatch")], {
          cwd: root,
          env: { ...env, SLURM_ARRAY_TASK_ID: String(i) },
          stdio: "ignore",
        });
        c.on("exit", (code) => done(code));
      });
    expect(await Promise.all([0, 1, 2].map(task))).toEqual([0, 0, 0]);
    const m = spawnSync("bash", [join(root, "deploy", "slurm", "merge.sbatch")], {
      cwd: root,
      env,
      encoding: "utf8",
    });
    expect(m.stderr).toBe("");
    expect(m.status).toBe(0);
    expect(readFileSync(join(results, "sweep.jsonl"), "utf8")).toBe(await whole());
  });
});

// CI installs GNU parallel (.ci/run) and must run the recipe; elsewhere it is skipped with
// a note when parallel is missing.
const haveParallel = spawnSync("parallel", ["--version"], { stdio: "ignore" }).status === 0;
if (!haveParallel)
  console.log(
    "skipping deploy/parallel.sh: GNU parallel is not on PATH (apt-get install parallel)",
  );

describe.runIf(haveParallel || process.env.CI === "true")("deploy/parallel.sh", () => {
  it("runs N shards as GNU parallel jobs, then merges them into the 1-process file", async () => {
    const sweep = tmpFile("p.yaml", SWEEP);
    const results = join(sweep, "..", "results");
    // The package's bin, as `npx vpmu` (the recipe's default) runs it.
    const vpmuBin = join(root, "dist", "bin", "vpmu.js");
    const r = spawnSync("bash", [join(root, "deploy", "parallel.sh"), sweep, "3", results], {
      cwd: root,
      env: { ...process.env, VPMU: `${process.execPath} ${vpmuBin}` },
      encoding: "utf8",
    });
    expect(r.stderr).not.toMatch(/vpmu:|error/i);
    expect(r.status).toBe(0);
    const parts = [0, 1, 2].map((i) => readFileSync(join(results, `part-${i}.jsonl`), "utf8"));
    expect(parts.map((p) => JSON.parse(p.split("\n")[0]!).shard)).toEqual(["0/3", "1/3", "2/3"]);
    expect(readFileSync(join(results, "sweep.jsonl"), "utf8")).toBe(await whole());
    // Run again (every task with --resume): nothing to redo, the same merge.
    expect(
      spawnSync("bash", [join(root, "deploy", "parallel.sh"), sweep, "3", results], {
        cwd: root,
        env: { ...process.env, VPMU: `${process.execPath} ${vpmuBin}` },
      }).status,
    ).toBe(0);
    expect(readFileSync(join(results, "sweep.jsonl"), "utf8")).toBe(await whole());
  });
});
