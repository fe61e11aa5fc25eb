import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { PRESETS } from "../src/hw/presets.js";
import type { RunResult } from "../src/report/result.js";
import { type Diagnostic, formatDiagnostic } from "../src/scenario/diagnostics.js";
import { parseScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";
import { scenarioJsonSchema } from "../src/scenario/schema.js";
import type { Ns } from "../src/sim/time.js";

/**
 * Scenario fuzzing: random text, random JSON, schema-shaped documents with hostile values
 * and mutated copies of every example must either load or come back as diagnostics of the
 * form `file:line:col: ...` inside the text; whatever loads must run (with the invariant
 * checker recording) without throwing and without unexpected findings, and give the same
 * result without the checker (the lazy paths it turns off); and the CLI must
 * turn bad files into exit 2 and one such line per problem, never a stack trace.
 *
 * Deterministic: every property has a fixed seed. VPMU_FUZZ_SCALE multiplies the number
 * of runs and VPMU_FUZZ_SEED offsets the seeds, for longer fuzzing sessions: `.ci/run`
 * runs this file again with 4 times the runs on other seeds.
 */

const root = join(import.meta.dirname, "..");
const FILE = "f.yaml";
const SCALE = Number(process.env.VPMU_FUZZ_SCALE ?? 1) || 1;
const SEED =
  process.env.VPMU_FUZZ_SEED === undefined ? undefined : Number(process.env.VPMU_FUZZ_SEED);
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));
const seed = (s: number): number => (SEED === undefined ? s : SEED + s);
/** Simulated time each loadable scenario runs for, at most. */
const MAX_RUN = 5_000_000;

// ---------------------------------------------------------------------------------------
// Checks shared by every fuzzer.

const DIAG_RE = /^f\.yaml:(\d+):(\d+): /;

/** A diagnostic must format as `f.yaml:line:col: ...` with line and col inside the text. */
function checkDiagnostic(d: Diagnostic, text: string): void {
  const s = formatDiagnostic(d);
  const m = DIAG_RE.exec(s);
  if (!m) throw new Error(`diagnostic not in file:line:col form: ${JSON.stringify(s)}`);
  const line = Number(m[1]);
  const col = Number(m[2]);
  const lines = text.split("\n");
  // The position must point into the text: at most one line past the last, and its
  // offset (counted with the text's real line starts) at most the text's length.
  // Positions are counted on the text itself: the column lies within its line.
  const ok =
    line >= 1 && col >= 1 && line <= lines.length && col <= (lines[line - 1]?.length ?? 0) + 1;
  if (!ok) {
    throw new Error(
      `diagnostic position ${line}:${col} outside the text (${lines.length} lines): ${s}`,
    );
  }
}

/** A run's result without what only the invariant checker adds. */
function withoutFindings(r: RunResult): unknown {
  return { ...r, findings: [], expectations: [], summary: null };
}

/**
 * Parses `text`; bad input must come back as located diagnostics. What loads runs for at
 * most MAX_RUN with the invariant checker in record mode: it must not throw, and every
 * finding must be declared by the scenario or be one of `allowedRules`.
 */
