import type { RunResult } from "../result.js";

/** Options of the text report. */
export interface TextOptions {
  /** Print the ground truth and the error next to each scaled perf value. */
  truth?: boolean;
}

/**
 * One section of the text report: its lines, each section ending with a blank line; none
 * when the run has nothing for it. text.ts lists the sections in the order they print.
 */
export type TextSection = (r: RunResult, opts: TextOptions) => string[];

/** Words wrapped into lines of at most `width` characters (a longer word stays whole). */
export function wrap(text: string, width: number): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let cur = "";
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines;
}
