import { formatCpuList } from "../../hw/cpulist.js";
import { TruthAccount } from "../../hw/ledger.js";
import { ALL_MODES, modeMaskFromExcludes } from "../../hw/quantity.js";
import type { Task } from "../../sched/task.js";
import { ERRNO, errnoName } from "../../sim/errno.js";
import type { Ns } from "../../sim/time.js";
import type { System } from "../../system.js";
import { UncorePmu } from "../drivers/uncore.js";
import { stateName } from "../event.js";
import { sysClose, sysIoctl } from "../ioctl.js";
import { type Credentials, sysPerfEventOpen } from "../open.js";
import { sysRead } from "../read.js";
import {
  PERF_COUNT_SW_CONTEXT_SWITCHES,
  PERF_COUNT_SW_CPU_CLOCK,
  PERF_COUNT_SW_CPU_MIGRATIONS,
  PERF_COUNT_SW_TASK_CLOCK,
  PERF_FORMAT_TOTAL_TIME_ENABLED,
  PERF_FORMAT_TOTAL_TIME_RUNNING,
  PERF_TYPE_HARDWARE,
  PERF_TYPE_HW_CACHE,
  PERF_TYPE_SOFTWARE,
} from "../uapi.js";
import { parseEventList } from "./parse-events.js";
import { isX86Hybrid, pmuAliases, type ResolvedEvent, resolveEvent } from "./resolve.js";
import type { CounterResult, MeasurementResult } from "./stat-result.js";
import { attachMetrics, counterAttr, perfScaled } from "./stat-shadow.js";

/** What to measure, like a `perf stat` command line. */
export interface StatSpec {
  name: string;
  events: string[];
  /** System-wide on these CPUs (-a / -C), or undefined with a task. */
  cpus?: number[];
  /** A task (-p). */
  task?: Task;
  interval?: Ns | null;
  /**
   * Open generic events once without an extended type (true), or once per core PMU with
   * the PMU in config bits 63:32 (false). Unset: as perf 6.1, which expands them on x86
   * hybrid machines (core PMUs cpu_core and cpu_atom) only.
   */
  legacy?: boolean;
  cred?: Credentials;
}

/** One opened counter: an event on one CPU (or on the task). */
interface Fd {
  fd: number;
  cpu: number;
  /** Values at the last interval print. */
  last: { count: number; ena: number; run: number };
}

/** A counter line of the report: one resolved event, over all CPUs. */
interface Counter {
  ev: ResolvedEvent;
  name: string;
  fds: Fd[];
  status: "counted" | "not supported" | "error";
  error?: string;
  truthStart: number;
  /** CPUs where the open failed with an errno perf skips (SKIPPED_ERRNOS). */
  failed: number;
}

/** A member of a group to open: its event and the line it counts for. */
interface GroupMember {
  c: Counter;
  ev: ResolvedEvent;
}

/** A perf group (grouped) or lone events, as perf opens them. */
interface OpenUnit {
  members: GroupMember[];
  grouped: boolean;
}

/**
 * Open errors perf 6.1's stat_handle_error() takes as "not supported" (EINVAL, ENOSYS,
 * ENOENT, EOPNOTSUPP, ENXIO): the event is skipped on that CPU and prints <not supported>,
 * unless it leads a group with members (then perf stops). Any other errno ends the session.
 */
const SKIPPED_ERRNOS = new Set<number>([
  ERRNO.EINVAL,
  ERRNO.ENOSYS,
  ERRNO.ENOENT,
  ERRNO.EOPNOTSUPP,
  ERRNO.ENXIO,
]);

/**
 * An event's name in perf 6.1's group description on an x86 hybrid host: a legacy hardware
 * or cache event expanded per core PMU is named without the PMU there (`cycles`), as
 * `cpu_core/cycles/` is; perf adds the PMU only when it prints the counts.
 */
function hybridEvselName(ev: ResolvedEvent): string {
  const t = ev.attr.type;
  if (t !== PERF_TYPE_HARDWARE && t !== PERF_TYPE_HW_CACHE) return ev.name;
  const p = ev.parsed;
  const base = p.pmu !== null ? (p.terms[0]?.[0] ?? p.base) : p.base;
  return `${base}${p.mods}`;
}

function newCounter(ev: ResolvedEvent): Counter {
  return { ev, name: ev.name, fds: [], status: "counted", truthStart: 0, failed: 0 };
}

