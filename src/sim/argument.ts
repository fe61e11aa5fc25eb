/**
 * Bad input to a model call: the options of a System, a spawn spec, a simulated time, a
 * credential, the options of a vCPU, a workload. vpmu checks such input where it enters
 * and throws an {@link ArgumentError} naming the argument, before anything changed, so no
 * bad value is ever accepted and then fails later. Kernel-shaped calls (perf_event_open,
 * ioctls, KVM ioctls, guest instructions) never throw it: they answer with an errno.
 */
export class ArgumentError extends Error {
  /** The call and argument, e.g. "System.spawn(spec.affinity)". */
  readonly argument: string;

  constructor(argument: string, expected: string, got: unknown) {
    super(`${argument}: expected ${expected}, got ${describe(got)}`);
    this.name = "ArgumentError";
    this.argument = argument;
  }
}

/** A short description of a bad value for a message. */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
    case "number":
      return String(v);
    case "bigint":
      return `${v}n (a bigint)`;
    case "boolean":
      return String(v);
    case "function":
      return "a function";
    default:
      return Array.isArray(v) ? `an array of ${v.length}` : "an object";
  }
}

/** A non-negative safe integer (a time in ns, a count). */
export function checkNat(arg: string, v: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > max)
    throw new ArgumentError(arg, `an integer from 0 to ${max}`, v);
  return v;
}

/** A simulated time (ns) not before `now`: a call cannot act in the past. */
export function checkTime(arg: string, v: unknown, now: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < now)
    throw new ArgumentError(arg, `a time in ns from now (${now}) on`, v);
  return v;
}

/** A safe integer in [min, max]. */
export function checkInt(arg: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max)
    throw new ArgumentError(arg, `an integer from ${min} to ${max}`, v);
  return v;
}

/** A finite number in [min, max]. */
export function checkNumber(arg: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max)
    throw new ArgumentError(arg, `a number from ${min} to ${max}`, v);
  return v;
}

/** A string. */
export function checkString(arg: string, v: unknown): string {
  if (typeof v !== "string") throw new ArgumentError(arg, "a string", v);
  return v;
}

/** A boolean. */
export function checkBool(arg: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw new ArgumentError(arg, "true or false", v);
  return v;
}

/** A function. */
export function checkFunction<F>(arg: string, v: unknown): F {
  if (typeof v !== "function") throw new ArgumentError(arg, "a function", v);
  return v as F;
}

/** A plain object (not null, not an array). */
export function checkObject(arg: string, v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new ArgumentError(arg, "an object", v);
  return v as Record<string, unknown>;
}

/** One of a fixed set of values. */
export function checkOneOf<T>(arg: string, v: unknown, values: readonly T[]): T {
  if (!values.includes(v as T))
    throw new ArgumentError(arg, `one of ${values.map((x) => JSON.stringify(x)).join(", ")}`, v);
  return v as T;
}

/** A non-empty iterable of CPU ids below `nrCpus`, as a new array (duplicates kept out). */
export function checkCpuList(arg: string, v: unknown, nrCpus: number): number[] {
  const expected = `a non-empty list of CPU ids from 0 to ${nrCpus - 1}`;
  if (v === null || typeof v !== "object" || !(Symbol.iterator in v))
    throw new ArgumentError(arg, expected, v);
  const out: number[] = [];
  let n = 0;
  for (const c of v as Iterable<unknown>) {
    if (++n > 65536) throw new ArgumentError(arg, expected, v);
    if (typeof c !== "number" || !Number.isInteger(c) || c < 0 || c >= nrCpus)
      throw new ArgumentError(`${arg}[${out.length}]`, `a CPU id from 0 to ${nrCpus - 1}`, c);
    if (!out.includes(c)) out.push(c);
  }
  if (out.length === 0) throw new ArgumentError(arg, expected, v);
  return out;
}
