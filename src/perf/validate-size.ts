import type { PerfEvent } from "./event.js";
import { readSize } from "./read.js";

/** The limit perf_event_validate_size() puts on a read() or a sample record, in bytes. */
export const PERF_RECORD_SIZE_LIMIT = 16 * 1024;

const SAMPLE_IP = 1 << 0;
const SAMPLE_TID = 1 << 1;
const SAMPLE_TIME = 1 << 2;
const SAMPLE_ADDR = 1 << 3;
const SAMPLE_ID = 1 << 6;
const SAMPLE_CPU = 1 << 7;
const SAMPLE_PERIOD = 1 << 8;
const SAMPLE_STREAM_ID = 1 << 9;
const SAMPLE_WEIGHT = 1 << 14;
const SAMPLE_DATA_SRC = 1 << 15;
const SAMPLE_IDENTIFIER = 1 << 16;
const SAMPLE_TRANSACTION = 1 << 17;
const SAMPLE_PHYS_ADDR = 1 << 19;
const SAMPLE_CGROUP = 1 << 21;
const SAMPLE_DATA_PAGE_SIZE = 1 << 22;
const SAMPLE_CODE_PAGE_SIZE = 1 << 23;
const SAMPLE_WEIGHT_STRUCT = 1 << 24;

/** Eight bytes for each of these sample_type bits: the fixed part of a sample. */
const HEADER_BITS = [
  SAMPLE_IP,
  SAMPLE_ADDR,
  SAMPLE_PERIOD,
  SAMPLE_DATA_SRC,
  SAMPLE_TRANSACTION,
  SAMPLE_PHYS_ADDR,
  SAMPLE_CGROUP,
  SAMPLE_DATA_PAGE_SIZE,
  SAMPLE_CODE_PAGE_SIZE,
];
const ID_HEADER_BITS = [
  SAMPLE_TID,
  SAMPLE_TIME,
  SAMPLE_IDENTIFIER,
  SAMPLE_ID,
  SAMPLE_STREAM_ID,
  SAMPLE_CPU,
];

function eightEach(sampleType: number, bits: readonly number[]): number {
  let n = 0;
  for (const b of bits) if (sampleType & b) n += 8;
  return n;
}

/** kernel: __perf_event_header_size() without PERF_SAMPLE_READ. */
function headerSize(sampleType: number): number {
  const weight = sampleType & (SAMPLE_WEIGHT | SAMPLE_WEIGHT_STRUCT) ? 8 : 0;
  return eightEach(sampleType, HEADER_BITS) + weight;
}

/** kernel: perf_event__id_header_size(). */
function idHeaderSize(sampleType: number): number {
  return eightEach(sampleType, ID_HEADER_BITS);
}

/**
 * kernel: perf_event_validate_size(), as fixed in v6.7 ("perf: Fix
 * perf_event_validate_size()"): with the new event in the group, the read() size of the new
 * event, of the leader and of every sibling, each by its own read_format, must not exceed
 * 16 KiB. The group size passed is nr_siblings + 1, to which the read size adds the leader.
 */
function validateSizeV67(e: PerfEvent): boolean {
  const leader = e.groupLeader;
  const nr = leader.siblings.length + 2;
  const fits = (x: PerfEvent) => readSize(x.attr.read_format, nr) <= PERF_RECORD_SIZE_LIMIT;
  if (!fits(e) || !fits(leader)) return false;
  if (e === leader) return true;
  return leader.siblings.every(fits);
}

/**
 * kernel: perf_event_validate_size() before v6.7: only the new event, its read size at the
 * new group size plus its sample header, id header and record header, below 16 KiB.
 */
function validateSizeOld(e: PerfEvent): boolean {
  const nr = e.groupLeader.siblings.length + 2;
  const st = e.attr.sample_type;
  const total = readSize(e.attr.read_format, nr) + headerSize(st) + idHeaderSize(st) + 8;
  return total < PERF_RECORD_SIZE_LIMIT;
}

/**
 * perf_event_validate_size() of a kernel profile: the v6.7 rule for "7.0" and "rfc-v1"
 * (posted on a 6.8-rc tree), the earlier one for "5.18".
 */
export function perfEventValidateSize(e: PerfEvent, v67: boolean): boolean {
  return v67 ? validateSizeV67(e) : validateSizeOld(e);
}
