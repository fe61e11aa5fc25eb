import {
  headerKey,
  headerPoints,
  indexRanges,
  type ReadRecord,
  readResults,
  type SweepHeader,
} from "./results.js";

export interface ResultsPart {
  file: string;
  text: string;
}

export type Merged =
  | { ok: true; header: SweepHeader; records: ReadRecord[] }
  | { ok: false; message: string };

/** Reads each part: whole lines only, one sweep. */
function readParts(
  parts: ResultsPart[],
): { header: SweepHeader; records: ReadRecord[][] } | string {
  let header: SweepHeader | undefined;
  let first = "";
  const records: ReadRecord[][] = [];
  for (const p of parts) {
    const r = readResults(p.text, p.file);
    if (!r.ok) return r.message;
    if (r.truncated)
      return `${p.file}:${r.records.length + 2}: the last line is cut short (a run was killed while writing); rerun that part with --resume`;
    if (!r.header) return `${p.file}: empty (no header line)`;
    if (!header) {
      header = r.header;
      first = p.file;
    } else if (headerKey(r.header) !== headerKey(header)) {
      return `${p.file} is from another sweep (${r.header.name}, hash ${r.header.sweep}) than ${first} (${header.name}, hash ${header.sweep})`;
    }
    const foreign = r.records.find((x) => x.sweep !== header!.sweep);
    if (foreign)
      return `${p.file}:${foreign.at}: point ${foreign.index} is from another sweep (hash ${foreign.sweep})`;
    records.push(r.records);
  }
  if (!header) return "no parts";
  return { header, records };
}

/**
 * Merges results parts into one ordered by point index. Refuses parts of different
 * sweeps, a cut-short last line, a point recorded twice with different lines, and (with
 * `complete`) any point of the sweep that no part has, listing them.
 */
export function mergeResults(parts: ResultsPart[], complete: boolean): Merged {
  const read = readParts(parts);
  if (typeof read === "string") return { ok: false, message: read };
  const byIndex = new Map<number, { r: ReadRecord; file: string }>();
  for (const [k, recs] of read.records.entries()) {
    for (const r of recs) {
      const had = byIndex.get(r.index);
      if (had && had.r.line !== r.line)
        return {
          ok: false,
          message: `point ${r.index} differs between ${had.file}:${had.r.at} and ${parts[k]!.file}:${r.at}`,
        };
      if (!had) byIndex.set(r.index, { r, file: parts[k]!.file });
    }
  }
  const wanted = headerPoints(read.header);
  const set = new Set(wanted);
  const stray = [...byIndex.keys()].filter((i) => !set.has(i));
  if (stray.length > 0)
    return {
      ok: false,
      message: `points not in the sweep: ${indexRanges(stray.sort((a, b) => a - b))}`,
    };
  if (complete) {
    const missing = wanted.filter((i) => !byIndex.has(i));
    if (missing.length > 0)
      return {
        ok: false,
        message: `${missing.length} of ${wanted.length} points missing: ${indexRanges(missing)}`,
      };
  }
  const records = [...byIndex.values()].map((x) => x.r).sort((a, b) => a.index - b.index);
  return { ok: true, header: read.header, records };
}

/** The merged results as JSONL: the header (without a shard) and the points in order. */
export function mergedJsonl(
  m: { header: SweepHeader; records: ReadRecord[] },
  shard?: string,
): string {
  const { shard: _s, ...h } = m.header;
  const head = JSON.stringify(shard ? { ...h, shard } : h);
  return `${head}\n${m.records.map((r) => `${r.line}\n`).join("")}`;
}

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The merged results as CSV (RFC 4180): index, seed, one column per axis, one per
 * collected value (a mapping such as exits by reason as one column per key, `name.key`),
 * and `error`. Lists and other values that are not scalars are JSON.
 */
export function mergedCsv(m: { header: SweepHeader; records: ReadRecord[] }): string {
  const axes = m.header.axes.map((a) => a.name);
  const cols: Array<{ name: string; key?: string }> = [];
  for (const name of m.header.collect) {
    const keys = new Set<string>();
    let flat = true;
    for (const r of m.records) {
      const v = (r.data.values as Record<string, unknown>)[name];
      if (v !== null && typeof v === "object" && !Array.isArray(v))
        for (const k of Object.keys(v)) keys.add(k);
      else if (v !== null) flat = false;
    }
    if (keys.size > 0 && flat) for (const k of [...keys].sort()) cols.push({ name, key: k });
    else cols.push({ name });
  }
  const head = [
    "index",
    "seed",
    ...axes,
    ...cols.map((c) => (c.key ? `${c.name}.${c.key}` : c.name)),
    "error",
  ];
  const rows = m.records.map((r) => {
    const s = r.data.settings as Record<string, unknown>;
    const v = r.data.values as Record<string, unknown>;
    const vals = cols.map((c) => {
      const x = v[c.name];
      return c.key
        ? ((x as Record<string, unknown> | null)?.[c.key] ?? (x === null ? null : 0))
        : x;
    });
    return [r.index, r.data.seed, ...axes.map((a) => s[a]), ...vals, r.data.error ?? ""];
  });
  return [head, ...rows].map((row) => `${row.map(csvField).join(",")}\n`).join("");
}
