import type { CoreType, MachineDesc } from "../../hw/machine.js";
import { ARMV8_COMMON_EVENTS, armv8PmuDesc, x86PmuDesc } from "../../hw/pmu-desc.js";
import { PRESETS, preset } from "../../hw/presets.js";
import type { DiagnosticSink, Path } from "../context.js";
import { suggest } from "../suggest.js";
import type { CustomMachineSpec, MachineSpecFile } from "./schema.js";

/** The compiled `machine` section. */
export interface CompiledMachine {
  /** undefined when the section has errors (later checks against the machine are skipped). */
  desc: MachineDesc | undefined;
  /** CPUs offline from the start. */
  offline: number[];
}

/** Compiles `machine`: a preset or a custom machine, its probe order and its offline CPUs. */
export function compileMachine(m: MachineSpecFile, diags: DiagnosticSink): CompiledMachine {
  const desc =
    typeof m === "string" || "preset" in m ? presetMachine(m, diags) : customMachine(m, diags);
  const nrCpus = desc?.cpus.length ?? 0;
  const offline = typeof m === "object" ? (m.offline ?? []) : [];
  offline.forEach((c, i) => {
    if (c >= nrCpus)
      diags.err(["machine", "offline", i], `CPU ${c} does not exist`, `a CPU below ${nrCpus}`);
  });
  if (desc && offline.length > 0 && offline.length >= nrCpus) {
    diags.err(["machine", "offline"], "every CPU is offline", "at least one online CPU");
  }
  return { desc, offline };
}

function presetMachine(
  m: string | { preset: string; probe_order?: string[] },
  diags: DiagnosticSink,
): MachineDesc | undefined {
  const name = typeof m === "string" ? m : m.preset;
  const desc = preset(name);
  const path = typeof m === "string" ? ["machine"] : ["machine", "preset"];
  if (!desc) {
    const u = unknownPreset(name);
    diags.err(path, u.message, u.expected);
    return undefined;
  }
  if (typeof m === "object" && m.probe_order) {
    const order = resolveProbeOrder(desc, m.probe_order, ["machine", "probe_order"], diags);
    if (order) desc.probeOrder = order;
  }
  return desc;
}

/**
 * The problem with a preset name that is none: with the closest name, a wrong case
 * included. Names are matched exactly, as perf and sysfs match PMU names.
 */
export function unknownPreset(name: string): { message: string; expected: string } {
  const names = Object.keys(PRESETS);
  return {
    message: `unknown preset "${name}"${suggest(name, names)}`,
    expected: `one of: ${names.join(", ")}`,
  };
}

function customMachine(m: CustomMachineSpec, diags: DiagnosticSink): MachineDesc {
  const coreTypes = m.core_types.map((ct) => coreType(m.arch, ct));
  const names = new Set<string>();
  m.core_types.forEach((ct, i) => {
    if (names.has(ct.name))
      diags.err(
        ["machine", "core_types", i, "name"],
        `core type "${ct.name}" declared twice`,
        "unique names",
      );
    names.add(ct.name);
    checkPmu(m.arch, ct.pmu, ["machine", "core_types", i, "pmu"], diags);
  });
  const cpus: MachineDesc["cpus"] = [];
  m.cpus.forEach((c, i) => {
    if (!names.has(c.core_type)) {
      diags.err(
        ["machine", "cpus", i, "core_type"],
        `unknown core type "${c.core_type}"`,
        `one of: ${[...names].join(", ")}`,
      );
    }
    for (let n = 0; n < (c.count ?? 1); n++)
      cpus.push({ coreType: c.core_type, cluster: c.cluster ?? i });
  });
  if (cpus.length > 1024) diags.err(["machine", "cpus"], `${cpus.length} CPUs`, "at most 1024");
  const desc: MachineDesc = {
    name: m.name,
    arch: m.arch,
    coreTypes,
    cpus,
    uncore: m.uncore
      ? [
          {
            name: m.arch === "x86_64" ? "uncore_imc_0" : "arm_cmn_0",
            cpumask: [0],
            nrCounters: 4,
            events: { clockticks: 0xff },
          },
        ]
      : [],
    probeOrder: coreTypes.map((t) => t.name),
  };
  if (m.probe_order) {
    const order = resolveProbeOrder(desc, m.probe_order, ["machine", "probe_order"], diags);
    if (order) desc.probeOrder = order;
  }
  return desc;
}

