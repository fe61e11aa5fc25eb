import type { TruthAccount } from "../../hw/ledger.js";
import { ALL_MODES, Mode, Q } from "../../hw/quantity.js";
import type { TaskResult, TruthSlice } from "../../report/result.js";
import type { Task } from "../../sched/task.js";
import type { System } from "../../system.js";
import type { RunContext } from "../run-context.js";
import type { TaskDecl } from "./compile.js";

/** The tasks that started, in declaration order, with their ground truth by core type. */
export function taskResults(tasks: readonly TaskDecl[], run: RunContext): TaskResult[] {
  return tasks.flatMap((decl) => {
    const t = run.tasks.get(decl.name);
    if (!t) return [];
    return [
      {
        name: decl.name,
        pid: t.pid,
        state: t.state,
        cpu: t.cpu,
        runtime_ns: t.runtime,
        migrations: t.nrMigrations,
        switches: t.nrSwitches,
        truth: truthByCoreType(t, run.sys),
      },
    ];
  });
}

/** A task's truth summed per core type of the CPUs it ran on, in CPU order, rounded. */
function truthByCoreType(t: Task, sys: System): Record<string, TruthSlice> {
  const truth: Record<string, TruthSlice> = {};
  for (const [cpu, a] of [...t.truth].sort((x, y) => x[0] - y[0])) {
    const ct = sys.machine.cpus[cpu]!.coreType.name;
    addSlice((truth[ct] ??= emptySlice()), a);
  }
  for (const s of Object.values(truth)) {
    for (const k of Object.keys(s) as Array<keyof TruthSlice>) s[k] = Math.round(s[k]);
  }
  return truth;
}

function emptySlice(): TruthSlice {
  return { runtime_ns: 0, cycles: 0, instructions: 0, user_ns: 0, kernel_ns: 0 };
}

function addSlice(slot: TruthSlice, a: TruthAccount): void {
  slot.runtime_ns += a.runtime;
  slot.cycles += a.count(Q.CYCLES, ALL_MODES);
  slot.instructions += a.count(Q.INSTRUCTIONS, ALL_MODES);
  slot.user_ns += a.timeIn((1 << Mode.HOST_USER) | (1 << Mode.GUEST_USER));
  slot.kernel_ns += a.timeIn((1 << Mode.HOST_KERNEL) | (1 << Mode.GUEST_KERNEL));
}