function checkText(text: string, allowedRules: ReadonlySet<string> = new Set()): boolean {
  const r = parseScenario(text, FILE);
  if (!r.ok) {
    expect(r.diagnostics.length).toBeGreaterThan(0);
    for (const d of r.diagnostics) checkDiagnostic(d, text);
    return false;
  }
  const sc = r.scenario;
  const duration = Math.min(sc.duration, MAX_RUN) as Ns;
  const res = runScenario(sc, { duration, checkInvariants: true });
  // Again without the checker, as `vpmu run` runs: the checker watches every state change,
  // which turns the lazy guest paths off, so this run takes them; it must agree.
  const plain = runScenario(sc, { duration, checkInvariants: false });
  expect(withoutFindings(plain)).toEqual(withoutFindings(res));
  const unexpected = res.findings.filter((f) => !f.expected && !allowedRules.has(f.rule));
  if (unexpected.length > 0) {
    const f = unexpected[0]!;
    throw new Error(
      `${unexpected.length} unexpected invariant finding(s), first: ${f.rule} at ${f.t_ns}ns on CPU ${f.cpu}: ${f.subject}: ${f.before} -> ${f.after}: ${f.message}`,
    );
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Value pools.

/** Hostile scalar values, as YAML source text. */
const LONG = "x".repeat(5000);
const NASTY_YAML = [
  "-1",
  "1e309",
  "-1e309",
  '""',
  "null",
  "[]",
  "{}",
  '"0x"',
  "9999999999999999999",
  '"9999999999999999999"',
  '"99999999999999"',
  "*a",
  "toString",
  "constructor",
  "__proto__",
  '"a\\nb"',
  "all",
  '"1-"',
  "10 parsecs",
  "true",
  "~",
  '"ünïcödé ✓ 漢字 🎉"',
  `"${LONG}"`,
  "0",
  "-0",
  "1.5",
  ".nan",
  ".inf",
  "0x10",
  "4294967296",
  "1e-9",
  '"0-1023"',
  '"3-1"',
  '"2%"',
  "EBUSY",
  "EWHATEVER",
  "cycles:u",
  '"{cycles"',
  '"cycles,}"',
  "r0",
  '"5ms"',
  '"0ns"',
  '"3601s"',
  '"1.5us"',
  "[1, 2, 3]",
  "{ a: 1 }",
  "'single'",
  "- x",
  ": x",
  "&anchor 1",
  "!!str 1",
  "|",
];

/** The same kind of values as plain data, for the generated documents. */
const NASTY_VALUES: unknown[] = [
  -1,
  Number.MAX_VALUE,
  "",
  null,
  [],
  {},
  "0x",
  "99999999999999",
  1e19,
  "all",
  "1-",
  "10 parsecs",
  true,
  false,
  "ünïcödé ✓ 漢字 🎉",
  LONG,
  0,
  -0,
  1.5,
  0.1,
  2 ** 53,
  2 ** 31,
  4294967296,
  "0-1023",
  "3-1",
  "2%",
  "EWHATEVER",
  "{cycles",
  "cycles,}",
  "3601s",
  "1.5us",
  [1, 2, 3],
  { a: 1 },
];

const NAMES = ["a", "b", "w", "vm0", "m", "fd0", "host"];
const POOLS: Record<string, string[]> = {
  duration: ["0ns", "1ms", "2ms", "250us", "1.5ms", "5ms", "100ns", "4ms", "10ms"],
  cpulist: ["0", "1", "0-3", "all", "0,2", "2-3", "0-7", "5"],
  percent: ["2%", "0%", "50%", "0.5%"],
  errno: ["EBUSY", "EINVAL", "ENOENT", "EOPNOTSUPP", "EACCES", "EXYZ"],
  hex: ["0x3c", "0xc4", "0x0", "0xffffffffffffffff"],
  config: ["0x3c", "0", "18446744073709551615", "0x10002"],
  events: [
    "cycles",
    "instructions:u",
    "cycles,instructions",
    "{cycles,instructions}",
    "branches,branch-misses",
    "r01c4",
    "cycles:H",
    "cycles:k",
    "uncore_imc_0/clockticks/",
    "armv8_cortex_a53/cycles/",
    "task-clock",
    "cache-misses",
    "L1-dcache-loads",
    "bogus",
    "cpu/event=0x3c/",
  ],
  machine: [...Object.keys(PRESETS), "nope"],
  workload: ["compute", "memory", "branchy", "syscall", "a", "nope"],
  name: NAMES,
  quantity: ["cycles", "instructions", "branches", "stall-frontend", "nope"],
  pmu: ["cpu", "software", "armv8_cortex_a53", "uncore_imc_0", "cpu_core", "cpu_atom"],
  field: ["exits", "exits.msr", "exits.tick", "entries", "guest_time", "host_time", "created"],
  string: ["", "x", "a b", "cycles", "ok", "ünï"],
};

/** Which pool a string field draws from, by its JSON Schema pattern or key. */
function poolFor(node: Record<string, unknown>, key: string): string[] {
  const p = typeof node.pattern === "string" ? node.pattern : "";
  if (p.includes("ms|s")) return POOLS.duration!;
  if (p.includes("all|")) return POOLS.cpulist!;
  if (p.includes("%")) return POOLS.percent!;
  if (p.includes("E[A-Z0-9]")) return POOLS.errno!;
  if (p.includes("exits")) return POOLS.field!;
  if (p.includes("0x") && p.includes("\\d{1,20}")) return POOLS.config!;
  if (p.includes("0x")) return POOLS.hex!;
  if (key === "events" || key === "event") return POOLS.events!;
  if (key === "machine" || key === "preset") return POOLS.machine!;
  if (key === "workload" || key === "base") return POOLS.workload!;
  if (key === "type") return POOLS.pmu!;
  if (["probe_order", "core_type"].includes(key)) return ["big", "little", "cortex-a53", "p"];
  if (key === "label" || key === "description") return POOLS.string!;
  if (["cpus", "affinity"].includes(key)) return POOLS.cpulist!;
  if (["task", "vm", "fd", "group", "measurement", "name"].includes(key)) return NAMES;
  if (key === "expected_findings") return ["exclude-guest-in-guest", "counter-owner", "nope"];
  return [...NAMES, ...POOLS.string!, ...POOLS.quantity!];
}

// ---------------------------------------------------------------------------------------
// Generators of documents from the live JSON Schema.

type JsonSchema = Record<string, unknown>;
const SCHEMA = scenarioJsonSchema() as JsonSchema;

/** Every property name anywhere in the schema. */
function schemaKeys(n: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(n)) for (const x of n) schemaKeys(x, out);
  else if (n && typeof n === "object") {
    const o = n as JsonSchema;
    if (o.properties && typeof o.properties === "object")
      for (const k of Object.keys(o.properties)) out.add(k);
    for (const v of Object.values(o)) schemaKeys(v, out);
  }
  return out;
}
const KEYS = [...schemaKeys(SCHEMA)].sort();

const nastyValue = fc.constantFrom(...NASTY_VALUES);

/**
 * Values shaped by the schema (well-typed, with names drawn from small shared pools so
 * cross-references resolve), with a hostile value in about one field in `1 + 1 / hostile`.
 */
function fromSchema(node: JsonSchema, key: string, hostile: number): fc.Arbitrary<unknown> {
  const shaped = shapedFromSchema(node, key, hostile);
  if (hostile === 0) return shaped;
  return fc.oneof({ weight: hostile, arbitrary: shaped }, { weight: 1, arbitrary: nastyValue });
}

function shapedFromSchema(node: JsonSchema, key: string, hostile: number): fc.Arbitrary<unknown> {
  const alts = (node.anyOf ?? node.oneOf) as JsonSchema[] | undefined;
  if (alts) return fc.oneof(...alts.map((a) => shapedFromSchema(a, key, hostile)));
  if ("const" in node) return fc.constant(node.const);
  if (Array.isArray(node.enum)) return fc.constantFrom(...(node.enum as unknown[]));
  const type = Array.isArray(node.type) ? node.type[0] : node.type;
  switch (type) {
    case "string":
      return fc.constantFrom(...poolFor(node, key));
    case "integer":
    case "number": {
      const min = typeof node.minimum === "number" ? node.minimum : -3;
      const max = typeof node.maximum === "number" ? node.maximum : 1e6;
      const small = fc.integer({ min: Math.max(min, -3), max: Math.min(max, Math.max(min, 8)) });
      const edge = fc.constantFrom(min, Math.min(max, 2 ** 32), max);
      const ints = fc.oneof({ weight: 6, arbitrary: small }, { weight: 1, arbitrary: edge });
      if (type === "integer") return ints;
      return fc.oneof(
        ints,
        fc.double({ min: Math.max(min, -10), max: Math.min(max, 10), noNaN: true }),
      );
    }
    case "boolean":
      return fc.boolean();
    case "array": {
      const items = (node.items ?? {}) as JsonSchema;
      return fc.array(fromSchema(items, key, hostile), {
        minLength: typeof node.minItems === "number" ? node.minItems : 0,
        maxLength: 3,
      });
    }
    case "object": {
      const props = (node.properties ?? {}) as Record<string, JsonSchema>;
      const extra = node.additionalProperties;
      if (Object.keys(props).length === 0 && extra && typeof extra === "object") {
        return fc.dictionary(
          fc.constantFrom(...POOLS.name!, ...POOLS.pmu!, "big", "little"),
          fromSchema(extra as JsonSchema, key, hostile),
          { maxKeys: 2 },
        );
      }
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = fromSchema(v, k, hostile);
      return fc.record(model, { requiredKeys: (node.required as string[] | undefined) ?? [] });
    }
    default:
      return fc.oneof(nastyValue, fc.constantFrom(...POOLS.string!));
  }
}

/**
 * Whole documents: a name, a preset machine most of the time, a short duration and up to
 * three other sections (more rarely make it past the cross-checks).
 */
function documentArb(hostile: number): fc.Arbitrary<Record<string, unknown>> {
  const props = SCHEMA.properties as Record<string, JsonSchema>;
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, v] of Object.entries(props)) model[k] = fromSchema(v, k, hostile);
  model.name = fc.constantFrom("fuzz", "x");
  model.machine = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...Object.keys(PRESETS)) },
    { weight: 1, arbitrary: model.machine! },
  );
  model.duration = fc.constantFrom(...POOLS.duration!, 1_000_000);
  const optional = Object.keys(model).filter((k) => !["name", "machine", "duration"].includes(k));
  return fc.subarray(optional, { maxLength: 3 }).chain((keys) => {
    const picked: Record<string, fc.Arbitrary<unknown>> = {
      name: model.name!,
      machine: model.machine!,
      duration: model.duration!,
    };
    for (const k of keys) picked[k] = model[k]!;
    return fc.record(picked);
  });
}

