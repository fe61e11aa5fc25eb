import { PERF_COUNT_HW } from "../../hw/pmu-desc.js";
import {
  PERF_COUNT_SW_ALIGNMENT_FAULTS,
  PERF_COUNT_SW_CONTEXT_SWITCHES,
  PERF_COUNT_SW_CPU_CLOCK,
  PERF_COUNT_SW_CPU_MIGRATIONS,
  PERF_COUNT_SW_DUMMY,
  PERF_COUNT_SW_EMULATION_FAULTS,
  PERF_COUNT_SW_PAGE_FAULTS,
  PERF_COUNT_SW_PAGE_FAULTS_MAJ,
  PERF_COUNT_SW_PAGE_FAULTS_MIN,
  PERF_COUNT_SW_TASK_CLOCK,
  PERF_TYPE_HARDWARE,
  PERF_TYPE_HW_CACHE,
  PERF_TYPE_RAW,
  PERF_TYPE_SOFTWARE,
} from "../uapi.js";

/**
 * perf's event syntax (tools/perf/util/parse-events.c), the part a scenario needs:
 * symbolic hardware, software and cache events, raw `rNNNN`, PMU-qualified
 * `pmu/term=value,.../` or `pmu/event-name/`, a PMU event alias on its own
 * (`inst_retired`), groups `{a,b}`, and modifiers.
 *
 * Modifier mapping used by vpmu (the kernel only sees the attr bits):
 * - `u`, `k`, `h`: the first one excludes the other two privilege levels
 *   (`cycles:u` = exclude_kernel + exclude_hv); more letters add levels back.
 * - `G` and `H` work the same way: the first excludes both host and guest, then each lets
 *   its own mode back in (`:G` = exclude_host, `:H` = exclude_guest, `:GH` = both counted).
 * - With neither G nor H, both exclude bits stay 0, as in a zero-initialised attr (what
 *   the kernel's own NMI watchdog uses). Recent perf releases default host tools to
 *   exclude_guest = 1; vpmu keeps the raw-syscall meaning so both cases can be written.
 * - `D` pins the event (group), `e` makes it exclusive, `p`/`pp`/`ppp` set precise_ip.
 */

/** One event as parsed, before it is bound to a PMU. */
export interface ParsedEvent {
  /** The text as written (for reports). */
  text: string;
  /** Name without modifiers (cycles, r003c, cpu/event=0x3c/). */
  base: string;
  /** Attr type: HARDWARE, SOFTWARE, HW_CACHE, RAW, or -1 when given by a PMU name. */
  type: number;
  config: bigint;
  /** PMU named in `pmu/.../` syntax. */
  pmu: string | null;
  /** Terms of `pmu/.../` syntax (event=, umask=, config=, or a sysfs event name). */
  terms: Array<[string, string | null]>;
  excludeUser: boolean;
  excludeKernel: boolean;
  excludeHv: boolean;
  excludeHost: boolean;
  excludeGuest: boolean;
  pinned: boolean;
  exclusive: boolean;
  precise: number;
  /** Modifier letters as written (":u"). */
  mods: string;
  /** A bare name that is a sysfs event alias of some PMU (`inst_retired`): see resolveEvent. */
  alias?: true;
}

/** Whether a bare name is a sysfs event alias of one of the machine's PMUs. */
export type IsAlias = (name: string) => boolean;

/** A group of events (a single event is a group of one unless written in braces). */
export interface ParsedGroup {
  events: ParsedEvent[];
  /** Written with braces. */
  braced: boolean;
}

const HW_EVENTS: Record<string, number> = {
  cycles: PERF_COUNT_HW.CPU_CYCLES,
  "cpu-cycles": PERF_COUNT_HW.CPU_CYCLES,
  instructions: PERF_COUNT_HW.INSTRUCTIONS,
  "cache-references": PERF_COUNT_HW.CACHE_REFERENCES,
  "cache-misses": PERF_COUNT_HW.CACHE_MISSES,
  branches: PERF_COUNT_HW.BRANCH_INSTRUCTIONS,
  "branch-instructions": PERF_COUNT_HW.BRANCH_INSTRUCTIONS,
  "branch-misses": PERF_COUNT_HW.BRANCH_MISSES,
  "bus-cycles": PERF_COUNT_HW.BUS_CYCLES,
  "stalled-cycles-frontend": PERF_COUNT_HW.STALLED_CYCLES_FRONTEND,
  "idle-cycles-frontend": PERF_COUNT_HW.STALLED_CYCLES_FRONTEND,
  "stalled-cycles-backend": PERF_COUNT_HW.STALLED_CYCLES_BACKEND,
  "idle-cycles-backend": PERF_COUNT_HW.STALLED_CYCLES_BACKEND,
  "ref-cycles": PERF_COUNT_HW.REF_CPU_CYCLES,
};

