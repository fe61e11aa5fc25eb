/**
 * The perf_event_open(2) user ABI: struct perf_event_attr and its constants
 * (include/uapi/linux/perf_event.h). Field names follow the C struct so that kernel and
 * perf-tool readers recognise them.
 */

export const PERF_TYPE_HARDWARE = 0;
export const PERF_TYPE_SOFTWARE = 1;
export const PERF_TYPE_TRACEPOINT = 2;
export const PERF_TYPE_HW_CACHE = 3;
export const PERF_TYPE_RAW = 4;
export const PERF_TYPE_BREAKPOINT = 5;
/** First dynamically allocated PMU type (idr_alloc(&pmu_idr, pmu, PERF_TYPE_MAX, 0, ...)). */
export const PERF_TYPE_MAX = 6;

/** Extended hardware type: PMU type in config bits 63:32 for HARDWARE/HW_CACHE. */
export const PERF_PMU_TYPE_SHIFT = 32;
export const PERF_HW_EVENT_MASK = 0xffffffff;

export const PERF_COUNT_SW_CPU_CLOCK = 0;
export const PERF_COUNT_SW_TASK_CLOCK = 1;
export const PERF_COUNT_SW_PAGE_FAULTS = 2;
export const PERF_COUNT_SW_CONTEXT_SWITCHES = 3;
export const PERF_COUNT_SW_CPU_MIGRATIONS = 4;
export const PERF_COUNT_SW_PAGE_FAULTS_MIN = 5;
export const PERF_COUNT_SW_PAGE_FAULTS_MAJ = 6;
export const PERF_COUNT_SW_ALIGNMENT_FAULTS = 7;
export const PERF_COUNT_SW_EMULATION_FAULTS = 8;
export const PERF_COUNT_SW_DUMMY = 9;
export const PERF_COUNT_SW_BPF_OUTPUT = 10;
export const PERF_COUNT_SW_CGROUP_SWITCHES = 11;
export const PERF_COUNT_SW_MAX = 12;

/** perf_event_open() flags. */
export const PERF_FLAG_FD_NO_GROUP = 1 << 0;
export const PERF_FLAG_FD_OUTPUT = 1 << 1;
export const PERF_FLAG_PID_CGROUP = 1 << 2;
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;
export const PERF_FLAG_ALL =
  PERF_FLAG_FD_NO_GROUP | PERF_FLAG_FD_OUTPUT | PERF_FLAG_PID_CGROUP | PERF_FLAG_FD_CLOEXEC;

/** read_format bits. */
export const PERF_FORMAT_TOTAL_TIME_ENABLED = 1 << 0;
export const PERF_FORMAT_TOTAL_TIME_RUNNING = 1 << 1;
export const PERF_FORMAT_ID = 1 << 2;
export const PERF_FORMAT_GROUP = 1 << 3;
export const PERF_FORMAT_LOST = 1 << 4;
export const PERF_FORMAT_MAX = 1 << 5;

/** sample_type bits vpmu knows by name (the kernel defines up to PERF_SAMPLE_MAX). */
export const PERF_SAMPLE_IP = 1 << 0;
export const PERF_SAMPLE_TID = 1 << 1;
export const PERF_SAMPLE_TIME = 1 << 2;
export const PERF_SAMPLE_ADDR = 1 << 3;
export const PERF_SAMPLE_READ = 1 << 4;
export const PERF_SAMPLE_CALLCHAIN = 1 << 5;
export const PERF_SAMPLE_ID = 1 << 6;
export const PERF_SAMPLE_CPU = 1 << 7;
export const PERF_SAMPLE_PERIOD = 1 << 8;
export const PERF_SAMPLE_STREAM_ID = 1 << 9;
export const PERF_SAMPLE_RAW = 1 << 10;
export const PERF_SAMPLE_BRANCH_STACK = 1 << 11;
/** 1 << 26 in current kernels (after PERF_SAMPLE_CODE_PAGE_SIZE and WEIGHT_STRUCT). */
export const PERF_SAMPLE_MAX = 2 ** 26;

