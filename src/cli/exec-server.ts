import { readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import type { Ns } from "../sim/time.js";
import type { SimTimeCoordinator } from "./exec-clock.js";
import type { ExecHost } from "./exec-host.js";
import {
  decodeHello,
  encodeReply,
  HELLO_EXEC,
  IOCTL_ARG_BADFD,
  IOCTL_ARG_NULL,
  OP,
  type Request,
  SLEEP_SIGCHLD,
  splitRequests,
} from "./exec-protocol.js";

/** What a connection knows about its process. */
interface Conn {
  id: number;
  socket: Socket;
  pid: number | null;
  rest: Buffer;
}

/** How long the server polls without sleeping after a request (milliseconds). */
const WARM_MS = 0.2;
/** Wall-clock mode: the most model work one request waits for (milliseconds). */
const SYNC_BUDGET_MS = 20;
/** A poll() on model fds waiting for a ring buffer wakeup or its timeout. */
interface PendingPoll {
  c: Conn;
  pid: number;
  handles: number[];
  events: number[];
  /** No timeout (poll -1). */
  infinite: boolean;
  until: Ns;
  sigchld: boolean;
}

const POLLERR = 0x8;
const POLLHUP = 0x10;
/**
 * A poll with no timeout sleeps in slices of this much simulated time, so that a command
 * whose every process waits forever (perf record -a with no workload) still sees time pass.
 */
const POLL_SLICE_NS = 100_000_000;
const U64_MAX = 0xffffffffffffffffn;

/** Options of the server. */
export interface ExecServerOptions {
  socketPath: string;
  /** Simulated time, or null for the wall clock. */
  coordinator: SimTimeCoordinator | null;
  /** Wall-clock mode: the model time that corresponds to now (monotonic clock x scale). */
  wallNow?: () => Ns;
  /** The server's uid: HELLOs from another uid are refused. */
  uid: number;
  /** CAP_PERFMON of the clients. */
  perfmon: boolean;
  /** Called after the model time moved (to refresh the sysfs view and the clock page). */
  onAdvance: () => void;
  /** A protocol error or a refused client. */
  onProblem: (message: string) => void;
}

const U64 = 0xffffffffffffffffn;

/** The state letter of /proc/<pid>/stat ("R", "S", "Z", ...), or "" when gone. */
export function procState(pid: number): string {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "latin1");
    return s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3);
  } catch {
    return "";
  }
}

