/**
 * The scenarios `vpmu run` runs when no file is given: a short tour embedded in the
 * package, one stop per capability.
 */
export const DEFAULT_SCENARIO_NAME = "<built-in tour>";

export const DEFAULT_SCENARIO = `# vpmu built-in tour: one task on a big.LITTLE board.
name: tour
description: >-
  A compute task on the rk3399 (Cortex-A53 little cluster, Cortex-A72 big cluster)
  moves from a little core to a big core halfway through; the same work retires
  more instructions per second on the big core.
machine: rk3399
duration: 200ms
tasks:
  - name: worker
    workload: compute
    affinity: "0"
  - name: background
    workload: memory
    affinity: "0-3"
actions:
  - at: 100ms
    do: sched_setaffinity
    task: worker
    cpus: "4-5"
    expect: { ret: 0 }
  - at: 150ms
    do: sched_setaffinity
    task: worker
    cpus: "9"
    label: a CPU that does not exist
    expect: { errno: EINVAL }
expect:
  - truth: { task: worker, event: instructions, cpus: "4-5" }
    approx: 360000000
    tolerance: 1%
  - task: { name: worker, field: migrations }
    equals: 1
`;

/** Tour stop 2: a guest on the same big.LITTLE board, bound to the big cluster's PMU with SET_PMU. */
export const TOUR_ARM64_SET_PMU = `# vpmu built-in tour: KVM_ARM_VCPU_PMU_V3_SET_PMU and KVM_EXIT_FAIL_ENTRY.
name: tour-arm64-set-pmu
description: >-
  A guest on the rk3399 under Linux 7.0. kvmtool pins its vCPU to the Cortex-A72
  cluster and binds the vPMU to the A72 PMU (SET_PMU, type 7), so the guest's
  perf stat counts exactly what it ran. Moved to an A53, the vCPU cannot enter
  the guest: KVM_RUN returns KVM_EXIT_FAIL_ENTRY (CPU_UNSUPPORTED) on CPU 0.
  The VMM pins it back and calls KVM_RUN again; the guest counts again.
machine: rk3399
duration: 60ms
vms:
  - name: vm0
    vmm: kvmtool
    vmm_cpu: 4
    vcpus: [{ affinity: "4-5" }]
    perf:
      - { name: guest, events: "cycles,instructions", start: 5ms, stop: 55ms }
actions:
  - { at: 20ms, do: sched_setaffinity, task: vm0/vcpu0, cpus: "0", expect: { ret: 0 } }
  - { at: 40ms, do: sched_setaffinity, task: vm0/vcpu0, cpus: "4-5", expect: { ret: 0 } }
  - { at: 40ms, do: kvm_run, vm: vm0, vcpu: 0, expect: { ret: 0 } }
expect:
  - label: KVM_EXIT_FAIL_ENTRY on CPU 0
    vcpu: { vm: vm0, id: 0, field: fail_entry_cpu }
    equals: 0
  - label: "guest cycles: 30 ms on the A72 at 1800 MHz, as the truth"
    event: { measurement: guest, event: cycles, field: count }
    near_truth: 0.1%
`;

/** Tour stop 3: a mediated vPMU guest next to host perf on an x86 server (Linux 7.0). */
export const TOUR_X86_VPMU = `# vpmu built-in tour: a guest that owns the PMU while it runs.
name: tour-x86-mediated-vpmu
description: >-
  Linux 7.0 with kvm-intel.enable_mediated_pmu=1 and the NMI watchdog off. A guest
  vCPU on CPU 2 runs perf stat on its virtual PMU: its counts come straight from
  the hardware. The host's exclude_guest cycles:H event on CPU 2 is switched out
  at every VM-entry and back in at every exit, gaining no time while the guest
  runs. Opening a cycles event that would count the guest fails with EOPNOTSUPP.
machine: x86-server
duration: 50ms
kernel:
  nmi_watchdog: false
  kvm: { enable_mediated_pmu: true }
perf:
  - { name: host, cpus: "2", events: "cycles:H" }
vms:
  - name: vm0
    vcpus: [{ affinity: "2" }]
    perf:
      - { name: guest, events: "cycles,instructions", start: 5ms, stop: 45ms }
actions:
  - at: 20ms
    do: perf_event_open
    event: cycles
    cpu: 3
    label: host cycles (counting the guest too) while a mediated VM exists
    expect: { errno: EOPNOTSUPP }
expect:
  - event: { measurement: guest, event: instructions, field: scaled }
    near_truth: 1%
`;

/** Every stop of the tour, in order. */
export const TOUR: ReadonlyArray<{ name: string; text: string }> = [
  { name: "tour", text: DEFAULT_SCENARIO },
  { name: "tour-arm64-set-pmu", text: TOUR_ARM64_SET_PMU },
  { name: "tour-x86-mediated-vpmu", text: TOUR_X86_VPMU },
];
