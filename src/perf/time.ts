import type { PerfEventContext } from "./context.js";
import { EVENT_TIME } from "./context.js";
import type { PerfCore } from "./core.js";
import {
  EVENT_HOT_EXCLUDE_GUEST,
  effectiveState,
  PERF_EVENT_STATE,
  type PerfEvent,
} from "./event.js";

/**
 * Context and event time accounting. Event times are charged from context time, never
 * from wall time: a context's clock only runs while it is scheduled in (EVENT_TIME), so a
 * task's events gain no time while the task is off the CPU.
 */

/** kernel: update_context_time(): advance the context clock to now if it runs. */
export function updateContextTime(ctx: PerfEventContext, now: number): void {
  if (ctx.isActive & EVENT_TIME) {
    const d = now - ctx.timestamp;
    ctx.time += d;
    // Mediated vPMU: guest time runs alongside while a guest context is loaded.
    if (ctx.guestLoaded) ctx.timeguest += d;
  }
  ctx.timestamp = now;
}

/**
 * kernel: perf_event_time(): the context time an event sees. With the mediated vPMU,
 * exclude_guest events see context time minus guest time.
 */
export function perfEventTime(e: PerfEvent): number {
  const ctx = e.ctx;
  if (!ctx) return 0;
  if (e.hot & EVENT_HOT_EXCLUDE_GUEST) return ctx.time - ctx.timeguest;
  return ctx.time;
}

/** kernel: perf_event_update_time(): charge time since tstamp to the effective state. */
export function perfEventUpdateTime(e: PerfEvent): void {
  const now = perfEventTime(e);
  const delta = now - e.tstamp;
  const state = effectiveState(e);
  if (state >= PERF_EVENT_STATE.INACTIVE) e.totalTimeEnabled += delta;
  if (state >= PERF_EVENT_STATE.ACTIVE) e.totalTimeRunning += delta;
  e.tstamp = now;
}

/** kernel: perf_event_update_sibling_time(). */
export function perfEventUpdateSiblingTime(leader: PerfEvent): void {
  const siblings = leader.siblings;
  for (let i = 0; i < siblings.length; i++) perfEventUpdateTime(siblings[i]!);
}

/**
 * kernel: perf_event_set_state(): time is charged to the old state first; a change
 * between enabled and disabled also updates the siblings, whose effective state follows.
 */
export function perfEventSetState(core: PerfCore, e: PerfEvent, state: number): void {
  if (e.state === state) return;
  // Any state change may change what a scheduling pass does (guest-switch.ts).
  if (e.ctx) e.ctx.schedGen++;
  perfEventUpdateTime(e);
  if (e.state < 0 !== state < 0) perfEventUpdateSiblingTime(e);
  const from = e.state;
  e.state = state;
  core.stateChanged(e, from, state);
}
