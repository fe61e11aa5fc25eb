import { PERF_PMU_CAP, type Pmu } from "../pmu.js";
import type { PmuRegistry } from "../registry.js";
import { PERF_PMU_TYPE_SHIFT, type PerfEventAttr } from "../uapi.js";
import { isGenericHw, type ParsedEvent, parseEvent } from "./parse-events.js";

/** An event ready to open: its attr, the name perf prints, and the CPUs its PMU covers. */
export interface ResolvedEvent {
  attr: PerfEventAttr;
  name: string;
  /** CPUs the event may be opened on (its PMU's cpus), or null for any. */
  cpus: readonly number[] | null;
  parsed: ParsedEvent;
  /**
   * One of the PMUs' events a bare alias expands to: perf stat prints them as one line,
   * their counts and times summed (perf 6.1's collect_all_aliases()).
   */
  merged?: true;
}

/** `isAlias` for the parser: a name some PMU of `reg` lists in its sysfs events. */
export function pmuAliases(reg: PmuRegistry): (name: string) => boolean {
  return (name) => reg.pmus.some((p) => Object.hasOwn(p.sysfsEvents(), name));
}

function num(v: string): number {
  return Number(v.startsWith("0x") ? Number.parseInt(v.slice(2), 16) : Number.parseInt(v, 10));
}

function modsAttr(e: ParsedEvent): Partial<PerfEventAttr> {
  return {
    exclude_user: e.excludeUser,
    exclude_kernel: e.excludeKernel,
    exclude_hv: e.excludeHv,
    exclude_host: e.excludeHost,
    exclude_guest: e.excludeGuest,
    pinned: e.pinned,
    exclusive: e.exclusive,
    ...(e.precise > 0 ? { precise_ip: e.precise } : {}),
  };
}

/** The core PMUs that take extended hardware types, in registration order. */
export function corePmus(reg: PmuRegistry): Pmu[] {
  return reg.pmus.filter(
    (p) => p.taskCtxNr === "hw" && p.capabilities & PERF_PMU_CAP.EXTENDED_HW_TYPE,
  );
}

/**
 * perf 6.1's hybrid test (perf_pmu__has_hybrid()): x86 hybrid core PMUs, cpu_core and
 * cpu_atom. Other machines with several core PMUs (arm64 big.LITTLE) are not hybrid to it.
 */
export function isX86Hybrid(reg: PmuRegistry): boolean {
  return corePmus(reg).some((p) => p.name === "cpu_core" || p.name === "cpu_atom");
}

/**
 * Turns a parsed event into attrs, the way perf's parse-events does on this machine. On a
 * machine with several core PMUs a generic hardware event is opened once per core PMU
 * with the PMU in config bits 63:32 (named `pmu/event/`), unless `legacy` asks for the
 * old behaviour of one event that the kernel binds to the first PMU accepting it.
 * Returns the events or an error message.
 */
export function resolveEvent(
  reg: PmuRegistry,
  e: ParsedEvent,
  legacy: boolean,
): ResolvedEvent[] | string {
  const base = modsAttr(e);
  if (e.alias) return resolveAlias(reg, e, legacy);
  if (e.pmu === null) {
    const cores = corePmus(reg);
    if (isGenericHw(e) && cores.length > 1 && !legacy) {
      return cores.map((p) => ({
        attr: {
          ...base,
          type: e.type,
          config: (BigInt(p.type) << BigInt(PERF_PMU_TYPE_SHIFT)) | e.config,
        },
        name: `${p.name}/${e.base}${e.mods}/`,
        cpus: p.supportedCpus(),
        parsed: e,
      }));
    }
    return [
      { attr: { ...base, type: e.type, config: e.config }, name: e.text, cpus: null, parsed: e },
    ];
  }
  const pmu = reg.byName(e.pmu);
  if (!pmu) return `Cannot find PMU \`${e.pmu}'. Missing kernel support?`;
  let config = 0n;
  let type = pmu.type;
  let display = e.text;
  for (const [k, v] of e.terms) {
    if (v === null) {
      const sysfs = pmu.sysfsEvents()[k];
      if (sysfs) {
        for (const part of sysfs.split(",")) {
          const [tk, tv] = part.split("=");
          config |= termBits(tk!, num(tv!));
        }
        continue;
      }
      const generic = parseEvent(k);
      if (
        typeof generic !== "string" &&
        isGenericHw(generic) &&
        pmu.capabilities & PERF_PMU_CAP.EXTENDED_HW_TYPE
      ) {
        type = generic.type;
        config = (BigInt(pmu.type) << BigInt(PERF_PMU_TYPE_SHIFT)) | generic.config;
        continue;
      }
      return `unknown term '${k}' for pmu '${pmu.name}' (valid terms: ${Object.keys(pmu.sysfsFormat()).concat(Object.keys(pmu.sysfsEvents())).join(",")})`;
    }
    if (k === "name") {
      display = v;
      continue;
    }
    if (k === "config") config = BigInt(num(v));
    else if (["event", "umask", "edge", "inv", "cmask"].includes(k)) config |= termBits(k, num(v));
    else return `unknown term '${k}' for pmu '${pmu.name}'`;
  }
  return [{ attr: { ...base, type, config }, name: display, cpus: pmu.supportedCpus(), parsed: e }];
}

/**
 * A bare alias: the event on every PMU whose sysfs events name it, in registration order,
 * each named as written (kernel side, each is an ordinary `pmu/alias/` event).
 */
function resolveAlias(reg: PmuRegistry, e: ParsedEvent, legacy: boolean): ResolvedEvent[] | string {
  const name = e.terms[0]![0];
  const out: ResolvedEvent[] = [];
  for (const p of reg.pmus) {
    if (!Object.hasOwn(p.sysfsEvents(), name)) continue;
    const r = resolveEvent(reg, { ...e, alias: undefined, pmu: p.name } as ParsedEvent, legacy);
    if (typeof r === "string") return r;
    for (const ev of r) out.push({ ...ev, name: e.text, parsed: e, merged: true });
  }
  if (out.length === 0) return `unknown event '${name}'`;
  return out;
}

function termBits(term: string, v: number): bigint {
  switch (term) {
    case "event":
      return BigInt(v & 0xffff);
    case "umask":
      return BigInt((v & 0xff) << 8);
    case "edge":
      return BigInt(v ? 1 << 18 : 0);
    case "inv":
      return BigInt(v ? 1 << 23 : 0);
    case "cmask":
      return BigInt(v & 0xff) << 24n;
    default:
      return 0n;
  }
}