/**
 * A `perf stat` session in the simulation: opens the events (disabled, then enabled, as
 * perf does for -a and -p), optionally prints interval deltas, and at the end reads every
 * fd, scales each CPU's value by enabled/running like perf, sums them, and compares with
 * the ground truth for the same filter and target.
 */
export class PerfStat {
  private readonly counters: Counter[] = [];
  private readonly intervals: MeasurementResult["intervals"] = [];
  private startNs: Ns = 0 as Ns;
  private error: string | undefined;
  /** What perf prints on stderr before the counts: the groups it broke up. */
  private readonly warnings: string[] = [];
  /** A group mixed hybrid PMUs: perf's warning about it comes first. */
  private hybridGroupWarning = false;
  private lastIntervalAt = -1;
  private stopped = false;

  constructor(
    private readonly sys: System,
    readonly spec: StatSpec,
  ) {}

  /** Human-readable target, as perf prints it in the header. */
  target(): string {
    if (this.spec.task) return `process id '${this.spec.task.pid}'`;
    const cpus = this.spec.cpus ?? [];
    return cpus.length === this.sys.machine.nrCpus
      ? "'system wide'"
      : `'CPU(s) ${formatCpuList(cpus)}'`;
  }

  /** Opens and enables every event. */
  start(): void {
    const now = this.sys.now;
    this.startNs = now;
    const core = this.sys.perf;
    const groups = parseEventList(this.spec.events, pmuAliases(core.registry));
    if (typeof groups === "string") {
      this.error = groups;
      return;
    }
    const pid = this.spec.task ? this.spec.task.pid : -1;
    // Resolve every event first: a bad one stops the session before anything is opened.
    const plan: Array<{ braced: boolean; lists: ResolvedEvent[][] }> = [];
    for (const g of groups) {
      const resolved = g.events.map((e) =>
        resolveEvent(core.registry, e, this.spec.legacy ?? !isX86Hybrid(core.registry)),
      );
      const bad = resolved.find((r) => typeof r === "string");
      if (bad !== undefined) {
        this.error = bad as string;
        return;
      }
      plan.push({ braced: g.braced, lists: resolved as ResolvedEvent[][] });
    }
    for (const { braced, lists } of plan)
      for (const u of this.openUnits(lists, braced)) if (!this.openUnit(u, pid)) return;
    for (const c of this.counters) for (const f of c.fds) sysIoctl(core, f.fd, "ENABLE", 0);
  }

  /**
   * What perf 6.1 opens for one event or `{...}` group, as one group or lone events: each
   * expanded event in order. A bare alias is one event per PMU that lists it, printed as one
   * line (collect_all_aliases()); a generic event an x86 hybrid host expands per core PMU
   * gives a line per PMU (perf 6.1 names them cpu_core/cycles/ and cpu_atom/cycles/ when it
   * prints). In a group they are all members of the one group. A group whose members' CPU
   * maps differ is broken up (evlist__check_cpu_maps()): after "events in group from
   * different hybrid PMUs" once if a group mixes hybrid PMUs (evlist__warn_hybrid_group()),
   * perf warns once that the cpus do not match and describes each group it breaks up; the
   * members are then opened on their own.
   */
  private openUnits(lists: ResolvedEvent[][], braced: boolean): OpenUnit[] {
    const g: GroupMember[] = [];
    for (const l of lists) {
      if (l[0]?.merged) {
        const c = newCounter(l[0]);
        for (const ev of l) g.push({ c, ev });
      } else {
        for (const ev of l) g.push({ c: newCounter(ev), ev });
      }
    }
    if (braced && !this.cpuMapsDiffer(g)) return [{ members: g, grouped: g.length > 1 }];
    if (braced) {
      const hybrid = isX86Hybrid(this.sys.perf.registry);
      if (hybrid && new Set(g.map((m) => m.ev.cpus?.join(","))).size > 1)
        this.hybridGroupWarning = true;
      if (this.warnings.length === 0)
        this.warnings.push("WARNING: grouped events cpus do not match, disabling group:");
      const names = g.map((m) => (hybrid ? hybridEvselName(m.ev) : m.ev.name));
      this.warnings.push(`  anon group { ${names.join(", ")} }`);
    }
    return [...new Set(g.map((m) => m.c))].map((c) => ({
      members: g.filter((m) => m.c === c),
      grouped: false,
    }));
  }

