import { ERRNO } from "../sim/errno.js";
import {
  PAGE_SIZE,
  PERF_ATTR_SIZE_CURRENT,
  PERF_ATTR_SIZE_VER0,
  type PerfEventAttr,
} from "./uapi.js";

/**
 * struct perf_event_attr as bytes (include/uapi/linux/perf_event.h, little-endian x86-64 and
 * arm64 layout), for callers that hand the model the raw struct a C program passed to
 * perf_event_open(2): the preload shim of `vpmu exec`.
 */

/** Byte offsets of the fields vpmu reads. */
const OFF = {
  type: 0,
  size: 4,
  config: 8,
  sample: 16,
  sample_type: 24,
  read_format: 32,
  flags: 40,
  wakeup: 48,
  config1: 56,
  config2: 64,
  branch_sample_type: 72,
  clockid: 92,
  reserved2: 110,
  aux_action: 116,
  config3: 128,
} as const;

/** Bit positions of the flag word at offset 40, in declaration order. */
const FLAG_BITS = [
  "disabled",
  "inherit",
  "pinned",
  "exclusive",
  "exclude_user",
  "exclude_kernel",
  "exclude_hv",
  "exclude_idle",
  "mmap",
  "comm",
  "freq",
  "inherit_stat",
  "enable_on_exec",
  "task",
  "watermark",
  null, // precise_ip, 2 bits (15-16)
  null,
  "mmap_data",
  "sample_id_all",
  "exclude_host",
  "exclude_guest",
  "exclude_callchain_kernel",
  "exclude_callchain_user",
  "mmap2",
  "comm_exec",
  "use_clockid",
  "context_switch",
  "write_backward",
  "namespaces",
  "ksymbol",
  "bpf_event",
  "aux_output",
  "cgroup",
  "text_poke",
  "build_id",
  "inherit_thread",
  "remove_on_exec",
  "sigtrap",
] as const;

/** First bit of __reserved_1 (after sigtrap). */
const RESERVED_1_SHIFT = 38n;

type FlagName = Exclude<(typeof FLAG_BITS)[number], null>;

/** Options of the decoder that depend on the kernel version. */
export interface AttrAbiOptions {
  /**
   * Linux 6.13+: the u32 at offset 116 is aux_action (aux_start_paused, aux_pause,
   * aux_resume, then __reserved_3). Before, all of it is __reserved_3.
   */
  auxAction: boolean;
}

/** The attr `size` as the kernel reads it first (get_user(size, &uattr->size)). */
export function attrSizeField(bytes: Uint8Array): number {
  if (bytes.length < 8) return 0;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(OFF.size, true);
}

/**
 * kernel: perf_copy_attr(), the part that needs the raw bytes: the struct is read up to its
 * `size` (a short struct reads as zero beyond it), bytes beyond the kernel's struct are kept
 * as `tail` (perfCopyAttr() answers E2BIG when any is non-zero), and __reserved_1/2/3 give
 * EINVAL. An invalid size is passed through for perfCopyAttr() to refuse with E2BIG, so the
 * kernel's order of checks is kept. `bytes` holds what the caller's buffer had, up to the
 * size (at most PAGE_SIZE). Returns the attr for sysPerfEventOpen() or a negative errno.
 */
