import { z } from "zod";

/**
 * The scenario file format, as zod schemas. This is the single source of truth: the
 * validator, the TypeScript types and the committed JSON Schema
 * (schema/scenario.schema.json) all come from here. Field docs live in
 * docs/scenario-format.md. Every object is strict, so a typo is an error.
 */

const DURATION_RE = /^\s*\d+(\.\d+)?\s*(ns|us|µs|ms|s)\s*$/;

/** A duration: `250ms`, `1.5s`, `100us`, `20ns`, or an integer number of nanoseconds. */
export const Duration = z.union([z.string().regex(DURATION_RE), z.number().int().nonnegative()], {
  error: "a duration such as 250ms, 1.5s, 100us or an integer number of ns",
});

/** A CPU list: `0-3,6`, a single CPU number, or `all`. */
export const CpuList = z.union(
  [
    z.string().regex(/^\s*(all|\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*)\s*$/),
    z.number().int().nonnegative(),
  ],
  {
    error: 'a CPU list such as "0-3,6", a CPU number, or "all"',
  },
);

const Percent = z.union([z.string().regex(/^\s*\d+(\.\d+)?\s*%\s*$/), z.number().nonnegative()], {
  error: 'a tolerance: an absolute number or a percentage such as "2%"',
});

const Ratio = z.number().min(0).max(1);

/** A workload rate profile; every field optional so per-core-type overrides can be partial. */
const ProfileFields = {
  freq_mhz: z.number().positive().optional(),
  ipc: z.number().positive().optional(),
  branch_ratio: Ratio.optional(),
  branch_miss_ratio: Ratio.optional(),
  mem_ratio: z.number().min(0).max(4).optional(),
  load_fraction: Ratio.optional(),
  l1d_miss_ratio: Ratio.optional(),
  llc_ref_ratio: Ratio.optional(),
  llc_miss_ratio: Ratio.optional(),
  stall_frontend: Ratio.optional(),
  stall_backend: Ratio.optional(),
  user_fraction: Ratio.optional(),
};

export const WorkloadDef = z.strictObject({
  /** Start from a built-in workload. */
  base: z.string().optional(),
  ...ProfileFields,
  per_core_type: z.record(z.string(), z.strictObject(ProfileFields)).optional(),
});

const PmuDef = z.strictObject({
  name: z.string().min(1),
  counters: z.number().int().min(0).max(31),
  fixed: z.number().int().min(0).max(3).optional(),
  width: z.number().int().min(16).max(64).optional(),
  version: z.number().int().min(1).max(9).optional(),
  pmuv3p5: z.boolean().optional(),
  events: z.array(z.number().int().min(0).max(0xffff)).optional(),
});

const CoreTypeDef = z.strictObject({
  name: z.string().min(1),
  freq_mhz: z.number().positive(),
  ipc_scale: z.number().positive().optional(),
  ref_mhz: z.number().positive().optional(),
  pmu: PmuDef,
});

const CustomMachine = z.strictObject({
  name: z.string().min(1),
  arch: z.enum(["x86_64", "arm64"]),
  core_types: z.array(CoreTypeDef).min(1),
  cpus: z
    .array(
      z.strictObject({
        core_type: z.string(),
        count: z.number().int().min(1).max(512).optional(),
        cluster: z.number().int().min(0).optional(),
      }),
    )
    .min(1),
  uncore: z.boolean().optional(),
  probe_order: z.array(z.string()).optional(),
  offline: z.array(z.number().int().nonnegative()).optional(),
});

const PresetMachine = z.strictObject({
  preset: z.string(),
  probe_order: z.array(z.string()).optional(),
  offline: z.array(z.number().int().nonnegative()).optional(),
});

export const MachineSpec = z.union([z.string(), PresetMachine, CustomMachine], {
  error: "a preset name, { preset: ... } or a custom machine with name, arch, core_types and cpus",
});

