import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../src/scenario/diagnostics.js";
import { loadScenario, parseScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";

/** The one-line diagnostics of a scenario (empty when it is valid). */
function diags(text: string): string[] {
  const r = parseScenario(text, "s.yaml");
  return r.ok ? [] : r.diagnostics.map(formatDiagnostic);
}

const arm = "name: t\nmachine: rk3399\nvms: [{ name: vm0, vmm: none, vcpus: [{ affinity: 4 }] }]\n";

describe("arm64 VMs in scenarios", () => {
  it("rejects the x86 KVM calls on arm64, with a location", () => {
    expect(
      diags(
        `${arm}actions: [{ at: 1ms, do: kvm_enable_cap, vm: vm0, cap: pmu_capability, args: 1 }]\n`,
      ),
    ).toEqual(["s.yaml:4:26: actions[0].do: kvm_enable_cap is an x86 call (an x86_64 machine)"]);
    expect(
      diags(
        `${arm}actions: [{ at: 1ms, do: kvm_set_pmu_event_filter, vm: vm0, action: deny, events: [0x11] }]\n`,
      ),
    ).toEqual([
      "s.yaml:4:26: actions[0].do: kvm_set_pmu_event_filter is an x86 call (an x86_64 machine; on arm64 use kvm_set_device_attr with attr: filter)",
    ]);
  });

  it("rejects a vCPU expect with vmm none (nothing calls KVM_RUN)", () => {
    expect(
      diags(
        "name: t\nmachine: rk3399\nvms:\n  - name: vm0\n    vmm: none\n    vcpus: [{ affinity: 4, expect: { ret: 0 } }]\n",
      ),
    ).toEqual([
      "s.yaml:6:36: vms[0].vcpus[0].expect: vmm none makes no KVM_RUN to check (a kvm_run action with its own expect)",
    ]);
  });

  it("exit_rate gives an arm64 vCPU its I/O exits, as on x86", () => {
    const r = runScenario(
      loadScenario(
        "name: t\nmachine: rk3399\nduration: 100ms\nkernel: { hz: 250 }\n" +
          "vms: [{ name: vm0, vmm: kvmtool, vcpus: [{ affinity: 0, exit_rate: 2000 }] }]\n" +
          "expect:\n" +
          "  - { vcpu: { vm: vm0, id: 0, field: exits.io }, min: 150, max: 200 }\n" +
          "  - { vcpu: { vm: vm0, id: 0, field: exits.tick }, min: 20, max: 26 }\n",
        "s.yaml",
      ),
    );
    // 2000/s for 100 ms, less the I/O timers a tick exit re-arms; 250 Hz ticks.
    expect(r.expectations.map((x) => [x.observed, x.ok])).toEqual([
      [175, true],
      [25, true],
    ]);
  });

  it("the guest's perf stat multiplexes more events than PMCR_EL0.N and scales them", () => {
    // The A72 has 6 event counters; 8 events share them (the first cycles event has the
    // cycle counter): each is on about 6/8 of the time and its scaled count is near the truth.
    const r = runScenario(
      loadScenario(
        "name: t\nmachine: rk3399\nduration: 100ms\n" +
          "vms:\n  - name: vm0\n    vmm: kvmtool\n    vmm_cpu: 4\n    workload: compute\n" +
          '    vcpus: [{ affinity: "4" }]\n    perf:\n' +
          '      - { name: g, start: 5ms, stop: 95ms, events: "cycles,instructions,mem_access,branch_misses,l1d_cache,l1d_cache_refill,instructions,mem_access,branch_misses" }\n' +
          "expect:\n" +
          "  - { event: { measurement: g, event: instructions, field: scaled }, near_truth: 1% }\n" +
          "  - { event: { measurement: g, event: l1d_cache_refill, field: scaled }, near_truth: 1% }\n" +
          "  - { event: { measurement: g, event: cycles, field: count }, near_truth: 0.1% }\n",
        "s.yaml",
      ),
    );
    expect(r.expectations.map((x) => [x.observed, x.ok])).toEqual([
      [321965280, true],
      [965885, true],
      [160985520, true],
    ]);
    const counters = r.perf.find((m) => m.name === "g")!.counters;
    // Status follows running time: every event had a counter for part of the run.
    expect(counters.map((c) => c.status)).toEqual(Array(9).fill("counted"));
    const share = counters.map((c) => Math.round((100 * c.running_ns) / c.enabled_ns));
    expect(share[0]).toBe(100);
    for (const p of share.slice(1)) expect(p).toBeGreaterThanOrEqual(72);
    for (const p of share.slice(1)) expect(p).toBeLessThanOrEqual(78);
  });

  it("vmm none creates the vCPUs and leaves every other call to actions", () => {
    const r = runScenario(
      loadScenario(
        `${arm}duration: 20ms\nactions:\n` +
          "  - { at: 1ms, do: kvm_run, vm: vm0, vcpu: 0, expect: { errno: ENOEXEC } }\n" +
          "  - { at: 2ms, do: kvm_create_vcpu, vm: vm0, id: 1, affinity: 5, expect: { ret: 0 } }\n" +
          "  - { at: 2ms, do: kvm_create_vcpu, vm: vm0, id: 1, expect: { errno: EEXIST } }\n" +
          "  - { at: 3ms, do: kvm_arm_vcpu_init, vm: vm0, vcpu: 1, features: 0, expect: { ret: 0 } }\n" +
          '  - { at: 3ms, do: sched_setaffinity, task: vm0/vcpu1, cpus: "4", expect: { ret: 0 } }\n' +
          "  - { at: 4ms, do: kvm_run, vm: vm0, vcpu: 1, expect: { ret: 0 } }\n" +
          "  - { at: 10ms, do: kvm_destroy_vm, vm: vm0, expect: { ret: 0 } }\n" +
          "expect:\n" +
          "  - { vcpu: { vm: vm0, id: 1, field: guest_time }, approx: 6000000, tolerance: 1% }\n" +
          "  - { vcpu: { vm: vm0, id: 0, field: entries }, equals: 0 }\n",
        "s.yaml",
      ),
    );
    expect(r.actions.map((a) => a.label)).toEqual([
      "KVM_RUN(vm0, 0)",
      "KVM_CREATE_VCPU(vm0, 1)",
      "KVM_CREATE_VCPU(vm0, 1)",
      "KVM_ARM_VCPU_INIT(vm0, 1, features 0x0)",
      "sched_setaffinity(vm0/vcpu1, 4)",
      "KVM_RUN(vm0, 1)",
      "destroy VM vm0",
    ]);
    expect(r.summary).toMatchObject({ passed: 9, failed: 0 });
  });

  it("a VMM dies on a failed call: no KVM_RUN, the vCPU's expect checks that call", () => {
    const r = runScenario(
      loadScenario(
        "name: t\nmachine: rk3399\nduration: 10ms\n" +
          "vms: [{ name: vm0, vmm: qemu, vgic_ready: false, vcpus: [{ affinity: 1, expect: { errno: ENODEV } }] }]\n" +
          "expect: [{ vcpu: { vm: vm0, id: 0, field: entries }, equals: 0 }]\n",
        "s.yaml",
      ),
    );
    expect(r.actions.map((a) => [a.label, a.result, a.ok])).toEqual([
      ["KVM_ARM_VCPU_INIT(vm0, 0, PMU_V3)", { ret: 0 }, undefined],
      ["SET IRQ 23 (vm0, 0)", { ret: 0 }, undefined],
      ["SET INIT (vm0, 0)", { errno: "ENODEV" }, true],
    ]);
    expect(r.summary).toMatchObject({ passed: 2, failed: 0 });
  });

  it("keeps fail_entry_cpu after the VMM answers the exit with KVM_RUN", () => {
    const r = runScenario(
      loadScenario(
        "name: t\nmachine: rk3399\nduration: 30ms\n" +
          'vms: [{ name: vm0, vmm: kvmtool, vmm_cpu: 4, vcpus: [{ affinity: "4-5" }] }]\n' +
          "actions:\n" +
          '  - { at: 10ms, do: sched_setaffinity, task: vm0/vcpu0, cpus: "1" }\n' +
          '  - { at: 20ms, do: sched_setaffinity, task: vm0/vcpu0, cpus: "4-5" }\n' +
          "  - { at: 20ms, do: kvm_run, vm: vm0, vcpu: 0 }\n" +
          "expect:\n" +
          "  - { vcpu: { vm: vm0, id: 0, field: fail_entry_cpu }, equals: 1 }\n" +
          "  - { vcpu: { vm: vm0, id: 0, field: fail_entries }, equals: 1 }\n",
        "s.yaml",
      ),
    );
    expect(r.expectations.map((e) => e.observed)).toEqual([1, 1]);
  });
});