/** Serialises a document as block YAML, flow YAML or JSON. */
const schemaDocArb = fc
  .tuple(
    fc.oneof(documentArb(0), documentArb(40), documentArb(10)),
    fc.constantFrom("block", "flow", "json"),
  )
  .map(([doc, how]) =>
    how === "json"
      ? JSON.stringify(doc, null, 2)
      : toYaml(doc, how === "flow" ? { collectionStyle: "flow" } : {}),
  );

/** Line-based YAML-ish text: real schema keys at random indents with hostile values. */
const yamlishArb = fc
  .array(
    fc.record({
      indent: fc.integer({ min: 0, max: 6 }),
      dash: fc.boolean(),
      key: fc.constantFrom(...KEYS),
      value: fc.option(
        fc.oneof(
          fc.constantFrom(...NASTY_YAML.filter((v) => v !== `"${LONG}"`)),
          fc.constantFrom(...Object.values(POOLS).flat()),
        ),
        { nil: undefined },
      ),
    }),
    { maxLength: 20 },
  )
  .map((ls) =>
    ls
      .map(
        (l) =>
          `${" ".repeat(l.indent)}${l.dash ? "- " : ""}${l.key}:${l.value === undefined ? "" : ` ${l.value}`}`,
      )
      .join("\n"),
  );

