import { BUILTIN_WORKLOADS, type Workload } from "../../hw/workload.js";
import { type Ns, parseDuration } from "../../sim/time.js";
import type { CompileContext } from "../context.js";
import type { TaskSpecFile } from "./schema.js";

/** A task as the scenario declares it. */
export interface TaskDecl {
  name: string;
  workload: Workload;
  affinity: number[] | undefined;
  start: Ns;
  duty: { run: Ns; sleep: Ns } | null;
  exitAfter: Ns | null;
}

/** Compiles `tasks`: unique names, known workloads, times within the run. */
export function compileTasks(specs: TaskSpecFile[] | undefined, ctx: CompileContext): TaskDecl[] {
  return (specs ?? []).map((t, i) => compileTask(t, i, ctx));
}

function compileTask(t: TaskSpecFile, i: number, ctx: CompileContext): TaskDecl {
  const names = ctx.names.tasks;
  if (names.has(t.name))
    ctx.err(["tasks", i, "name"], `task "${t.name}" is declared twice`, "unique task names");
  names.add(t.name);
  const w = ctx.workload(t.workload, ["tasks", i, "workload"]);
  const start = ctx.dur(t.start, ["tasks", i, "start"], 0 as Ns);
  if (start > ctx.duration)
    ctx.err(["tasks", i, "start"], "starts after the end of the run", `at most ${ctx.duration}ns`);
  const decl: TaskDecl = {
    name: t.name,
    workload: w ?? BUILTIN_WORKLOADS.compute!,
    affinity: ctx.cpuList(t.affinity, ["tasks", i, "affinity"]),
    start,
    duty: t.duty
      ? {
          run: ctx.dur(t.duty.run, ["tasks", i, "duty", "run"], 0 as Ns),
          sleep: ctx.dur(t.duty.sleep, ["tasks", i, "duty", "sleep"], 0 as Ns),
        }
      : null,
    exitAfter:
      t.exit_after === undefined
        ? null
        : ctx.dur(t.exit_after, ["tasks", i, "exit_after"], 0 as Ns),
  };
  if (t.duty) checkDuty(t.duty, i, ctx);
  return decl;
}

function checkDuty(duty: NonNullable<TaskSpecFile["duty"]>, i: number, ctx: CompileContext): void {
  if (parseDuration(duty.run) === 0)
    ctx.err(["tasks", i, "duty", "run"], "a duty cycle needs run time", "a positive duration");
  // Resource limit: nanosecond duty cycles would schedule millions of wakeups per run.
  for (const k of ["run", "sleep"] as const) {
    const d = parseDuration(duty[k]);
    if (d !== undefined && d > 0 && d < 1000)
      ctx.err(
        ["tasks", i, "duty", k],
        `${duty[k]} is shorter than the 1us minimum`,
        "at least 1us",
      );
  }
}
