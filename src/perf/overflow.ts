import type { Ns } from "../sim/time.js";
import type { PerfCore } from "./core.js";
import type { PerfEvent } from "./event.js";
import { perfEventDisable } from "./ioctl.js";

/**
 * kernel: perf_adjust_period(): in frequency mode, steer the period towards
 * rate / sample_freq through the kernel's low-pass filter (1/8 of the gap per step).
 */
function perfAdjustPeriod(e: PerfEvent, dtNs: number, count: number): void {
  if (dtNs <= 0 || count <= 0) return;
  const target = (count * 1e9) / (dtNs * e.attr.sample_freq);
  const cur = e.hw.samplePeriod;
  const delta = Math.trunc((target - cur + 7) / 8);
  e.hw.samplePeriod = Math.max(1, Math.round(cur + delta));
}

/**
 * kernel: __perf_event_overflow(): one period elapsed. Honours the IOC_REFRESH limit (the
 * event disables itself when it runs out), records a sample or calls the kernel owner's
 * handler, and picks the next period. Returns 1 when the event must stop.
 */
export function perfEventOverflow(core: PerfCore, e: PerfEvent, now: Ns): number {
  e.hw.interrupts++;
  let ret = 0;
  if (e.attr.freq && e.attr.sample_freq > 0) {
    perfAdjustPeriod(e, now - e.hw.freqStamp, e.hw.lastPeriod);
    e.hw.freqStamp = now;
  }
  e.hw.lastPeriod = e.hw.samplePeriod;
  if (e.eventLimit > 0) {
    e.eventLimit--;
    if (e.eventLimit === 0) ret = 1;
  }
  if (e.overflowHandler) {
    e.overflowHandler(e, now);
  } else {
    const cpu = e.oncpu;
    const task = core.sys.sched.current(cpu);
    const sample = { t: now, cpu, pid: task?.pid ?? 0, period: e.hw.lastPeriod };
    if (e.samples.length < core.opts.sampleLimit) e.samples.push(sample);
    e.nrSamples++;
    core.sampleOutput?.(e, now, sample.period);
    const trace = core.sys.trace;
    if (trace.enabled) {
      trace.emit({
        kind: "perf_sample",
        t: now,
        id: e.id,
        name: e.name,
        cpu,
        pid: sample.pid,
        period: sample.period,
      });
    }
  }
  if (ret) perfEventDisable(core, e, now);
  return ret;
}