// ---------------------------------------------------------------------------------------
// Mutations of the examples.

type Mutation =
  | { k: "delete"; i: number }
  | { k: "duplicate"; i: number }
  | { k: "swap"; i: number; j: number }
  | { k: "scalar"; i: number; slot: number; tok: string }
  | { k: "indent"; i: number; d: number }
  | { k: "truncate"; at: number }
  | { k: "tab"; i: number; col: number }
  | { k: "typo"; i: number; slot: number; how: number; pos: number }
  | { k: "insert"; i: number; key: string; tok: string };

const tokenArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_YAML) },
  { weight: 1, arbitrary: fc.constantFrom(...Object.values(POOLS).flat()) },
);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant("delete" as const), i: fc.nat() }),
  fc.record({ k: fc.constant("duplicate" as const), i: fc.nat() }),
  fc.record({ k: fc.constant("swap" as const), i: fc.nat(), j: fc.nat() }),
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("scalar" as const),
      i: fc.nat(),
      slot: fc.nat(),
      tok: tokenArb,
    }),
  },
  fc.record({ k: fc.constant("indent" as const), i: fc.nat(), d: fc.integer({ min: -4, max: 4 }) }),
  fc.record({ k: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ k: fc.constant("tab" as const), i: fc.nat(), col: fc.nat() }),
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("typo" as const),
      i: fc.nat(),
      slot: fc.nat(),
      how: fc.nat({ max: 4 }),
      pos: fc.nat(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("insert" as const),
      i: fc.nat(),
      key: fc.constantFrom(...KEYS),
      tok: tokenArb,
    }),
  },
);

