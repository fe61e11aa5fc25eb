import type { TextSection } from "./section.js";

/** Each expectation: its verdict, label, the value observed and what was expected. */
export const expectationsSection: TextSection = (r) => {
  if (r.expectations.length === 0) return [];
  return [
    "Expectations",
    ...r.expectations.map(
      (e) =>
        `  ${e.ok ? "ok  " : "FAIL"}  ${e.label}: ${fmtObserved(e.observed)} (expected ${e.expected})`,
    ),
    "",
  ];
};

function fmtObserved(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
  return JSON.stringify(v);
}
