import { z } from "zod";
import { ROOT, sysPerfEventOpen } from "../../perf/open.js";
import { parseEvent } from "../../perf/tool/parse-events.js";
import { resolveEvent } from "../../perf/tool/resolve.js";
import type { PerfEventAttr } from "../../perf/uapi.js";
import { ERRNO } from "../../sim/errno.js";
import { pmuNames } from "../machine/compile.js";
import { checkOneEvent } from "../perf/events.js";
import type { RunContext } from "../run-context.js";
import { ActionCommon, type ActionCompile, type ActionOutcome, defineAction } from "./kind.js";

/** The attr fields of perf_event_open(2), written out. */
const AttrFields = z.strictObject({
  /** A perf type id, or a PMU name (resolved on the scenario's machine). */
  type: z
    .union([z.number().int().nonnegative(), z.string().regex(/^[A-Za-z_][\w.-]*$/)], {
      error: "a perf type id or a PMU name",
    })
    .optional(),
  config: z
    .union([z.number().int(), z.string().regex(/^\s*(0x[0-9a-fA-F]{1,16}|\d{1,20})\s*$/)], {
      error: 'a number, or a string such as "0x3c" for values above 2^53',
    })
    .optional(),
  size: z.number().int().optional(),
  disabled: z.boolean().optional(),
  pinned: z.boolean().optional(),
  exclusive: z.boolean().optional(),
  exclude_user: z.boolean().optional(),
  exclude_kernel: z.boolean().optional(),
  exclude_hv: z.boolean().optional(),
  exclude_idle: z.boolean().optional(),
  exclude_host: z.boolean().optional(),
  exclude_guest: z.boolean().optional(),
  sample_period: z.number().int().nonnegative().optional(),
  sample_freq: z.number().int().nonnegative().optional(),
  freq: z.boolean().optional(),
  read_format: z
    .array(z.enum(["total_time_enabled", "total_time_running", "id", "group", "lost"]))
    .optional(),
  inherit: z.boolean().optional(),
});

const schema = z.strictObject({
  ...ActionCommon,
  do: z.literal("perf_event_open"),
  /** Handle name later actions and expectations use for the returned fd. */
  name: z.string().optional(),
  /** One event in perf syntax (`cycles:u`), or give `attr` instead. */
  event: z.string().optional(),
  attr: AttrFields.optional(),
  task: z.string().optional(),
  pid: z.number().int().optional(),
  cpu: z.number().int().optional(),
  group: z.string().optional(),
  group_fd: z.number().int().optional(),
  flags: z.number().int().optional(),
  unprivileged: z.boolean().optional(),
});

type Open = z.output<typeof schema>;

const READ_FORMAT_BITS: Record<string, number> = {
  total_time_enabled: 1,
  total_time_running: 2,
  id: 4,
  group: 8,
  lost: 16,
};

/** perf_event_open(2) of one event, given in perf's syntax or as attr fields. */
export const perfEventOpen = defineAction({
  schema,
  compile(a, c) {
    c.needTask(a.task, "task");
    checkAttrType(a, c);
    if (a.event !== undefined) checkOneEvent(a.event, c.path("event"), c.ctx);
    if ((a.event === undefined) === (a.attr === undefined)) {
      c.err([], "give exactly one of event (perf syntax) or attr", "event or attr");
    }
    if (a.task !== undefined && a.pid !== undefined)
      c.err(["pid"], "give task or pid, not both", "one target");
    if (a.group !== undefined) c.needFd(a.group, "group");
    if (a.name !== undefined) c.ctx.names.fds.add(a.name);
    return a;
  },
  execute: open,
  describe: (a) => `perf_event_open(${a.event ?? "attr"}${a.name ? ` as ${a.name}` : ""})`,
});

/** A PMU given by name must exist on the machine. */
function checkAttrType(a: Open, c: ActionCompile): void {
  const m = c.ctx.machine;
  if (!m || typeof a.attr?.type !== "string") return;
  const names = pmuNames(m);
  if (!names.includes(a.attr.type))
    c.err(
      ["attr", "type"],
      `no PMU named "${a.attr.type}" on ${m.name}`,
      `one of: ${names.join(", ")} or a type id`,
    );
}

function open(a: Open, run: RunContext): ActionOutcome {
  const core = run.sys.perf;
  const attr = a.event !== undefined ? eventAttr(a.event, run) : attrOf(a.attr!, run);
  if ("ret" in attr) return attr;
  let pid = a.pid ?? -1;
  // A task that has not started is a pid no task has (ESRCH).
  if (a.task !== undefined) pid = run.tasks.get(a.task)?.pid ?? 999_999;
  const groupFd = a.group !== undefined ? run.fds.fd(a.group) : (a.group_fd ?? -1);
  const cred = a.unprivileged ? { perfmon: false } : ROOT;
  const fd = sysPerfEventOpen(core, attr, pid, a.cpu ?? -1, groupFd, a.flags ?? 0, cred);
  if (fd >= 0 && a.name !== undefined) {
    run.fds.set(a.name, fd);
    core.fds.get(fd)!.name = a.event ?? a.name;
  }
  return { ret: fd };
}

/**
 * The attr of one event in perf's syntax, bound the legacy way, reading enabled and running
 * times; or the errno of a syntax error (EINVAL) or an unknown PMU or term (ENOENT).
 */
function eventAttr(event: string, run: RunContext): PerfEventAttr | ActionOutcome {
  const parsed = parseEvent(event);
  if (typeof parsed === "string") return { ret: -ERRNO.EINVAL, data: parsed };
  const r = resolveEvent(run.sys.perf.registry, parsed, true);
  if (typeof r === "string") return { ret: -ERRNO.ENOENT, data: r };
  return { ...r[0]!.attr, read_format: 3 };
}

/** The attr fields as written; a PMU name becomes its type (an unknown one, 0xffff). */
function attrOf(x: NonNullable<Open["attr"]>, run: RunContext): PerfEventAttr {
  const registry = run.sys.perf.registry;
  return {
    ...x,
    type: typeof x.type === "string" ? (registry.byName(x.type)?.type ?? 0xffff) : (x.type ?? 0),
    config: typeof x.config === "string" ? BigInt(x.config) : x.config,
    read_format: (x.read_format ?? []).reduce((m, f) => m | READ_FORMAT_BITS[f]!, 0),
  };
}
