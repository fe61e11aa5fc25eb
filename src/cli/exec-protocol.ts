/**
 * The wire format between the preload shim (native/vpmu-preload.c) and the `vpmu exec`
 * server: one Unix stream socket per process, little-endian, one request at a time.
 *
 *   request:  u32 len (payload bytes), u32 op, payload
 *   reply:    u32 len (payload bytes), u32 0, i64 ret (a value or -errno), payload
 *
 * One-way requests (HELLO, CLOSE, CANCEL, BLOCK, UNBLOCK, FORKED) get no reply. A SLEEP gets
 * exactly one reply, when the model reaches its time, when a child's exit interrupts it, or
 * after a CANCEL. Payloads:
 *
 *   HELLO   u32 pid, u32 ppid, u32 uid, u32 flags (1 exec, 2 fork), u8 comm[16],
 *           u32 n, i32 handles[n] (the model events the process holds)
 *   OPEN    i32 pid, i32 cpu, i32 group (handle, -1, or -2: not a perf fd), u32 flags,
 *           u32 n, u8 attr[n]          → ret handle; payload u32 size to write back (E2BIG)
 *   READ    i32 handle, u32 count       → ret bytes; payload the bytes
 *   IOCTL   i32 handle, u32 cmd, u64 arg, u32 flags (1 arg NULL, 2 arg not an open fd),
 *           u32 n, u8 extra[n]          → ret; payload u64 (the ID of PERF_EVENT_IOC_ID)
 *   CLOSE   i32 handle
 *   SLEEP   u64 until (model ns), u32 flags (1: SIGCHLD would interrupt) → ret 0 or -EINTR
 *   CANCEL  (empty)
 *   BLOCK   i32 pid waited for (-1 any)
 *   UNBLOCK (empty)
 *   FORKED  i32 child pid
 *   RUSAGE  i32 pid                     → payload u64 utime ns, u64 stime ns
 *   MMAP    i32 handle, u32 prot, u32 flags, u32 0, u64 length, u64 pgoff
 *                                       → ret 0; payload the path of the file to map MAP_SHARED
 *   MUNMAP  i32 handle                  (one mapping of the handle's buffer went)
 *   POLL    u64 until (model ns, U64 max: no timeout), u32 flags (1: SIGCHLD would
 *           interrupt), u32 n, {i32 handle, u32 events}[n]
 *                                       → ret ready count or -EINTR; payload u32 revents[n].
 *           Like SLEEP: one reply, when a buffer wakes up, the time comes, or a CANCEL.
 */
export const OP = {
  HELLO: 1,
  OPEN: 2,
  READ: 3,
  IOCTL: 4,
  CLOSE: 5,
  SLEEP: 6,
  CANCEL: 7,
  BLOCK: 8,
  UNBLOCK: 9,
  FORKED: 10,
  RUSAGE: 11,
  MMAP: 12,
  MUNMAP: 13,
  POLL: 14,
} as const;

export const HELLO_EXEC = 1;
export const SLEEP_SIGCHLD = 1;
export const IOCTL_ARG_NULL = 1;
export const IOCTL_ARG_BADFD = 2;
/** OPEN's group for a group_fd that is open but not a perf event. */
export const GROUP_NOT_PERF = -2;

/** Requests that get a reply. */
export const HAS_REPLY: ReadonlySet<number> = new Set([
  OP.OPEN,
  OP.READ,
  OP.IOCTL,
  OP.SLEEP,
  OP.RUSAGE,
  OP.MMAP,
  OP.POLL,
]);

export const REQUEST_HEADER = 8;
export const REPLY_HEADER = 16;
/** Requests larger than this are refused (the biggest is an attr of one page). */
export const MAX_REQUEST = 64 * 1024;

/** One decoded request. */
export interface Request {
  op: number;
  body: Buffer;
}

/**
 * Splits a stream into requests. Returns the requests found and the bytes left over (an
 * incomplete request), or an error for a malformed stream.
 */
export function splitRequests(buf: Buffer): { requests: Request[]; rest: Buffer } | string {
  const requests: Request[] = [];
  let off = 0;
  while (buf.length - off >= REQUEST_HEADER) {
    const len = buf.readUInt32LE(off);
    const op = buf.readUInt32LE(off + 4);
    if (len > MAX_REQUEST) return `request of ${len} bytes`;
    if (buf.length - off - REQUEST_HEADER < len) break;
    requests.push({ op, body: buf.subarray(off + REQUEST_HEADER, off + REQUEST_HEADER + len) });
    off += REQUEST_HEADER + len;
  }
  return { requests, rest: buf.subarray(off) };
}

/** A reply: its ret and payload. */
export function encodeReply(ret: number | bigint, payload?: Uint8Array): Buffer {
  const n = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(REPLY_HEADER + n);
  out.writeUInt32LE(n, 0);
  out.writeUInt32LE(0, 4);
  out.writeBigInt64LE(BigInt(ret), 8);
  if (payload) out.set(payload, REPLY_HEADER);
  return out;
}

/** HELLO's fields. */
export interface Hello {
  pid: number;
  ppid: number;
  uid: number;
  flags: number;
  comm: string;
  handles: number[];
}

export function decodeHello(b: Buffer): Hello | null {
  if (b.length < 36) return null;
  const n = b.readUInt32LE(32);
  if (b.length < 36 + 4 * n) return null;
  const comm = b.subarray(16, 32).toString("latin1").replace(/\0.*$/s, "");
  const handles: number[] = [];
  for (let i = 0; i < n; i++) handles.push(b.readInt32LE(36 + 4 * i));
  return {
    pid: b.readUInt32LE(0),
    ppid: b.readUInt32LE(4),
    uid: b.readUInt32LE(8),
    flags: b.readUInt32LE(12),
    comm,
    handles,
  };
}
