import { z } from "zod";
import type { CounterResult, MeasurementResult } from "../../report/result.js";
import type { RunContext } from "../run-context.js";
import { closest } from "../suggest.js";
import { defineSubject, type Observed, type SubjectCompile } from "./subject.js";

const schema = z.strictObject({
  measurement: z.string().optional(),
  fd: z.string().optional(),
  event: z.string().optional(),
  cpu: z.number().int().nonnegative().optional(),
  field: z.enum([
    "count",
    "scaled",
    "enabled",
    "running",
    "state",
    "truth",
    "percent",
    "samples",
    "status",
  ]),
});

type EventSubject = z.output<typeof schema>;

/** An event of a measurement (by its name as written), or the event of a perf fd. */
export const eventSubject = defineSubject({
  key: "event",
  schema,
  compile(s, c) {
    checkSource(s, c);
    if (s.fd !== undefined) checkFd(s, c);
    if (s.measurement !== undefined && s.event === undefined)
      c.err(["event"], "which event of the measurement?", "event: as written under perf");
    checkEventName(s, c);
    return s;
  },
  isTime: (s) => s.field === "enabled" || s.field === "running",
  hasTruth: (s) => s.measurement !== undefined,
  describe(s) {
    const src = s.measurement !== undefined ? `${s.measurement}/${s.event}` : `fd ${s.fd}`;
    const cpu = s.cpu !== undefined ? ` on CPU ${s.cpu}` : "";
    return `${src}${cpu} ${s.field}`;
  },
  observe: (s, run) => (s.fd !== undefined ? observeFd(s, s.fd, run) : observeCounter(s, run)),
  truth(s, run) {
    if (s.measurement === undefined) return null;
    return findCounter(run.measurements.get(s.measurement), s.event)?.truth ?? null;
  },
});

/** Exactly one of measurement and fd, naming one that exists. */
function checkSource(s: EventSubject, c: SubjectCompile): void {
  const names = c.ctx.names;
  if ((s.measurement === undefined) === (s.fd === undefined))
    c.err([], "give exactly one of measurement or fd", "measurement or fd");
  if (s.measurement !== undefined && !names.measurements.has(s.measurement))
    c.err(["measurement"], `unknown measurement "${s.measurement}"`, "a name under perf");
  if (s.fd !== undefined && !names.fds.has(s.fd))
    c.err(["fd"], `no perf_event_open named "${s.fd}"`, "the name of a perf_event_open action");
}

/**
 * The event names a counter of the measurement: as written, as perf names it, or the start
 * of that name (findCounter's rule); a typo is an input error, not a null at the end.
 */
function checkEventName(s: EventSubject, c: SubjectCompile): void {
  if (s.measurement === undefined || s.event === undefined) return;
  const names = c.ctx.counterNames.get(s.measurement);
  const e = s.event;
  // The unprivileged fallback appends ":u" to a name, so a name may also extend one.
  if (!names || names.some((n) => n.startsWith(e) || e.startsWith(n))) return;
  const best = closest(e, names);
  c.err(
    ["event"],
    `measurement "${s.measurement}" has no event '${e}'`,
    best !== undefined ? `did you mean '${best}'?` : `one of: ${[...new Set(names)].join(", ")}`,
  );
}

/** An fd is one event on one CPU, with neither ground truth nor samples. */
function checkFd(s: EventSubject, c: SubjectCompile): void {
  if (s.event !== undefined || s.cpu !== undefined)
    c.err(
      [s.event !== undefined ? "event" : "cpu"],
      "an fd names one event on one CPU already",
      "only fd and field",
    );
  if (s.field === "truth" || s.field === "samples" || s.field === "status")
    c.err(
      ["field"],
      s.field === "truth"
        ? "no ground truth is kept for a raw fd"
        : s.field === "status"
          ? "a raw fd has no perf stat line to print"
          : "samples are counted by a perf record measurement, not a raw fd",
      "count, scaled, enabled, running, state or percent",
    );
}

function observeFd(s: EventSubject, fd: string, run: RunContext): Observed {
  const v = run.fds.reading(fd, run.sys.perf);
  if (!v) return null;
  return counterField(s.field, v.count, v.enabled, v.running, v.state, null);
}

function observeCounter(s: EventSubject, run: RunContext): Observed {
  const c = findCounter(run.measurements.get(s.measurement!), s.event);
  if (!c) return null;
  // perf record's samples of the event (null for a counting measurement).
  if (s.field === "samples") return s.cpu === undefined ? (c.samples ?? null) : null;
  // How perf prints the line: a count, <not counted> or <not supported>.
  if (s.field === "status") return s.cpu === undefined ? c.status : null;
  if (s.cpu !== undefined) {
    const p = c.per_cpu?.find((x) => x.cpu === s.cpu);
    if (!p) return null;
    return counterField(s.field, p.count, p.enabled_ns, p.running_ns, p.state, null);
  }
  if (s.field === "truth") return c.truth;
  // A measurement's scaled value is the one it reported (perf record's is not scaled).
  const scaled = s.field === "scaled" ? c.scaled : null;
  return counterField(s.field, c.count, c.enabled_ns, c.running_ns, c.state, scaled);
}

/** The counter of a measurement an expectation names: exact name first, then a prefix. */
function findCounter(
  m: MeasurementResult | undefined,
  event: string | undefined,
): CounterResult | undefined {
  if (!m || event === undefined) return undefined;
  return (
    m.counters.find((x) => x.event === event) ?? m.counters.find((x) => x.event.startsWith(event))
  );
}

/**
 * One field of a counter reading: perf's scaled value (count * enabled / running) unless
 * `scaled` is given, and the running percentage.
 */
function counterField(
  field: string,
  count: number,
  enabled: number,
  running: number,
  state: string,
  scaled: number | null,
): Observed {
  switch (field) {
    case "count":
      return count;
    case "enabled":
      return enabled;
    case "running":
      return running;
    case "state":
      return state;
    case "scaled":
      return scaled ?? (running > 0 ? Math.trunc((count * enabled) / running) : null);
    case "percent":
      return enabled > 0 ? Math.round((10000 * running) / enabled) / 100 : null;
    default:
      return null;
  }
}
