import type { RunContext } from "../run-context.js";
import type { TaskDecl } from "./compile.js";

/** Spawns each task at its start (at once for time 0); the task table names it then. */
export function startTasks(tasks: readonly TaskDecl[], run: RunContext): void {
  for (const t of tasks) {
    const start = (): void => {
      const task = run.sys.spawn({
        comm: t.name,
        workload: t.workload,
        affinity: t.affinity,
        duty: t.duty,
        exitAfter: t.exitAfter,
      });
      run.tasks.set(t.name, task);
    };
    if (t.start === 0) start();
    else run.sys.at(t.start, `start ${t.name}`, start);
  }
}