const SW_EVENTS: Record<string, number> = {
  "cpu-clock": PERF_COUNT_SW_CPU_CLOCK,
  "task-clock": PERF_COUNT_SW_TASK_CLOCK,
  "page-faults": PERF_COUNT_SW_PAGE_FAULTS,
  faults: PERF_COUNT_SW_PAGE_FAULTS,
  "context-switches": PERF_COUNT_SW_CONTEXT_SWITCHES,
  cs: PERF_COUNT_SW_CONTEXT_SWITCHES,
  "cpu-migrations": PERF_COUNT_SW_CPU_MIGRATIONS,
  migrations: PERF_COUNT_SW_CPU_MIGRATIONS,
  "minor-faults": PERF_COUNT_SW_PAGE_FAULTS_MIN,
  "major-faults": PERF_COUNT_SW_PAGE_FAULTS_MAJ,
  "alignment-faults": PERF_COUNT_SW_ALIGNMENT_FAULTS,
  "emulation-faults": PERF_COUNT_SW_EMULATION_FAULTS,
  dummy: PERF_COUNT_SW_DUMMY,
};

const CACHE_EVENTS: Record<string, number> = {
  "L1-dcache-loads": 0x000000,
  "L1-dcache-load-misses": 0x010000,
  "L1-icache-loads": 0x000001,
  "L1-icache-load-misses": 0x010001,
  "LLC-loads": 0x000002,
  "LLC-load-misses": 0x010002,
  "branch-loads": 0x000005,
  "branch-load-misses": 0x010005,
};

/** Symbolic event names perf accepts (for help and error messages). */
export const SYMBOLIC_EVENTS = [
  ...Object.keys(HW_EVENTS),
  ...Object.keys(SW_EVENTS),
  ...Object.keys(CACHE_EVENTS),
];

/** True for a hardware (not software) symbolic or raw event. */
export function isGenericHw(e: ParsedEvent): boolean {
  return e.type === PERF_TYPE_HARDWARE || e.type === PERF_TYPE_HW_CACHE;
}

function applyMods(e: ParsedEvent, mods: string): string | null {
  let privSeen = false;
  let ghSeen = false;
  for (let i = 0; i < mods.length; i++) {
    const m = mods[i]!;
    switch (m) {
      case "u":
      case "k":
      case "h":
        if (!privSeen) {
          e.excludeUser = e.excludeKernel = e.excludeHv = true;
          privSeen = true;
        }
        if (m === "u") e.excludeUser = false;
        if (m === "k") e.excludeKernel = false;
        if (m === "h") e.excludeHv = false;
        break;
      case "G":
      case "H":
        // Like u/k/h: the first of G/H excludes both, then each letter lets its mode back in.
        if (!ghSeen) {
          e.excludeHost = e.excludeGuest = true;
          ghSeen = true;
        }
        if (m === "G") e.excludeGuest = false;
        else e.excludeHost = false;
        break;
      case "D":
        e.pinned = true;
        break;
      case "e":
        e.exclusive = true;
        break;
      case "p":
        e.precise++;
        break;
      case "S":
      case "I":
        break;
      default:
        return `unknown modifier '${m}' in ":${mods}"`;
    }
  }
  if (e.precise > 3) return "precise modifier used more than three times";
  e.mods = mods ? `:${mods}` : "";
  return null;
}

/**
 * Parses one event (no braces). Returns the event or an error message. A bare name that is
 * no symbolic event but that `isAlias` knows is a PMU event alias, to be opened on every
 * PMU that has it (perf 6.1's parse_events_multi_pmu_add()).
 */