/** Value slots of a line: after `key: `, and a whole `- item`. */
function valueSlots(line: string): Array<[number, number]> {
  if (/^\s*#/.test(line)) return [];
  const out: Array<[number, number]> = [];
  for (const m of line.matchAll(/:[ \t]+([^,{}[\]#\s][^,{}[\]#]*?)(?=[ \t]*(?:[,}\]]|$|#))/g)) {
    const start = m.index + m[0].length - m[1]!.length;
    out.push([start, start + m[1]!.length]);
  }
  const item = /^(\s*-\s+)([^{[:#\s][^:#]*)$/.exec(line);
  if (item) out.push([item[1]!.length, line.length]);
  return out;
}

/** Key slots of a line: identifiers followed by a colon. */
function keySlots(line: string): Array<[number, number]> {
  if (/^\s*#/.test(line)) return [];
  return [...line.matchAll(/([A-Za-z_][\w-]*)(?=:(?:\s|$))/g)].map(
    (m) => [m.index, m.index + m[0].length] as [number, number],
  );
}

function typo(key: string, how: number, pos: number): string {
  const p = pos % key.length;
  switch (how) {
    case 0:
      return key.slice(0, p) + key.slice(p + 1); // drop a letter
    case 1:
      return key.slice(0, p) + key[p] + key.slice(p); // double a letter
    case 2:
      return p + 1 < key.length
        ? key.slice(0, p) + key[p + 1] + key[p] + key.slice(p + 2)
        : `${key}s`;
    case 3:
      return key.toUpperCase();
    default:
      return key.slice(0, p) + "x" + key.slice(p + 1);
  }
}

function applyMutation(text: string, m: Mutation): string {
  if (m.k === "truncate") return text.slice(0, m.at % (text.length + 1));
  const lines = text.split("\n");
  const i = m.i % lines.length;
  const line = lines[i]!;
  switch (m.k) {
    case "delete":
      lines.splice(i, 1);
      break;
    case "duplicate":
      lines.splice(i, 0, line);
      break;
    case "swap": {
      const j = m.j % lines.length;
      lines[i] = lines[j]!;
      lines[j] = line;
      break;
    }
    case "scalar": {
      const slots = valueSlots(line);
      if (slots.length === 0) break;
      const [a, b] = slots[m.slot % slots.length]!;
      lines[i] = line.slice(0, a) + m.tok + line.slice(b);
      break;
    }
    case "indent":
      lines[i] = m.d >= 0 ? " ".repeat(m.d) + line : line.replace(new RegExp(`^ {0,${-m.d}}`), "");
      break;
    case "tab": {
      const c = m.col % (line.length + 1);
      lines[i] = `${line.slice(0, c)}\t${line.slice(c)}`;
      break;
    }
    case "typo": {
      const slots = keySlots(line);
      if (slots.length === 0) break;
      const [a, b] = slots[m.slot % slots.length]!;
      lines[i] = line.slice(0, a) + typo(line.slice(a, b), m.how, m.pos) + line.slice(b);
      break;
    }
    case "insert": {
      const indent = /^\s*(?:-\s+)?/.exec(line)![0].replace("-", " ");
      lines.splice(i, 0, `${indent}${m.key}: ${m.tok}`);
      break;
    }
  }
  return lines.join("\n");
}

const examplesDir = join(root, "examples");
const EXAMPLES = readdirSync(examplesDir)
  .filter((f) => /\.(ya?ml|json)$/.test(f))
  .sort()
  .map((f) => {
    const text = readFileSync(join(examplesDir, f), "utf8");
    const r = parseScenario(text, f);
    // A mutation may delete the expected_findings line: the example's own stay allowed.
    const allowed = new Set(r.ok ? r.scenario.expectedFindings : []);
    return { file: f, text, allowed };
  });

// ---------------------------------------------------------------------------------------

describe("scenario fuzzing", () => {
  it("has examples to mutate", () => {
    expect(EXAMPLES.length).toBeGreaterThan(0);
    for (const ex of EXAMPLES) expect(parseScenario(ex.text, ex.file).ok, ex.file).toBe(true);
  });

  it("random text never throws and bad text gets located diagnostics", () => {
    const textArb = fc.oneof(
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.string({ unit: "grapheme", maxLength: 300 }),
      fc.string({ unit: "binary-ascii", maxLength: 300 }),
      fc
        .array(fc.constantFrom(..."{}[]:,-?|>&!%@`'\"#\n\t \\"), { maxLength: 60 })
        .map((a) => a.join("")),
    );
    fc.assert(
      fc.property(textArb, (text) => {
        checkText(text);
      }),
      { numRuns: runs(1000), seed: seed(1) },
    );
  });

  it("random JSON values never throw and get located diagnostics", () => {
    const jsonArb = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v, null, 2)),
      fc
        .dictionary(fc.constantFrom(...KEYS), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 })
        .map((o) => JSON.stringify({ name: "j", machine: "rk3399", ...o }, null, 1)),
    );
    fc.assert(
      fc.property(jsonArb, (text) => {
        checkText(text);
      }),
      { numRuns: runs(800), seed: seed(2) },
    );
  });

  it("YAML-ish lines of schema keys never throw and get located diagnostics", () => {
    fc.assert(
      fc.property(yamlishArb, (text) => {
        checkText(text);
      }),
      { numRuns: runs(800), seed: seed(3) },
    );
  });

  it("schema-shaped documents with hostile values load or fail cleanly, and loaded ones run", () => {
    let loaded = 0;
    fc.assert(
      fc.property(schemaDocArb, (text) => {
        if (checkText(text)) loaded++;
      }),
      { numRuns: runs(800), seed: seed(4) },
    );
    // The generator is meant to get past the validator now and then.
    expect(loaded).toBeGreaterThan(0);
  });

  it("mutated examples load or fail cleanly, and loaded ones run without unexpected findings", () => {
    let loaded = 0;
    // The counterexample shows the example, the mutations and the mutated text.
    const mutatedArb = fc
      .tuple(fc.constantFrom(...EXAMPLES), fc.array(mutationArb, { minLength: 1, maxLength: 4 }))
      .map(([ex, muts]) => ({
        file: ex.file,
        muts,
        text: muts.reduce(applyMutation, ex.text),
        allowed: ex.allowed,
      }));
    fc.assert(
      fc.property(mutatedArb, ({ text, allowed }) => {
        if (checkText(text, allowed)) loaded++;
      }),
      { numRuns: runs(600), seed: seed(5) },
    );
    expect(loaded).toBeGreaterThan(0);
  });
});

describe("scenario fuzzing through the CLI", () => {
  const bin = join(root, "dist", "bin", "vpmu.js");
  const dir = mkdtempSync(join(tmpdir(), "vpmu-fuzz-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Deterministic bad files: each fuzzer's first few outputs that do not load. */
  function badSamples(arb: fc.Arbitrary<string>, n: number, s: number): string[] {
    const bad: string[] = [];
    for (const t of fc.sample(arb, { numRuns: 200, seed: s })) {
      if (!parseScenario(t, FILE).ok) bad.push(t);
      if (bad.length === n) break;
    }
    return bad;
  }
  const mutated = fc
    .tuple(fc.constantFrom(...EXAMPLES), fc.array(mutationArb, { minLength: 2, maxLength: 5 }))
    .map(([ex, muts]) => muts.reduce(applyMutation, ex.text));
  const cases: Array<[string, () => string]> = [
    ["garbage.yaml", () => badSamples(fc.string({ unit: "binary", minLength: 20 }), 1, 11)[0]!],
    ["yamlish.yaml", () => badSamples(yamlishArb, 1, 12)[0]!],
    ["mutated.yaml", () => badSamples(mutated, 1, 13)[0]!],
    ["mutated2.yaml", () => badSamples(mutated, 2, 14)[1]!],
    [
      "doc.json",
      () =>
        badSamples(
          schemaDocArb.filter((t) => t.startsWith("{")),
          1,
          15,
        )[0]!,
    ],
  ];

  it.each(cases)("%s: exit 2, one file:line:col line per problem, no stack trace", (name, gen) => {
    const text = gen();
    const f = join(dir, name);
    writeFileSync(f, text);
    const r = spawnSync(process.execPath, [bin, "run", f], { cwd: root, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(2);
    const esc = f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    const want = parseScenario(text, f);
    expect(want.ok).toBe(false);
    expect(lines.length).toBe(want.ok ? 0 : want.diagnostics.length);
    for (const l of lines) expect(l).toMatch(new RegExp(`^${esc}:\\d+:\\d+: `));
    expect(r.stderr).not.toContain("    at ");
    expect(r.stdout).not.toContain("    at ");
    expect(r.stdout).toBe("");
  });
});