/** The children of a process (/proc/<pid>/task/<pid>/children), or none. */
export function childPids(pid: number): number[] {
  try {
    const s = readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1").trim();
    return s === "" ? [] : s.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

/**
 * The `vpmu exec` server: a Unix socket in a private directory, one connection per client
 * process, requests answered from the live model (ExecHost) in arrival order.
 */
export class ExecServer {
  private readonly server: Server;
  private readonly conns = new Set<Conn>();
  private nextId = 1;
  private timer: NodeJS.Timeout | null = null;
  /** The event loop polls without sleeping until then (performance.now() ms); see warm(). */
  private warmUntil = 0;
  private warming = false;
  private saidLag = false;
  private readonly polls = new Set<PendingPoll>();
  private pollTimer: NodeJS.Timeout | null = null;
  /** Requests served (benchmarks). */
  requests = 0;

  constructor(
    private readonly host: ExecHost,
    private readonly opts: ExecServerOptions,
  ) {
    this.server = createServer((s) => this.accept(s));
  }

  /** Starts listening on the socket path. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.socketPath, () => resolve());
    });
  }

  /** Stops: closes every connection and the listening socket. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.polls.clear();
    for (const c of this.conns) c.socket.destroy();
    this.conns.clear();
    this.server.close();
  }

  private accept(socket: Socket): void {
    const c: Conn = { id: this.nextId++, socket, pid: null, rest: Buffer.alloc(0) };
    this.conns.add(c);
    socket.on("data", (d) => this.data(c, d));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.conns.delete(c);
      for (const p of this.polls) if (p.c === c) this.polls.delete(p);
      if (c.pid !== null) this.opts.coordinator?.disconnected(c.pid, c.id);
      this.watch();
    });
  }

  private data(c: Conn, d: Buffer): void {
    const buf = c.rest.length ? Buffer.concat([c.rest, d]) : d;
    const split = splitRequests(buf);
    if (typeof split === "string") {
      this.opts.onProblem(`malformed request from pid ${c.pid ?? "?"}: ${split}`);
      c.socket.destroy();
      return;
    }
    c.rest = split.rest.length ? Buffer.from(split.rest) : Buffer.alloc(0);
    for (const r of split.requests) {
      if (c.socket.destroyed) return;
      this.handle(c, r);
    }
    this.warm();
  }

  /**
   * Keeps the event loop polling (setImmediate, so libuv's poll does not block) for a short
   * while after each request: clients ask in bursts, and waking a CPU that went idle
   * costs more than the round trip itself on virtual machines. Transport only, never the
   * model's clock.
   */
  private warm(): void {
    this.warmUntil = performance.now() + WARM_MS;
    if (this.warming) return;
    this.warming = true;
    const spin = () => {
      if (performance.now() < this.warmUntil && this.conns.size > 0) setImmediate(spin);
      else this.warming = false;
    };
    setImmediate(spin);
  }

  private reply(c: Conn, ret: number | bigint, payload?: Uint8Array): void {
    if (!c.socket.destroyed) c.socket.write(encodeReply(ret, payload));
  }

  private handle(c: Conn, r: Request): void {
    this.requests++;
    const coord = this.opts.coordinator;
    const b = r.body;
    if (r.op === OP.HELLO) {
      const h = decodeHello(b);
      if (!h || (h.uid !== this.opts.uid && this.opts.uid !== 0)) {
        this.opts.onProblem(`refused a client (${h ? `uid ${h.uid}` : "bad hello"})`);
        c.socket.destroy();
        return;
      }
      c.pid = h.pid;
      this.sync();
      coord?.connected(h.pid, h.ppid, c.id);
      this.host.hello(h.pid, (h.flags & HELLO_EXEC) !== 0, h.handles, h.comm);
      return;
    }
    const pid = c.pid;
    if (pid === null) {
      this.opts.onProblem("request before HELLO");
      c.socket.destroy();
      return;
    }
    coord?.activity(pid);
    this.sync();
    switch (r.op) {
      case OP.OPEN: {
        const n = b.readUInt32LE(16);
        const res = this.host.open(
          pid,
          b.readInt32LE(0),
          b.readInt32LE(4),
          b.readInt32LE(8),
          b.readUInt32LE(12),
          b.subarray(20, 20 + n),
        );
        const wb = Buffer.alloc(4);
        wb.writeUInt32LE(res.writeback, 0);
        this.reply(c, res.ret, wb);
        return;
      }
      case OP.READ: {
        const res = this.host.read(b.readInt32LE(0), b.readUInt32LE(4));
        this.reply(c, res.ret, res.data);
        return;
      }
      case OP.IOCTL: {
        const flags = b.readUInt32LE(16);
        const n = b.readUInt32LE(20);
        const res = this.host.ioctl(b.readInt32LE(0), {
          cmd: b.readUInt32LE(4),
          arg: Number(b.readBigInt64LE(8)),
          argNull: (flags & IOCTL_ARG_NULL) !== 0,
          argBadFd: (flags & IOCTL_ARG_BADFD) !== 0,
          extra: b.subarray(24, 24 + n),
          perfmon: this.opts.perfmon,
        });
        const out = Buffer.alloc(8);
        out.writeBigUInt64LE(BigInt(res.out) & U64, 0);
        this.reply(c, res.ret, out);
        return;
      }
      case OP.CLOSE:
        this.host.close(pid, b.readInt32LE(0));
        return;
      case OP.RUSAGE: {
        const [u, s] = this.host.rusage(b.readInt32LE(0));
        const out = Buffer.alloc(16);
        out.writeBigUInt64LE(BigInt(u), 0);
        out.writeBigUInt64LE(BigInt(s), 8);
        this.reply(c, 0, out);
        return;
      }
      case OP.SLEEP:
        if (!coord) {
          this.reply(c, 0);
          return;
        }
        this.children(pid);
        coord.sleep(
          pid,
          Number(b.readBigUInt64LE(0)) as Ns,
          (b.readUInt32LE(8) & SLEEP_SIGCHLD) !== 0,
          (ret) => this.reply(c, ret),
        );
        this.watch();
        return;
      case OP.CANCEL:
        if (coord) coord.cancel(pid);
        else this.cancelPolls(c);
        return;
      case OP.MMAP: {
        const res = this.host.mmap(
          pid,
          b.readInt32LE(0),
          Number(b.readBigUInt64LE(16)),
          b.readUInt32LE(4),
          b.readUInt32LE(8),
          Number(b.readBigUInt64LE(24)),
        );
        this.reply(c, res.ret, res.path === undefined ? undefined : Buffer.from(res.path));
        return;
      }
      case OP.MUNMAP:
        this.host.munmap(pid, b.readInt32LE(0));
        return;
      case OP.POLL:
        this.poll(c, pid, b);
        return;
      case OP.BLOCK:
        this.children(pid);
        coord?.block(pid, b.readInt32LE(0));
        this.watch();
        return;
      case OP.UNBLOCK:
        coord?.unblock(pid);
        return;
      case OP.FORKED:
        coord?.spawned(b.readInt32LE(0), pid);
        this.watch();
        return;
      default:
        this.opts.onProblem(`unknown request ${r.op} from pid ${pid}`);
    }
  }

  /** POLL: answered now when a buffer is ready (or no wait was asked), else when one is. */
  private poll(c: Conn, pid: number, b: Buffer): void {
    const until = b.readBigUInt64LE(0);
    const n = b.readUInt32LE(12);
    const p: PendingPoll = {
      c,
      pid,
      handles: [],
      events: [],
      infinite: until === U64_MAX,
      until: Number(until) as Ns,
      sigchld: (b.readUInt32LE(8) & SLEEP_SIGCHLD) !== 0,
    };
    for (let i = 0; i < n; i++) {
      p.handles.push(b.readInt32LE(16 + 8 * i));
      p.events.push(b.readUInt32LE(20 + 8 * i));
    }
    if (this.answerPoll(p)) return;
    if (!p.infinite && p.until <= this.host.sys.now) {
      this.replyPoll(p, 0, new Uint32Array(n));
      return;
    }
    this.polls.add(p);
    const coord = this.opts.coordinator;
    if (coord) {
      this.children(pid);
      this.sleepPoll(p);
      this.watch();
    } else if (!this.pollTimer) {
      // Wall-clock mode: the model catches up with the clock every millisecond meanwhile.
      this.pollTimer = setInterval(() => this.wallPollTick(), 1);
    }
  }

  /** The revents of a poll (consume: as perf_poll() does, a wakeup is seen once). */
  private revents(p: PendingPoll, consume: boolean): { n: number; rev: Uint32Array } {
    const got = this.host.rings.poll(p.handles, consume);
    const rev = new Uint32Array(p.handles.length);
    let n = 0;
    for (let i = 0; i < got.length; i++) {
      rev[i] = got[i]! & (p.events[i]! | POLLERR | POLLHUP);
      if (rev[i]) n++;
    }
    return { n, rev };
  }

  private replyPoll(p: PendingPoll, ret: number, rev: Uint32Array): void {
    this.polls.delete(p);
    this.reply(p.c, ret, Buffer.from(rev.buffer, rev.byteOffset, rev.byteLength));
  }

  /** Replies when some fd of the poll is ready; returns whether it did. */
  private answerPoll(p: PendingPoll): boolean {
    const { n, rev } = this.revents(p, true);
    if (n === 0) return false;
    this.replyPoll(p, n, rev);
    return true;
  }

  private sleepPoll(p: PendingPoll): void {
    const now = this.host.sys.now;
    const until = p.infinite ? ((now + POLL_SLICE_NS) as Ns) : p.until;
    this.opts.coordinator!.sleep(p.pid, until, p.sigchld, (ret) => this.pollWoken(p, ret));
  }

  /** The coordinator ended the poll's sleep: a wakeup (1), its time (0) or -EINTR. */
  private pollWoken(p: PendingPoll, ret: number): void {
    if (!this.polls.has(p)) return;
    if (ret < 0) {
      this.replyPoll(p, ret, new Uint32Array(p.handles.length));
      return;
    }
    if (this.answerPoll(p)) return;
    if (p.infinite || p.until > this.host.sys.now) {
      // A slice of a poll without timeout ended: sleep on (after this reply path unwinds).
      setImmediate(() => {
        if (this.polls.has(p) && !p.c.socket.destroyed) this.sleepPoll(p);
        this.watch();
      });
      return;
    }
    this.replyPoll(p, 0, new Uint32Array(p.handles.length));
  }

  /** True when a waiting poll has a ready fd (the model stops to let its reader run). */
  pollReady(): boolean {
    if (this.polls.size === 0 || !this.host.rings.pendingWakeup()) return false;
    for (const p of this.polls)
      if (!p.c.socket.destroyed && this.revents(p, false).n > 0) return true;
    return false;
  }

  /** Wakes the polls that have a ready fd (after the model stopped for them). */
  wakePolls(): void {
    const coord = this.opts.coordinator;
    for (const p of [...this.polls])
      if (this.revents(p, false).n > 0) {
        if (coord) coord.interrupt(p.pid, 1);
        else this.answerPoll(p);
      }
  }

  /** CANCEL in wall-clock mode: the connection's polls end with EINTR. */
  private cancelPolls(c: Conn): void {
    for (const p of [...this.polls])
      if (p.c === c) this.replyPoll(p, -4, new Uint32Array(p.handles.length));
  }

  private wallPollTick(): void {
    this.sync();
    const now = this.host.sys.now;
    for (const p of [...this.polls]) {
      if (this.answerPoll(p)) continue;
      if (!p.infinite && p.until <= now) this.replyPoll(p, 0, new Uint32Array(p.handles.length));
    }
    if (this.polls.size === 0 && this.pollTimer) {
      clearInterval(this.pollTimer);
      this.pollTimer = null;
    }
  }

  /**
   * Before a process waits, its children the server has not heard of (made by clone() or
   * posix_spawn() inside libc, where the shim sees no fork) hold the clock until they
   * connect or exit.
   */
  private children(pid: number): void {
    const coord = this.opts.coordinator;
    if (!coord) return;
    for (const child of childPids(pid)) coord.spawned(child, pid, true);
  }

  /** Wall-clock mode: run the model up to now before answering. */
  /**
   * Wall-clock mode: the model catches up with the clock, for at most SYNC_BUDGET_MS of
   * work per call. A model slower than real time then lags behind the clock (said once on
   * stderr) instead of every request taking longer than the last.
   */
  private sync(): void {
    if (!this.opts.wallNow) return;
    const before = this.host.sys.now;
    const target = this.opts.wallNow();
    const deadline = performance.now() + SYNC_BUDGET_MS;
    let n = 0;
    this.host.advance(target, () => (++n & 63) === 0 && performance.now() > deadline);
    const sys = this.host.sys;
    if (sys.now < target && !this.saidLag && performance.now() > deadline) {
      this.saidLag = true;
      this.opts.onProblem(
        `the model runs slower than real time here; simulated time lags the wall clock (${((target - sys.now) / 1e6).toFixed(1)} ms behind)`,
      );
    }
    if (sys.now !== before) this.opts.onAdvance();
  }

  /**
   * While processes have no connection (between exec and HELLO, after exit) or sleepers
   * wait on processes that may be blocked in the kernel, look at /proc every 2 ms.
   */
  watch(): void {
    const coord = this.opts.coordinator;
    if (!coord || this.timer) return;
    if (coord.unconnected().length === 0 && !coord.stalled()) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      for (const pid of coord.unconnected()) {
        const st = procState(pid);
        if (st === "" || st === "Z" || st === "X") coord.exited(pid);
      }
      if (coord.stalled())
        for (const pid of coord.holders()) {
          const st = procState(pid);
          coord.observed(pid, st === "S" || st === "T" || st === "t");
        }
      this.watch();
    }, 2);
  }
}
