import { measurementTitle, perfStatText } from "../perf-stat.js";
import type { TextSection } from "./section.js";

/** Each measurement under its title, as perf stat (or perf report) prints it. */
export const perfSection: TextSection = (r, opts) =>
  r.perf.flatMap((m) => [measurementTitle(m), perfStatText(m, { truth: opts.truth ?? false })]);