export const KernelSpec = z.strictObject({
  profile: z.enum(["7.0", "5.18", "rfc-v1"]).optional(),
  hz: z.number().int().min(100).max(1000).optional(),
  sched_latency: Duration.optional(),
  sched_min_granularity: Duration.optional(),
  nmi_watchdog: z.boolean().optional(),
  perf_event_paranoid: z.number().int().min(-1).max(4).optional(),
  perf_event_max_sample_rate: z.number().int().min(1).optional(),
  perf_event_mux_interval_ms: z.record(z.string(), z.number().int().min(1)).optional(),
  nr_open: z.number().int().min(8).max(1048576).optional(),
  /** rfc-v1 only: apply the evident fix to the RFC's sibling loop. */
  rfc_fix_sibling_loop: z.boolean().optional(),
  /** KVM module parameters and cost model. */
  kvm: z
    .strictObject({
      enable_pmu: z.boolean().optional(),
      /** 7.0: kvm-intel.enable_mediated_pmu; rfc-v1: enable_passthrough_pmu. */
      enable_mediated_pmu: z.boolean().optional(),
      costs: z
        .strictObject({
          exit_base_ns: z.number().nonnegative().optional(),
          pmu_msr_ns: z.number().nonnegative().optional(),
          perf_event_create_ns: z.number().nonnegative().optional(),
          pmu_switch_ns: z.number().nonnegative().optional(),
          pmi_inject_ns: z.number().nonnegative().optional(),
          /** Emulated vPMU: perf_event_pause() of a backing event. */
          perf_event_pause_ns: z.number().nonnegative().optional(),
          /** Emulated vPMU: perf_event_period() on an active backing event. */
          perf_event_period_ns: z.number().nonnegative().optional(),
          /** Emulated vPMU: perf_event_enable() of a backing event. */
          perf_event_enable_ns: z.number().nonnegative().optional(),
          /** Emulated vPMU: per enabled backing event, the ctx_resched() an enable triggers. */
          perf_ctx_event_ns: z.number().nonnegative().optional(),
          /** Emulated vPMU: the host NMI for one backing event's overflow. */
          host_pmi_ns: z.number().nonnegative().optional(),
          /** Guest perf's PMI handler per PMI (guest kernel time). */
          guest_pmi_ns: z.number().nonnegative().optional(),
          /** Guest perf per sample: perf_event_overflow() and the ring buffer write (guest kernel time). */
          guest_sample_ns: z.number().nonnegative().optional(),
          /** Guest perf record's userspace draining per sample (guest user time). */
          guest_drain_ns: z.number().nonnegative().optional(),
        })
        .optional(),
    })
    .optional(),
});

const Name = z.string().regex(/^[A-Za-z_][\w.-]*$/, { error: "a name of letters, digits, _ . -" });

const FilterSpec = z.strictObject({
  action: z.enum(["allow", "deny"]),
  /** eventsel | umask << 8 entries (or masked entries with masked: true). */
  events: z.array(
    z.union([z.number().int().nonnegative(), z.string().regex(/^\s*0x[0-9a-fA-F]{1,16}\s*$/)]),
  ),
  fixed_counter_bitmap: z.number().int().nonnegative().optional(),
  masked: z.boolean().optional(),
});

