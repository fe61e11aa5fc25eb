/**
 * How a kernel-shaped call receives its arguments: as the C ABI delivers them. A JS number
 * or bigint becomes an integer of the argument's C type, wrapped to its width as a C
 * conversion does (-1 as a u32 is 0xffffffff, 2^32 + 5 as an int is 5). A value no C caller
 * could pass at all (NaN, 1.5, a string, null, an object) converts to null; the call then
 * answers EINVAL for a register argument and EFAULT for memory the kernel copies in.
 */

/** The integer a value stands for, before any width is applied, or null. */
export function abiInteger(v: unknown): bigint | null {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  return null;
}

/** A __u64 / unsigned long argument. */
export function abiU64(v: unknown): bigint | null {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  const b = abiInteger(v);
  return b === null ? null : BigInt.asUintN(64, b);
}

/** A __s64 / long argument. */
export function abiS64(v: unknown): bigint | null {
  const b = abiInteger(v);
  return b === null ? null : BigInt.asIntN(64, b);
}

function narrow(v: unknown, bits: number, signed: boolean): number | null {
  if (typeof v === "number" && Number.isInteger(v)) {
    const lo = signed ? -(2 ** (bits - 1)) : 0;
    const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    if (v >= lo && v <= hi) return v;
  } else if (typeof v !== "bigint") {
    return null;
  }
  const b = abiInteger(v)!;
  return Number(signed ? BigInt.asIntN(bits, b) : BigInt.asUintN(bits, b));
}

/** A __u32 / unsigned int argument. */
export function abiU32(v: unknown): number | null {
  return narrow(v, 32, false);
}

/** An int (__s32) argument: pids, CPUs, fds. */
export function abiS32(v: unknown): number | null {
  return narrow(v, 32, true);
}

/** A __u16 field. */
export function abiU16(v: unknown): number | null {
  return narrow(v, 16, false);
}

/** A __u8 field. */
export function abiU8(v: unknown): number | null {
  return narrow(v, 8, false);
}

/**
 * A one-bit field of a C struct (the perf_event_attr flags): a boolean, or an integer whose
 * low bit is stored, as assigning to a `:1` bitfield does. Absent is 0.
 */
export function abiBit(v: unknown): boolean | null {
  if (v === undefined || typeof v === "boolean") return v === true;
  const b = abiInteger(v);
  return b === null ? null : (b & 1n) === 1n;
}
