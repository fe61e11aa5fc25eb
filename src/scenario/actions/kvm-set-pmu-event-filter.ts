import { z } from "zod";
import { FilterEvent, filterAction, filterEvents } from "../values.js";
import { ActionCommon, defineAction } from "./kind.js";

/** KVM_SET_PMU_EVENT_FILTER on an x86 VM, with the struct's fields as given. */
export const kvmSetPmuEventFilter = defineAction({
  schema: z.strictObject({
    ...ActionCommon,
    do: z.literal("kvm_set_pmu_event_filter"),
    vm: z.string(),
    action: z.union([z.enum(["allow", "deny"]), z.number().int()]),
    events: z.array(FilterEvent),
    nevents: z.number().int().optional(),
    fixed_counter_bitmap: z.number().int().nonnegative().optional(),
    flags: z.number().int().optional(),
  }),
  kvm: true,
  compile(a, c) {
    c.needArch(
      "x86_64",
      a.do,
      "an x86_64 machine; on arm64 use kvm_set_device_attr with attr: filter",
    );
    c.needVm(a.vm);
    return a;
  },
  execute(a, run) {
    const filter = {
      action: filterAction(a.action),
      events: filterEvents(a.events),
      ...(a.nevents !== undefined ? { nevents: a.nevents } : {}),
      fixed_counter_bitmap: a.fixed_counter_bitmap ?? 0,
      flags: a.flags ?? 0,
    };
    return { ret: run.vms.x86.get(a.vm)!.setPmuEventFilter(filter, run.sys.now) };
  },
  describe: (a) => `KVM_SET_PMU_EVENT_FILTER(${a.vm}, ${a.action}, ${a.events.length} events)`,
});