export const VmSpec = z.strictObject({
  name: Name,
  /**
   * arm64: how the VMM sets up the PMU of each vCPU (src/kvm/arm64/vmm.ts): qemu (IRQ, INIT),
   * kvmtool (IRQ, SET_PMU of the PMU covering the VMM thread's CPU, INIT), firecracker
   * (feature bit, no INIT), or none (KVM_CREATE_VCPU only: VCPU_INIT, the PMU attributes and
   * KVM_RUN are actions).
   */
  vmm: z.enum(["qemu", "kvmtool", "firecracker", "none"]).optional(),
  /** arm64: the CPU the VMM's main thread runs on (where VCPU_INIT executes). */
  vmm_cpu: z.number().int().nonnegative().optional(),
  /** arm64: request the PMUv3 vCPU feature (default true). */
  pmu: z.boolean().optional(),
  /** arm64: the vGIC is initialized before the PMU (default true). */
  vgic_ready: z.boolean().optional(),
  /** An in-kernel irqchip (local APIC); without it the 7.0 mediated vPMU is silently off. */
  irqchip: z.boolean().optional(),
  /** Guest CPUID leaf 0xA; defaults to what KVM supports. */
  cpuid: z
    .strictObject({
      version: z.number().int().min(0).max(255),
      gp: z.number().int().min(0).max(255),
      gp_width: z.number().int().min(0).max(64).optional(),
      fixed: z.number().int().min(0).max(31).optional(),
      fixed_width: z.number().int().min(0).max(64).optional(),
    })
    .optional(),
  /**
   * AMD hosts: the guest CPUID bits that shape the AMD vPMU (0x80000001 ECX PerfCtrExtCore,
   * 0x80000022 PerfMonV2 and NumCorePmc); each defaults to what KVM supports.
   */
  amd_cpuid: z
    .strictObject({
      perfctr_core: z.boolean().optional(),
      perfmon_v2: z.boolean().optional(),
      num_core_pmc: z.number().int().min(0).max(15).optional(),
    })
    .optional(),
  filter: FilterSpec.optional(),
  /** The guest's workload (what its vCPUs execute in guest mode). */
  workload: z.string().optional(),
  vcpus: z
    .array(
      z.strictObject({
        affinity: CpuList.optional(),
        start: Duration.optional(),
        /** VM exits per second besides the host tick (I/O, timers). */
        exit_rate: z.number().nonnegative().max(1_000_000).optional(),
        expect: z.lazy(() => ActionResultExpect).optional(),
      }),
    )
    .min(1)
    .max(256),
  /** perf stat inside the guest. */
  perf: z
    .array(
      z.strictObject({
        name: Name,
        vcpu: z.number().int().nonnegative().optional(),
        events: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
          error: 'guest events such as "cycles,instructions,branches" or raw r00c4',
        }),
        start: Duration.optional(),
        stop: Duration.optional(),
        /** perf record instead of perf stat: -F <freq> or -c <period>, with guest PMIs. */
        record: z
          .union(
            [
              z.strictObject({ freq: z.number().int().min(1).max(100_000) }),
              z.strictObject({
                period: z
                  .number()
                  .int()
                  .min(1)
                  .max(2 ** 47),
              }),
            ],
            { error: "record needs { freq: <1-100000 Hz> } or { period: <events> }" },
          )
          .optional(),
      }),
    )
    .optional(),
});

export const TaskSpecSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][\w.-]*$/, { error: "a name of letters, digits, _ . -" }),
  workload: z.string(),
  affinity: CpuList.optional(),
  start: Duration.optional(),
  duty: z.strictObject({ run: Duration, sleep: Duration }).optional(),
  exit_after: Duration.optional(),
});

/** Events in perf's own syntax: a comma-separated string or a list of strings. */
const EventList = z.union(
  [z.string().min(1).max(65_536), z.array(z.string().min(1).max(4096)).min(1).max(1024)],
  {
    error: 'perf events such as "cycles,instructions:u" or a list of them',
  },
);

export const PerfMeasurement = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][\w.-]*$/, { error: "a name of letters, digits, _ . -" }),
  events: EventList,
  /** System-wide on these CPUs (`all` = every CPU), like perf stat -a / -C. */
  cpus: CpuList.optional(),
  /** A task by name, like perf stat -p. */
  task: z.string().optional(),
  start: Duration.optional(),
  stop: Duration.optional(),
  interval: Duration.optional(),
  /** Run unprivileged (subject to perf_event_paranoid). */
  unprivileged: z.boolean().optional(),
  /**
   * expand (default): generic hardware events open once per core PMU with an extended
   * type, like current perf; legacy: once, bound to the first PMU that accepts them.
   */
  generic_events: z.enum(["expand", "legacy"]).optional(),
});

