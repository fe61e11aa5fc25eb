/**
 * CPU lists in the kernel's text form (`0-3,6`), as sysfs `cpus` files and taskset use.
 */

/** Formats CPU ids as a cpulist (`0-3,6`). */
export function formatCpuList(cpus: Iterable<number>): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/**
 * Parses a cpulist (`0-3,6`, or a number). Returns an error message instead of throwing.
 */
/** Largest CPU number a list may name (NR_CPUS on the largest kernel configs). */
export const MAX_CPU_NUMBER = 8191;

export function parseCpuList(text: string | number): number[] | string {
  if (typeof text === "number") {
    return Number.isInteger(text) && text >= 0 ? [text] : `${text} is not a CPU number`;
  }
  const out = new Set<number>();
  const trimmed = text.trim();
  if (trimmed === "") return "empty CPU list";
  for (const part of trimmed.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) return `"${part}" is not a CPU or a range like 0-3`;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi > MAX_CPU_NUMBER)
      return `CPU ${m[2] ?? m[1]} is beyond the largest CPU number (${MAX_CPU_NUMBER})`;
    if (hi < lo) return `range ${part} goes backwards`;
    if (hi - lo > 4096) return `range ${part} is too large`;
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}
