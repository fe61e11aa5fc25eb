import type { CompileContext } from "./context.js";
import type { Diagnostic } from "./diagnostics.js";
import type { MeasurementDecl } from "./perf/compile.js";
import type { VmDecl } from "./vms/compile.js";

/**
 * Load-time size limits (docs/scenario-format.md, "Resource limits"): a scenario file may
 * come from anywhere, so the work one file can ask for is bounded before anything runs.
 * The per-list limits live in the schema; this module checks the file's size and its long
 * top-level lists before the YAML parse, and the totals and the estimated work after it.
 */
export const LIMITS = {
  /** Bytes of scenario text (the YAML parse of 1 MiB takes about a second). */
  fileBytes: 1 << 20,
  /** Top-level lists, as the schema has them. */
  lists: { tasks: 10_000, perf: 256, vms: 64, actions: 100_000, expect: 100_000, variants: 16 },
  /** Events of one measurement (a list or a string), host or guest. */
  eventsPerMeasurement: 1024,
  /** Events of every host and guest measurement together. */
  eventsTotal: 4096,
  /** vCPUs of every VM together (each VM has at most 256). */
  vcpusTotal: 1024,
  /** Estimated timer events of the run (ticks, VM exits, guest samples, interval prints). */
  timerEvents: 500_000_000,
} as const;

type ListKey = keyof typeof LIMITS.lists;

/**
 * Checks before the parse: the text's size, and the length of each top-level list written
 * in block style (one `- ` item a line), so a file with 20,000 VMs is refused without
 * parsing it. Other styles are counted by the schema after the parse.
 */
export function checkBeforeParse(text: string, file: string): Diagnostic[] {
  if (text.length > LIMITS.fileBytes) {
    return [
      {
        file,
        line: 1,
        col: 1,
        path: "",
        message: `the file has ${text.length} characters`,
        expected: `at most ${LIMITS.fileBytes} (1 MiB)`,
      },
    ];
  }
  if (text.trimStart().startsWith("{")) return jsonListsTooLong(text, file);
  const out: Diagnostic[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^(tasks|perf|vms|actions|expect|variants):\s*(\[|#.*$|$)/.exec(lines[i]!);
    if (!m) continue;
    const flow = m[2] === "[";
    const key = m[1] as ListKey;
    const d = flow ? flowListTooLong(lines, i, key, file) : blockListTooLong(lines, i, key, file);
    if (d) out.push(d);
  }
  return out;
}

/** A JSON file's top-level lists that are too long, located at their `[`. */
function jsonListsTooLong(text: string, file: string): Diagnostic[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return []; // not JSON after all: the YAML parse says what is wrong
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) return [];
  const doc = data as Record<string, unknown>;
  const out: Diagnostic[] = [];
  for (const [key, max] of Object.entries(LIMITS.lists)) {
    const v = Object.hasOwn(doc, key) ? doc[key] : undefined;
    if (!Array.isArray(v) || v.length <= max) continue;
    const at = topLevelValueOffset(text, key);
    let line = 1;
    let col = 1;
    for (let k = 0; k < at; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        col = 1;
      } else col++;
    }
    out.push({
      file,
      line,
      col,
      path: key,
      message: `a list of ${v.length} items is too large`,
      expected: `at most ${max} items`,
    });
  }
  return out;
}

