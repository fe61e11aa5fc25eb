import type { CounterResult, RunResult } from "../../report/result.js";
import type { Scenario } from "../compiled.js";
import type { Report } from "./axes.js";
import type { Collector, PathStep } from "./plan.js";
import type { CollectSpecFile } from "./schema.js";

/** The top-level fields of the JSON report (docs/json-output.md), where a path may start. */
const REPORT_FIELDS = [
  "format",
  "vpmu",
  "scenario",
  "machine",
  "tasks",
  "cpus",
  "actions",
  "perf",
  "vms",
  "expectations",
  "findings",
  "summary",
];

/** Splits `perf[name=gstat].counters[0].scaled` into steps; undefined if it does not parse. */
export function parseReportPath(text: string): PathStep[] | undefined {
  const steps: PathStep[] = [];
  const re = /(?:^|\.)([^.[\]=]+)|\[(\d+)\]|\[([^=\]]+)=([^\]]*)\]/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return undefined;
    if (m[1] !== undefined) steps.push({ key: m[1] });
    else if (m[2] !== undefined) steps.push({ index: Number(m[2]) });
    else steps.push({ field: m[3]!, equals: m[4]! });
    at = re.lastIndex;
  }
  return steps.length > 0 && "key" in steps[0]! ? steps : undefined;
}

/** The value at a report path, or null where the report has none. */
export function valueAtPath(r: unknown, steps: PathStep[]): unknown {
  let v: unknown = r;
  for (const s of steps) {
    if ("key" in s) {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
      v = Object.hasOwn(v, s.key) ? (v as Record<string, unknown>)[s.key] : undefined;
    } else if ("index" in s) {
      v = Array.isArray(v) ? v[s.index] : undefined;
    } else {
      v = Array.isArray(v)
        ? v.find(
            (x) =>
              x &&
              typeof x === "object" &&
              String((x as Record<string, unknown>)[s.field]) === s.equals,
          )
        : undefined;
    }
    if (v === undefined) return null;
  }
  return v;
}

/** The names a derived value may refer to: the base's measurements (host and guest) and VMs. */
function namesOf(sc: Scenario): { measurements: Set<string>; vms: Set<string> } {
  const measurements = new Set(sc.perf.map((m) => m.name));
  for (const vm of sc.vms) for (const p of vm.perf) measurements.add(p.name);
  return { measurements, vms: new Set(sc.vms.map((v) => v.name)) };
}

type CollectObj = Exclude<CollectSpecFile, string>;
const KINDS = ["path", "error", "running", "in_state", "exits", "exit_cost"] as const;

/** One collect entry compiled; problems at its line. */
function compileOne(
  c: CollectObj,
  at: PropertyKey[],
  names: ReturnType<typeof namesOf>,
  report: Report,
): Collector | undefined {
  const kinds = KINDS.filter((k) => c[k] !== undefined);
  if (kinds.length !== 1) {
    report(
      at,
      `"${c.name}" has ${kinds.length === 0 ? "no" : "more than one"} kind`,
      `exactly one of: ${KINDS.join(", ")}`,
    );
    return undefined;
  }
  const kind = kinds[0]!;
  if (kind === "path") return pathCollector(c.name, c.path!, [...at, "path"], report);
  const ref = c[kind] as { measurement?: string; vm?: string };
  if (ref.measurement !== undefined && !names.measurements.has(ref.measurement)) {
    report(
      [...at, kind, "measurement"],
      `no measurement "${ref.measurement}" in the base scenario`,
      `one of: ${[...names.measurements].join(", ")}`,
    );
    return undefined;
  }
  if (ref.vm !== undefined && !names.vms.has(ref.vm)) {
    report(
      [...at, kind, "vm"],
      `no VM "${ref.vm}" in the base scenario`,
      `one of: ${[...names.vms].join(", ")}`,
    );
    return undefined;
  }
  if (c.error) return { name: c.name, kind: "error", ...c.error, stat: c.error.stat ?? "mean" };
  if (c.running) return { name: c.name, kind: "running", ...c.running };
  if (c.in_state) return { name: c.name, kind: "in_state", ...c.in_state };
  if (c.exits) return { name: c.name, kind: "exits", ...c.exits, vcpu: c.exits.vcpu ?? 0 };
  return { name: c.name, kind: "exit_cost", vm: c.exit_cost!.vm, vcpu: c.exit_cost!.vcpu ?? 0 };
}

