/**
 * Linux errno values (asm-generic/errno-base.h and errno.h) and the error thrown by every
 * kernel-shaped API in vpmu. Inside the model, kernel functions return 0 or a negative
 * errno like the kernel does; the public API turns a negative return into a KernelError.
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  ENODATA: 61,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
} as const;

/** An errno name such as "EBUSY". */
export type ErrnoName = keyof typeof ERRNO;

const NAMES = new Map<number, ErrnoName>(
  (Object.entries(ERRNO) as Array<[ErrnoName, number]>).map(([k, v]) => [v, k]),
);

/** The name of a (positive or negative) errno number, or undefined. */
export function errnoName(n: number): ErrnoName | undefined {
  return NAMES.get(Math.abs(n));
}

/** True if `s` is a known errno name. */
export function isErrnoName(s: string): s is ErrnoName {
  return Object.hasOwn(ERRNO, s);
}

/**
 * The error a kernel-shaped call throws, shaped like Node's system errors: `code` is the
 * errno name and `errno` its negative number.
 */
export class KernelError extends Error {
  readonly code: ErrnoName;
  readonly errno: number;
  readonly syscall: string;

  constructor(code: ErrnoName, syscall: string, detail?: string) {
    super(`${code}: ${syscall}${detail ? ` (${detail})` : ""}`);
    this.name = "KernelError";
    this.code = code;
    this.errno = -ERRNO[code];
    this.syscall = syscall;
  }
}

/** Throws a KernelError for a negative return value, else returns it. */
export function check(ret: number, syscall: string): number {
  if (ret < 0) throw new KernelError(errnoName(ret) ?? "EINVAL", syscall);
  return ret;
}
