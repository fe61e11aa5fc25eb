/**
 * vpmu: a deterministic, executable model of Linux PMU virtualization.
 *
 * The library gives the same power as the CLI: build a {@link System} on a machine preset
 * and drive it through kernel-shaped calls (which throw {@link KernelError} with the
 * kernel's errno), or load and run scenario files. Bad model input (options, spawn specs,
 * times, workloads, credentials) throws {@link ArgumentError} where it enters.
 */

export { type Finding, INVARIANT_RULES, InvariantChecker } from "./check/invariants.js";
export { ArmGuestPerfStat, GUEST_ARM_EVENTS } from "./guest/arm-perf-stat.js";
export { ARM_PMU_TESTS, type ArmPmuTest } from "./guest/kvm-unit-tests/arm-pmu.js";
export {
  type KutArmOptions,
  type KutArmResult,
  runArmPmuTest,
} from "./guest/kvm-unit-tests/harness.js";
export { GuestPerfRecord, type GuestRecordResult } from "./guest/perf-record.js";
export { GUEST_AMD_EVENTS, GUEST_ARCH_EVENTS, GuestPerfStat } from "./guest/perf-stat.js";
export { formatCpuList, parseCpuList } from "./hw/cpulist.js";
export type { CoreType, MachineDesc, UncoreDesc } from "./hw/machine.js";
export { PRESET_SUMMARY, PRESETS, preset } from "./hw/presets.js";
export { MODE_NAMES, Mode, Q, QUANTITY_NAMES } from "./hw/quantity.js";
export { BUILTIN_WORKLOADS, type Workload, type WorkloadProfile } from "./hw/workload.js";
export { KvmDevice, VmHandle } from "./kvm/api.js";
export {
  type ArmProfile,
  KVM_ARM_VCPU_PMU_V3,
  KVM_CAP_ARM_PMU_V3,
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_FAIL_ENTRY_CPU_UNSUPPORTED,
  KvmArm64,
  KvmArmVcpu,
  KvmArmVm,
  PMU_ATTR,
} from "./kvm/arm64/kvm.js";
export { ARMV8_EVENT, PMCR, type PmuReg } from "./kvm/arm64/pmuv3.js";
export { type ArmVmmFlow, armVmmRun, armVmmSetupVcpu } from "./kvm/arm64/vmm.js";
export { DEFAULT_KVM_COSTS, type KvmCosts } from "./kvm/costs.js";
export { Kvm, type KvmParams } from "./kvm/kvm.js";
export { GuestPmuOps, type KvmVcpu } from "./kvm/vcpu.js";
export { KVM_CAP_PMU_CAPABILITY, KVM_CAP_PMU_EVENT_FILTER, KVM_PMU_CAP_DISABLE } from "./kvm/vm.js";
export { type AmdPmuCpuid, KvmAmdPmu } from "./kvm/x86/amd.js";
export { AMD_MSR, EVENTSEL, MSR } from "./kvm/x86/msr.js";
export { PERF_EVENT_STATE, type PerfEvent, stateName } from "./perf/event.js";
export { type Credentials, ROOT } from "./perf/open.js";
export { PERF_PMU_CAP } from "./perf/pmu.js";
export type { PerfReadResult } from "./perf/read.js";
export { parseEvent, parseEventList } from "./perf/tool/parse-events.js";
export * from "./perf/uapi.js";
export { ChromeTraceSink } from "./report/chrome-trace.js";
export { type CsvOptions, csvReport } from "./report/csv.js";
export { jsonReport, variantsJsonReport } from "./report/json.js";
export { listPmus } from "./report/pmus.js";
export type { RunResult } from "./report/result.js";
export { textReport, variantsComparison, variantsTextReport } from "./report/text.js";
export type { Scenario } from "./scenario/compile.js";
export { DEFAULT_SCENARIO, TOUR } from "./scenario/default-scenario.js";
export { type Diagnostic, formatDiagnostic, ScenarioError } from "./scenario/diagnostics.js";
export { loadScenario, parseScenario } from "./scenario/load.js";
export { type RunOptions, runScenario, runVariants, ScenarioRun } from "./scenario/runner.js";
export { scenarioJsonSchema } from "./scenario/schema.js";
export type { Task } from "./sched/task.js";
export { PF_VCPU } from "./sched/task.js";
export { ArgumentError } from "./sim/argument.js";
export { ERRNO, type ErrnoName, errnoName, KernelError } from "./sim/errno.js";
export { EventQueue, Timer } from "./sim/queue.js";
export { Rng } from "./sim/rng.js";
export {
  formatDuration,
  msToNs,
  NS_PER_MS,
  NS_PER_SEC,
  type Ns,
  nsToMs,
  parseDuration,
  usToNs,
} from "./sim/time.js";
export {
  JsonLinesSink,
  MemorySink,
  TraceBus,
  type TraceRecord,
  type TraceSink,
} from "./sim/trace.js";
export { System, type SystemOptions } from "./system.js";
export { VERSION } from "./version.js";