const ActionResultExpect = z.strictObject({
  ret: z.number().int().optional(),
  errno: z
    .string()
    .regex(/^E[A-Z0-9]+$/, { error: "an errno name such as EBUSY" })
    .optional(),
  ok: z.boolean().optional(),
});

const ActionCommon = {
  at: Duration,
  expect: ActionResultExpect.optional(),
  label: z.string().optional(),
};

const AttrFields = z.strictObject({
  /** A perf type id, or a PMU name (resolved on the scenario's machine). */
  type: z
    .union([z.number().int().nonnegative(), z.string().regex(/^[A-Za-z_][\w.-]*$/)], {
      error: "a perf type id or a PMU name",
    })
    .optional(),
  config: z
    .union([z.number().int(), z.string().regex(/^\s*(0x[0-9a-fA-F]{1,16}|\d{1,20})\s*$/)], {
      error: 'a number, or a string such as "0x3c" for values above 2^53',
    })
    .optional(),
  size: z.number().int().optional(),
  disabled: z.boolean().optional(),
  pinned: z.boolean().optional(),
  exclusive: z.boolean().optional(),
  exclude_user: z.boolean().optional(),
  exclude_kernel: z.boolean().optional(),
  exclude_hv: z.boolean().optional(),
  exclude_idle: z.boolean().optional(),
  exclude_host: z.boolean().optional(),
  exclude_guest: z.boolean().optional(),
  sample_period: z.number().int().nonnegative().optional(),
  sample_freq: z.number().int().nonnegative().optional(),
  freq: z.boolean().optional(),
  read_format: z
    .array(z.enum(["total_time_enabled", "total_time_running", "id", "group", "lost"]))
    .optional(),
  inherit: z.boolean().optional(),
});