/** Offset of the value of the (last) top-level key `key` in valid JSON text, or 0. */
function topLevelValueOffset(text: string, key: string): number {
  let depth = 0;
  let found = 0;
  for (let k = 0; k < text.length; k++) {
    const c = text[k]!;
    if (c === '"') {
      const start = k;
      for (k++; k < text.length && text[k] !== '"'; k++) if (text[k] === "\\") k++;
      if (depth !== 1) continue;
      let j = k + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (text[j] !== ":" || JSON.parse(text.slice(start, k + 1)) !== key) continue;
      for (j++; j < text.length && /\s/.test(text[j]!); ) j++;
      found = j;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
  }
  return found;
}

/**
 * The flow list `key: [a, b, ...]` that starts at line `at`, when it has too many items:
 * its commas outside quotes and nested brackets, counted.
 */
function flowListTooLong(
  lines: string[],
  at: number,
  key: ListKey,
  file: string,
): Diagnostic | undefined {
  const max = LIMITS.lists[key];
  const col = lines[at]!.indexOf("[");
  let depth = 0;
  let n = 0;
  let item = false;
  for (let j = at; j < lines.length; j++) {
    const l = lines[j]!;
    for (let k = j === at ? col : 0; k < l.length; k++) {
      const c = l[k]!;
      if (c === '"' || c === "'") {
        // A quoted scalar on one line (a longer one ends the count: the parse decides).
        const end = c === '"' ? closeDouble(l, k) : l.indexOf("'", k + 1);
        if (end < 0) return undefined;
        k = end;
        item = true;
      } else if (c === "#" && (k === 0 || /\s/.test(l[k - 1]!))) break;
      else if (c === "[" || c === "{") {
        depth++;
        if (depth > 1) item = true;
      } else if (c === "]" || c === "}") {
        depth--;
        if (depth === 0) {
          if (item) n++;
          return n <= max ? undefined : tooLong(file, at, col, key, n, max);
        }
      } else if (c === "," && depth === 1) {
        if (item) n++;
        item = false;
      } else if (!/\s/.test(c)) item = true;
    }
  }
  return undefined;
}

function closeDouble(l: string, from: number): number {
  for (let k = from + 1; k < l.length; k++) {
    if (l[k] === "\\") k++;
    else if (l[k] === '"') return k;
  }
  return -1;
}

function tooLong(
  file: string,
  line: number,
  col: number,
  key: ListKey,
  n: number,
  max: number,
): Diagnostic {
  return {
    file,
    line: line + 1,
    col: col + 1,
    path: key,
    message: `a list of ${n} items is too large`,
    expected: `at most ${max} items`,
  };
}

/** The block list under the top-level key at line `at`, when it has too many items. */
function blockListTooLong(
  lines: string[],
  at: number,
  key: ListKey,
  file: string,
): Diagnostic | undefined {
  const max = LIMITS.lists[key];
  let indent = -1;
  let first = -1;
  let n = 0;
  for (let j = at + 1; j < lines.length; j++) {
    const l = lines[j]!;
    const item = /^( *)- /.exec(l) ?? /^( *)-$/.exec(l);
    if (item && (indent < 0 || item[1]!.length === indent)) {
      if (indent < 0) {
        indent = item[1]!.length;
        first = j;
      }
      n++;
      continue;
    }
    // The list ends at the next top-level key (or document marker).
    if (/^[^\s#-]/.test(l) || l.startsWith("---") || l.startsWith("...")) break;
  }
  return n <= max ? undefined : tooLong(file, first, indent, key, n, max);
}

/**
 * Checks after the compile of the sections: events per measurement and in all, vCPUs in
 * all VMs, and the run's estimated work.
 */
export function checkTotals(
  perf: readonly MeasurementDecl[],
  vms: readonly VmDecl[],
  hz: number,
  ctx: CompileContext,
): void {
  let events = 0;
  const count = (n: number, path: PropertyKey[]) => {
    if (n > LIMITS.eventsPerMeasurement)
      ctx.err(path, `${n} events`, `at most ${LIMITS.eventsPerMeasurement} in one measurement`);
    const before = events;
    events += n;
    if (before <= LIMITS.eventsTotal && events > LIMITS.eventsTotal)
      ctx.err(
        path,
        `${events} events in the measurements so far`,
        `at most ${LIMITS.eventsTotal} in all`,
      );
  };
  for (const m of perf) count(m.events.length, ["perf", m.index, "events"]);
  let vcpus = 0;
  for (const v of vms) {
    v.perf.forEach((m, j) => {
      count(m.events.length, ["vms", v.index, "perf", j, "events"]);
    });
    const before = vcpus;
    vcpus += v.vcpus.length;
    if (before <= LIMITS.vcpusTotal && vcpus > LIMITS.vcpusTotal)
      ctx.err(
        ["vms", v.index, "vcpus"],
        `${vcpus} vCPUs in the VMs so far`,
        `at most ${LIMITS.vcpusTotal} in all`,
      );
  }
  checkWork(perf, vms, hz, ctx);
}

/**
 * The run's work, estimated as the timer events it fires: a tick per CPU at HZ, each vCPU's
 * exits, the guest's samples and the interval prints, over the run. An upper bound of
 * what a run costs (a CPU that idles does not tick), a model estimate, not a measurement.
 */
function checkWork(
  perf: readonly MeasurementDecl[],
  vms: readonly VmDecl[],
  hz: number,
  ctx: CompileContext,
): void {
  const seconds = ctx.duration / 1e9;
  const fastestHz = Math.max(
    0,
    ...(ctx.machine?.coreTypes.map((t) => t.scaling.freqMHz * 1e6) ?? []),
  );
  let perSecond = hz * ctx.nrCpus;
  for (const v of vms) {
    for (const c of v.vcpus) perSecond += c.exitRate;
    for (const m of v.perf) {
      const r = m.record;
      if (r) perSecond += r.freq ?? (r.period ? fastestHz / r.period : 0);
    }
  }
  let events = seconds * perSecond;
  for (const m of perf)
    if (m.interval) events += ((m.stop - m.start) / m.interval) * Math.max(1, m.events.length);
  if (events > LIMITS.timerEvents)
    ctx.err(
      ["duration"],
      `the run would fire about ${Math.round(events).toExponential(1)} timer events (${seconds}s of ticks at HZ ${hz} on ${ctx.nrCpus} CPUs, VM exits, guest samples and interval prints)`,
      `at most ${LIMITS.timerEvents.toExponential(0)}: a shorter duration, fewer CPUs or VMs, lower exit_rate or record rate`,
    );
}
