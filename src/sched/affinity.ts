import { abiU32 } from "../sim/abi.js";
import { ERRNO } from "../sim/errno.js";

/** kernel: cpumask_size(): the bytes of a cpumask, whole unsigned longs covering nr_cpu_ids. */
export function cpumaskSize(nrCpus: number): number {
  return Math.ceil(nrCpus / 64) * 8;
}

/**
 * The CPU list of a sched_setaffinity(pid, len, mask) call, as the kernel reads it.
 * kernel: get_user_cpu_mask(): a `len` shorter than cpumask_size() reads `len` bytes into a
 * cleared mask, a longer one reads cpumask_size() bytes (the rest is ignored); a buffer
 * that does not hold the bytes read (null, or shorter: user memory that faults) is EFAULT.
 * Bits at or past nr_cpu_ids are not CPUs. `len` converts as an unsigned int (-1 is
 * 0xffffffff, cut to cpumask_size()).
 * Returns the CPUs, or a negative errno.
 */
export function cpusFromUserMask(len: unknown, mask: unknown, nrCpus: number): number[] | number {
  const n = abiU32(len);
  if (n === null) return -ERRNO.EINVAL;
  const bytes = Math.min(n, cpumaskSize(nrCpus));
  if (bytes === 0) return [];
  if (!(mask instanceof Uint8Array) || mask.length < bytes) return -ERRNO.EFAULT;
  const cpus: number[] = [];
  for (let i = 0; i < bytes; i++) {
    const b = mask[i]!;
    if (b === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      const cpu = i * 8 + bit;
      if (b & (1 << bit) && cpu < nrCpus) cpus.push(cpu);
    }
  }
  return cpus;
}