export const Action = z.discriminatedUnion(
  "do",
  [
    z.strictObject({
      ...ActionCommon,
      do: z.literal("sched_setaffinity"),
      task: z.string(),
      cpus: CpuList,
    }),
    z.strictObject({ ...ActionCommon, do: z.literal("kill"), task: z.string() }),
    z.strictObject({
      ...ActionCommon,
      do: z.literal("cpu_online"),
      cpu: z.number().int().nonnegative(),
    }),
    z.strictObject({
      ...ActionCommon,
      do: z.literal("cpu_offline"),
      cpu: z.number().int().nonnegative(),
    }),
    z.strictObject({
      ...ActionCommon,
      do: z.literal("perf_event_open"),
      /** Handle name later actions and expectations use for the returned fd. */
      name: z.string().optional(),
      /** One event in perf syntax (`cycles:u`), or give `attr` instead. */
      event: z.string().optional(),
      attr: AttrFields.optional(),
      task: z.string().optional(),
      pid: z.number().int().optional(),
      cpu: z.number().int().optional(),
      group: z.string().optional(),
      group_fd: z.number().int().optional(),
      flags: z.number().int().optional(),
      unprivileged: z.boolean().optional(),
    }),
    z.strictObject({
      ...ActionCommon,
      do: z.literal("ioctl"),
      fd: z.string(),
      op: z.enum(["ENABLE", "DISABLE", "RESET", "REFRESH", "PERIOD", "ID"]),
      arg: z.number().int().optional(),
      group: z.boolean().optional(),
    }),
    z.strictObject({ ...ActionCommon, do: z.literal("read"), fd: z.string() }),
    z.strictObject({ ...ActionCommon, do: z.literal("close"), fd: z.string() }),
    z.strictObject({
      ...ActionCommon,
      do: z.literal("kvm_enable_cap"),
      vm: z.string(),
      /** KVM_CAP_PMU_CAPABILITY with args[0] (1 = KVM_PMU_CAP_DISABLE). */
      cap: z.literal("pmu_capability"),
      args: z.number().int(),
    }),
    z.strictObject({
      ...ActionCommon,
      do: z.literal("kvm_set_pmu_event_filter"),
      vm: z.string(),
      action: z.union([z.enum(["allow", "deny"]), z.number().int()]),
      events: z.array(
        z.union([z.number().int().nonnegative(), z.string().regex(/^\s*0x[0-9a-fA-F]{1,16}\s*$/)]),
      ),
      nevents: z.number().int().optional(),
      fixed_counter_bitmap: z.number().int().nonnegative().optional(),
      flags: z.number().int().optional(),
    }),
    z.strictObject({
      ...ActionCommon,
      do: z.literal("kvm_create_vcpu"),
      vm: z.string(),
      id: z.number().int(),
      affinity: CpuList.optional(),
      exit_rate: z.number().nonnegative().optional(),
    }),
    z.strictObject({ ...ActionCommon, do: z.literal("kvm_destroy_vm"), vm: z.string() }),
    z.strictObject({
      ...ActionCommon,
      do: z.literal("kvm_arm_vcpu_init"),
      vm: z.string(),
      vcpu: z.number().int().nonnegative(),
      /** kvm_vcpu_init.features[0]; bit 3 is PMU_V3. */
      features: z.number().int().nonnegative(),
      vmm_cpu: z.number().int().nonnegative().optional(),
    }),
    z.strictObject({
      ...ActionCommon,
      do: z.enum(["kvm_set_device_attr", "kvm_has_device_attr", "kvm_get_device_attr"]),
      vm: z.string(),
      vcpu: z.number().int().nonnegative(),
      /** KVM_ARM_VCPU_PMU_V3_CTRL attribute (by name or number). */
      attr: z.union([
        z.enum(["irq", "init", "filter", "set_pmu", "set_nr_counters"]),
        z.number().int(),
      ]),
      /** IRQ number, PMU type id or PMU name (set_pmu), counter count, or a filter. */
      value: z
        .union([
          z.number().int(),
          z.string(),
          z.strictObject({
            base_event: z.number().int(),
            nevents: z.number().int(),
            action: z.union([z.enum(["allow", "deny"]), z.number().int()]),
          }),
        ])
        .optional(),
    }),
    z.strictObject({
      ...ActionCommon,
      do: z.literal("kvm_run"),
      vm: z.string(),
      vcpu: z.number().int().nonnegative(),
    }),
    z.strictObject({
      ...ActionCommon,
      do: z.literal("sysctl"),
      name: z.enum([
        "kernel.nmi_watchdog",
        "kernel.perf_event_paranoid",
        "kernel.perf_event_max_sample_rate",
      ]),
      value: z.number().int(),
    }),
  ],
  {
    error:
      "an action: do must be one of sched_setaffinity, kill, cpu_online, cpu_offline, perf_event_open, ioctl, read, close, kvm_enable_cap, kvm_set_pmu_event_filter, kvm_create_vcpu, kvm_destroy_vm, kvm_arm_vcpu_init, kvm_set_device_attr, kvm_has_device_attr, kvm_get_device_attr, kvm_run, sysctl",
  },
);

const Value = z.union([z.number(), z.string(), z.boolean()]);

