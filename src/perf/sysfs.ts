import { formatCpuList } from "../hw/cpulist.js";
import type { PerfCore } from "./core.js";
import { CorePmu } from "./drivers/core-pmu.js";
import { SoftwarePmu } from "./drivers/software.js";
import { ExclusivePmu, UncorePmu } from "./drivers/uncore.js";
import { PERF_EVENT_STATE } from "./event.js";
import type { PerfHost } from "./host.js";
import type { Pmu } from "./pmu.js";

/**
 * The sysfs and procfs files a simulated host shows to perf tooling: the PMUs under
 * /sys/bus/event_source/devices, the CPUs under /sys/devices/system/cpu, the NUMA node under
 * /sys/devices/system/node, and the perf sysctls under /proc/sys/kernel. `vpmu sysfs`
 * writes it out, and `vpmu exec` shows it to the real perf tool instead of the host's own.
 */

/** A symbolic link of the view (as sysfs links bus/event_source/devices/X to devices/X). */
export interface SysfsLink {
  link: string;
}

/**
 * The view: paths relative to the root ("sys/devices/cpu/type", "proc/sys/kernel/...") to
 * file contents or links. Directories are implied by their entries.
 */
export type SysfsView = Map<string, string | SysfsLink>;

/** Model parameters of the view that the model itself does not need. */
export const SYSFS_MODEL = {
  /** Node 0's memory in the meminfo file (16 GiB). */
  memTotalKb: 16 * 1024 * 1024,
  /** kernel.perf_event_max_stack and friends: the kernel's defaults. */
  maxStack: 127,
  maxContextsPerStack: 8,
  mlockKb: 516,
  cpuTimeMaxPercent: 25,
} as const;

/** Prefixes of the real paths the view replaces (what `vpmu exec` redirects). */
export const SYSFS_VIEW_ROOTS = [
  "sys/bus/event_source",
  "sys/devices/system/cpu",
  "sys/devices/system/node",
] as const;

/** The /proc/sys/kernel files the view replaces. */
export const PROC_KERNEL_FILES = [
  "perf_event_paranoid",
  "perf_event_max_sample_rate",
  "perf_event_max_stack",
  "perf_event_max_contexts_per_stack",
  "perf_event_mlock_kb",
  "perf_cpu_time_max_percent",
  "nmi_watchdog",
] as const;

/** What the view reads: the host and its perf core (a System is one). */
export type SysfsHost = PerfHost & { readonly perf: PerfCore };

/** Builds the whole view of a system as it is now (CPU online state, sysctls, watchdog). */
export function sysfsView(sys: SysfsHost): SysfsView {
  const view: SysfsView = new Map();
  addPmus(view, sys);
  addCpus(view, sys);
  addNode(view, sys);
  addDynamic(view, sys);
  return view;
}

/**
 * The entries that change while a system runs (CPU hotplug, sysctl writes, the watchdog
 * starting or stopping): what a live view refreshes as the model's clock moves.
 */
export function sysfsDynamicView(sys: SysfsHost): SysfsView {
  const view: SysfsView = new Map();
  addDynamic(view, sys);
  return view;
}

function addDynamic(view: SysfsView, sys: SysfsHost): void {
  addCpuOnline(view, sys);
  addProcKernel(view, sys);
}

/**
 * kernel: pmu_dev_alloc() and the drivers' attribute groups. Each PMU is a device under
 * /sys/devices/<name> with a link from the event_source bus. Which files exist follows
 * the driver: `cpus` for core PMUs covering part of the machine (x86 hybrid, arm64),
 * `cpumask` for uncore PMUs, `caps/` for x86 core PMUs, no events or format for software.
 */
