import { parseCpuList } from "../hw/cpulist.js";
import type { MachineDesc } from "../hw/machine.js";
import { BUILTIN_WORKLOADS, type Workload } from "../hw/workload.js";
import { type Ns, parseDuration } from "../sim/time.js";
import { type Diagnostic, formatPath } from "./diagnostics.js";
import type { ScenarioSource } from "./source.js";

/** A path to a field of the scenario document: keys and list indices. */
export type Path = PropertyKey[];

/** Places a variant's problems at the `set` entry they come from (variants/derive.ts). */
export interface VariantPlacement {
  readonly name: string;
  diagnostic(
    shown: string,
    message: string,
    expected: string | undefined,
    path?: ReadonlyArray<PropertyKey>,
  ): Diagnostic;
}

/** Where the compile steps report problems, each at the line and column of its field. */
export class DiagnosticSink {
  readonly list: Diagnostic[] = [];

  constructor(
    private readonly src: ScenarioSource | undefined,
    private readonly file: string,
    /** The variant being compiled, or undefined for the document as written. */
    readonly variant: VariantPlacement | undefined,
  ) {}

  /** A problem at `path`; `expected` says what would be right. */
  err(path: Path, message: string, expected?: string): void {
    if (this.variant) {
      this.list.push(this.variant.diagnostic(formatPath(path), message, expected, path));
      return;
    }
    const pos = this.src ? this.src.position(path) : { line: 1, col: 1 };
    this.list.push({
      file: this.file,
      ...pos,
      path: formatPath(path),
      message,
      ...(expected ? { expected } : {}),
    });
  }

  /**
   * A problem with the part `needle` of the string at `path` (found from character `from` of
   * the value), located at that part.
   */
  errIn(path: Path, needle: string, from: number, message: string, expected?: string): void {
    if (this.variant || !this.src) {
      this.err(path, message, expected);
      return;
    }
    this.list.push({
      file: this.file,
      ...this.src.positionWithin(path, needle, from),
      path: formatPath(path),
      message,
      ...(expected ? { expected } : {}),
    });
  }

  /** A duration at `path`, or `dflt` when absent (or wrong, with a problem reported). */
  dur(v: string | number | undefined, path: Path, dflt: Ns): Ns {
    if (v === undefined) return dflt;
    const d = parseDuration(v);
    if (d === undefined) {
      this.err(path, `${JSON.stringify(v)} is not a duration`, "e.g. 250ms");
      return dflt;
    }
    return d;
  }
}

/**
 * What each section declares, for the sections after it to check their references against:
 * a perf measurement names a task, an action a VM or an earlier fd, an expectation any.
 */
export interface NameTables {
  readonly workloads: Map<string, Workload>;
  readonly tasks: Set<string>;
  /** vCPU threads, `VM/vcpuN`: tasks that actions may name too. */
  readonly vcpuThreads: Set<string>;
  /** Host and guest perf measurements. */
  readonly measurements: Set<string>;
  readonly vms: Set<string>;
  /** Handles of perf_event_open actions, in file order. */
  readonly fds: Set<string>;
  readonly variants: Set<string>;
}

/**
 * What the compile steps of the sections share: the diagnostics sink, the compiled machine,
 * the run's length and the name tables, with the unit conversions that need them.
 */
export class CompileContext {
  readonly names: NameTables = {
    workloads: new Map(Object.entries(BUILTIN_WORKLOADS)),
    tasks: new Set(),
    vcpuThreads: new Set(),
    measurements: new Set(),
    vms: new Set(),
    fds: new Set(),
    variants: new Set(),
  };

  /**
   * The counter names each measurement will report (as perf names them: `cpu_core/cycles/`
   * for `cycles` on x86 hybrid), for event expectations to check theirs against.
   */
  readonly counterNames = new Map<string, string[]>();

  constructor(
    readonly diags: DiagnosticSink,
    /** The machine, or undefined when its section failed (checks against it are skipped). */
    readonly machine: MachineDesc | undefined,
    readonly duration: Ns,
  ) {}

  /** Number of CPUs of the machine (0 without one). */
  get nrCpus(): number {
    return this.machine?.cpus.length ?? 0;
  }

  /** The variant being compiled, or undefined for the document as written. */
  get variant(): string | undefined {
    return this.diags.variant?.name;
  }

  err(path: Path, message: string, expected?: string): void {
    this.diags.err(path, message, expected);
  }

  errIn(path: Path, needle: string, from: number, message: string, expected?: string): void {
    this.diags.errIn(path, needle, from, message, expected);
  }

  dur(v: string | number | undefined, path: Path, dflt: Ns): Ns {
    return this.diags.dur(v, path, dflt);
  }

  /** A CPU list whose CPUs must exist; `all` is every CPU. */
  cpuList(v: string | number | undefined, path: Path): number[] | undefined {
    if (v === undefined) return undefined;
    const nrCpus = this.nrCpus;
    if (typeof v === "string" && v.trim() === "all")
      return Array.from({ length: nrCpus }, (_, i) => i);
    const r = parseCpuList(v);
    if (typeof r === "string") {
      this.err(path, r, 'a CPU list such as "0-3,6"');
      return undefined;
    }
    const bad = r.find((c) => c >= nrCpus);
    if (this.machine && bad !== undefined) {
      this.err(path, `CPU ${bad} does not exist on ${this.machine.name}`, `CPUs 0-${nrCpus - 1}`);
      return undefined;
    }
    return r;
  }

  /** Checks that `name` is a task (or, with `vcpuOk`, a vCPU thread). */
  needTask(name: string | undefined, path: Path, vcpuOk = false): void {
    const { tasks, vcpuThreads } = this.names;
    if (name === undefined || tasks.has(name) || (vcpuOk && vcpuThreads.has(name))) return;
    this.err(
      path,
      `unknown task "${name}"`,
      tasks.size ? `one of: ${[...tasks].join(", ")}` : "a task declared under tasks",
    );
  }

  /** Checks that `name` is a VM. */
  needVm(name: string, path: Path): void {
    const vms = this.names.vms;
    if (vms.has(name)) return;
    this.err(
      path,
      `unknown VM "${name}"`,
      vms.size ? `one of: ${[...vms].join(", ")}` : "a VM declared under vms",
    );
  }

  /** The workload `name`, or undefined with a problem reported at `path`. */
  workload(name: string, path: Path): Workload | undefined {
    const w = this.names.workloads.get(name);
    if (!w)
      this.err(
        path,
        `unknown workload "${name}"`,
        `one of: ${[...this.names.workloads.keys()].join(", ")}`,
      );
    return w;
  }
}
