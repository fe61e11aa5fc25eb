import { z } from "zod";
import type { KvmArmVcpu } from "../../kvm/arm64/kvm.js";
import { PMU_ATTR } from "../../kvm/arm64/kvm.js";
import { ERRNO } from "../../sim/errno.js";
import type { RunContext } from "../run-context.js";
import { filterAction } from "../values.js";
import { ArmVcpuFields, compileArmVcpuCall } from "./arm-vcpu.js";
import { ActionCommon, defineAction } from "./kind.js";

const schema = z.strictObject({
  ...ActionCommon,
  do: z.enum(["kvm_set_device_attr", "kvm_has_device_attr", "kvm_get_device_attr"]),
  ...ArmVcpuFields,
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
});

type DeviceAttr = z.output<typeof schema>;

/** KVM_{SET,HAS,GET}_DEVICE_ATTR of an arm64 vCPU's KVM_ARM_VCPU_PMU_V3_CTRL group. */
export const kvmDeviceAttr = defineAction({
  schema,
  kvm: true,
  compile: (a, c) => compileArmVcpuCall(a, c),
  execute(a, run) {
    const v = run.vms.armVcpu(a.vm, a.vcpu);
    if (!v) return { ret: -ERRNO.ENOENT };
    const attr = typeof a.attr === "number" ? a.attr : PMU_ATTR[attrName(a.attr)];
    if (a.do === "kvm_has_device_attr") return { ret: v.hasAttr(attr) };
    if (a.do === "kvm_get_device_attr") return { ret: v.getAttr(attr) };
    return { ret: setAttr(v, attr, a.value, run) };
  },
  describe(a) {
    const op =
      a.do === "kvm_set_device_attr" ? "SET" : a.do === "kvm_has_device_attr" ? "HAS" : "GET";
    const v = a.value;
    const value = v !== undefined ? ` ${typeof v === "object" ? JSON.stringify(v) : v}` : "";
    return `${op} ${String(a.attr).toUpperCase()}${value} (${a.vm}, ${a.vcpu})`;
  },
});

function attrName(a: Exclude<DeviceAttr["attr"], number>): keyof typeof PMU_ATTR {
  return a.toUpperCase() as keyof typeof PMU_ATTR;
}

/** SET_DEVICE_ATTR: a PMU given by name passes its type id (-1 when there is none). */
function setAttr(v: KvmArmVcpu, attr: number, given: DeviceAttr["value"], run: RunContext): number {
  let value: unknown = given;
  if (typeof given === "string")
    value =
      run.kvm.arm!.armPmus().find((p) => p.name === given)?.type ??
      run.sys.perf.registry.byName(given)?.type ??
      -1;
  if (given && typeof given === "object") value = { ...given, action: filterAction(given.action) };
  return v.setAttr(attr, value);
}
