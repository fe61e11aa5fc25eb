import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { formatDiagnostic } from "../src/scenario/diagnostics.js";
import { ScenarioSchema } from "../src/scenario/schema.js";
import { parseSweep } from "../src/scenario/sweep/load.js";
import { SweepSchema } from "../src/scenario/sweep/schema.js";
import { cliIt, root, vpmu } from "./cli-helpers.js";
import { validate } from "./json-schema-helpers.js";
import { SWEEP } from "./sweep-helpers.js";

const read = (...p: string[]) => readFileSync(join(root, ...p), "utf8");
const sweepSchema = JSON.parse(read("schema", "sweep.schema.json"));
const scenarioSchema = JSON.parse(read("schema", "scenario.schema.json"));
const noBase = () => ({ ok: false as const, message: "no such file" });

/** The loader's diagnostics of a sweep text, formatted as the CLI prints them. */
function loaderProblems(text: string): string[] {
  const r = parseSweep(text, "s.yaml", noBase);
  return r.ok ? [] : r.diagnostics.map(formatDiagnostic);
}

describe("vpmu schema --sweep", () => {
  cliIt("prints the committed schema/sweep.schema.json", () => {
    const r = vpmu("schema", "--sweep");
    expect(r.code).toBe(0);
    expect(r.out).toBe(read("schema", "sweep.schema.json"));
  });

  cliIt("refuses a bad flag or an argument in one line, exit 2", () => {
    for (const args of [
      ["schema", "--sweep", "--bogus"],
      ["schema", "--sweeps"],
      ["schema", "sweep"],
    ]) {
      const r = vpmu(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.out).toBe("");
      expect(r.err.split("\n")[0], args.join(" ")).toMatch(/^error: /);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it("is a strict object of the sweep's fields, its inline base the scenario schema itself", () => {
    expect(sweepSchema.title).toBe("vpmu sweep");
    expect(sweepSchema.additionalProperties).toBe(false);
    expect(sweepSchema.required).toEqual(["name", "base", "axes", "collect"]);
    expect(Object.keys(sweepSchema.properties)).toEqual(Object.keys(SweepSchema.shape));
    const [path, inline] = sweepSchema.properties.base.anyOf;
    expect(path).toEqual({ type: "string", minLength: 1 });
    const { $schema, title, ...scenario } = scenarioSchema;
    expect(title).toBe("vpmu scenario");
    expect(inline).toEqual(scenario);
  });
});

describe("examples/sweeps against the JSON Schema", () => {
  const dir = join(root, "examples", "sweeps");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  const docs = new Map(files.map((f) => [f, parse(read("examples", "sweeps", f))]));
  // A file that a sweep names as its base is a scenario; every other file is a sweep.
  const bases = new Set([...docs.values()].map((d) => d.base).filter((b) => typeof b === "string"));
  const sweeps = files.filter((f) => !bases.has(f));

  it("holds the sweeps and the scenario one of them names", () => {
    expect(sweeps).toEqual([
      "exit-switch-cost.yaml",
      "guest-accuracy.yaml",
      "rfc-error-onset.yaml",
    ]);
    expect([...bases]).toEqual(["guest-accuracy-base.yaml"]);
  });

  it.each(sweeps)("%s fits the sweep schema and loads", (f) => {
    expect(validate(sweepSchema, docs.get(f))).toEqual([]);
    const r = parseSweep(read("examples", "sweeps", f), join(dir, f), (p) => ({
      ok: true,
      text: read("examples", "sweeps", p),
      file: p,
    }));
    expect(r.ok ? [] : r.diagnostics.map(formatDiagnostic)).toEqual([]);
  });

  it("a base named by path fits the scenario schema", () => {
    for (const b of bases) expect(validate(scenarioSchema, docs.get(b)), b).toEqual([]);
  });
});

/** SWEEP with its line `from` replaced by `to` (which must be there once). */
function edited(from: string, to: string): string {
  expect(SWEEP.split(from)).toHaveLength(2);
  return SWEEP.replace(from, to);
}

describe("bad sweep files: refused by the loader, flagged by the schema where it can tell", () => {
  const cases: Array<[string, string, string, string]> = [
    // [what, file, the loader's diagnostic (part), the schema's violation]
    ["a misspelt key", `${SWEEP}seed: 2\n`, "s.yaml:31:1: seed:", "/seed: additionalProperties"],
    ["no collect", SWEEP.slice(0, SWEEP.indexOf("collect:")), "collect", "/collect: required"],
    ["seeds 0", `${SWEEP}seeds: 0\n`, "s.yaml:31:8: seeds:", "/seeds: minimum"],
    [
      "no axes",
      `${SWEEP.slice(0, SWEEP.indexOf("axes:"))}axes: []\n${SWEEP.slice(SWEEP.indexOf("collect:"))}`,
      "s.yaml:19:7: axes:",
      "/axes: minItems",
    ],
    [
      "an axis name that is not a name",
      edited("  - name: events\n", "  - name: 2events\n"),
      "axes[1].name",
      "/axes/1/name: pattern",
    ],
    [
      "a state perf has not",
      `${SWEEP}  - { name: s, in_state: { measurement: gstat, state: RUNNING } }\n`,
      "s.yaml:31:55: collect[3].in_state.state:",
      "/collect/3/in_state/state: enum",
    ],
    [
      "an inline base with an unknown field",
      edited("  duration: 10ms\n", "  duraton: 10ms\n"),
      "s.yaml:5:3: base.duraton:",
      "/base/duraton: additionalProperties",
    ],
    [
      "an inline base with a duration that is not one",
      edited("  duration: 10ms\n", "  duration: soon\n"),
      "s.yaml:5:13: base.duration:",
      "/base/duration: anyOf",
    ],
  ];

  it.each(cases)("%s", (_what, text, loader, schema) => {
    const got = loaderProblems(text);
    expect(got.length).toBeGreaterThan(0);
    expect(got.join("\n")).toContain(loader);
    expect(validate(sweepSchema, parse(text))).toContain(schema);
  });

  // Cross-references and the grid's rules: the loader's alone, as for scenario files.
  const loaderOnly: Array<[string, string, string]> = [
    [
      "an axis with values and a range",
      edited("    values: [", "    range: { from: 1, to: 2 }\n    values: ["),
      'axis "events" has more than one kind of values',
    ],
    [
      "a set path the base does not have",
      edited("vms.0.perf.0.events", "vms.3.perf.0.events"),
      "axes[1].path",
    ],
    ["two axes of one name", edited("  - name: events\n", "  - name: vpmu\n"), "declared twice"],
    ["an exclusion of no axis", `${SWEEP}exclude:\n  - { mode: emulated }\n`, 'no axis "mode"'],
  ];

  it.each(loaderOnly)("%s: the schema lets it through, the loader does not", (_w, text, loader) => {
    expect(validate(sweepSchema, parse(text))).toEqual([]);
    expect(loaderProblems(text).join("\n")).toContain(loader);
  });
});

describe("the JSON Schema and SweepSchema agree", () => {
  const good = parse(SWEEP) as Record<string, unknown>;
  /** Fields of the sweep, of its axes and collect entries, and of its inline base. */
  const PATHS: PropertyKey[][] = [
    ["seeds"],
    ["name"],
    ["description"],
    ["base"],
    ["base", "duration"],
    ["base", "seed"],
    ["axes"],
    ["axes", 0, "name"],
    ["axes", 1, "range"],
    ["axes", 1, "values"],
    ["axes", 0, "levels", 0, "value"],
    ["axes", 0, "levels", 0, "set"],
    ["collect", 0, "error", "stat"],
    ["collect", 1, "exits", "vcpu"],
    ["collect", 2],
    ["exclude"],
    ["bogus"],
  ];
  /** The format's bounds (0, 1, 16, 1000, 10_000, 2^32) either side, and values of each kind. */
  const SPECIAL: unknown[] = [
    ...[-1, 0, 1, 0.5, 15, 16, 17, 999, 1000, 1001, 9999, 10_000, 10_001, 2 ** 32 - 1, 2 ** 32],
    ...["", "x", "7.0", "a b", "2x", "ok_name", "ERROR", "RUNNING", "mean", "10ms", "soon"],
    ...[true, false, null, [], [1], ["a", true], {}, { a: 1 }],
  ];

  /** Sets `path` of a copy of the example sweep to `v`: both checks agree. True when it fits. */
  function agree(path: PropertyKey[], v: unknown): boolean {
    const doc = structuredClone(good);
    let o = doc as Record<PropertyKey, unknown>;
    for (const k of path.slice(0, -1)) o = o[k] as Record<PropertyKey, unknown>;
    o[path.at(-1)!] = v;
    // An inline base passes SweepSchema as any mapping; loadBase() then checks ScenarioSchema.
    const base = doc.base;
    const zodOk =
      SweepSchema.safeParse(doc).success &&
      (typeof base !== "object" || ScenarioSchema.safeParse(base).success);
    const label = `${path.join(".")} = ${JSON.stringify(v)}`;
    const fits = validate(sweepSchema, doc).length === 0;
    expect(fits, label).toBe(zodOk);
    return fits;
  }

  it("on the example sweep with one field set to each bound and kind of value", () => {
    let refused = 0;
    for (const path of PATHS)
      for (const v of SPECIAL) {
        if (!agree(path, v)) refused++;
      }
    // Most of these values are wrong somewhere: the check is not one that lets all through.
    expect(refused).toBeGreaterThan(PATHS.length * SPECIAL.length * 0.5);
  });

  it("on the example sweep with one field set to a random value", () => {
    const value = fc.oneof(
      fc.integer({ min: -3, max: 20_000 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ maxLength: 8 }),
      fc.constantFrom(...SPECIAL),
    );
    fc.assert(
      fc.property(fc.constantFrom(...PATHS), value, (path, v) => {
        agree(path, v);
      }),
      { numRuns: 500, seed: 7 },
    );
  });
});
