import { GUEST_AMD_EVENTS, GUEST_ARCH_EVENTS, type GuestEvent } from "../../guest/perf-stat.js";
import type { CounterResult } from "../../report/result.js";

/** A guest measurement's events with their encodings, without those perf cannot open. */
export function guestEvents(
  events: readonly string[],
  amd: boolean,
  unsupported: readonly string[],
): GuestEvent[] {
  const names = amd ? GUEST_AMD_EVENTS : GUEST_ARCH_EVENTS;
  return events
    .filter((e) => !unsupported.includes(e))
    .map((e) => ({ name: e, encoding: names[e] ?? Number.parseInt(e.slice(1), 16) }));
}

/**
 * The counters of a guest measurement in the order of its events, with `<not supported>`
 * where perf_event_open() failed (ENOENT): such an event takes no counter and has no count.
 */
export function inEventOrder<C extends CounterResult>(
  events: readonly string[],
  unsupported: readonly string[],
  counted: C[],
): Array<C | CounterResult> {
  let k = 0;
  return events.map((event) =>
    unsupported.includes(event)
      ? {
          event,
          count: 0,
          enabled_ns: 0,
          running_ns: 0,
          scaled: null,
          status: "not supported",
          truth: 0,
          state: "not supported",
        }
      : counted[k++]!,
  );
}
