import { NMODES } from "./quantity.js";

/**
 * What a CPU is executing right now: the rate of every quantity per nanosecond and how the
 * time splits across modes (fractions summing to 1). A CPU with no ExecState is idle.
 * ExecStates are built once per (workload, core type, mode split) and reused.
 */
export interface ExecState {
  /** Quantity rates per nanosecond (index: Quantity). */
  readonly rates: Float64Array;
  /** Fraction of time in each mode (index: Mode). */
  readonly fracs: Float64Array;
  /** Label for traces ("worker", "guest:vm0/0"). */
  readonly label: string;
}

/** Builds an ExecState. `fracs` is [host-user, host-kernel, guest-user, guest-kernel]. */
export function makeExec(label: string, rates: Float64Array, fracs: readonly number[]): ExecState {
  const f = new Float64Array(NMODES);
  for (let i = 0; i < NMODES; i++) f[i] = fracs[i] ?? 0;
  return { rates, fracs: f, label };
}

/** Rate per ns of `quantity` restricted to the modes in `modeMask`. */
export function rateOf(exec: ExecState | null, quantity: number, modeMask: number): number {
  if (exec === null || quantity < 0) return 0;
  const f = exec.fracs;
  let frac = 0;
  if (modeMask & 1) frac += f[0]!;
  if (modeMask & 2) frac += f[1]!;
  if (modeMask & 4) frac += f[2]!;
  if (modeMask & 8) frac += f[3]!;
  return exec.rates[quantity]! * frac;
}
