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
      this.host.hello(h.pid, (h.flags & HELLO_EXEC) !== 0, h.handles);
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
        coord?.cancel(pid);
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
  private sync(): void {
    if (!this.opts.wallNow) return;
    const before = this.host.sys.now;
    this.host.advance(this.opts.wallNow());
    if (this.host.sys.now !== before) this.opts.onAdvance();
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
