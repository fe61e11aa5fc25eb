import { ROOT } from "../../perf/open.js";
import { PerfStat } from "../../perf/tool/stat.js";
import { Timer } from "../../sim/queue.js";
import type { Ns } from "../../sim/time.js";
import type { RunContext } from "../run-context.js";
import type { MeasurementDecl } from "./compile.js";

/**
 * Arms each host measurement: perf stat starts at its start (after tasks that start at the
 * same instant: timers fire in arming order), prints its intervals and stops at its stop.
 */
export function scheduleMeasurements(list: readonly MeasurementDecl[], run: RunContext): void {
  for (const m of list) run.sys.at(m.start, `start ${m.name}`, () => begin(m, run));
}

function begin(m: MeasurementDecl, run: RunContext): void {
  const sys = run.sys;
  const task = m.task !== undefined ? run.tasks.get(m.task) : undefined;
  if (m.task !== undefined && !task) {
    run.measurements.set(m.name, {
      name: m.name,
      target: `task ${m.task}`,
      start_ns: sys.now,
      stop_ns: sys.now,
      counters: [],
      intervals: [],
      error: `task ${m.task} is not running yet`,
    });
    return;
  }
  const stat = new PerfStat(sys, {
    name: m.name,
    events: m.events,
    cpus: m.cpus,
    task,
    interval: m.interval,
    legacy: m.legacy,
    cred: m.unprivileged ? { perfmon: false } : ROOT,
  });
  run.measurements.started(m.name, stat);
  const firstId = sys.perf.nextEventId;
  stat.start();
  run.measurements.opened(m.name, firstId, sys.perf.nextEventId);
  if (m.interval !== null) armIntervals(m, m.interval, stat, run);
  sys.at(m.stop, `stop ${m.name}`, () => run.measurements.set(m.name, stat.stop()));
}

/** perf stat -I: one print per interval up to the stop. */
function armIntervals(m: MeasurementDecl, iv: Ns, stat: PerfStat, run: RunContext): void {
  const queue = run.sys.queue;
  const timer = new Timer(`interval ${m.name}`, (now) => {
    stat.interval();
    if (now + iv <= m.stop) queue.arm(timer, (now + iv) as Ns);
  });
  if (m.start + iv <= m.stop) queue.arm(timer, (m.start + iv) as Ns);
}
