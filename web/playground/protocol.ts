import type { ReportPageData } from "../../src/report/html.js";
import type { Diagnostic } from "../../src/scenario/diagnostics.js";

/** Messages between the playground page and its simulator worker. */
export type ToWorker = { kind: "run"; id: number; text: string; name: string; truth: boolean };

export type FromWorker =
  | { kind: "progress"; id: number; done: number; total: number }
  /** `lines`: the diagnostics exactly as the CLI prints them. */
  | { kind: "diagnostics"; id: number; diagnostics: Diagnostic[]; lines: string[] }
  /** `json`: the text `vpmu run --format json` prints for the same file. */
  | { kind: "done"; id: number; page: ReportPageData; json: string; ms: number }
  | { kind: "crash"; id: number; message: string };
