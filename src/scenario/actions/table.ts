import { close } from "./close.js";
import { cpuOffline, cpuOnline } from "./cpu-hotplug.js";
import { ioctl } from "./ioctl.js";
import { kill } from "./kill.js";
import type { ActionKind } from "./kind.js";
import { kvmArmVcpuInit } from "./kvm-arm-vcpu-init.js";
import { kvmCreateVcpu } from "./kvm-create-vcpu.js";
import { kvmDestroyVm } from "./kvm-destroy-vm.js";
import { kvmDeviceAttr } from "./kvm-device-attr.js";
import { kvmEnableCap } from "./kvm-enable-cap.js";
import { kvmRun } from "./kvm-run.js";
import { kvmSetPmuEventFilter } from "./kvm-set-pmu-event-filter.js";
import { perfEventOpen } from "./perf-event-open.js";
import { prctl } from "./prctl.js";
import { read } from "./read.js";
import { schedSetaffinity } from "./sched-setaffinity.js";
import { sysctl } from "./sysctl.js";

/**
 * Every action kind, in the order the schema (and so the JSON Schema and the list of `do`
 * values in messages) gives them. Adding a kind: its file, and one line here.
 */
export const ACTION_KINDS: readonly ActionKind[] = [
  schedSetaffinity,
  kill,
  cpuOnline,
  cpuOffline,
  perfEventOpen,
  ioctl,
  read,
  close,
  kvmEnableCap,
  kvmSetPmuEventFilter,
  kvmCreateVcpu,
  kvmDestroyVm,
  kvmArmVcpuInit,
  kvmDeviceAttr,
  kvmRun,
  sysctl,
  prctl,
];

const BY_NAME = new Map(ACTION_KINDS.flatMap((k) => k.names.map((n) => [n, k] as const)));

/** Every `do` value, in table order. */
export const ACTION_NAMES: readonly string[] = [...BY_NAME.keys()];

/** The kind of a checked action (its `do` is one of ACTION_NAMES). */
export function actionKind(name: string): ActionKind {
  return BY_NAME.get(name)!;
}
