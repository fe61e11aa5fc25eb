import { ms, table } from "../format.js";
import type { TextSection } from "./section.js";

/** Each CPU's busy and idle time and context switches. */
export const cpusSection: TextSection = (r) => [
  "CPUs",
  ...table(
    ["CPU", "busy", "idle", "switches"],
    r.cpus.map((c) => [String(c.id), ms(c.busy_ns), ms(c.idle_ns), String(c.switches)]),
    [0, 1, 2, 3],
  ),
  "",
];
