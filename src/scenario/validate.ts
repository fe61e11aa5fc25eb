import type { z } from "zod";
import { type Diagnostic, formatPath } from "./diagnostics.js";
import { type ScenarioFile, ScenarioSchema } from "./schema.js";
import type { ScenarioSource } from "./source.js";
import { suggest } from "./suggest.js";

export type Issue = z.core.$ZodIssue;
export type AnySchema = z.core.$ZodType;

/** Where values of a document are and what they hold: a ScenarioSource, or a variant's view. */
export interface Locator {
  readonly file: string;
  readonly data: unknown;
  position(path: ReadonlyArray<PropertyKey>, keyOf?: boolean): { line: number; col: number };
  keyPosition(path: ReadonlyArray<PropertyKey>, key: string): { line: number; col: number };
}

/**
 * Validates parsed scenario data against the schema. Returns the typed file or one
 * diagnostic per problem, each at the line and column of the offending field.
 */
export function validateScenario(
  src: ScenarioSource,
): { ok: true; file: ScenarioFile } | { ok: false; diagnostics: Diagnostic[] } {
  if (src.syntaxErrors.length > 0) return { ok: false, diagnostics: src.syntaxErrors };
  if (
    src.data === null ||
    src.data === undefined ||
    typeof src.data !== "object" ||
    Array.isArray(src.data)
  ) {
    const pos = src.position([]);
    return {
      ok: false,
      diagnostics: [
        {
          file: src.file,
          ...pos,
          path: "",
          message: "the file is not a mapping",
          expected: "a scenario with at least name and machine",
        },
      ],
    };
  }
  const r = ScenarioSchema.safeParse(src.data);
  if (r.success) return { ok: true, file: r.data };
  return { ok: false, diagnostics: schemaDiagnostics(src, r.error.issues) };
}

/**
 * One diagnostic per schema issue, in file order, located through `loc`; `schema` is the
 * document's (for the keys an "unknown key" message offers).
 */
export function schemaDiagnostics(
  loc: Locator,
  issues: readonly Issue[],
  schema: AnySchema = ScenarioSchema,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const issue of issues) out.push(...issueToDiagnostics(loc, issue, schema));
  out.sort((a, b) => a.line - b.line || a.col - b.col);
  return dedupe(out);
}

/** Friendly descriptions of the schema's string patterns (matched on a fragment of the regex). */
const FORMAT_HINTS: Array<[string, string]> = [
  ["(ns|us|µs|ms|s)", "a duration such as 250ms, 1.5s, 100us or an integer number of ns"],
  ["(all|", 'a CPU list such as "0-3,6", a CPU number, or "all"'],
  ["%", 'a percentage such as "2%"'],
  ["E[A-Z0-9]", "an errno name such as EBUSY"],
  ["[A-Za-z_][\\w.-]", "a name of letters, digits, _ . - starting with a letter"],
];

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const k = `${d.line}:${d.col}:${d.path}:${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function article(t: string): string {
  if (t === "object") return "a mapping";
  if (t === "array") return "a list";
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `"${v}"`;
  return String(v);
}

function valueAt(data: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = data;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** What every diagnostic of one issue starts from: where it is and the value found there. */
interface IssueAt {
  src: Locator;
  path: PropertyKey[];
  base: { file: string; path: string };
  actual: unknown;
  schema: AnySchema;
}

/** A diagnostic at the issue's own path. */
function at(i: IssueAt, message: string, expected?: string, keyOf = false): Diagnostic {
  return {
    ...i.base,
    ...i.src.position(i.path, keyOf),
    message,
    ...(expected !== undefined ? { expected } : {}),
  };
}

function issueToDiagnostics(src: Locator, issue: Issue, schema: AnySchema): Diagnostic[] {
  const path = issue.path as PropertyKey[];
  const i: IssueAt = {
    schema,
    src,
    path,
    base: { file: src.file, path: formatPath(path) },
    actual: valueAt(src.data, path),
  };
  switch (issue.code) {
    case "unrecognized_keys":
      return unknownKeys(i, issue.keys);
    case "invalid_type":
      return [
        at(
          i,
          i.actual === undefined ? "missing required field" : `wrong type: ${describe(i.actual)}`,
          article(issue.expected),
        ),
      ];
    case "invalid_value": {
      const oneOf = `one of: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
      const what =
        i.actual === undefined ? "missing required field" : `${describe(i.actual)} is not allowed`;
      return [at(i, what, oneOf)];
    }
    case "invalid_union":
      return unionIssue(i, issue);
    case "too_small":
    case "too_big":
      return [outOfBounds(i, issue)];
    case "invalid_format":
      return [at(i, `${describe(i.actual)} has the wrong format`, formatHint(issue))];
    case "invalid_key":
      return [invalidKey(i, issue)];
    default:
      return [at(i, issue.message)];
  }
}

function unknownKeys(i: IssueAt, keys: string[]): Diagnostic[] {
  const allowed = allowedKeys(i.schema, i.path, i.src.data);
  return keys.map((k) => ({
    ...i.base,
    ...i.src.keyPosition(i.path, k),
    path: formatPath([...i.path, k]),
    message: `unknown key "${k}"${suggest(k, allowed)}`,
    expected: allowed.length ? `one of: ${allowed.join(", ")}` : "no extra keys",
  }));
}

