import { AMD_EVENT_HI_SHIFT } from "../hw/pmu-desc.js";
import { abiU32, abiU64 } from "../sim/abi.js";
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

/** ARCH_PERFMON_EVENTSEL_EVENT and AMD64_EVENTSEL_EVENT (adds EventSelect[11:8], bits 35:32). */
const INTEL_EVENTSEL_EVENT = 0xffn;
const AMD_EVENTSEL_EVENT = 0xffn | (0xfn << 32n);
const EVENTSEL_UMASK = 0xffn << 8n;
/** Masked entry fields besides the event select: umask match 15:8, exclude 55, umask mask 63:56. */
const MASKED_UMASK_MATCH = 0xffn << 8n;
const MASKED_EXCLUDE = 1n << 55n;
const MASKED_UMASK_MASK = 0xffn << 56n;

interface MaskedEntry {
  /** Event select, 12 bits: EventSelect[7:0] | EventSelect[11:8] << 8. */
  eventSelect: number;
  mask: number;
  match: number;
  exclude: boolean;
}

/** The 12-bit event select of a filter entry or guest select (bits 7:0 and 35:32). */
function eventSelectOf(e: bigint): number {
  return Number(e & 0xffn) | (Number((e >> 32n) & 0xfn) << 8);
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
   * the action and flags, E2BIG above 300 events, EINVAL for invalid masked entries). The
   * struct's fields arrive as C integers (nevents is a __u32: -1 is 4294967295, so E2BIG).
   * The event-select mask is the vendor's (kvm_pmu_ops.EVENTSEL_EVENT): on AMD it holds
   * EventSelect[11:8] at bits 35:32. Unmasked entries with bits beyond event select and
   * umask are silently dropped (convert_to_masked_filter()).
   */
  static create(f: KvmPmuEventFilter, amd = false): PmuEventFilter | number {
    if (f === null || typeof f !== "object" || !Array.isArray(f.events)) return -ERRNO.EFAULT;
    const action = abiU32(f.action);
    const flags = abiU32(f.flags ?? 0);
    const nevents = abiU32(f.nevents ?? f.events.length);
    const fixedBitmap = abiU32(f.fixed_counter_bitmap ?? 0);
    if (action === null || flags === null || nevents === null || fixedBitmap === null)
      return -ERRNO.EFAULT;
    if (action !== KVM_PMU_EVENT_ALLOW && action !== KVM_PMU_EVENT_DENY) return -ERRNO.EINVAL;
    if (flags & ~KVM_PMU_EVENT_FLAG_MASKED_EVENTS) return -ERRNO.EINVAL;
    if (nevents > KVM_PMU_EVENT_FILTER_MAX_EVENTS) return -ERRNO.E2BIG;
    if (nevents > f.events.length) return -ERRNO.EFAULT;
    const eventMask = amd ? AMD_EVENTSEL_EVENT : INTEL_EVENTSEL_EVENT;
    const maskedValid = eventMask | MASKED_UMASK_MATCH | MASKED_EXCLUDE | MASKED_UMASK_MASK;
    const inc: MaskedEntry[] = [];
    const exc: MaskedEntry[] = [];
    for (let i = 0; i < nevents; i++) {
      const e = abiU64(f.events[i]);
      if (e === null) return -ERRNO.EFAULT;
      if (flags & KVM_PMU_EVENT_FLAG_MASKED_EVENTS) {
        // kernel: is_masked_filter_valid().
        if (e & ~maskedValid) return -ERRNO.EINVAL;
        const entry = {
          eventSelect: eventSelectOf(e),
          match: Number((e >> 8n) & 0xffn),
          mask: Number((e >> 56n) & 0xffn),
          exclude: (e & MASKED_EXCLUDE) !== 0n,
        };
        (entry.exclude ? exc : inc).push(entry);
      } else {
        if (e & ~(eventMask | EVENTSEL_UMASK)) continue; // "impossible filters can't be rejected"
        inc.push({
          eventSelect: eventSelectOf(e),
          match: Number((e >> 8n) & 0xffn),
          mask: 0xff,
          exclude: false,
        });
      }
    }
    return new PmuEventFilter(action, fixedBitmap, inc, exc);
  }

  /**
   * kernel: is_gp_event_allowed() / filter_contains_match(), on a counter's encoding
   * (event | umask << 8, and on AMD EventSelect[11:8] << 16, see AMD_EVENT_HI_SHIFT).
   */
  gpAllowed(encoding: number): boolean {
    const ev = (encoding & 0xff) | (((encoding >> AMD_EVENT_HI_SHIFT) & 0xf) << 8);
    const umask = (encoding >> 8) & 0xff;
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
