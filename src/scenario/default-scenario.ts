/**
 * The scenario `vpmu run` runs when no file is given: a short tour embedded in the package.
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
