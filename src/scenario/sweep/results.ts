import { VERSION } from "../../version.js";
import { canonicalJson } from "./hash.js";
import { isExcluded, pointAt, type SweepPlan } from "./plan.js";

/**
 * A results file (JSONL): a header line naming the sweep, then one line per point. The
 * header carries what a merge needs to know which points exist (axes, seeds, exclusions),
 * so parts merge without the sweep file.
 */
export interface SweepHeader {
  vpmu_sweep: 1;
  sweep: string;
  name: string;
  vpmu: string;
  points: number;
  seeds: number;
  axes: Array<{ name: string; values: unknown[] }>;
  exclude: Array<Record<string, unknown[]>>;
  collect: string[];
  /** Only in a shard's part: "I/N". */
  shard?: string;
}

/** The header of a sweep's results (a shard's part names its shard). */
export function sweepHeader(plan: SweepPlan, shard?: { index: number; of: number }): SweepHeader {
  return {
    vpmu_sweep: 1,
    sweep: plan.hash,
    name: plan.name,
    vpmu: VERSION,
    points: plan.points,
    seeds: plan.seeds,
    axes: plan.axes.map((a) => ({ name: a.name, values: a.labels })),
    exclude: plan.exclude.map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map((x) => JSON.parse(x))])),
    ),
    collect: plan.collect.map((c) => c.name),
    ...(shard && shard.of > 1 ? { shard: `${shard.index}/${shard.of}` } : {}),
  };
}

/** A point line as read back: its index, hash, sweep and the line's text. */
export interface ReadRecord {
  index: number;
  hash: string;
  sweep: string;
  line: string;
  /** 1-based line number in its file. */
  at: number;
  data: Record<string, unknown>;
}

/** A results file read back; `goodBytes` is where the complete lines end. */
export type ReadResults =
  | {
      ok: true;
      header: SweepHeader | undefined;
      records: ReadRecord[];
      truncated: boolean;
      goodBytes: number;
    }
  | { ok: false; message: string };

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === "object" && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a results file. A last line without its newline (a write cut short) is reported
 * as `truncated`, not read; any other line that is not a record is an error.
 */
export function readResults(text: string, file: string): ReadResults {
  const records: ReadRecord[] = [];
  let header: SweepHeader | undefined;
  let off = 0;
  let n = 0;
  while (off < text.length) {
    const nl = text.indexOf("\n", off);
    if (nl < 0) return { ok: true, header, records, truncated: true, goodBytes: off };
    const line = text.slice(off, nl);
    n++;
    const data = parseLine(line);
    const bad = (why: string): ReadResults => ({ ok: false, message: `${file}:${n}: ${why}` });
    if (!data) return bad("not a JSON object (a damaged line)");
    if (n === 1) {
      if (data.vpmu_sweep !== 1) return bad("not a vpmu sweep results file (no header line)");
      header = data as unknown as SweepHeader;
    } else {
      if (
        typeof data.index !== "number" ||
        typeof data.hash !== "string" ||
        typeof data.sweep !== "string"
      )
        return bad("not a point record (index, hash, sweep)");
      records.push({ index: data.index, hash: data.hash, sweep: data.sweep, line, at: n, data });
    }
    off = nl + 1;
  }
  return { ok: true, header, records, truncated: false, goodBytes: off };
}

/** The points a header's sweep has (excluded ones left out), in order. */
export function headerPoints(h: SweepHeader): number[] {
  const plan = {
    axes: h.axes.map((a) => ({ name: a.name, labels: a.values, sets: [] })),
    seeds: h.seeds,
    exclude: h.exclude.map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map(canonicalJson)])),
    ),
  } as unknown as SweepPlan;
  const out: number[] = [];
  for (let i = 0; i < h.points; i++) if (!isExcluded(plan, pointAt(plan, i))) out.push(i);
  return out;
}

/** A header as text without its shard: what every part of one sweep shares. */
export function headerKey(h: SweepHeader): string {
  const { shard: _s, ...rest } = h;
  return JSON.stringify(rest);
}

/** Index lists as ranges: 3, 5-9, 12 (the first 40 ranges, then how many more). */
export function indexRanges(xs: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    parts.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return parts.length > 40
    ? `${parts.slice(0, 40).join(", ")} and ${parts.length - 40} more ranges`
    : parts.join(", ");
}
