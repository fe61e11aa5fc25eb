import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Task } from "../sched/task.js";

/** The files of one model task under /proc/<pid> (and /proc/<pid>/task/<pid>). */
function taskFiles(t: Task): Record<string, string> {
  const state = t.state === "running" || t.state === "runnable" ? "R (running)" : "S (sleeping)";
  // perf reads Name, Tgid and PPid, and takes a task with VmPeak for a user process whose
  // maps it then reads: the model runs no code, so its maps are empty.
  const status =
    `Name:\t${t.comm.slice(0, 15)}\nUmask:\t0022\nState:\t${state}\nTgid:\t${t.pid}\nNgid:\t0\n` +
    `Pid:\t${t.pid}\nPPid:\t0\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n` +
    `VmPeak:\t       0 kB\nVmSize:\t       0 kB\nThreads:\t1\n`;
  const files: Record<string, string> = {
    status,
    comm: `${t.comm.slice(0, 15)}\n`,
    cmdline: `${t.comm}\0`,
    maps: "",
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(files)) {
    out[k] = v;
    out[`task/${t.pid}/${k}`] = v;
  }
  return out;
}

/**
 * The simulated host's processes as /proc shows them to the traced command: one directory
 * per live model task (not those that stand for the command's own processes), so that perf
 * record -a synthesizes the model's tasks (their COMM records) and not the real machine's.
 * The shim redirects `/proc` and `/proc/<pid>` of these pids into `<root>/proc`.
 */
export class ProcView {
  private readonly written = new Map<number, string>();

  constructor(private readonly root: string) {
    mkdirSync(join(root, "proc"), { recursive: true });
  }

  /** Writes the directories of new tasks, rewrites changed ones, removes those gone. */
  update(tasks: Iterable<Task>): void {
    const seen = new Set<number>();
    for (const t of tasks) {
      seen.add(t.pid);
      const files = taskFiles(t);
      const key = files.status!;
      if (this.written.get(t.pid) === key) continue;
      const dir = join(this.root, "proc", String(t.pid));
      mkdirSync(join(dir, "task", String(t.pid)), { recursive: true });
      for (const [rel, v] of Object.entries(files)) writeFileSync(join(dir, rel), v);
      this.written.set(t.pid, key);
    }
    for (const pid of [...this.written.keys()])
      if (!seen.has(pid)) {
        rmSync(join(this.root, "proc", String(pid)), { recursive: true, force: true });
        this.written.delete(pid);
      }
  }
}
