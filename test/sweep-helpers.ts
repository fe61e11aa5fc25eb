/** A small sweep: 2 vPMU modes x 3 guest event lists, with host pinned events on CPU 2. */
export const SWEEP = `name: small
base:
  name: small-base
  machine: x86-server
  duration: 10ms
  kernel:
    nmi_watchdog: false
    kvm: { enable_mediated_pmu: true }
  perf:
    - name: agent
      cpus: "2"
      events: "r00c4:HD,r00c5:HD,r412e:HD,r4f2e:HD,r01c4:HD,r81d0:HD,r82d0:HD,r83d0:HD"
  vms:
    - name: vm0
      workload: branchy
      vcpus: [{ affinity: "2" }]
      perf:
        - { name: gstat, events: "cycles", start: 1ms, stop: 9ms }
axes:
  - name: vpmu
    levels:
      - { value: emulated, set: { kernel.kvm.enable_mediated_pmu: false } }
      - { value: mediated, set: { kernel.kvm.enable_mediated_pmu: true } }
  - name: events
    path: vms.0.perf.0.events
    values: ["cycles", "cycles,branches", "cycles,branches,branch-misses,cache-misses"]
collect:
  - { name: error_pct, error: { measurement: gstat } }
  - { name: exits, exits: { vm: vm0 } }
  - vms[name=vm0].vpmu
`;