function pathCollector(
  name: string,
  text: string,
  at: PropertyKey[],
  report: Report,
): Collector | undefined {
  const steps = parseReportPath(text);
  const first = steps?.[0];
  if (!steps || !first || !("key" in first)) {
    report(
      at,
      `"${text}" is not a report path`,
      "a path such as perf[name=stat].counters[event=cycles].scaled",
    );
    return undefined;
  }
  if (!REPORT_FIELDS.includes(first.key)) {
    report(
      at,
      `the JSON report has no field "${first.key}"`,
      `a path starting with one of: ${REPORT_FIELDS.join(", ")}`,
    );
    return undefined;
  }
  return { name, kind: "path", path: steps };
}

/** Compiles the collect list: each name once, references checked against the base. */
export function compileCollect(
  specs: CollectSpecFile[],
  sc: Scenario,
  report: Report,
): Collector[] {
  const names = namesOf(sc);
  const out: Collector[] = [];
  const seen = new Set<string>();
  specs.forEach((spec, i) => {
    const c =
      typeof spec === "string"
        ? pathCollector(spec, spec, ["collect", i], report)
        : compileOne(spec, ["collect", i], names, report);
    if (!c) return;
    if (seen.has(c.name)) report(["collect", i], `"${c.name}" is collected twice`, "unique names");
    seen.add(c.name);
    out.push(c);
  });
  return out;
}

/** Rounded to 6 decimals: collected ratios print the same everywhere. */
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

function counters(r: RunResult, measurement: string, event?: string): CounterResult[] {
  const m = r.perf.find((p) => p.name === measurement);
  const cs = m?.counters ?? [];
  return event === undefined ? cs : cs.filter((c) => c.event === event);
}

/** Error of a counter against its truth in percent; a counter with no value misses it all. */
function errorPct(c: CounterResult): number | null {
  if (c.truth === 0) return null;
  if (c.scaled === null || c.scaled === undefined) return -100;
  return ((c.scaled - c.truth) / c.truth) * 100;
}

function collectError(r: RunResult, c: Extract<Collector, { kind: "error" }>): number | null {
  const errs = counters(r, c.measurement, c.event)
    .map(errorPct)
    .filter((e): e is number => e !== null);
  if (errs.length === 0) return null;
  if (c.event !== undefined) return round6(errs[0]!);
  const abs = errs.map(Math.abs);
  return round6(c.stat === "max" ? Math.max(...abs) : abs.reduce((a, b) => a + b, 0) / abs.length);
}

function vcpuOf(r: RunResult, vm: string, id: number) {
  return r.vms.find((v) => v.name === vm)?.vcpus.find((v) => v.id === id);
}

/** The value of one collector in a run's result (null where the run has none). */
export function collectValue(r: RunResult, c: Collector): unknown {
  switch (c.kind) {
    case "path":
      return valueAtPath(r, c.path);
    case "error":
      return collectError(r, c);
    case "running": {
      const k = counters(r, c.measurement, c.event)[0];
      return k && k.enabled_ns > 0 ? round6(k.running_ns / k.enabled_ns) : null;
    }
    case "in_state":
      return counters(r, c.measurement, c.event)
        .flatMap((k) => (k.per_cpu ? k.per_cpu.map((p) => p.state) : [k.state]))
        .filter((s) => s === c.state).length;
    case "exits": {
      const v = vcpuOf(r, c.vm, c.vcpu);
      if (!v) return null;
      if (c.reason === undefined) return v.exits;
      if (c.reason === "total") return Object.values(v.exits).reduce((a, b) => a + b, 0);
      return v.exits[c.reason] ?? 0;
    }
    case "exit_cost": {
      const v = vcpuOf(r, c.vm, c.vcpu);
      const n = v ? Object.values(v.exits).reduce((a, b) => a + b, 0) : 0;
      return v && n > 0 ? round6(v.host_ns / n) : null;
    }
  }
}

/** Every collected value of a run, by name, in collect order. */
export function collectAll(r: RunResult, cs: Collector[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of cs) out[c.name] = collectValue(r, c) ?? null;
  return out;
}
