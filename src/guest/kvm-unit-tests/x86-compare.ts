import type { KutX86Options, KutX86Result } from "./x86-harness.js";
import { runX86KutTest } from "./x86-harness.js";

/** One check whose outcome differs between the two vPMUs. */
export interface KutDiff {
  /** The check as the report names it ("Intel: llc misses-3"). */
  name: string;
  emulated: string;
  mediated: string;
  /** Why, or null when no known cause explains it. */
  why: string | null;
}

/** The two runs of one test and how they differ. */
export interface KutComparison {
  emulated: KutX86Result;
  mediated: KutX86Result;
  diffs: KutDiff[];
  /** Notes on the set-up that apply to the whole comparison. */
  notes: string[];
}

/** Outcome per check name (the last one when a name repeats). */
function outcomes(r: KutX86Result): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of r.report.checks) m.set(c.name, c.status);
  return m;
}

const CONTENTION =
  "host contention: the emulated vPMU's counters are pinned task events of the vCPU thread, which lose their counters to the host's pinned CPU-wide events and stop without telling the guest (ERROR state); the mediated vPMU owns every counter while the guest runs";
const EBUSY =
  "no mediated VM: KVM_CREATE_VCPU fails with EBUSY while !exclude_guest host events exist (kvm_arch_vcpu_precreate() -> perf_create_mediated_pmu())";

/** The known cause of a difference, from the set-up and the two outcomes. */
function explain(
  o: Omit<KutX86Options, "vpmu">,
  m: KutX86Result,
  emu: string,
  med: string,
): string | null {
  if (m.vpmu === "none" && m.exit?.includes("EBUSY")) return EBUSY;
  if ((o.hostPinned ?? 0) > 0 && emu === "FAIL" && med === "PASS") return CONTENTION;
  return null;
}

/**
 * Runs a kvm-unit-tests x86 test with the emulated and with the mediated vPMU on the same
 * host and lists the checks whose outcome differs, each with its cause. On an idle host the
 * two agree: the suite's checks hold for both designs, counts of emulated instructions
 * included; they part under host contention (and when the host cannot back a mediated vPMU).
 */
export function compareX86Kut(o: Omit<KutX86Options, "vpmu">): KutComparison {
  const emulated = runX86KutTest({ ...o, vpmu: "emulated" });
  const mediated = runX86KutTest({ ...o, vpmu: "mediated" });
  const notes: string[] = [];
  if (mediated.vpmu === "emulated")
    notes.push("the host cannot back a mediated vPMU: both runs used the emulated vPMU");
  const e = outcomes(emulated);
  const m = outcomes(mediated);
  const diffs: KutDiff[] = [];
  // A run that never got to its checks differs in all of them, for one reason.
  for (const [label, r] of [
    ["emulated", emulated],
    ["mediated", mediated],
  ] as const) {
    if (r.report.checks.length > 0 || !r.exit || e.size + m.size === 0) continue;
    diffs.push({
      name: `all ${Math.max(e.size, m.size)} checks (the ${label} run stopped: ${r.exit})`,
      emulated: e.size ? "ran" : "none",
      mediated: m.size ? "ran" : "none",
      why: explain(o, mediated, "-", "-"),
    });
    return { emulated, mediated, diffs, notes };
  }
  const names = [...e.keys(), ...[...m.keys()].filter((k) => !e.has(k))];
  for (const name of names) {
    const emu = e.get(name) ?? "-";
    const med = m.get(name) ?? "-";
    if (emu === med) continue;
    diffs.push({ name, emulated: emu, mediated: med, why: explain(o, mediated, emu, med) });
  }
  return { emulated, mediated, diffs, notes };
}