  /**
   * True if the members of `g` have different CPU maps: with -a, each event has its PMU's
   * (sysfs cpus or cpumask), or every online CPU; -C and -p give every event the same.
   */
  private cpuMapsDiffer(g: GroupMember[]): boolean {
    if (g.length < 2 || this.spec.task) return false;
    if ((this.spec.cpus ?? []).length !== this.sys.machine.nrCpus) return false;
    const online = this.sys.machine.cpus.filter((c) => c.online).map((c) => c.id);
    const key = (m: GroupMember) => (m.ev.cpus ?? online).join(",");
    return g.some((m) => key(m) !== key(g[0]!));
  }

  /**
   * Opens a group or lone events, then adds their lines. Lone events open on their own
   * CPUs; a group on the CPUs of all its members, per CPU every member in order on the
   * leader's fd. A leader that fails in a group with members ends the session
   * (stat_handle_error() returns COUNTER_FATAL; for ENOENT with evsel__open_strerror()'s
   * "The %s event is not supported."): false. A member that fails is skipped on that CPU.
   * A line whose events cover none of the requested CPUs is dropped, as perf drops them.
   */
  private openUnit(u: OpenUnit, pid: number): boolean {
    const opened = new Set<Counter>();
    if (!u.grouped) {
      for (const { c, ev } of u.members) {
        const cpus = this.targetCpus([ev]);
        if (cpus.length > 0) opened.add(c);
        for (const cpu of cpus) if (c.status !== "error") this.openOne(c, ev, pid, cpu, -1);
      }
    } else {
      const cpus = this.targetCpus(u.members.map((m) => m.ev));
      for (const cpu of cpus) {
        let leaderFd = -1;
        u.members.forEach(({ c, ev }, i) => {
          if (c.status === "error" || this.error) return;
          const fd = this.openOne(c, ev, pid, cpu, i > 0 ? leaderFd : -1);
          if (i > 0) return;
          if (fd >= 0) leaderFd = fd;
          else
            this.error ??=
              fd === -ERRNO.ENOENT
                ? `The ${c.name} event is not supported.`
                : `perf_event_open for event (${c.name}) returned ${errnoName(fd) ?? String(fd)}`;
        });
        if (this.error) return false;
      }
      if (cpus.length > 0) for (const m of u.members) opened.add(m.c);
    }
    for (const c of opened) this.addCounter(c);
    return true;
  }

  /**
   * Opens `ev` for counter `c` on one CPU, disabled, with perf's read_format; records the
   * fd, a failure perf skips (SKIPPED_ERRNOS) or the session's error. Returns
   * the fd or a negative errno.
   */
  private openOne(c: Counter, ev: ResolvedEvent, pid: number, cpu: number, group: number): number {
    const core = this.sys.perf;
    const attr = {
      ...ev.attr,
      disabled: true,
      read_format: PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING,
    };
    let fd = sysPerfEventOpen(core, attr, pid, cpu, group, 0, this.spec.cred);
    if (fd === -ERRNO.EACCES && !attr.exclude_kernel && this.spec.cred && !this.spec.cred.perfmon) {
      // perf's evsel__fallback(): retry user-only when paranoid forbids kernel profiling.
      attr.exclude_kernel = true;
      attr.exclude_hv = true;
      ev.attr.exclude_kernel = true;
      ev.attr.exclude_hv = true;
      if (!c.name.endsWith(":u")) c.name = `${c.name}:u`;
      fd = sysPerfEventOpen(core, attr, pid, cpu, group, 0, this.spec.cred);
    }
    if (fd < 0) {
      if (SKIPPED_ERRNOS.has(-fd)) {
        c.failed++;
      } else {
        c.status = "error";
        c.error = `perf_event_open for event (${c.name}) returned ${errnoName(fd) ?? String(fd)}`;
        // evsel__open_strerror()'s words for ENODEV with a -C list (an offline CPU in it).
        this.error ??=
          fd === -ERRNO.ENODEV && this.userCpus
            ? "No such device - did you specify an out-of-range profile CPU?"
            : c.error;
      }
      return fd;
    }
    const e = core.fds.get(fd);
    if (e) e.name = c.name;
    c.fds.push({ fd, cpu, last: { count: 0, ena: 0, run: 0 } });
    return fd;
  }

