import { z } from "zod";
import type { ActionCompile } from "./kind.js";

/** The fields of a call on one arm64 vCPU: its VM and its id. */
export const ArmVcpuFields = {
  vm: z.string(),
  vcpu: z.number().int().nonnegative(),
};

/** Compiles a call on an arm64 vCPU: the VM exists, and the machine is arm64. */
export function compileArmVcpuCall<A extends { do: string; vm: string }>(
  a: A,
  c: ActionCompile,
): A {
  c.needVm(a.vm);
  c.needArch("arm64", a.do, "an arm64 machine");
  return a;
}
