import { formatDuration } from "../../sim/time.js";
import { type TextSection, wrap } from "./section.js";

/** The run's title: scenario, variant, machine, kernel, seed and length, and its description. */
export const headerSection: TextSection = (r) => {
  const s = r.scenario;
  const variant = s.variant !== undefined ? ` variant "${s.variant}"` : "";
  const out = [
    `vpmu ${r.vpmu}: scenario "${s.name}"${variant} on ${r.machine.name} (${r.machine.arch}), kernel ${s.kernel_profile}, HZ=${s.hz}, seed ${s.seed}, ${formatDuration(s.duration_ns)} simulated`,
  ];
  if (s.description) out.push(...wrap(s.description, 96).map((l) => `  ${l}`));
  out.push("");
  return out;
};
