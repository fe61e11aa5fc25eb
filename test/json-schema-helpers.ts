/**
 * A JSON Schema checker for the keywords vpmu's generated schemas use (draft 2020-12, no
 * $ref). A keyword it does not know is an error, so a schema that grows one fails the tests
 * rather than passing unchecked. Returns each violation as `pointer: keyword`.
 */
type Schema = Record<string, unknown>;

/** Keywords that only describe: they never reject a value. */
const ANNOTATIONS = new Set(["$schema", "title", "description", "examples", "default"]);

function typeOk(t: string, v: unknown): boolean {
  switch (t) {
    case "object":
      return v !== null && typeof v === "object" && !Array.isArray(v);
    case "array":
      return Array.isArray(v);
    case "string":
      return typeof v === "string";
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "integer":
      return Number.isInteger(v);
    case "boolean":
      return typeof v === "boolean";
    case "null":
      return v === null;
    default:
      throw new Error(`unknown type ${t}`);
  }
}

function objectKeywords(s: Schema, v: Record<string, unknown>, at: string, out: string[]): void {
  const props = (s.properties ?? {}) as Record<string, Schema>;
  for (const k of (s.required ?? []) as string[]) if (!(k in v)) out.push(`${at}/${k}: required`);
  for (const [k, x] of Object.entries(v)) {
    if (s.propertyNames) check(s.propertyNames as Schema, k, `${at}/${k}`, out, "propertyNames");
    if (k in props) check(props[k]!, x, `${at}/${k}`, out);
    else if (s.additionalProperties === false) out.push(`${at}/${k}: additionalProperties`);
    else if (typeof s.additionalProperties === "object")
      check(s.additionalProperties as Schema, x, `${at}/${k}`, out);
  }
}

function arrayKeywords(s: Schema, v: unknown[], at: string, out: string[]): void {
  if (typeof s.minItems === "number" && v.length < s.minItems) out.push(`${at}: minItems`);
  if (typeof s.maxItems === "number" && v.length > s.maxItems) out.push(`${at}: maxItems`);
  if (s.items) for (const [i, x] of v.entries()) check(s.items as Schema, x, `${at}/${i}`, out);
}

function stringKeywords(s: Schema, v: string, at: string, out: string[]): void {
  const n = [...v].length;
  if (typeof s.minLength === "number" && n < s.minLength) out.push(`${at}: minLength`);
  if (typeof s.maxLength === "number" && n > s.maxLength) out.push(`${at}: maxLength`);
  if (typeof s.pattern === "string" && !new RegExp(s.pattern, "u").test(v))
    out.push(`${at}: pattern`);
}

function numberKeywords(s: Schema, v: number, at: string, out: string[]): void {
  if (typeof s.minimum === "number" && v < s.minimum) out.push(`${at}: minimum`);
  if (typeof s.maximum === "number" && v > s.maximum) out.push(`${at}: maximum`);
  if (typeof s.exclusiveMinimum === "number" && v <= s.exclusiveMinimum)
    out.push(`${at}: exclusiveMinimum`);
}

const KNOWN = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "items",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "enum",
  "const",
  "anyOf",
  "oneOf",
]);

function check(s: Schema, v: unknown, at: string, out: string[], what = ""): void {
  for (const k of Object.keys(s))
    if (!KNOWN.has(k) && !ANNOTATIONS.has(k)) throw new Error(`${at}: unsupported keyword ${k}`);
  const tag = what ? ` (${what})` : "";
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => typeOk(t, v))) {
      out.push(`${at}: type${tag}`);
      return;
    }
  }
  if (s.enum && !(s.enum as unknown[]).some((e) => e === v)) out.push(`${at}: enum${tag}`);
  if ("const" in s && s.const !== v) out.push(`${at}: const${tag}`);
  const branches = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (branches) {
    const fits = branches.filter((b) => validate(b, v).length === 0).length;
    if (s.anyOf ? fits === 0 : fits !== 1) {
      out.push(`${at}: ${s.anyOf ? "anyOf" : "oneOf"}${tag}`);
      // The one branch of the value's type says where inside it the value goes wrong.
      const typed = branches.filter(
        (b) => b.type !== undefined && validate({ type: b.type }, v).length === 0,
      );
      if (fits === 0 && typed.length === 1) check(typed[0]!, v, at, out, what);
    }
  }
  if (typeOk("object", v)) objectKeywords(s, v as Record<string, unknown>, at, out);
  else if (Array.isArray(v)) arrayKeywords(s, v, at, out);
  else if (typeof v === "string") stringKeywords(s, v, at, out);
  else if (typeof v === "number") numberKeywords(s, v, at, out);
}

/** The violations of `value` against `schema`, each `pointer: keyword`; empty when it fits. */
export function validate(schema: unknown, value: unknown): string[] {
  const out: string[] = [];
  check(schema as Schema, value, "", out);
  return out;
}