  /** Adds a counter line once its opens are done. */
  private addCounter(c: Counter): void {
    // perf 6.1's stat_handle_error(): a skipped errno (ENOENT, ...) on any CPU marks the
    // whole event unsupported (`-C 0,4` with an A53 event: <not supported>, though CPU 0
    // opened it); the fds that did open stay open, as perf leaves them.
    if (c.status === "counted" && c.failed > 0) c.status = "not supported";
    c.truthStart = this.truth(c);
    this.counters.push(c);
  }

  /**
   * The CPUs perf 6.1 opens an event on (__perf_evlist__propagate_maps()): with -a, its
   * PMU's CPUs (the sysfs cpus or cpumask file); with -C LIST, the user's list replaces
   * the PMU's for core PMUs, so a PMU's event is opened on CPUs it does not cover and the
   * kernel answers ENOENT there. Uncore events stay on their cpumask. -a takes the online
   * CPUs only; a -C list is opened as given, so an offline CPU in it answers ENODEV.
   */
  private targetCpus(members: ResolvedEvent[]): number[] {
    if (this.spec.task) return [-1];
    let cpus = this.spec.cpus ?? [];
    const userCpus = this.userCpus;
    for (const m of members) {
      if (!m.cpus || (userCpus && this.isCorePmuEvent(m))) continue;
      cpus = cpus.filter((c) => m.cpus!.includes(c));
    }
    return userCpus ? cpus : cpus.filter((c) => this.sys.machine.cpus[c]?.online);
  }

  /** A -C list (not every CPU: -a). */
  private get userCpus(): boolean {
    return !this.spec.task && (this.spec.cpus ?? []).length !== this.sys.machine.nrCpus;
  }

  private isCorePmuEvent(m: ResolvedEvent): boolean {
    // A PMU named in the event: `pmu/cycles/` has attr type HARDWARE, its PMU in config 63:32.
    const reg = this.sys.perf.registry;
    const pmu = m.parsed.pmu !== null ? reg.byName(m.parsed.pmu) : reg.byType(m.attr.type);
    return pmu !== undefined && pmu.taskCtxNr === "hw";
  }

  /** Ground-truth value for a counter's filter and target, now. */
  private truth(c: Counter): number {
    const sys = this.sys;
    sys.sync();
    const attr = c.ev.attr;
    if (attr.type === PERF_TYPE_SOFTWARE) {
      const cfg = Number(attr.config ?? 0);
      const t = this.spec.task;
      if (cfg === PERF_COUNT_SW_TASK_CLOCK || (cfg === PERF_COUNT_SW_CPU_CLOCK && t)) {
        if (t) return sys.sched.runtimeOf(t, sys.now);
        return c.fds.length * sys.now;
      }
      if (cfg === PERF_COUNT_SW_CPU_CLOCK) return c.fds.length * sys.now;
      if (cfg === PERF_COUNT_SW_CONTEXT_SWITCHES) {
        if (t) return t.nrSwitches;
        return c.fds.reduce((s, f) => s + sys.sched.switchesOn(f.cpu), 0);
      }
      if (cfg === PERF_COUNT_SW_CPU_MIGRATIONS) return t ? t.nrMigrations : 0;
      return 0;
    }
    const fd0 = c.fds[0];
    const ev = fd0 ? sys.perf.fds.get(fd0.fd) : undefined;
    if (!ev) return 0;
    if (ev.pmu instanceof UncorePmu) return ev.pmu.total(ev, sys.now);
    const q = ev.hw.quantity;
    const mask = modeMaskFromExcludes({
      excludeUser: attr.exclude_user,
      excludeKernel: attr.exclude_kernel,
      excludeHost: attr.exclude_host,
      excludeGuest: attr.exclude_guest,
    });
    const acct = new TruthAccount();
    const pmuCpus = c.ev.cpus;
    if (this.spec.task) {
      for (const [cpu, a] of this.spec.task.truth)
        if (!pmuCpus || pmuCpus.includes(cpu) || !c.ev.name.includes("/")) acct.merge(a);
    } else {
      const set = new Set(c.fds.map((f) => f.cpu));
      for (const cpu of sys.machine.cpus) if (set.has(cpu.id)) acct.merge(cpu.truth);
    }
    return q < 0 ? 0 : acct.count(q, mask & ALL_MODES);
  }

