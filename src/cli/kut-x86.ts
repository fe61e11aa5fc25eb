import { compareX86Kut } from "../guest/kvm-unit-tests/x86-compare.js";
import {
  type KutX86Options,
  type KutX86Result,
  runX86KutTest,
  X86_KUT_TESTS,
  type X86CpuidOverrides,
  type X86KutTest,
} from "../guest/kvm-unit-tests/x86-harness.js";
import type { MachineDesc } from "../hw/machine.js";

/** The x86 side of `vpmu kvm-unit-tests --arch x86`, after option validation. */
export interface X86KutCli {
  machine: MachineDesc;
  machineName: string;
  tests: X86KutTest[];
  vpmu: "emulated" | "mediated";
  compare: boolean;
  cpuid?: X86CpuidOverrides;
  fep: boolean;
  hostPinned: number;
  hostExcludeGuest: boolean;
  cpus?: number[];
  verbose: boolean;
}

/** `--cpuid` keys: the scenario format's names for leaf 0xA and the AMD leaves, plus a few. */
const CPUID_KEYS: Record<string, keyof X86CpuidOverrides> = {
  version: "version",
  gp: "nrGp",
  gp_width: "gpWidth",
  fixed: "nrFixed",
  fixed_width: "fixedWidth",
  events_length: "eventsLength",
  events_unavailable: "unavailableEvents",
  pdcm: "pdcm",
  perfctr_core: "perfCtrCore",
  perfmon_v2: "perfMonV2",
  num_core_pmc: "numCorePmc",
  leaf_a: "noLeafA",
};

const BOOL_KEYS = new Set(["pdcm", "perfctr_core", "perfmon_v2", "leaf_a"]);

/** Parses `--cpuid version=1,gp=4,pdcm=0`. Returns the overrides or an error message. */
export function parseCpuidOverrides(text: string): X86CpuidOverrides | string {
  const o: Record<string, number | boolean> = {};
  for (const part of text.split(",")) {
    const m = /^\s*([a-z_0-9]+)\s*=\s*(0x[0-9a-f]+|\d+)\s*$/i.exec(part);
    if (!m) return `"${part}" is not key=value`;
    const key = CPUID_KEYS[m[1]!];
    if (!key) return `unknown key "${m[1]}" (one of: ${Object.keys(CPUID_KEYS).sort().join(", ")})`;
    const n = Number(m[2]);
    if (BOOL_KEYS.has(m[1]!)) {
      if (n !== 0 && n !== 1) return `${m[1]} must be 0 or 1`;
      o[key] = m[1] === "leaf_a" ? n === 0 : n === 1;
    } else {
      if (n > 0xffffffff) return `${m[1]}=${m[2]} does not fit in 32 bits`;
      o[key] = n;
    }
  }
  return o as X86CpuidOverrides;
}

function caseLine(name: string, r: KutX86Result): string {
  const st = r.report.status;
  const detail = r.lines[r.lines.length - 1]!.replace(/^SUMMARY: /, "");
  return `${st === 0 ? "PASS" : st === 77 ? "SKIP" : "FAIL"} ${name} (${detail}${r.report.aborted ? ", aborted" : ""})`;
}

function options(c: X86KutCli, test: X86KutTest): Omit<KutX86Options, "vpmu"> {
  return {
    machine: c.machine,
    test,
    fep: c.fep,
    hostPinned: c.hostPinned,
    hostExcludeGuest: c.hostExcludeGuest,
    ...(c.cpuid ? { cpuid: c.cpuid } : {}),
    ...(c.cpus ? { cpus: c.cpus } : {}),
  };
}

function print(out: string[], r: KutX86Result, verbose: boolean): void {
  if (verbose || r.exit) for (const l of r.setup) out.push(`  ${l}`);
  for (const l of r.lines) out.push(l);
}

/** Runs the tests; returns the output lines and the exit status (0 pass/skip, 1 failure). */
export function runX86KutCli(c: X86KutCli): { out: string[]; status: 0 | 1 } {
  const out: string[] = [];
  const extras = [
    c.fep ? "force_emulation_prefix=1" : "",
    c.hostPinned
      ? `${c.hostPinned} pinned host events per CPU${c.hostExcludeGuest ? " (exclude_guest)" : ""}`
      : "",
  ].filter(Boolean);
  out.push(
    `kvm-unit-tests x86 on ${c.machineName} (kernel 7.0), vPMU ${c.compare ? "emulated vs mediated" : c.vpmu}${extras.length ? `, ${extras.join(", ")}` : ""}`,
  );
  const summary: string[] = [];
  let failed = false;
  for (const test of c.tests) {
    if (c.compare) {
      const cmp = compareX86Kut(options(c, test));
      out.push("", `== ${test} ==`);
      for (const [label, r] of [
        ["emulated", cmp.emulated],
        ["mediated", cmp.mediated],
      ] as const) {
        out.push(`-- ${label}: ${r.lines[r.lines.length - 1]}${r.exit ? ` (${r.exit})` : ""}`);
        if (c.verbose) print(out, r, true);
      }
      for (const n of cmp.notes) out.push(`note: ${n}`);
      if (cmp.diffs.length === 0) out.push("no check differs");
      const whys = new Map<string, number>();
      for (const d of cmp.diffs) {
        const ref = d.why ? (whys.get(d.why) ?? whys.size + 1) : 0;
        if (d.why && !whys.has(d.why)) whys.set(d.why, ref);
        out.push(
          `${d.emulated.padEnd(5)} ${d.mediated.padEnd(5)} ${d.name}${ref ? `  [${ref}]` : "  [unexplained]"}`,
        );
      }
      for (const [w, n] of whys) out.push(`[${n}] ${w}`);
      const unexplained = cmp.diffs.filter((d) => !d.why).length;
      if (unexplained) failed = true;
      summary.push(
        `${unexplained ? "FAIL" : "PASS"} ${test}: ${cmp.diffs.length} checks differ, ${unexplained} unexplained`,
      );
      continue;
    }
    const r = runX86KutTest({ ...options(c, test), vpmu: c.vpmu });
    out.push("", `== ${test} ==`);
    print(out, r, c.verbose);
    if (r.report.status === 1) failed = true;
    summary.push(caseLine(test, r));
  }
  out.push("", ...summary);
  return { out, status: failed ? 1 : 0 };
}

export { X86_KUT_TESTS };
