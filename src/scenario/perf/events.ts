import type { MachineDesc } from "../../hw/machine.js";
import { PERF_PMU_CAP, type Pmu } from "../../perf/pmu.js";
import type { PmuRegistry } from "../../perf/registry.js";
import {
  isGenericHw,
  type ParsedEvent,
  parseEvent,
  parseEventList,
  SYMBOLIC_EVENTS,
} from "../../perf/tool/parse-events.js";
import { isX86Hybrid, pmuAliases, resolveEvent } from "../../perf/tool/resolve.js";
import { System } from "../../system.js";
import type { CompileContext, Path } from "../context.js";
import { closest } from "../suggest.js";
import { splitEvents } from "../values.js";

/**
 * Event lists checked at load time the way perf stat parses them on the scenario's machine
 * (parse-events, then the PMU and its terms), so a typo is an input error with a
 * did-you-mean instead of a measurement that fails at run time. What perf accepts here
 * still reaches the model, where the kernel may refuse it at open (`<not supported>`).
 */

/** A problem with one event list item: the part to point at, and what is wrong. */
export interface EventProblem {
  /** The text inside the item the problem is about (an event, a PMU or a term name). */
  at: string;
  message: string;
  expected?: string;
}

const MODIFIERS = "modifiers u, k, h, G, H, p, D, e, S, I";
const AN_EVENT = "an event such as cycles, instructions:u, r003c, pmu/event=0x3c/ or {a,b}";
/** Terms with a value that every PMU's event takes (resolveEvent's set). */
const VALUE_TERMS = ["config", "event", "umask", "edge", "inv", "cmask", "name"];

const registries = new WeakMap<MachineDesc, PmuRegistry | null>();
/**
 * The same by the description's content: each compile builds its machine's description
 * anew (a sweep compiles one per point), and booting a perf core to read its registry costs
 * more than the rest of the event checks. Few distinct machines exist in one process.
 */
const registriesByContent = new Map<string, PmuRegistry | null>();
const MAX_CACHED_MACHINES = 16;

/** The PMUs perf sees on a machine (a booted perf core's registry), or undefined. */
export function machineRegistry(desc: MachineDesc): PmuRegistry | undefined {
  let reg = registries.get(desc);
  if (reg === undefined) {
    const key = descKey(desc);
    reg = key === undefined ? undefined : registriesByContent.get(key);
    if (reg === undefined) {
      try {
        reg = new System({ machine: desc, checkInvariants: false }).perf.registry;
      } catch {
        reg = null; // a machine the compile step already reported as wrong
      }
      if (key !== undefined) {
        if (registriesByContent.size >= MAX_CACHED_MACHINES) registriesByContent.clear();
        registriesByContent.set(key, reg);
      }
    }
    registries.set(desc, reg);
  }
  return reg ?? undefined;
}

/** A description as text that tells every two different ones apart, or undefined if none can. */
function descKey(desc: MachineDesc): string | undefined {
  let plain = true;
  const key = JSON.stringify(desc, (_k, v: unknown) => {
    if (typeof v === "bigint") return `${v}n`;
    if (v instanceof Map) return { map: [...v] };
    if (v instanceof Set) return { set: [...v] };
    if (typeof v === "function" || typeof v === "symbol") plain = false;
    return v;
  });
  return plain ? key : undefined;
}

/**
 * Checks a host measurement's events (a list, or one string of comma-separated events),
 * each problem at its item; `generic` is the measurement's generic_events.
 */
export function checkHostEvents(
  events: string | string[],
  path: Path,
  generic: "expand" | "legacy" | undefined,
  ctx: CompileContext,
): void {
  const reg = ctx.machine && machineRegistry(ctx.machine);
  if (!reg) return;
  const legacy = generic === undefined ? !isX86Hybrid(reg) : generic === "legacy";
  const memo = itemMemo(reg, legacy);
  forEachItem(events, path, ctx, (item) => {
    if (memo.ok.has(item)) return undefined;
    const p = checkEventItem(reg, item, legacy);
    if (p === undefined) memo.ok.add(item);
    return p;
  });
}