export function decodePerfEventAttr(
  bytes: Uint8Array,
  opts: AttrAbiOptions = { auxAction: true },
): PerfEventAttr | number {
  if (bytes.length < 8) return -ERRNO.EFAULT;
  const rawSize = attrSizeField(bytes);
  const size = rawSize === 0 ? PERF_ATTR_SIZE_VER0 : rawSize;
  const type = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (size < PERF_ATTR_SIZE_VER0 || size > PAGE_SIZE) return { type, size: rawSize };
  if (bytes.length < size) return -ERRNO.EFAULT;
  // copy_struct_from_user(): zero-filled to the kernel's size, the rest checked for zeros.
  const buf = new Uint8Array(PERF_ATTR_SIZE_CURRENT);
  buf.set(bytes.subarray(0, Math.min(size, PERF_ATTR_SIZE_CURRENT)));
  const tail =
    size > PERF_ATTR_SIZE_CURRENT ? [...bytes.subarray(PERF_ATTR_SIZE_CURRENT, size)] : [];
  if (tail.some((b) => b !== 0)) return { type, size: rawSize, tail };
  const v = new DataView(buf.buffer);
  const u64 = (o: number) => v.getBigUint64(o, true);
  const flags = u64(OFF.flags);
  if (flags >> RESERVED_1_SHIFT !== 0n) return -ERRNO.EINVAL;
  if (v.getUint16(OFF.reserved2, true) !== 0) return -ERRNO.EINVAL;
  const auxAction = v.getUint32(OFF.aux_action, true);
  if ((opts.auxAction ? auxAction >>> 3 : auxAction) !== 0) return -ERRNO.EINVAL;
  const attr: PerfEventAttr = {
    type,
    size: rawSize,
    config: u64(OFF.config),
    sample_type: safeNumber(u64(OFF.sample_type)),
    read_format: safeNumber(u64(OFF.read_format)),
    wakeup_events: v.getUint32(OFF.wakeup, true),
    config1: u64(OFF.config1),
    config2: u64(OFF.config2),
    branch_sample_type: safeNumber(u64(OFF.branch_sample_type)),
    clockid: v.getInt32(OFF.clockid, true),
    config3: u64(OFF.config3),
    precise_ip: Number((flags >> 15n) & 3n),
  };
  FLAG_BITS.forEach((name, bit) => {
    if (name !== null && (flags >> BigInt(bit)) & 1n) attr[name as FlagName] = true;
  });
  // sample_period and sample_freq share the u64 at offset 16 (a union selected by freq).
  const sample = safeNumber(u64(OFF.sample));
  if (attr.freq) attr.sample_freq = sample;
  else attr.sample_period = sample;
  return attr;
}

/**
 * True when perf_copy_attr() fails on the size itself (out of range, or non-zero bytes past
 * the kernel's struct): the kernel then writes its own struct size back into `uattr->size`.
 */
export function attrSizeRejected(bytes: Uint8Array): boolean {
  const raw = attrSizeField(bytes);
  const size = raw === 0 ? PERF_ATTR_SIZE_VER0 : raw;
  if (size < PERF_ATTR_SIZE_VER0 || size > PAGE_SIZE) return true;
  return bytes.subarray(PERF_ATTR_SIZE_CURRENT, size).some((b) => b !== 0);
}

/**
 * A u64 as a JS number. Values beyond 2^53 keep their magnitude (the model's range checks,
 * such as sample_period >= 2^63, still see them as too large).
 */
function safeNumber(x: bigint): number {
  return Number(x);
}

/** Encodes an attr as the C struct (the inverse of decodePerfEventAttr, for tests). */
export function encodePerfEventAttr(a: PerfEventAttr, size = PERF_ATTR_SIZE_CURRENT): Uint8Array {
  const buf = new Uint8Array(Math.max(size, PERF_ATTR_SIZE_CURRENT));
  const v = new DataView(buf.buffer);
  const big = (x: number | bigint | undefined) => BigInt(x ?? 0);
  v.setUint32(OFF.type, a.type, true);
  v.setUint32(OFF.size, a.size ?? size, true);
  v.setBigUint64(OFF.config, big(a.config), true);
  v.setBigUint64(OFF.sample, big(a.freq ? a.sample_freq : a.sample_period), true);
  v.setBigUint64(OFF.sample_type, big(a.sample_type), true);
  v.setBigUint64(OFF.read_format, big(a.read_format), true);
  let flags = BigInt(a.precise_ip ?? 0) << 15n;
  FLAG_BITS.forEach((name, bit) => {
    if (name !== null && a[name as FlagName]) flags |= 1n << BigInt(bit);
  });
  v.setBigUint64(OFF.flags, flags, true);
  v.setUint32(OFF.wakeup, a.wakeup_events ?? 0, true);
  v.setBigUint64(OFF.config1, big(a.config1), true);
  v.setBigUint64(OFF.config2, big(a.config2), true);
  v.setBigUint64(OFF.branch_sample_type, big(a.branch_sample_type), true);
  v.setInt32(OFF.clockid, a.clockid ?? 0, true);
  v.setBigUint64(OFF.config3, big(a.config3), true);
  return buf.subarray(0, size);
}
