import { ms, table, thousands } from "../format.js";
import type { TaskResult } from "../result.js";
import type { TextSection } from "./section.js";

const HEADER = [
  "task",
  "pid",
  "state",
  "runtime",
  "migr",
  "switches",
  "on core type",
  "runtime",
  "cycles",
  "instructions",
  "IPC",
];

/** Each task's scheduling numbers, and its ground truth on each core type it ran on. */
export const tasksSection: TextSection = (r) => {
  if (r.tasks.length === 0) return [];
  const rows = r.tasks.flatMap(taskRows);
  return ["Tasks (ground truth)", ...table(HEADER, rows, [1, 3, 4, 5, 7, 8, 9, 10]), ""];
};

function taskRows(t: TaskResult): string[][] {
  const head = [
    t.name,
    String(t.pid),
    t.state,
    ms(t.runtime_ns),
    String(t.migrations),
    String(t.switches),
  ];
  const slices = Object.entries(t.truth);
  if (slices.length === 0) return [[...head, "-", "", "", "", ""]];
  return slices.map(([ct, sl], i) => {
    const ipc = sl.cycles > 0 ? (sl.instructions / sl.cycles).toFixed(2) : "-";
    return [
      ...(i === 0 ? head : head.map(() => "")),
      ct,
      ms(sl.runtime_ns),
      thousands(sl.cycles),
      thousands(sl.instructions),
      ipc,
    ];
  });
}