  /** Prints one interval (perf stat -I): deltas since the previous one. */
  interval(): void {
    if (this.stopped || this.sys.now === this.lastIntervalAt) return;
    this.lastIntervalAt = this.sys.now;
    const core = this.sys.perf;
    const row: MeasurementResult["intervals"][number] = {
      t_ns: this.sys.now - this.startNs,
      counters: [],
    };
    for (const c of this.counters) {
      let count = 0;
      let ena = 0;
      let run = 0;
      for (const f of c.fds) {
        const r = sysRead(core, f.fd, 4096);
        if (typeof r === "number" || r.bytes === 0) continue;
        count += r.value! - f.last.count;
        ena += r.time_enabled! - f.last.ena;
        run += r.time_running! - f.last.run;
        f.last = { count: r.value!, ena: r.time_enabled!, run: r.time_running! };
      }
      row.counters.push({
        event: c.name,
        count,
        enabled_ns: ena,
        running_ns: run,
        scaled: perfScaled(count, ena, run),
      });
    }
    // process_interval(): the metrics of an interval take the interval as wall time.
    const withAttr = row.counters.map((rc, k) => ({
      ...rc,
      attr: counterAttr(this.counters[k]!.ev.attr),
    }));
    attachMetrics(withAttr, this.spec.interval ?? 0);
    row.counters.forEach((rc, k) => {
      const { unit, metrics } = withAttr[k]!;
      if (unit) rc.unit = unit;
      if (metrics) rc.metrics = metrics;
    });
    this.intervals.push(row);
  }

  /** Reads the final values, closes every fd and returns the result. */
  stop(): MeasurementResult {
    // perf stat -I prints the last, possibly partial, interval at the end.
    if (this.spec.interval && this.sys.now > this.startNs) this.interval();
    this.stopped = true;
    const core = this.sys.perf;
    const now = this.sys.now;
    const counters: CounterResult[] = [];
    for (const c of this.counters) {
      let count = 0;
      let ena = 0;
      let run = 0;
      const perCpu: NonNullable<CounterResult["per_cpu"]> = [];
      const states: string[] = [];
      const truth = this.truth(c) - c.truthStart;
      for (const f of c.fds) {
        const ev = core.fds.get(f.fd);
        const r = sysRead(core, f.fd, 4096);
        const st = ev ? stateName(ev.state) : "?";
        states.push(st);
        if (typeof r === "number" || r.bytes === 0) {
          perCpu.push({ cpu: f.cpu, count: 0, enabled_ns: 0, running_ns: 0, state: st });
          continue;
        }
        const v = r.value!;
        const e = r.time_enabled!;
        const ru = r.time_running!;
        perCpu.push({ cpu: f.cpu, count: v, enabled_ns: e, running_ns: ru, state: st });
        count += v;
        ena += e;
        run += ru;
      }
      // perf stat's default aggregation (AGGR_GLOBAL in process_counter_values()) sums the
      // CPUs' counts, enabled and running times first, and scales the sums once.
      const scaled = perfScaled(count, ena, run);
      const status =
        c.status === "not supported"
          ? "not supported"
          : scaled !== null
            ? "counted"
            : "not counted";
      const uniq = [...new Set(states)];
      counters.push({
        event: c.name,
        attr: counterAttr(c.ev.attr),
        count,
        enabled_ns: ena,
        running_ns: run,
        scaled: status === "counted" ? scaled : null,
        status,
        truth: Math.round(truth),
        per_cpu: this.spec.task ? undefined : perCpu,
        state: uniq.length === 1 ? uniq[0]! : uniq.join("/"),
      });
    }
    for (const c of this.counters) for (const f of c.fds) sysClose(core, f.fd);
    attachMetrics(counters, now - this.startNs);
    const out: MeasurementResult = {
      name: this.spec.name,
      target: this.target(),
      start_ns: this.startNs,
      stop_ns: now,
      counters,
      intervals: this.intervals,
    };
    if (this.error) out.error = this.error;
    const warnings = this.hybridGroupWarning
      ? ["WARNING: events in group from different hybrid PMUs!", ...this.warnings]
      : this.warnings;
    if (warnings.length > 0) out.warnings = [...warnings];
    return out;
  }

  /** The per-CPU state of each counter right now (for expectations before the stop). */
  snapshot(): Array<{ name: string; fds: Fd[] }> {
    return this.counters.map((c) => ({ name: c.name, fds: c.fds }));
  }
}