export const Expectation = z.strictObject({
  label: z.string().optional(),
  /** Check only in this variant (a name under variants); without it, in every variant. */
  variant: z.string().optional(),
  // Subjects: exactly one.
  truth: z
    .strictObject({
      event: z.string(),
      task: z.string().optional(),
      cpus: CpuList.optional(),
      modes: z.array(z.enum(["host-user", "host-kernel", "guest-user", "guest-kernel"])).optional(),
    })
    .optional(),
  task: z
    .strictObject({
      name: z.string(),
      field: z.enum(["runtime", "migrations", "switches", "cpu", "state"]),
    })
    .optional(),
  cpu: z
    .strictObject({
      id: z.number().int().nonnegative(),
      field: z.enum(["busy", "idle", "switches"]),
    })
    .optional(),
  vcpu: z
    .strictObject({
      vm: z.string(),
      id: z.number().int().nonnegative(),
      /**
       * exits (all), exits.<reason> (tick, io, msr, rdpmc, pmi, preempt), entries, guest_time,
       * host_time, guest_sampling_time (ns), slowdown (%, model estimate).
       */
      field: z
        .string()
        .regex(
          /^(exits(\.(tick|io|msr|sysreg|rdpmc|pmi|preempt|emulation|nmi_window|fail_entry))?|entries|guest_time|host_time|guest_sampling_time|slowdown|created|fail_entries|fail_entry_cpu|irq_raised)$/,
          {
            error:
              "exits, exits.<tick|io|msr|sysreg|rdpmc|pmi|preempt|emulation|nmi_window|fail_entry>, entries, guest_time, host_time, guest_sampling_time, slowdown, created, fail_entries, fail_entry_cpu or irq_raised",
          },
        ),
    })
    .optional(),
  event: z
    .strictObject({
      measurement: z.string().optional(),
      fd: z.string().optional(),
      event: z.string().optional(),
      cpu: z.number().int().nonnegative().optional(),
      field: z.enum([
        "count",
        "scaled",
        "enabled",
        "running",
        "state",
        "truth",
        "percent",
        "samples",
      ]),
    })
    .optional(),
  // Comparators: exactly one of equals / approx / near_truth / one_of, or min and/or max.
  equals: Value.optional(),
  approx: z.union([z.number(), z.string()]).optional(),
  tolerance: Percent.optional(),
  min: z.union([z.number(), z.string()]).optional(),
  max: z.union([z.number(), z.string()]).optional(),
  one_of: z.array(Value).optional(),
  near_truth: Percent.optional(),
});

/** A value a variant writes at a dotted path: a scalar or a whole list. */
const SetValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.unknown())], {
  error:
    "a string, number, boolean or list; to change a mapping, set each of its fields by its own dotted path",
});

/**
 * One variant of the scenario: the document with the values of `set` written at their dotted
 * paths (`kernel.profile`, `vms.0.perf.0.events` or `vms[0].perf[0].events`).
 */
export const VariantSpec = z.strictObject({
  name: Name,
  description: z.string().optional(),
  set: z.record(z.string().min(1).max(1000), SetValue).optional(),
});

/** Most variants one scenario may declare (a resource limit). */
export const MAX_VARIANTS = 16;

/** Most `set` entries one variant may have (a resource limit). */
export const MAX_VARIANT_SETS = 256;

export const ScenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  duration: Duration.optional(),
  machine: MachineSpec,
  kernel: KernelSpec.optional(),
  workloads: z.record(z.string(), WorkloadDef).optional(),
  tasks: z.array(TaskSpecSchema).max(10_000).optional(),
  perf: z.array(PerfMeasurement).max(256).optional(),
  vms: z.array(VmSpec).max(64).optional(),
  actions: z.array(Action).max(100_000).optional(),
  expect: z.array(Expectation).max(100_000).optional(),
  /** Findings the scenario declares as expected (names of invariant rules). */
  expected_findings: z.array(z.string()).optional(),
  /** The same scenario under other settings, run one after the other and compared. */
  variants: z.array(VariantSpec).min(1).max(MAX_VARIANTS).optional(),
});

/** A parsed (not yet compiled) scenario file. */
export type ScenarioFile = z.infer<typeof ScenarioSchema>;
export type ActionSpec = z.infer<typeof Action>;
export type ExpectationSpec = z.infer<typeof Expectation>;
export type PerfMeasurementSpec = z.infer<typeof PerfMeasurement>;
export type VmSpecFile = z.infer<typeof VmSpec>;
export type VariantSpecFile = z.infer<typeof VariantSpec>;

/** The JSON Schema of the scenario format. */
export function scenarioJsonSchema(): unknown {
  const s = z.toJSONSchema(ScenarioSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return {
    ...s,
    title: "vpmu scenario",
  };
}
