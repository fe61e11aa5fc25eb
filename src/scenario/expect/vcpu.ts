import { z } from "zod";
import type { RunContext } from "../run-context.js";
import { defineSubject, type Observed } from "./subject.js";

const schema = z.strictObject({
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
});

type VcpuSubject = z.output<typeof schema>;

/** A vCPU's entries, exits by reason, time in guest and host, and arm64's failed entries. */
export const vcpuSubject = defineSubject({
  key: "vcpu",
  schema,
  compile: (s) => s,
  isTime: () => false,
  // The documented label of a vcpu check without its own (docs: "vcpu subject").
  describe: () => "expectation",
  observe: (s, run) => armField(s, run) ?? vcpuField(s, run),
});

/** The fields only an arm64 vCPU has (undefined otherwise). */
function armField(s: VcpuSubject, run: RunContext): Observed | undefined {
  const arm = run.vms.armVcpu(s.vm, s.id);
  if (!arm) return undefined;
  if (s.field === "fail_entries") return arm.run.nrFailEntries;
  if (s.field === "fail_entry_cpu")
    return (arm.run.failEntry ?? run.vms.lastFailEntry.get(arm))?.cpu ?? -1;
  if (s.field === "irq_raised") return arm.pmu?.irqRaised ?? 0;
  return undefined;
}

function vcpuField(s: VcpuSubject, run: RunContext): Observed {
  const v = run.vms.vcpu(s.vm, s.id);
  if (s.field === "created") return v !== undefined;
  if (!v) return null;
  v.sync(run.sys.now);
  if (s.field === "exits") return v.nrExits;
  // KVM_RUN's FAIL_ENTRY returns are reported with the exits (see the VMs table).
  if (s.field === "exits.fail_entry") return v.nrFailEntries;
  if (s.field.startsWith("exits.")) return v.exits[s.field.slice(6)] ?? 0;
  if (s.field === "entries") return v.nrEntries;
  if (s.field === "guest_time") return Math.round(v.guestNs);
  if (s.field === "host_time") return Math.round(v.hostNs);
  if (s.field === "guest_sampling_time") return Math.round(v.guestSamplingNs);
  if (s.field === "slowdown") return Math.round(100 * v.slowdownPct) / 100;
  return null;
}