function addPmus(view: SysfsView, sys: SysfsHost): void {
  const x86 = sys.machine.desc.arch === "x86_64";
  const hz = sys.sched.opts.hz;
  for (const p of sys.perf.registry.pmus) {
    const dir = `sys/devices/${p.name}`;
    view.set(`sys/bus/event_source/devices/${p.name}`, { link: `../../../devices/${p.name}` });
    view.set(`${dir}/type`, `${p.type}\n`);
    // kernel: perf_event_mux_interval_ms defaults to PERF_CPU_HRTIMER (1000 / HZ).
    view.set(
      `${dir}/perf_event_mux_interval_ms`,
      `${p.hrtimerIntervalMs || Math.max(1, Math.floor(1000 / hz))}\n`,
    );
    if (p instanceof SoftwarePmu) continue;
    for (const [k, v] of Object.entries(p.sysfsEvents())) view.set(`${dir}/events/${k}`, `${v}\n`);
    for (const [k, v] of Object.entries(p.sysfsFormat())) view.set(`${dir}/format/${k}`, `${v}\n`);
    addPmuCpus(view, dir, p, x86);
  }
}

function addPmuCpus(view: SysfsView, dir: string, p: Pmu, x86: boolean): void {
  if (p instanceof UncorePmu) {
    view.set(`${dir}/cpumask`, `${formatCpuList(p.desc.cpumask)}\n`);
    return;
  }
  if (p instanceof CorePmu) {
    // x86: only hybrid PMUs have `cpus` (a lone "cpu" PMU covers every CPU); arm_pmu: always.
    if (!x86 || p.heterogeneous) view.set(`${dir}/cpus`, `${formatCpuList(p.cpus)}\n`);
    if (x86) {
      view.set(`${dir}/caps/max_precise`, p.desc.vendor === "amd" ? "0\n" : "3\n");
      view.set(`${dir}/rdpmc`, "1\n");
    }
    return;
  }
  if (p instanceof ExclusivePmu) view.set(`${dir}/caps/max_precise`, "0\n");
}

/** The online and offline masks, and each hotpluggable CPU's `online` file. */
function addCpuOnline(view: SysfsView, sys: SysfsHost): void {
  const cpus = sys.machine.cpus;
  const all = cpus.map((c) => c.id);
  const online = cpus.filter((c) => c.online).map((c) => c.id);
  const base = "sys/devices/system/cpu";
  view.set(`${base}/online`, `${formatCpuList(online)}\n`);
  view.set(`${base}/offline`, `${formatCpuList(all.filter((c) => !online.includes(c)))}\n`);
  // cpu0 has no `online` file on most kernels (it cannot be hotplugged).
  for (const c of cpus)
    if (c.id !== 0) view.set(`${base}/cpu${c.id}/online`, c.online ? "1\n" : "0\n");
}

/** /sys/devices/system/cpu: the CPU masks perf sizes its maps from, and each CPU's topology. */
function addCpus(view: SysfsView, sys: SysfsHost): void {
  const cpus = sys.machine.cpus;
  const all = cpus.map((c) => c.id);
  const base = "sys/devices/system/cpu";
  view.set(`${base}/possible`, `${formatCpuList(all)}\n`);
  view.set(`${base}/present`, `${formatCpuList(all)}\n`);
  view.set(`${base}/kernel_max`, `${Math.max(all.length - 1, 0)}\n`);
  view.set(`${base}/isolated`, "\n");
  for (const c of cpus) {
    const dir = `${base}/cpu${c.id}`;
    const cluster = cpus.filter((o) => o.cluster === c.cluster).map((o) => o.id);
    const topo = `${dir}/topology`;
    view.set(`${topo}/physical_package_id`, "0\n");
    view.set(`${topo}/die_id`, "0\n");
    view.set(`${topo}/cluster_id`, `${c.cluster}\n`);
    view.set(`${topo}/core_id`, `${c.id}\n`);
    view.set(`${topo}/core_cpus_list`, `${c.id}\n`);
    view.set(`${topo}/thread_siblings_list`, `${c.id}\n`);
    view.set(`${topo}/cluster_cpus_list`, `${formatCpuList(cluster)}\n`);
    view.set(`${topo}/die_cpus_list`, `${formatCpuList(all)}\n`);
    view.set(`${topo}/package_cpus_list`, `${formatCpuList(all)}\n`);
    view.set(`${topo}/core_siblings_list`, `${formatCpuList(all)}\n`);
    view.set(`${dir}/node0`, { link: "../../node/node0" });
  }
}

