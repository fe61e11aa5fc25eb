import { describe, expect, it } from "vitest";
import { preset } from "../src/hw/presets.js";
import { BUILTIN_WORKLOADS } from "../src/hw/workload.js";
import { PERF_EVENT_STATE } from "../src/perf/event.js";
import { PERF_TYPE_HARDWARE, PERF_TYPE_RAW } from "../src/perf/uapi.js";
import { msToNs } from "../src/sim/time.js";
import { System } from "../src/system.js";

const compute = BUILTIN_WORKLOADS.compute!;

describe("sampling", () => {
  it("a sample_period event overflows at the predicted times and records one sample per period", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const t = sys.spawn({ comm: "w", workload: compute, affinity: [0] });
    // 3 GHz, IPC 2: 6e6 instructions per ms.
    const fd = sys.perfEventOpen(
      { type: PERF_TYPE_RAW, config: 0xc0, sample_period: 1_000_000 },
      t.pid,
      -1,
    );
    sys.run(msToNs(10));
    const e = sys.perf.fds.get(fd)!;
    expect(e.nrSamples).toBe(60);
    expect(e.samples[0]!.t).toBe(166_667); // ceil(1e6 / 6 per ns)
    expect(e.samples.every((s) => s.pid === t.pid && s.cpu === 0 && s.period === 1_000_000)).toBe(
      true,
    );
    expect(sys.read(fd).value).toBe(60_000_000);
  });

  it("IOC_REFRESH allows N overflows and then disables the event", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const t = sys.spawn({ comm: "w", workload: compute, affinity: [0] });
    const fd = sys.perfEventOpen(
      { type: PERF_TYPE_RAW, config: 0xc0, sample_period: 1_000_000, disabled: true },
      t.pid,
      -1,
    );
    expect(() => sys.ioctl(fd, "REFRESH", 3)).not.toThrow();
    sys.run(msToNs(10));
    const e = sys.perf.fds.get(fd)!;
    expect(e.nrSamples).toBe(3);
    expect(e.state).toBe(PERF_EVENT_STATE.OFF);
    expect(sys.read(fd).value).toBe(3_000_000);
  });

  it("REFRESH and PERIOD on a counting event fail with EINVAL; PERIOD 0 fails too", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const c = sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc0 }, -1, 0);
    expect(() => sys.ioctl(c, "REFRESH", 1)).toThrow(/EINVAL/);
    expect(() => sys.ioctl(c, "PERIOD", 100)).toThrow(/EINVAL/);
    const s = sys.perfEventOpen({ type: PERF_TYPE_RAW, config: 0xc0, sample_period: 10 }, -1, 0);
    expect(() => sys.ioctl(s, "PERIOD", 0)).toThrow(/EINVAL/);
    expect(sys.ioctl(s, "PERIOD", 1000)).toBe(0);
    expect(() => sys.ioctl(s, "NOSUCH" as never, 0)).toThrow(/ENOTTY/);
  });

  it("frequency mode converges on sample_freq samples per second", () => {
    const sys = new System({ machine: preset("x86-server")! });
    const t = sys.spawn({ comm: "w", workload: compute, affinity: [0] });
    const fd = sys.perfEventOpen(
      { type: PERF_TYPE_HARDWARE, config: 0, freq: true, sample_freq: 1000 },
      t.pid,
      -1,
    );
    sys.run(msToNs(500));
    const e = sys.perf.fds.get(fd)!;
    // The kernel's low-pass filter starts from period 1, then settles near 3e9 / 1000.
    expect(e.hw.samplePeriod).toBeGreaterThan(2_900_000);
    expect(e.hw.samplePeriod).toBeLessThan(3_100_000);
    const late = e.samples.filter((s) => s.t >= msToNs(400)).length;
    expect(late).toBeGreaterThanOrEqual(95);
    expect(late).toBeLessThanOrEqual(105);
  });

  it("freq above perf_event_max_sample_rate is EINVAL; a sample_period with bit 63 is EINVAL", () => {
    const sys = new System({ machine: preset("x86-server")! });
    expect(() =>
      sys.perfEventOpen(
        { type: PERF_TYPE_HARDWARE, config: 0, freq: true, sample_freq: 100_001 },
        -1,
        0,
      ),
    ).toThrow(/EINVAL/);
    expect(() =>
      sys.perfEventOpen({ type: PERF_TYPE_HARDWARE, config: 0, sample_period: 2 ** 63 }, -1, 0),
    ).toThrow(/EINVAL/);
  });
});
