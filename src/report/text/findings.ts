import { ms } from "../format.js";
import type { TextSection } from "./section.js";

/** What the invariant checker found, each marked when the scenario expects it. */
export const findingsSection: TextSection = (r) => {
  if (r.findings.length === 0) return [];
  return [
    "Invariant findings",
    ...r.findings.map(
      (f) =>
        `  ${ms(f.t_ns)} CPU ${f.cpu} ${f.rule}: ${f.subject}: ${f.before} -> ${f.after}: ${f.message}${f.expected ? " (expected)" : ""}`,
    ),
    "",
  ];
};
