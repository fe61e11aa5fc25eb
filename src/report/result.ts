import type { MeasurementResult } from "../perf/tool/stat-result.js";

export type {
  CounterAttr,
  CounterResult,
  MeasurementResult,
  MetricResult,
} from "../perf/tool/stat-result.js";

/**
 * The result of a scenario run: the stable JSON shape `vpmu run --format json` prints
 * (documented in docs/json-output.md). Times are integer nanoseconds; counts are integers.
 * Fields are only added in later format versions, never renamed or removed.
 */
export interface RunResult {
  /** Output format version. */
  format: 1;
  vpmu: string;
  scenario: {
    name: string;
    description: string;
    seed: number;
    duration_ns: number;
    kernel_profile: string;
    hz: number;
    /** The variant that ran; only present for a variant of a scenario with `variants`. */
    variant?: string;
  };
  machine: {
    name: string;
    arch: string;
    cpus: Array<{ id: number; core_type: string; cluster: number; pmu: string; online: boolean }>;
  };
  tasks: TaskResult[];
  cpus: Array<{ id: number; busy_ns: number; idle_ns: number; switches: number }>;
  actions: ActionResult[];
  perf: MeasurementResult[];
  /** KVM guests (format 1 addition; empty without VMs). */
  vms: VmResult[];
  expectations: ExpectationResult[];
  findings: FindingResult[];
  summary: { passed: number; failed: number; events_processed: number };
}

/** Ground truth of one task on one core type. */
export interface TruthSlice {
  runtime_ns: number;
  cycles: number;
  instructions: number;
  user_ns: number;
  kernel_ns: number;
}

export interface TaskResult {
  name: string;
  pid: number;
  state: string;
  cpu: number;
  runtime_ns: number;
  migrations: number;
  switches: number;
  /** By core type name. */
  truth: Record<string, TruthSlice>;
}

export interface ActionResult {
  at_ns: number;
  do: string;
  label: string;
  /** `ret` for success, `errno` for failure. */
  result: { ret: number } | { errno: string };
  /** Extra data the call returned (a read's values, an id). */
  data?: unknown;
  /** Present when the scenario expected a result. */
  expected?: { ret?: number; errno?: string; ok?: boolean };
  ok?: boolean;
}

/** One VM and its vCPUs. */
export interface VmResult {
  name: string;
  /** "emulated", "mediated" (7.0) or "passthrough" (rfc-v1); "none" without a vPMU. */
  vpmu: string;
  pmu_version: number;
  vcpus: Array<{
    id: number;
    pid: number;
    cpu: number;
    entries: number;
    exits: Record<string, number>;
    guest_ns: number;
    host_ns: number;
    /** Model estimate: host time spent on exits as a percentage of guest time. */
    overhead_pct: number;
    /**
     * Model estimate: part of guest_ns the guest spent on its own sampling work (guest
     * perf's PMI handler and samples, perf record's draining) instead of its workload.
     */
    guest_sampling_ns: number;
    /**
     * Model estimate: the share of the vCPU's run time lost to PMU virtualization and
     * sampling, (host_ns + guest_sampling_ns) / (guest_ns + host_ns) * 100: the workload's
     * throughput loss, the definition of the published overhead figures.
     */
    slowdown_pct: number;
  }>;
}

export interface ExpectationResult {
  label: string;
  ok: boolean;
  observed: number | string | boolean | null;
  expected: string;
}

export interface FindingResult {
  t_ns: number;
  rule: string;
  cpu: number;
  subject: string;
  before: string;
  after: string;
  message: string;
  expected: boolean;
}

/** One variant's run (`vpmu run` on a scenario with `variants`). */
export interface VariantRunResult {
  name: string;
  description: string;
  /** The variant's `set` entries as written: dotted path → value. */
  set: Record<string, unknown>;
  result: RunResult;
}

/** The JSON report of a scenario with variants. */
export interface VariantsReport {
  variants: VariantRunResult[];
}
