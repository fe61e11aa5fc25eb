import {
  ArgumentError,
  checkInt,
  checkNat,
  checkObject,
  checkString,
  checkTime,
} from "../sim/argument.js";

/**
 * The arguments of the guest perf tools (GuestPerfStat, GuestPerfRecord, ArmGuestPerfStat),
 * checked where they enter: they are model input (what the guest's perf was asked for).
 */

/** A list of x86 guest events: { name, encoding } (the event select's event and umask bits). */
export function checkGuestEvents(
  call: string,
  v: unknown,
): Array<{ name: string; encoding: number }> {
  if (!Array.isArray(v)) throw new ArgumentError(`${call}(events)`, "an array of events", v);
  return v.map((e, i) => {
    const o = checkObject(`${call}(events[${i}])`, e);
    checkString(`${call}(events[${i}].name)`, o.name);
    checkNat(`${call}(events[${i}].encoding)`, o.encoding);
    return e as { name: string; encoding: number };
  });
}

/** A list of arm64 guest event names (perf names or rNNNN). */
export function checkGuestEventNames(call: string, v: unknown): string[] {
  if (!Array.isArray(v)) throw new ArgumentError(`${call}(events)`, "an array of event names", v);
  return v.map((e, i) => checkString(`${call}(events[${i}])`, e));
}

/** The guest's multiplexing interval (ns, at least 1). */
export function checkMuxInterval(call: string, v: unknown): number {
  return checkInt(`${call}(muxIntervalNs)`, v, 1, Number.MAX_SAFE_INTEGER);
}

/** A time argument of a guest tool: not before the clock. */
export function checkGuestNow(call: string, v: unknown, now: number): number {
  return checkTime(`${call}(now)`, v, now);
}
