/**
 * Simulated time. All simulated time is an integer number of nanoseconds held in a
 * `number` (exact up to 2^53 ns, about 104 days). The brand keeps nanoseconds from being
 * mixed up with microseconds or milliseconds at compile time.
 */
export type Ns = number & { readonly __unit: "ns" };

/** Nanoseconds per microsecond, millisecond and second. */
export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_SEC = 1_000_000_000;

/** Brands an integer nanosecond value (truncating any fraction). */
export function ns(value: number): Ns {
  return Math.trunc(value) as Ns;
}

/** Milliseconds to nanoseconds. */
export function msToNs(ms: number): Ns {
  return Math.round(ms * NS_PER_MS) as Ns;
}

/** Microseconds to nanoseconds. */
export function usToNs(us: number): Ns {
  return Math.round(us * NS_PER_US) as Ns;
}

/** Nanoseconds to (fractional) milliseconds, for display. */
export function nsToMs(t: Ns | number): number {
  return t / NS_PER_MS;
}

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: NS_PER_US,
  µs: NS_PER_US,
  ms: NS_PER_MS,
  s: NS_PER_SEC,
};

/**
 * Parses a duration such as `250ms`, `1.5s`, `10us` or a bare number of nanoseconds.
 * Returns undefined when the text is not a duration.
 */
export function parseDuration(text: string | number): Ns | undefined {
  if (typeof text === "number") {
    return Number.isFinite(text) && text >= 0 && Number.isInteger(text) ? (text as Ns) : undefined;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)?\s*$/.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]) * UNIT_NS[m[2] ?? "ns"]!;
  if (!Number.isFinite(value)) return undefined;
  return Math.round(value) as Ns;
}

/** Formats nanoseconds with the largest unit that keeps it readable (`4ms`, `1.5s`). */
export function formatDuration(t: Ns | number): string {
  if (t !== 0 && t % NS_PER_SEC === 0) return `${t / NS_PER_SEC}s`;
  if (t !== 0 && t % NS_PER_MS === 0) return `${t / NS_PER_MS}ms`;
  if (t !== 0 && t % NS_PER_US === 0) return `${t / NS_PER_US}us`;
  return `${t}ns`;
}

/** Formats nanoseconds as seconds with 9 decimals, the way perf prints elapsed time. */
export function formatSeconds(t: Ns | number): string {
  const whole = Math.floor(t / NS_PER_SEC);
  const frac = String(t - whole * NS_PER_SEC).padStart(9, "0");
  return `${whole}.${frac}`;
}
