import { Mode } from "../hw/quantity.js";
import { BUILTIN_WORKLOADS } from "../hw/workload.js";
import { attrSizeRejected, decodePerfEventAttr } from "../perf/attr-abi.js";
import { perfEventExec } from "../perf/exec.js";
import { sysClose } from "../perf/ioctl.js";
import { PERF_EVENT_IOC, perfIoctlRaw, type RawIoctl } from "../perf/ioctl-abi.js";
import { type Credentials, sysPerfEventOpen } from "../perf/open.js";
import { sysRead } from "../perf/read.js";
import { PERF_ATTR_SIZE_CURRENT } from "../perf/uapi.js";
import type { Task } from "../sched/task.js";
import { ERRNO } from "../sim/errno.js";
import type { Ns } from "../sim/time.js";
import type { System } from "../system.js";
import { GROUP_NOT_PERF } from "./exec-protocol.js";
import { ExecRings, type MmapResult } from "./exec-ringbuf.js";

const USER_MODES = (1 << Mode.HOST_USER) | (1 << Mode.GUEST_USER);
const KERNEL_MODES = (1 << Mode.HOST_KERNEL) | (1 << Mode.GUEST_KERNEL);

/** A model pid no task has: perf_event_open on it answers ESRCH in the kernel's order. */
const NO_SUCH_PID = 0x7fffffff;
/** A model fd no event has (a group_fd that is open but not a perf event: EBADF). */
const NO_SUCH_FD = 0x7ffffffe;

/** Options of the live host. */
export interface ExecHostOptions {
  /** Credentials of every process (CAP_PERFMON unless --unprivileged). */
  cred: Credentials;
  /** The task the first traced pid maps to (--task); undefined: spawn a `compute` task. */
  task?: () => Task | undefined;
  /** Is a real pid alive (kill(pid, 0))? */
  pidAlive: (pid: number) => boolean;
  /** Kernel ABI of perf_event_attr (aux_action in 6.13+). */
  auxAction: boolean;
  /** The private directory the ring buffer files go to. */
  ringDir: string;
}

/** A real process's model task. */
interface Mapping {
  task: Task;
  /** Spawned for the process (it exits with it), rather than a scenario task (--task). */
  spawned: boolean;
}

/**
 * The simulated host as real processes see it through the shim: perf_event_open, read,
 * ioctl and close on model events, real pids mapped to model tasks, exec (enable_on_exec)
 * and exits. Model fds are the handles the shim keeps behind its eventfds; a model event is
 * closed when no process holds a descriptor for it any more.
 */
export class ExecHost {
  private readonly mapped = new Map<number, Mapping>();
  /** The last CPU times of mapped processes that exited, for a late wait4(). */
  private readonly exitedUsage = new Map<number, [number, number]>();
  private readonly holders = new Map<number, Set<number>>();
  private readonly held = new Map<number, Set<number>>();
  /** perf_event_open calls served (benchmarks). */
  opens = 0;
  /** The --task mapping is taken (by the first traced pid). */
  private taskTaken = false;
  /** The mmap'ed ring buffers. */
  readonly rings: ExecRings;

  constructor(
    readonly sys: System,
    private readonly opts: ExecHostOptions,
  ) {
    this.rings = new ExecRings(sys, opts.ringDir, (p) => this.realPid(p));
  }

  /** Live model tasks that no real process stands for (the simulated host's own processes). */
  *modelTasks(): Iterable<Task> {
    const real = new Set<Task>();
    for (const m of this.mapped.values()) real.add(m.task);
    for (const t of this.sys.sched.tasks.values())
      if (t.state !== "dead" && t !== this.sys.perf.monitor && !real.has(t)) yield t;
  }

  /** The pid a model task has for real processes: the real one when a process maps to it. */
  private realPid(modelPid: number): number {
    for (const [pid, m] of this.mapped) if (m.task.pid === modelPid) return pid;
    return modelPid;
  }

  /** A process connected (after exec, or first call after fork) holding these handles. */
  hello(pid: number, exec: boolean, handles: readonly number[], comm = ""): void {
    const now = this.sys.now;
    if (exec) {
      // CLOEXEC descriptors are gone; the model task sees the exec.
      for (const h of [...(this.held.get(pid) ?? [])]) if (!handles.includes(h)) this.drop(pid, h);
      // exec drops every mapping of the old image.
      this.rings.exited(pid);
      const m = this.mapped.get(pid);
      if (m) {
        // kernel: begin_new_exec() → perf_event_exec(), then perf_event_comm(exec).
        perfEventExec(this.sys.perf, m.task, now);
        this.rings.exec(m.task, pid, comm);
        this.rings.flush();
      }
    }
    for (const h of handles) if (this.sys.perf.fds.has(h)) this.hold(pid, h);
  }

  private hold(pid: number, h: number): void {
    let hs = this.holders.get(h);
    if (!hs) this.holders.set(h, (hs = new Set()));
    hs.add(pid);
    let p = this.held.get(pid);
    if (!p) this.held.set(pid, (p = new Set()));
    p.add(h);
  }

  /** The process no longer holds h; the event goes with its last holder. */
  private drop(pid: number, h: number): void {
    this.held.get(pid)?.delete(h);
    const hs = this.holders.get(h);
    if (!hs) return;
    hs.delete(pid);
    if (hs.size === 0) {
      this.holders.delete(h);
      sysClose(this.sys.perf, h);
    }
  }

