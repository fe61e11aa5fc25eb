import { ERRNO } from "../sim/errno.js";
import { type AttrAbiOptions, decodePerfEventAttr } from "./attr-abi.js";
import type { PerfCore } from "./core.js";
import { PERF_EVENT_STATE } from "./event.js";
import { sysIoctl } from "./ioctl.js";
import { perfCopyAttr } from "./open.js";
import { PERF_TYPE_BREAKPOINT, PERF_TYPE_TRACEPOINT, type PerfIoctl } from "./uapi.js";

/**
 * The PERF_EVENT_IOC_* request numbers as a C program passes them (_IO/_IOW/_IOR on '$',
 * include/uapi/linux/perf_event.h, 64-bit pointers), and the kernel's answers for the
 * requests the model has no state for: it has no ring buffers, tracepoints, address
 * filters, BPF programs or breakpoint PMU.
 */
export const PERF_EVENT_IOC = {
  ENABLE: 0x2400,
  DISABLE: 0x2401,
  REFRESH: 0x2402,
  RESET: 0x2403,
  PERIOD: 0x40082404,
  SET_OUTPUT: 0x2405,
  SET_FILTER: 0x40082406,
  ID: 0x80082407,
  SET_BPF: 0x40042408,
  PAUSE_OUTPUT: 0x40042409,
  QUERY_BPF: 0xc008240a,
  MODIFY_ATTRIBUTES: 0x4008240b,
} as const;

const MODEL_IOCTLS = new Map<number, PerfIoctl>([
  [PERF_EVENT_IOC.ENABLE, "ENABLE"],
  [PERF_EVENT_IOC.DISABLE, "DISABLE"],
  [PERF_EVENT_IOC.REFRESH, "REFRESH"],
  [PERF_EVENT_IOC.RESET, "RESET"],
  [PERF_EVENT_IOC.PERIOD, "PERIOD"],
  [PERF_EVENT_IOC.SET_OUTPUT, "SET_OUTPUT"],
  [PERF_EVENT_IOC.ID, "ID"],
]);

/** An ioctl as the shim saw it. */
export interface RawIoctl {
  cmd: number;
  /** The integer argument, the PERIOD value, or the SET_OUTPUT target's model fd. */
  arg: number;
  /** The argument pointer was NULL. */
  argNull: boolean;
  /** An fd argument (SET_OUTPUT, SET_BPF) is not an open perf event / not an open fd. */
  argBadFd: boolean;
  /** The string (SET_FILTER) or struct (MODIFY_ATTRIBUTES) the argument points to. */
  extra: Uint8Array;
  /** CAP_PERFMON (QUERY_BPF). */
  perfmon: boolean;
}

/**
 * kernel: perf_ioctl() → _perf_ioctl(). The request must match a PERF_EVENT_IOC_* value
 * exactly (ENOTTY otherwise); ENABLE through ID and SET_OUTPUT are the model's own
 * (sysIoctl()). Returns 0, the ID for PERF_EVENT_IOC_ID, or a negative errno.
 */
export function perfIoctlRaw(
  core: PerfCore,
  fd: number,
  io: RawIoctl,
  attrOpts?: AttrAbiOptions,
): number {
  const e = core.fds.get(fd);
  if (!e) return -ERRNO.EBADF;
  if (e.state <= PERF_EVENT_STATE.REVOKED) return -ERRNO.ENODEV;
  const cmd = io.cmd >>> 0;
  const named = MODEL_IOCTLS.get(cmd);
  if (named !== undefined) {
    // copy_from_user() / copy_to_user() of a NULL pointer.
    if ((named === "PERIOD" || named === "ID") && io.argNull) return -ERRNO.EFAULT;
    if (named === "SET_OUTPUT" && io.argBadFd) return -ERRNO.EBADF;
    return sysIoctl(core, fd, named, io.arg);
  }
  switch (cmd) {
    case PERF_EVENT_IOC.SET_FILTER:
      // perf_event_set_filter(): strndup_user(), then only tracepoints and PMUs with
      // address filters take a filter.
      if (io.argNull) return -ERRNO.EFAULT;
      return -ERRNO.EINVAL;
    case PERF_EVENT_IOC.SET_BPF:
      // bpf_prog_get(): the fd must be a BPF program.
      return io.argBadFd ? -ERRNO.EBADF : -ERRNO.EINVAL;
    case PERF_EVENT_IOC.PAUSE_OUTPUT:
      // No ring buffer (no mmap): EINVAL.
      return -ERRNO.EINVAL;
    case PERF_EVENT_IOC.QUERY_BPF:
      // perf_event_query_prog_array(): CAP_PERFMON first, then tracepoints only.
      if (!io.perfmon) return -ERRNO.EPERM;
      if (e.attr.type !== PERF_TYPE_TRACEPOINT) return -ERRNO.EINVAL;
      return io.argNull ? -ERRNO.EFAULT : -ERRNO.EINVAL;
    case PERF_EVENT_IOC.MODIFY_ATTRIBUTES: {
      // perf_copy_attr() of the new attr, then perf_event_modify_attr(): same type, and
      // only breakpoints can be modified.
      if (io.argNull) return -ERRNO.EFAULT;
      const a = decodePerfEventAttr(io.extra, attrOpts);
      if (typeof a === "number") return a;
      const k = perfCopyAttr(a);
      if (typeof k === "number") return k;
      if (k.type !== e.attr.type) return -ERRNO.EINVAL;
      return k.type === PERF_TYPE_BREAKPOINT ? -ERRNO.EINVAL : -ERRNO.EOPNOTSUPP;
    }
    default:
      return -ERRNO.ENOTTY;
  }
}