/** What one registry made of event list items already seen, bound one way (legacy or not). */
interface ItemMemo {
  /** Items without a problem. */
  ok: Set<string>;
  /** The counter names of an item (hostCounterNames()). */
  names: Map<string, readonly string[]>;
}

const itemMemos = new WeakMap<PmuRegistry, [ItemMemo | undefined, ItemMemo | undefined]>();
/** Items remembered per registry and binding, beyond which the memo starts again. */
const MAX_MEMO_ITEMS = 4096;

/**
 * The memo of `reg` bound `legacy`: a check and a name list depend on nothing else, and a
 * sweep compiles the same few event lists at every point.
 */
function itemMemo(reg: PmuRegistry, legacy: boolean): ItemMemo {
  let pair = itemMemos.get(reg);
  if (pair === undefined) {
    pair = [undefined, undefined];
    itemMemos.set(reg, pair);
  }
  const k = legacy ? 1 : 0;
  let m = pair[k];
  if (m === undefined || m.ok.size + m.names.size > MAX_MEMO_ITEMS) {
    m = { ok: new Set(), names: new Map() };
    pair[k] = m;
  }
  return m;
}

/** The names perf stat gives the counters of an event list (the valid events'). */
export function hostCounterNames(
  events: string | string[],
  generic: "expand" | "legacy" | undefined,
  machine: MachineDesc,
): string[] | undefined {
  const reg = machineRegistry(machine);
  if (!reg) return undefined;
  const legacy = generic === undefined ? !isX86Hybrid(reg) : generic === "legacy";
  const memo = itemMemo(reg, legacy);
  const out: string[] = [];
  for (const item of Array.isArray(events) ? events : splitEvents(events)) {
    let names = memo.names.get(item);
    if (names === undefined) {
      names = itemCounterNames(reg, item, legacy);
      memo.names.set(item, names);
    }
    for (const n of names) out.push(n);
  }
  return out;
}

/** The counter names of one item of an event list (none for an item that does not parse). */
function itemCounterNames(reg: PmuRegistry, item: string, legacy: boolean): string[] {
  const out: string[] = [];
  const groups = parseEventList([item], pmuAliases(reg));
  if (typeof groups === "string") return out;
  for (const g of groups)
    for (const e of g.events) {
      out.push(e.text);
      const r = resolveEvent(reg, e, legacy);
      if (typeof r !== "string") for (const x of r) out.push(x.name);
    }
  return out;
}

/** Checks one event in perf syntax (a perf_event_open action's), bound the legacy way. */
export function checkOneEvent(event: string, path: Path, ctx: CompileContext): void {
  const reg = ctx.machine && machineRegistry(ctx.machine);
  if (!reg) return;
  const p = checkEventItem(reg, event, true) ?? oneEvent(event);
  if (p) ctx.errIn(path, p.at, Math.max(0, event.indexOf(p.at)), p.message, p.expected);
}

/**
 * Calls `check` on each item of an event list and reports its problem at the item: a list
 * entry by its index, a part of a string at its column.
 */
export function forEachItem(
  events: string | string[],
  path: Path,
  ctx: CompileContext,
  check: (item: string) => EventProblem | undefined,
): void {
  if (Array.isArray(events)) {
    events.forEach((item, k) => {
      const p = check(item);
      if (p) ctx.errIn([...path, k], p.at, Math.max(0, item.indexOf(p.at)), p.message, p.expected);
    });
    return;
  }
  let from = 0;
  for (const item of splitEvents(events)) {
    const off = events.indexOf(item, from);
    from = off + item.length;
    const p = check(item);
    if (p) ctx.errIn(path, p.at, off + Math.max(0, item.indexOf(p.at)), p.message, p.expected);
  }
}

/** A perf_event_open action opens one event: a group or a list is not one. */
function oneEvent(event: string): EventProblem | undefined {
  const groups = parseEventList([event]);
  if (typeof groups === "string" || (groups.length === 1 && !groups[0]!.braced)) return undefined;
  return { at: event.trim(), message: "a group is not one event", expected: "one event" };
}