  /** The model pid for a pid argument of perf_event_open from `caller`. */
  private modelPid(caller: number, pid: number): number {
    if (pid === -1 || pid === 0 || pid === caller) return pid === -1 ? -1 : 0;
    const m = this.mapped.get(pid);
    if (m) return m.task.state === "dead" ? NO_SUCH_PID : m.task.pid;
    if (pid < 0 || !this.opts.pidAlive(pid)) return NO_SUCH_PID;
    const first = !this.taskTaken && this.opts.task !== undefined;
    if (first) this.taskTaken = true;
    const task = first ? this.opts.task!() : this.spawnWorkload();
    if (!task) return NO_SUCH_PID;
    this.mapped.set(pid, { task, spawned: !first });
    return task.pid;
  }

  /** The default model task of a traced process: `compute` on any CPU, from now on. */
  private spawnWorkload(): Task {
    return this.sys.spawn({ comm: "workload", workload: BUILTIN_WORKLOADS.compute! });
  }

  /** perf_event_open(2) from `caller`. `attr` is the caller's struct, up to its size. */
  open(
    caller: number,
    pid: number,
    cpu: number,
    group: number,
    flags: number,
    attr: Uint8Array,
  ): { ret: number; writeback: number } {
    this.opens++;
    const a = decodePerfEventAttr(attr, { auxAction: this.opts.auxAction });
    if (typeof a === "number") return { ret: a, writeback: 0 };
    const groupFd = group === GROUP_NOT_PERF ? NO_SUCH_FD : group;
    const ret = sysPerfEventOpen(
      this.sys.perf,
      a,
      this.modelPid(caller, pid),
      cpu,
      groupFd,
      flags >>> 0,
      this.opts.cred,
    );
    if (ret >= 0) {
      this.hold(caller, ret);
      this.rings.opened(ret, a);
    }
    // kernel: perf_copy_attr()'s err_size path writes its struct size back to uattr->size.
    const writeback = ret === -ERRNO.E2BIG && attrSizeRejected(attr) ? PERF_ATTR_SIZE_CURRENT : 0;
    return { ret, writeback };
  }

  /** read(2): the bytes of the read_format layout (0 for an event in ERROR), or -errno. */
  read(handle: number, count: number): { ret: number; data?: Uint8Array } {
    const r = sysRead(this.sys.perf, handle, count);
    if (typeof r === "number") return { ret: r };
    const data = new Uint8Array(r.bytes);
    const v = new DataView(data.buffer);
    r.words.forEach((w, i) => {
      if (i * 8 < r.bytes) v.setBigUint64(i * 8, w & 0xffffffffffffffffn, true);
    });
    return { ret: r.bytes, data };
  }

  /** ioctl(2) on a model event. PERF_EVENT_IOC_ID's value comes back in `out`. */
  ioctl(handle: number, io: RawIoctl): { ret: number; out: number } {
    const r = perfIoctlRaw(this.sys.perf, handle, io, { auxAction: this.opts.auxAction });
    if (io.cmd >>> 0 === PERF_EVENT_IOC.ID && r >= 0) return { ret: 0, out: r };
    // kernel: _perf_ioctl() PAUSE_OUTPUT: a buffer with data pages pauses or resumes.
    if (io.cmd >>> 0 === PERF_EVENT_IOC.PAUSE_OUTPUT && r === -ERRNO.EINVAL) {
      const e = this.sys.perf.fds.get(handle);
      const rb = e && this.rings.rings.bufferOf(e);
      if (rb && rb.nrPages > 0) {
        rb.paused = io.arg !== 0;
        return { ret: 0, out: 0 };
      }
    }
    if (io.cmd >>> 0 === PERF_EVENT_IOC.SET_OUTPUT && r === 0)
      return { ret: this.rings.setOutput(handle, io.arg), out: 0 };
    return { ret: r, out: 0 };
  }

  /** The process closed its last descriptor of `handle`. */
  close(pid: number, handle: number): void {
    this.drop(pid, handle);
  }

  /** A real process exited: its descriptors close, and a task spawned for it exits too. */
  exited(pid: number): void {
    this.rings.exited(pid);
    for (const h of [...(this.held.get(pid) ?? [])]) this.drop(pid, h);
    this.held.delete(pid);
    const m = this.mapped.get(pid);
    if (!m) return;
    // The parent's wait4() may ask for the child's rusage after its exit was reported.
    this.exitedUsage.set(pid, this.rusage(pid));
    this.mapped.delete(pid);
    if (m.spawned && m.task.state !== "dead") this.sys.kill(m.task.pid);
  }

  /** CPU time of the model task a real process maps to (user, system), in ns. */
  rusage(pid: number): [number, number] {
    const m = this.mapped.get(pid);
    if (!m) return this.exitedUsage.get(pid) ?? [0, 0];
    this.sys.sync();
    let user = 0;
    let sys = 0;
    for (const a of m.task.truth.values()) {
      user += a.timeIn(USER_MODES);
      sys += a.timeIn(KERNEL_MODES);
    }
    return [Math.round(user), Math.round(sys)];
  }

  /** mmap(2) of a model fd (the ring buffer). */
  mmap(
    pid: number,
    handle: number,
    len: number,
    prot: number,
    flags: number,
    pgoff: number,
  ): MmapResult {
    return this.rings.mmap(pid, handle, len, prot, flags, pgoff);
  }

  /** munmap(2) of a ring buffer mapping. */
  munmap(pid: number, handle: number): void {
    this.rings.munmap(pid, handle);
  }

  /**
   * Runs the model up to `t` (a no-op for a time not after now). With `stop`, it stops after
   * the first timer at which stop() holds (a ring buffer woke a poller: the reader runs
   * before the model goes on). Returns the time reached.
   */
  advance(t: Ns, stop?: () => boolean): Ns {
    const sys = this.sys;
    this.rings.beforeStep();
    sys.run(t, stop);
    this.rings.flush();
    return sys.now;
  }
}
