import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SRC, srcTsFiles } from "./src-files.js";

/**
 * V8 allocates a function literal assigned straight to a property (`o.f = () => ...`,
 * `o.f = function () {}`) in old space, taking it for a method. In the simulator such a
 * closure usually captures a System's objects, and an old closure keeps everything it
 * reaches alive through every young-generation collection until a full GC: one of them on
 * a vCPU's PMU made a sweep copy about 5 MB per scavenge. Callbacks go through a local (or
 * a factory, or an object literal) first; this test keeps it that way.
 */

/**
 * `x.name =` or `x[key] =` (or `??=`, `||=`, `&&=`: V8 allocates those in old space too)
 * followed by an arrow function or a function expression.
 */
const ASSIGNED_LITERAL =
  /(?:\.[A-Za-z_$][\w$]*|\])\s*(?:\?\?|\|\||&&)?=\s*(?:async\s+)?(?:function\b|<[^<>=]*>\s*\(|\([^()]*(?:\([^()]*\)[^()]*)*\)\s*(?::[^=;{]+)?=>|[A-Za-z_$][\w$]*\s*=>)/g;

function offenders(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  return [...code.matchAll(ASSIGNED_LITERAL)].map((m) => m[0]);
}

describe("no function literal assigned straight to a property", () => {
  it("the pattern is found where it is", () => {
    expect(offenders("this.vcpu.onGuestPmi = (t) => this.handlePmi(t);")).toHaveLength(1);
    expect(offenders("o.cb ??= function () {};")).toHaveLength(1);
    expect(offenders("p.f = x => x;")).toHaveLength(1);
    expect(offenders("hooks[k] = (t) => t;")).toHaveLength(1);
    expect(offenders("o.f &&= (cb: (x: number) => void) => cb(1);")).toHaveLength(1);
    expect(offenders("o.f = <T>(x: T) => x;")).toHaveLength(1);
    expect(offenders("const [a] = [1];\nx[i] = y;")).toHaveLength(0);
    expect(offenders("const f = (t: Ns) => t;\no.f = f;")).toHaveLength(0);
    expect(offenders("o.x = (a + b) * 2;")).toHaveLength(0);
    expect(offenders("if (o.x === (y) => 1) {}")).toHaveLength(0);
  });

  it("src/ has none", () => {
    const found = srcTsFiles().flatMap((f) =>
      offenders(readFileSync(join(SRC, f), "utf8")).map((m) => `${f}: ${m}`),
    );
    expect(found).toEqual([]);
  });
});
