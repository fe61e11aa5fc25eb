import { ms, table } from "../format.js";
import type { ActionResult } from "../result.js";
import type { TextSection } from "./section.js";

/** Each call the run made: when, what, its result, and the verdict on an expected one. */
export const actionsSection: TextSection = (r) => {
  if (r.actions.length === 0) return [];
  const rows = r.actions.map((a) => [ms(a.at_ns), a.label, `= ${resultText(a)}`, verdict(a)]);
  return ["Actions", ...table(["at", "call", "result", ""], rows, [0]), ""];
};

function resultText(a: ActionResult): string {
  return "errno" in a.result ? `-${a.result.errno}` : String(a.result.ret);
}

function verdict(a: ActionResult): string {
  if (a.ok === undefined) return "";
  if (a.ok) return "ok";
  const e = a.expected!;
  const exp = e.errno ?? (e.ret !== undefined ? String(e.ret) : e.ok ? "success" : "failure");
  return `FAIL (expected ${exp})`;
}