type CoreTypeSpec = CustomMachineSpec["core_types"][number];

/** A custom core type with its PMU, defaults applied. */
function coreType(arch: MachineDesc["arch"], ct: CoreTypeSpec): CoreType {
  const scaling = {
    freqMHz: ct.freq_mhz,
    ipcScale: ct.ipc_scale ?? 1,
    refMHz: ct.ref_mhz ?? (arch === "x86_64" ? 2000 : 25),
  };
  const pmu =
    arch === "x86_64"
      ? x86PmuDesc({
          name: ct.pmu.name,
          coreType: ct.name,
          nrGp: ct.pmu.counters,
          nrFixed: ct.pmu.fixed ?? 3,
          width: ct.pmu.width ?? 48,
          version: ct.pmu.version ?? 5,
        })
      : armv8PmuDesc({
          name: ct.pmu.name,
          coreType: ct.name,
          nrCounters: ct.pmu.counters,
          version: ct.pmu.version ?? 1,
          pmuv3p5: ct.pmu.pmuv3p5 ?? false,
          events: ct.pmu.events ?? [...Array(0x1f).keys()],
        });
  return { name: ct.name, scaling, pmu };
}

/** The PMU fields that one architecture has and the other does not. */
function checkPmu(
  arch: MachineDesc["arch"],
  pmu: CoreTypeSpec["pmu"],
  pp: Path,
  diags: DiagnosticSink,
): void {
  if (arch === "x86_64" && pmu.pmuv3p5)
    diags.err([...pp, "pmuv3p5"], "PMUv3p5 is an arm64 feature", "arch: arm64");
  if (arch === "x86_64" && pmu.events)
    diags.err(
      [...pp, "events"],
      "x86 PMUs offer the architectural events; events lists arm64 PMUv3 event numbers",
      "arch: arm64",
    );
  if (arch === "arm64" && pmu.fixed !== undefined)
    diags.err(
      [...pp, "fixed"],
      "arm64 PMUs have exactly one fixed counter, the cycle counter",
      "fixed only on x86_64",
    );
  if (arch === "arm64" && pmu.width !== undefined)
    diags.err(
      [...pp, "width"],
      "arm64 counter widths are architectural (32-bit, 64-bit with pmuv3p5)",
      "pmuv3p5: true for 64-bit event counters",
    );
  for (const [k, ev] of (pmu.events ?? []).entries()) {
    if (!ARMV8_COMMON_EVENTS.some(([n]) => n === ev)) {
      diags.err(
        [...pp, "events", k],
        `0x${ev.toString(16)} is not a PMUv3 common event vpmu models`,
        `one of: ${ARMV8_COMMON_EVENTS.map(([n]) => `0x${n.toString(16)}`).join(", ")}`,
      );
    }
  }
}

/** A probe order given by core type or PMU names: every core PMU exactly once. */
function resolveProbeOrder(
  desc: MachineDesc,
  order: string[],
  path: Path,
  diags: DiagnosticSink,
): string[] | undefined {
  const out: string[] = [];
  for (const [i, name] of order.entries()) {
    const ct = desc.coreTypes.find((t) => t.name === name || t.pmu.name === name);
    if (!ct) {
      diags.err(
        [...path, i],
        `no core type or PMU "${name}"`,
        `one of: ${desc.coreTypes.flatMap((t) => [t.name, t.pmu.name]).join(", ")}`,
      );
      return undefined;
    }
    out.push(ct.name);
  }
  if (new Set(out).size !== out.length || out.length !== desc.coreTypes.length) {
    diags.err(
      path,
      "the probe order must list every core PMU once",
      desc.coreTypes.map((t) => t.pmu.name).join(", "),
    );
    return undefined;
  }
  return out;
}

/** The PMU names a perf type may be given by on this machine (core, uncore, tracing, software). */
export function pmuNames(machine: MachineDesc): string[] {
  return [
    ...machine.coreTypes.map((t) => t.pmu.name),
    ...machine.uncore.map((u) => u.name),
    ...(machine.tracePmu ? [machine.tracePmu] : []),
    "software",
  ];
}
