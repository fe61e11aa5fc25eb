import { ERRNO } from "../sim/errno.js";
import type { PerfEvent } from "./event.js";
import { PERF_PMU_CAP, type Pmu } from "./pmu.js";
import {
  PERF_HW_EVENT_MASK,
  PERF_PMU_TYPE_SHIFT,
  PERF_TYPE_HARDWARE,
  PERF_TYPE_HW_CACHE,
  PERF_TYPE_MAX,
  PERF_TYPE_RAW,
} from "./uapi.js";

/**
 * The registered PMUs: the pmu_idr (type id → PMU) and the `pmus` list in registration
 * order, which generic events walk.
 */
export class PmuRegistry {
  private readonly idr = new Map<number, Pmu>();
  /** In registration order (list_add_rcu at the tail). */
  readonly pmus: Pmu[] = [];
  private nextDynamic = PERF_TYPE_MAX;

  /**
   * kernel: perf_pmu_register(). `type` >= 0 asks for a fixed id (software = 1, x86 "cpu"
   * = PERF_TYPE_RAW); -1 takes the next dynamic id from PERF_TYPE_MAX.
   */
  register(pmu: Pmu, type: number): number {
    if (type < 0) {
      while (this.idr.has(this.nextDynamic)) this.nextDynamic++;
      type = this.nextDynamic++;
    } else if (this.idr.has(type)) {
      return -ERRNO.EBUSY;
    }
    pmu.type = type;
    pmu.order = this.pmus.length;
    this.idr.set(type, pmu);
    this.pmus.push(pmu);
    return 0;
  }

  /** The PMU of a type id, if any. */
  byType(type: number): Pmu | undefined {
    return this.idr.get(type);
  }

  /** A PMU by its name. */
  byName(name: string): Pmu | undefined {
    return this.pmus.find((p) => p.name === name);
  }

  /**
   * kernel: perf_init_event(): find the PMU that accepts the event. HARDWARE and HW_CACHE
   * events take the PMU from the extended type in config bits 63:32, or alias PERF_TYPE_RAW;
   * a PMU found by id that refuses with ENOENT falls back to walking every PMU only when
   * the attr type differs from the id tried; the walk skips PMUs that say ENOENT.
   * Returns the PMU or a negative errno.
   */
  initEvent(event: PerfEvent, tryInit: (pmu: Pmu, e: PerfEvent) => number): Pmu | number {
    const attr = event.attr;
    let type = attr.type;
    let extended = false;
    if (type === PERF_TYPE_HARDWARE || type === PERF_TYPE_HW_CACHE) {
      const ext = Number(attr.config >> BigInt(PERF_PMU_TYPE_SHIFT));
      if (ext === 0) type = PERF_TYPE_RAW;
      else {
        type = ext;
        extended = true;
        attr.config &= BigInt(PERF_HW_EVENT_MASK);
      }
    }
    for (;;) {
      const pmu = this.idr.get(type);
      if (!pmu) break;
      if (
        attr.type !== type &&
        type !== PERF_TYPE_RAW &&
        !(pmu.capabilities & PERF_PMU_CAP.EXTENDED_HW_TYPE)
      ) {
        return -ERRNO.ENOENT;
      }
      const ret = tryInit(pmu, event);
      if (ret === -ERRNO.ENOENT && attr.type !== type && !extended) {
        type = attr.type;
        continue;
      }
      return ret === 0 ? pmu : ret;
    }
    for (const pmu of this.pmus) {
      const ret = tryInit(pmu, event);
      if (ret === 0) return pmu;
      if (ret !== -ERRNO.ENOENT) return ret;
    }
    return -ERRNO.ENOENT;
  }
}