/** The problem perf stat would stop at in one item (an event or a `{...}` group), if any. */
export function checkEventItem(
  reg: PmuRegistry,
  item: string,
  legacy: boolean,
): EventProblem | undefined {
  const groups = parseEventList([item], pmuAliases(reg));
  if (typeof groups !== "string") {
    for (const g of groups)
      for (const e of g.events) {
        const r = resolveEvent(reg, e, legacy);
        if (typeof r === "string") return resolveProblem(reg, e, r);
      }
    return undefined;
  }
  for (const m of members(item)) {
    const e = parseEvent(m, pmuAliases(reg));
    if (typeof e === "string") return syntaxProblem(reg, m, e);
  }
  return { at: item.trim(), message: groups, expected: AN_EVENT };
}

/** The events of an item: the members of a group, or the item itself. */
function members(item: string): string[] {
  const g = /^\{(.*)\}(?::[A-Za-z]*)?$/.exec(item.trim());
  if (!g) return [item.trim()];
  const out: string[] = [];
  let cur = "";
  let slash = false;
  for (const ch of g[1]!) {
    if (ch === "/") slash = !slash;
    if (ch === "," && !slash) {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  out.push(cur.trim());
  return out.filter((m) => m !== "");
}

/** An event that does not parse: an unknown name, a bad modifier or term, or no event. */
function syntaxProblem(reg: PmuRegistry, text: string, err: string): EventProblem {
  const bare = /^([A-Za-z0-9_.-]+)(?::([A-Za-z]*))?$/.exec(text);
  if (bare && typeof parseEvent(bare[1]!, pmuAliases(reg)) === "string")
    return unknownEvent(reg, bare[1]!);
  const expected = /modifier/.test(err) ? MODIFIERS : bare ? undefined : AN_EVENT;
  return { at: text, message: err, ...(expected ? { expected } : {}) };
}

/** `unknown event 'x'` with the closest generic event or PMU event alias. */
function unknownEvent(reg: PmuRegistry, name: string): EventProblem {
  // A PMU's sysfs alias is an event on its own too (perf opens it on every PMU naming it).
  const aliases = [...new Set(reg.pmus.flatMap((p) => Object.keys(p.sysfsEvents())))];
  const best = closest(name, SYMBOLIC_EVENTS) ?? closest(name, aliases);
  return {
    at: name,
    message: `unknown event '${name}'`,
    expected: best !== undefined ? `did you mean '${best}'?` : AN_EVENT,
  };
}

/** An event that parses but names a PMU or a term the machine does not have. */
function resolveProblem(reg: PmuRegistry, e: ParsedEvent, err: string): EventProblem {
  if (e.pmu === null) return { at: e.text, message: err };
  const pmu = reg.byName(e.pmu);
  if (!pmu) {
    const names = reg.pmus.map((p) => p.name);
    const best = closest(e.pmu, names);
    return {
      at: e.pmu,
      message: `unknown PMU '${e.pmu}'`,
      expected: best !== undefined ? `did you mean '${best}'?` : `one of: ${names.join(", ")}`,
    };
  }
  for (const [k, v] of e.terms) {
    const known =
      v === null ? aliasTerms(pmu) : [...Object.keys(pmu.sysfsFormat()), ...VALUE_TERMS];
    if (known.includes(k)) continue;
    const best = closest(k, known);
    return {
      at: k,
      message: `unknown term '${k}' for PMU '${pmu.name}'`,
      expected:
        best !== undefined
          ? `did you mean '${best}'?`
          : `one of: ${[...new Set([...known, ...VALUE_TERMS])].join(", ")}`,
    };
  }
  return { at: e.text, message: err };
}

/** Names a `pmu/name/` term may be: the PMU's sysfs event aliases and, with extended types, the generic hardware events. */
function aliasTerms(pmu: Pmu): string[] {
  const generic =
    pmu.capabilities & PERF_PMU_CAP.EXTENDED_HW_TYPE
      ? SYMBOLIC_EVENTS.filter((n) => {
          const g = parseEvent(n);
          return typeof g !== "string" && isGenericHw(g);
        })
      : [];
  return [...Object.keys(pmu.sysfsEvents()), ...generic];
}