export function parseEvent(text: string, isAlias?: IsAlias): ParsedEvent | string {
  const t = text.trim();
  if (t === "") return "empty event";
  const e: ParsedEvent = {
    text: t,
    base: t,
    type: -1,
    config: 0n,
    pmu: null,
    terms: [],
    excludeUser: false,
    excludeKernel: false,
    excludeHv: false,
    excludeHost: false,
    excludeGuest: false,
    pinned: false,
    exclusive: false,
    precise: 0,
    mods: "",
  };
  const pmuForm = /^([A-Za-z_][\w.-]*)\/([^/]*)\/(.*)$/.exec(t);
  let mods = "";
  if (pmuForm) {
    e.pmu = pmuForm[1]!;
    e.base = `${pmuForm[1]}/${pmuForm[2]}/`;
    mods = pmuForm[3]!.replace(/^:/, "");
    for (const term of pmuForm[2]!
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const m = /^([A-Za-z_][\w.-]*)(?:=(.+))?$/.exec(term);
      if (!m) return `bad term "${term}" in ${t}`;
      if (m[2] !== undefined && !/^(0x[0-9a-fA-F]+|\d+)$/.test(m[2].trim()) && m[1] !== "name") {
        return `bad value "${m[2]}" for ${m[1]} in ${t}`;
      }
      e.terms.push([m[1]!, m[2]?.trim() ?? null]);
    }
    if (e.terms.length === 0) return `no event given inside ${e.pmu}/.../`;
  } else {
    const m = /^([A-Za-z0-9_.-]+)(?::([A-Za-z]*))?$/.exec(t);
    if (!m) return `cannot parse event "${t}"`;
    const name = m[1]!;
    mods = m[2] ?? "";
    e.base = name;
    if (Object.hasOwn(HW_EVENTS, name)) {
      e.type = PERF_TYPE_HARDWARE;
      e.config = BigInt(HW_EVENTS[name]!);
    } else if (Object.hasOwn(SW_EVENTS, name)) {
      e.type = PERF_TYPE_SOFTWARE;
      e.config = BigInt(SW_EVENTS[name]!);
    } else if (Object.hasOwn(CACHE_EVENTS, name)) {
      e.type = PERF_TYPE_HW_CACHE;
      e.config = BigInt(CACHE_EVENTS[name]!);
    } else if (/^r[0-9a-fA-F]{1,16}$/.test(name)) {
      e.type = PERF_TYPE_RAW;
      e.config = BigInt(`0x${name.slice(1)}`);
    } else if (isAlias?.(name)) {
      e.alias = true;
      e.terms.push([name, null]);
    } else {
      return `event syntax error: '${name}' is not a known event (try cycles, instructions, task-clock, r003c or pmu/event=.../)`;
    }
  }
  const err = applyMods(e, mods);
  return err ?? e;
}

/**
 * Parses an event list: comma-separated events and `{...}` groups, as `perf stat -e`
 * takes it. Returns the groups or an error message.
 */
export function parseEventList(list: readonly string[], isAlias?: IsAlias): ParsedGroup[] | string {
  const groups: ParsedGroup[] = [];
  for (const item of list) {
    const s = item.trim();
    const g = /^\{(.*)\}(?::([A-Za-z]+))?$/.exec(s);
    if (g) {
      const inner = splitTop(g[1]!);
      if (inner.length === 0) return `empty group ${s}`;
      const events: ParsedEvent[] = [];
      for (const part of inner) {
        // Group modifiers append to each member's own (perf: {a:u,b}:k).
        const e = parseEvent(g[2] ? withMods(part, g[2]) : part, isAlias);
        if (typeof e === "string") return e;
        events.push(e);
      }
      groups.push({ events, braced: true });
    } else {
      if (s.includes("{") || s.includes("}")) return `unbalanced braces in "${s}"`;
      const e = parseEvent(s, isAlias);
      if (typeof e === "string") return e;
      groups.push({ events: [e], braced: false });
    }
  }
  return groups;
}

/** The event text with extra modifier letters appended. */
function withMods(text: string, extra: string): string {
  const t = text.trim();
  if (/\/[A-Za-z]*$/.test(t) && t.includes("/")) return `${t}${extra}`;
  return t.includes(":") ? `${t}${extra}` : `${t}:${extra}`;
}

function splitTop(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let slash = false;
  for (const ch of s) {
    if (ch === "/") slash = !slash;
    if (ch === "," && !slash) {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
