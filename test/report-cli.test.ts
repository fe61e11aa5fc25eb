import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vpmu } from "./cli-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "vpmu-report-cli-"));

/** The inline data of a written report. */
function pageData(file: string) {
  const html = readFileSync(file, "utf8");
  const m = /<script type="application\/json" id="vpmu-data">(.*?)<\/script>/s.exec(html);
  return JSON.parse(m![1]!);
}

describe("vpmu report", () => {
  it("embeds the very result `vpmu run --format json` prints, and the timeline of the run", () => {
    const out = join(dir, "mediated.html");
    const r = vpmu(
      "report",
      "examples/x86-overhead.yaml",
      "--variant",
      "mediated-6",
      "--truth",
      "-o",
      out,
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^wrote .*mediated\.html \(\d+ bytes\)\n$/);
    const data = pageData(out);
    const json = vpmu(
      "run",
      "--format",
      "json",
      "examples/x86-overhead.yaml",
      "--variant",
      "mediated-6",
    );
    expect(`${JSON.stringify(data.result, null, 2)}\n`).toBe(json.out);
    expect(data.truth).toBe(true);
    expect(data.timelines).toHaveLength(1);
    expect(data.timelines[0].end_ns).toBe(200_000_000);
    expect(data.text).toContain("truth");
    const html = readFileSync(out, "utf8");
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script[^>]+src=/);
  });

  it("reports every variant of a scenario with variants, one timeline each", () => {
    const out = join(dir, "modes.html");
    expect(vpmu("report", "examples/x86-vpmu-modes.yaml", "-o", out).code).toBe(0);
    const data = pageData(out);
    const json = vpmu("run", "--format", "json", "examples/x86-vpmu-modes.yaml");
    expect(`${JSON.stringify(data.result, null, 2)}\n`).toBe(json.out);
    expect(data.timelines).toHaveLength(data.result.variants.length);
  });

  it("rejects bad input with the CLI's messages and exit 2", () => {
    const cases: Array<[string[], RegExp]> = [
      [["report", "nope.yaml"], /^nope\.yaml:1:1: no such file/],
      [
        ["report", "examples/x86-overhead.yaml", "--variant", "zz"],
        /^vpmu: --variant: no variant "zz" in examples\/x86-overhead\.yaml \(one of: emulated-6, /,
      ],
      [
        ["report", "examples/x86-mediated.yaml", "--variant", "a"],
        /^vpmu: --variant: .* has no variants/,
      ],
      [
        ["report", "examples/x86-mediated.yaml", "--seed", "-1"],
        /^vpmu: --seed: "-1" is not an integer/,
      ],
      [
        ["report", "examples/x86-mediated.yaml", "-o", join(dir, "no/such/dir.html")],
        /^vpmu: cannot write .* \(ENOENT\)/,
      ],
      [["playground", "--port", "http"], /^vpmu: --port: "http" is not a port number/],
    ];
    for (const [args, msg] of cases) {
      const r = vpmu(...args);
      expect([r.code, r.err], args.join(" ")).toEqual([2, expect.stringMatching(msg)]);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });
});
