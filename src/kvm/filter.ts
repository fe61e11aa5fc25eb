import { ERRNO } from "../sim/errno.js";

/** struct kvm_pmu_event_filter (KVM_SET_PMU_EVENT_FILTER). */
export interface KvmPmuEventFilter {
  /** KVM_PMU_EVENT_ALLOW (0) or KVM_PMU_EVENT_DENY (1). */
  action: number;
  /** Event entries: eventsel | umask << 8, or masked entries with KVM_PMU_EVENT_FLAG_MASKED_EVENTS. */
  events: ReadonlyArray<number | bigint>;
  fixed_counter_bitmap?: number;
  flags?: number;
  /** nevents as passed (defaults to events.length). */
  nevents?: number;
}

export const KVM_PMU_EVENT_ALLOW = 0;
export const KVM_PMU_EVENT_DENY = 1;
export const KVM_PMU_EVENT_FLAG_MASKED_EVENTS = 1;
export const KVM_PMU_EVENT_FILTER_MAX_EVENTS = 300;

/** Masked entry layout: event select 7:0 and 35:32, umask match 15:8, exclude 55, umask mask 63:56. */
const MASKED_VALID = (0xffn << 56n) | (1n << 55n) | (0xfn << 32n) | (0xffn << 8n) | 0xffn;

interface MaskedEntry {
  eventSelect: number;
  mask: number;
  match: number;
  exclude: boolean;
}

/** A validated filter (kernel: the converted struct kvm_x86_pmu_event_filter). */
export class PmuEventFilter {
  private constructor(
    readonly action: number,
    readonly fixedCounterBitmap: number,
    private readonly includes: MaskedEntry[],
    private readonly excludes: MaskedEntry[],
  ) {}

  /**
   * kernel: kvm_vm_ioctl_set_pmu_event_filter(): checks in the kernel's order (EINVAL for
   * the action and flags, E2BIG above 300 events, EINVAL for invalid masked entries).
   * Unmasked entries with bits beyond event select and umask are silently dropped.
   */
  static create(f: KvmPmuEventFilter): PmuEventFilter | number {
    if (f === null || typeof f !== "object" || !Array.isArray(f.events)) return -ERRNO.EFAULT;
    if (f.action !== KVM_PMU_EVENT_ALLOW && f.action !== KVM_PMU_EVENT_DENY) return -ERRNO.EINVAL;
    const flags = f.flags ?? 0;
    if (!Number.isInteger(flags) || flags & ~KVM_PMU_EVENT_FLAG_MASKED_EVENTS) return -ERRNO.EINVAL;
    const nevents = f.nevents ?? f.events.length;
    if (!Number.isInteger(nevents) || nevents < 0) return -ERRNO.EINVAL;
    if (nevents > KVM_PMU_EVENT_FILTER_MAX_EVENTS) return -ERRNO.E2BIG;
    if (nevents > f.events.length) return -ERRNO.EFAULT;
    const inc: MaskedEntry[] = [];
    const exc: MaskedEntry[] = [];
    for (let i = 0; i < nevents; i++) {
      const raw = f.events[i]!;
      let e: bigint;
      try {
        e = BigInt.asUintN(64, BigInt(raw));
      } catch {
        return -ERRNO.EFAULT;
      }
      if (flags & KVM_PMU_EVENT_FLAG_MASKED_EVENTS) {
        // Intel: event select bits 35:32 do not exist.
        if (e & ~MASKED_VALID || (e >> 32n) & 0xfn) return -ERRNO.EINVAL;
        const entry = {
          eventSelect: Number(e & 0xffn),
          match: Number((e >> 8n) & 0xffn),
          mask: Number((e >> 56n) & 0xffn),
          exclude: ((e >> 55n) & 1n) === 1n,
        };
        (entry.exclude ? exc : inc).push(entry);
      } else {
        if (e & ~0xffffn) continue; // "impossible filters can't be rejected"
        inc.push({
          eventSelect: Number(e & 0xffn),
          match: Number((e >> 8n) & 0xffn),
          mask: 0xff,
          exclude: false,
        });
      }
    }
    return new PmuEventFilter(f.action, (f.fixed_counter_bitmap ?? 0) >>> 0, inc, exc);
  }

  /** kernel: is_gp_event_allowed(). */
  gpAllowed(eventsel: number): boolean {
    const ev = eventsel & 0xff;
    const umask = (eventsel >> 8) & 0xff;
    const hit = (l: MaskedEntry[]) =>
      l.some((m) => m.eventSelect === ev && (umask & m.mask) === m.match);
    const filtered = hit(this.includes) && !hit(this.excludes);
    return filtered ? this.action === KVM_PMU_EVENT_ALLOW : this.action === KVM_PMU_EVENT_DENY;
  }

  /** kernel: is_fixed_event_allowed(): only the bitmap decides. */
  fixedAllowed(j: number): boolean {
    const bit = ((this.fixedCounterBitmap >>> j) & 1) === 1;
    return (
      (this.action === KVM_PMU_EVENT_ALLOW && bit) || (this.action === KVM_PMU_EVENT_DENY && !bit)
    );
  }
}
