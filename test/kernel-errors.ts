import { KernelError } from "../src/sim/errno.js";

/** The errno name a call fails with, or "OK". */
export function errOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
  return "OK";
}