/** A union: the issues of the one branch whose shape the value has, if there is one. */
function unionIssue(i: IssueAt, issue: Extract<Issue, { code: "invalid_union" }>): Diagnostic[] {
  if (i.actual === undefined) return [at(i, "missing required field", issue.message)];
  const typed = issue.errors.filter(
    (errs) =>
      errs.length > 0 && !errs.some((e) => e.path.length === 0 && e.code === "invalid_type"),
  );
  const best = typed.length > 0 ? typed.reduce((a, b) => (b.length < a.length ? b : a)) : undefined;
  const unique = best && typed.filter((e) => e.length === best.length).length === 1;
  const onlyUnknownKeys =
    typeof i.actual === "object" &&
    best?.some((e) => e.code === "unrecognized_keys" && e.path.length === 0) &&
    typed.length > 1;
  if (best && unique && !onlyUnknownKeys) {
    return best.flatMap((e) =>
      issueToDiagnostics(i.src, { ...e, path: [...i.path, ...e.path] } as Issue, i.schema),
    );
  }
  return [at(i, `invalid value ${describe(i.actual)}`, issue.message)];
}

function outOfBounds(
  i: IssueAt,
  issue: Extract<Issue, { code: "too_small" } | { code: "too_big" }>,
): Diagnostic {
  const small = issue.code === "too_small";
  const bound = String(small ? issue.minimum : issue.maximum);
  const what = issue.origin === "array" ? "items" : issue.origin === "string" ? "characters" : "";
  const shown =
    issue.origin === "array" && Array.isArray(i.actual)
      ? `a list of ${i.actual.length} items`
      : describe(i.actual);
  return at(
    i,
    `${shown} is too ${small ? "small" : "large"}`,
    `${small ? "at least" : "at most"} ${bound}${what ? ` ${what}` : ""}`,
  );
}

function formatHint(issue: Extract<Issue, { code: "invalid_format" }>): string {
  return (
    FORMAT_HINTS.find(([re]) => "pattern" in issue && issue.pattern?.includes(re))?.[1] ??
    issue.message
  );
}

function invalidKey(i: IssueAt, issue: Extract<Issue, { code: "invalid_key" }>): Diagnostic {
  const expected = issue.issues
    .map((e) =>
      e.code === "too_small" || e.code === "too_big"
        ? `${e.code === "too_small" ? "at least" : "at most"} ${String(e.code === "too_small" ? e.minimum : e.maximum)} characters`
        : e.message,
    )
    .join("; ");
  const key = describe(String(i.path[i.path.length - 1] ?? ""));
  return at(i, `key ${key} is not allowed`, expected, true);
}

/** Keys the schema allows at `path` (for "unknown key" messages). */
export function allowedKeys(
  schema: AnySchema,
  path: ReadonlyArray<PropertyKey>,
  data: unknown,
): string[] {
  let nodes: AnySchema[] = [schema];
  let value: unknown = data;
  for (const p of path) {
    const next: AnySchema[] = [];
    for (const n of nodes.flatMap((s) => unwrap(s, value))) {
      const def = n._zod.def as unknown as Record<string, unknown>;
      if (def.type === "object") {
        const shape = def.shape as Record<string, AnySchema>;
        if (shape[String(p)]) next.push(shape[String(p)]!);
      } else if (def.type === "array") next.push(def.element as AnySchema);
      else if (def.type === "record") next.push(def.valueType as AnySchema);
    }
    nodes = next;
    value =
      value !== null && typeof value === "object"
        ? (value as Record<PropertyKey, unknown>)[p]
        : undefined;
  }
  const keys = new Set<string>();
  for (const n of nodes.flatMap((s) => unwrap(s, value))) {
    const def = n._zod.def as unknown as Record<string, unknown>;
    if (def.type === "object") for (const k of Object.keys(def.shape as object)) keys.add(k);
  }
  return [...keys];
}

/** Strips optional wrappers and picks union members (the matching discriminant when there is one). */
export function unwrap(s: AnySchema, value: unknown): AnySchema[] {
  const def = s._zod.def as unknown as Record<string, unknown>;
  if (def.type === "lazy") return unwrap((def.getter as () => AnySchema)(), value);
  if (def.type === "optional" || def.type === "nullable" || def.type === "default") {
    return unwrap(def.innerType as AnySchema, value);
  }
  if (def.type === "union") {
    const opts = (def.options as AnySchema[]).flatMap((o) => unwrap(o, value));
    const disc = def.discriminator as string | undefined;
    if (disc && value && typeof value === "object") {
      const want = (value as Record<string, unknown>)[disc];
      const match = opts.filter((o) => {
        const shape = (o._zod.def as unknown as { shape?: Record<string, AnySchema> }).shape;
        const lit = shape?.[disc]?._zod.def as unknown as { values?: unknown[] } | undefined;
        return lit?.values?.includes(want);
      });
      if (match.length) return match;
    }
    return opts;
  }
  return [s];
}

export { closest, suggest } from "./suggest.js";