/** A cpumask in the kernel's hex form: 32-bit words, most significant first, comma separated. */
export function formatCpuMask(cpus: readonly number[], nrCpus: number): string {
  const words: string[] = [];
  for (let w = Math.ceil(Math.max(nrCpus, 1) / 32) - 1; w >= 0; w--) {
    let bits = 0;
    for (const c of cpus) if (c >> 5 === w) bits |= 1 << (c & 31);
    const width = w === Math.ceil(nrCpus / 32) - 1 ? Math.ceil((nrCpus - w * 32) / 4) : 8;
    words.push((bits >>> 0).toString(16).padStart(Math.max(width, 1), "0"));
  }
  return words.join(",");
}

/** /sys/devices/system/node: one node holding every CPU (what libnuma reads). */
function addNode(view: SysfsView, sys: SysfsHost): void {
  const all = sys.machine.cpus.map((c) => c.id);
  const base = "sys/devices/system/node";
  for (const f of ["possible", "online", "has_cpu", "has_memory", "has_normal_memory"])
    view.set(`${base}/${f}`, "0\n");
  view.set(`${base}/node0/cpulist`, `${formatCpuList(all)}\n`);
  view.set(`${base}/node0/cpumap`, `${formatCpuMask(all, all.length)}\n`);
  view.set(`${base}/node0/distance`, "10\n");
  const kb = SYSFS_MODEL.memTotalKb;
  view.set(
    `${base}/node0/meminfo`,
    `Node 0 MemTotal:       ${kb} kB\nNode 0 MemFree:        ${kb} kB\nNode 0 MemUsed:        0 kB\n`,
  );
  for (const c of all) view.set(`${base}/node0/cpu${c}`, { link: `../../cpu/cpu${c}` });
}

/** /proc/sys/kernel: the perf sysctls, and nmi_watchdog while the hard-lockup detector runs. */
function addProcKernel(view: SysfsView, sys: SysfsHost): void {
  const core = sys.perf;
  const base = "proc/sys/kernel";
  view.set(`${base}/perf_event_paranoid`, `${core.opts.paranoid}\n`);
  view.set(`${base}/perf_event_max_sample_rate`, `${core.opts.maxSampleRate}\n`);
  view.set(`${base}/perf_event_max_stack`, `${SYSFS_MODEL.maxStack}\n`);
  view.set(`${base}/perf_event_max_contexts_per_stack`, `${SYSFS_MODEL.maxContextsPerStack}\n`);
  view.set(`${base}/perf_event_mlock_kb`, `${SYSFS_MODEL.mlockKb}\n`);
  view.set(`${base}/perf_cpu_time_max_percent`, `${SYSFS_MODEL.cpuTimeMaxPercent}\n`);
  // The file exists with CONFIG_HARDLOCKUP_DETECTOR (every x86 config; arm64 only with it on).
  const watchdog = [...core.events.values()].some(
    (e) => e.owner === "kernel" && e.name === "nmi_watchdog" && e.state !== PERF_EVENT_STATE.DEAD,
  );
  if (sys.machine.desc.arch === "x86_64" || watchdog)
    view.set(`${base}/nmi_watchdog`, watchdog ? "1\n" : "0\n");
}

/** The files of a view in path order, links resolved to "-> target" lines (for printing). */
export function sysfsViewLines(view: SysfsView): string[] {
  return [...view.keys()].sort().map((k) => {
    const v = view.get(k)!;
    return typeof v === "string" ? `/${k}: ${v.trimEnd()}` : `/${k} -> ${v.link}`;
  });
}
