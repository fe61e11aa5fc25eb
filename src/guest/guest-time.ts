import type { KvmVcpu } from "../kvm/vcpu.js";
import type { Ns } from "../sim/time.js";
import type { System } from "../system.js";

/**
 * Runs `begin` once the vCPU is in guest mode (at once if it is), then calls `then` after
 * `need(now)` more nanoseconds of guest time: exits, preemption and host work in between
 * do not count, as guest code only advances while the vCPU is in the guest.
 */
export function afterGuestTime(
  sys: System,
  vc: KvmVcpu,
  now: Ns,
  need: (now: Ns) => number,
  then: (now: Ns) => void,
): void {
  const begin = (t: Ns): void => {
    const target = vc.guestTimeAt(t) + need(t);
    const check = (t2: Ns): void => {
      const rem = target - vc.guestTimeAt(t2);
      if (rem <= 1e-9) {
        then(t2);
        return;
      }
      if (vc.state !== "guest") {
        vc.guestOp({ intercepted: false, reason: "sysreg", costNs: 0, run: check }, t2);
        return;
      }
      sys.at((t2 + Math.max(1, Math.ceil(rem - 1e-9))) as Ns, "guest code", check);
    };
    check(t);
  };
  if (vc.state === "guest") begin(now);
  else vc.guestOp({ intercepted: false, reason: "sysreg", costNs: 0, run: begin }, now);
}