/** Sizes of the published struct versions; the model's struct is the latest. */
export const PERF_ATTR_SIZE_VER0 = 64;
export const PERF_ATTR_SIZE_VER8 = 136;
export const PERF_ATTR_SIZE_CURRENT = PERF_ATTR_SIZE_VER8;
export const PAGE_SIZE = 4096;

/** ioctl requests (by name; the model does not need the _IO numbers). */
export type PerfIoctl =
  | "ENABLE"
  | "DISABLE"
  | "REFRESH"
  | "RESET"
  | "PERIOD"
  | "ID"
  | "SET_OUTPUT"
  | "SET_FILTER";
export const PERF_IOC_FLAG_GROUP = 1;

/**
 * struct perf_event_attr. Only `type` is required; everything else defaults to zero, as a
 * zero-initialised C struct would.
 */
export interface PerfEventAttr {
  type: number;
  /** sizeof(struct perf_event_attr) as the caller knows it; 0 means VER0. */
  size?: number;
  config?: number | bigint;
  sample_period?: number;
  sample_freq?: number;
  sample_type?: number;
  read_format?: number;
  disabled?: boolean;
  inherit?: boolean;
  pinned?: boolean;
  exclusive?: boolean;
  exclude_user?: boolean;
  exclude_kernel?: boolean;
  exclude_hv?: boolean;
  exclude_idle?: boolean;
  mmap?: boolean;
  comm?: boolean;
  freq?: boolean;
  inherit_stat?: boolean;
  enable_on_exec?: boolean;
  task?: boolean;
  watermark?: boolean;
  precise_ip?: number;
  mmap_data?: boolean;
  sample_id_all?: boolean;
  exclude_host?: boolean;
  exclude_guest?: boolean;
  exclude_callchain_kernel?: boolean;
  exclude_callchain_user?: boolean;
  mmap2?: boolean;
  comm_exec?: boolean;
  use_clockid?: boolean;
  context_switch?: boolean;
  write_backward?: boolean;
  namespaces?: boolean;
  ksymbol?: boolean;
  bpf_event?: boolean;
  aux_output?: boolean;
  cgroup?: boolean;
  text_poke?: boolean;
  build_id?: boolean;
  inherit_thread?: boolean;
  remove_on_exec?: boolean;
  sigtrap?: boolean;
  wakeup_events?: number;
  config1?: number | bigint;
  config2?: number | bigint;
  branch_sample_type?: number;
  clockid?: number;
  config3?: number | bigint;
  /**
   * Bytes the caller passes beyond the kernel's struct (when size > the kernel's size);
   * any non-zero byte makes the call fail with E2BIG, as copy_struct_from_user() does.
   */
  tail?: readonly number[];
}

/** Normalised attr the kernel keeps (every field present). */
export interface KernelAttr {
  type: number;
  size: number;
  config: bigint;
  sample_period: number;
  sample_freq: number;
  sample_type: number;
  read_format: number;
  disabled: boolean;
  inherit: boolean;
  pinned: boolean;
  exclusive: boolean;
  exclude_user: boolean;
  exclude_kernel: boolean;
  exclude_hv: boolean;
  exclude_idle: boolean;
  freq: boolean;
  enable_on_exec: boolean;
  exclude_host: boolean;
  exclude_guest: boolean;
  inherit_thread: boolean;
  remove_on_exec: boolean;
  sigtrap: boolean;
  namespaces: boolean;
  aux_output: boolean;
  use_clockid: boolean;
  write_backward: boolean;
  clockid: number;
  config1: bigint;
  config2: bigint;
  config3: bigint;
}

/** True if any exclude_* bit is set (kernel: event_has_any_exclude_flag()). */
export function hasAnyExclude(a: KernelAttr): boolean {
  return (
    a.exclude_idle ||
    a.exclude_user ||
    a.exclude_kernel ||
    a.exclude_hv ||
    a.exclude_guest ||
    a.exclude_host
  );
}

/** True for a sampling event (kernel: is_sampling_event()). */
export function isSampling(a: KernelAttr): boolean {
  return a.freq ? a.sample_freq !== 0 : a.sample_period !== 0;
}
