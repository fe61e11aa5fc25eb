import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { chartLayout, chartValues } from "../src/scenario/sweep/layout.js";
import { sweepPage } from "../src/scenario/sweep/page.js";
import type { ReadRecord, SweepHeader } from "../src/scenario/sweep/results.js";
import { cliIt, tmpFile, vpmu } from "./cli-helpers.js";

/** Results made by hand: err = events x host under emulated, 0 under mediated; 2 seeds. */
function handMade(seeds: number): { header: SweepHeader; records: ReadRecord[] } {
  const header: SweepHeader = {
    vpmu_sweep: 1,
    sweep: "0123456789abcdef",
    name: "acc",
    vpmu: "0.1.0",
    points: 12 * seeds,
    seeds,
    axes: [
      { name: "events", values: [1, 2, 4] },
      { name: "vpmu", values: ["emulated", "mediated"] },
      { name: "host", values: [0, 8] },
    ],
    exclude: [],
    collect: ["exits", "label", "err"],
  };
  const records: ReadRecord[] = [];
  for (const events of [1, 2, 4])
    for (const vpmu of ["emulated", "mediated"])
      for (const host of [0, 8])
        for (let k = 0; k < seeds; k++) {
          const index = records.length;
          // The second seed reads 2 more: mean +1, band -1..+1 around it.
          const err = (vpmu === "mediated" ? 0 : events * host) + 2 * k;
          const data = {
            index,
            hash: "h",
            sweep: header.sweep,
            seed: k + 1,
            settings: { events, vpmu, host },
            values: { exits: { msr: events, io: 1 }, label: vpmu, err },
          };
          const line = JSON.stringify(data);
          records.push({ index, hash: "h", sweep: header.sweep, line, at: index + 2, data });
        }
  return { header, records };
}

/** The rows of one value's table: facet (if any), x, then one cell per series. */
function tableOf(
  html: string,
  y: string,
  facet = true,
): Array<{ facet: string; x: string; cells: string[] }> {
  const page = html.slice(0, html.indexOf("<script"));
  const sec = page.slice(page.indexOf(`<section data-y="${y}">`));
  const table = sec.slice(sec.indexOf("<tbody>"), sec.indexOf("</tbody>"));
  return [...table.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => {
    const tds = [...m[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((t) => t[1]!);
    const f = facet ? 1 : 0;
    return { facet: facet ? tds[0]! : "", x: tds[f]!, cells: tds.slice(f + 1) };
  });
}

describe("sweep page layout", () => {
  it("picks x, lines and facet from the axes, and error-like values first", () => {
    const { header, records } = handMade(1);
    // x: the most numeric values; lines: numbers before strings; facet: the last one.
    expect(chartLayout(header, {})).toEqual({
      choice: { x: "events", lines: "host", facet: "vpmu", where: {} },
      defaulted: [],
    });
    expect(chartLayout(header, { x: "host" }).choice).toMatchObject({
      x: "host",
      lines: "events",
      facet: "vpmu",
    });
    // A fixed axis takes no role; an axis no role takes is fixed at its first value.
    expect(chartLayout(header, { where: { vpmu: "mediated" } }).choice).toEqual({
      x: "events",
      lines: "host",
      where: { vpmu: "mediated" },
    });
    const four = { ...header, axes: [...header.axes, { name: "duty", values: [10, 20] }] };
    expect(chartLayout(four, {})).toEqual({
      choice: { x: "events", lines: "host", facet: "duty", where: { vpmu: "emulated" } },
      defaulted: ["vpmu"],
    });
    // Strings are not drawn; a mapping of numbers is, key by key; "err" first.
    expect(chartValues(header, records)).toEqual({
      drawn: ["err", "exits.io", "exits.msr"],
      skipped: ["label"],
    });
  });
});

describe("sweep page", () => {
  it("holds each value's chart and table, mean and min..max over seeds", () => {
    const { header, records } = handMade(2);
    const p = sweepPage("acc.jsonl", header, records, {});
    if (!p.ok) throw new Error(p.message);
    expect(p.charts).toBe(3);
    expect(p.html).toContain("<dd><code>0123456789abcdef</code> (vpmu 0.1.0)</dd>");
    expect(p.html).toContain("<dd>24 of 24 (2 seeds each; lines are means, bands min..max)</dd>");
    expect(p.html).toContain(
      '<code id="vpmu-sweep-layout">--x events --lines host --facet vpmu</code>',
    );
    expect(p.html).toContain("label (not numbers)");
    const err = tableOf(p.html, "err");
    expect(err).toHaveLength(6);
    // emulated, events 4: host 0 reads 0 and 2 (mean 1), host 8 reads 32 and 34.
    expect(err[2]).toEqual({
      facet: "emulated",
      x: "4",
      cells: ["1 <small>(0..2)</small>", "33 <small>(32..34)</small>"],
    });
    for (const row of err.filter((r) => r.facet === "mediated"))
      expect(row.cells).toEqual(["1 <small>(0..2)</small>", "1 <small>(0..2)</small>"]);
    // The SVG: 3 charts x 2 panels x 2 lines; a band where the seeds differ (err only).
    expect(p.html.match(/<path /g)).toHaveLength(12);
    expect(p.html.match(/<polygon /g)).toHaveLength(4);
    expect(p.html).not.toMatch(/<script(?! type="application\/json")|<link|https?:\/\/(?!www\.w3)/);
    const data = p.html.match(/id="vpmu-sweep-data">(.*)<\/script>/)![1]!;
    expect(JSON.parse(data).records[5].data.values.err).toBe(2);
    // Results past the limit stay out, and the controls with them; the charts stay.
    const big = sweepPage("acc.jsonl", header, records, { maxInlineData: 1000 }, "void 0;");
    if (!big.ok) throw new Error(big.message);
    expect(big.html).not.toMatch(/<script|<div id="vpmu-sweep-controls"/);
    expect(big.html).toContain("MiB as JSON) are too big to carry in the page");
    expect(big.html.match(/<path /g)).toHaveLength(12);
    const small = sweepPage("acc.jsonl", header, records, {}, "void 0;");
    expect(small.ok && small.html).toContain("script-src 'unsafe-inline'; style-src");
    // Deterministic: the same results, the same bytes.
    expect(sweepPage("acc.jsonl", header, records, {})).toEqual(p);
  });

  it("draws a sweep of one axis as one line, and a one-point sweep as one point", () => {
    const { header, records } = handMade(1);
    const one = { ...header, axes: [header.axes[0]!], points: 3 };
    const recs = records.filter((r) => {
      const s = r.data.settings as Record<string, unknown>;
      return s.vpmu === "emulated" && s.host === 8;
    });
    const p = sweepPage("one.jsonl", one, recs, { y: ["err"] });
    if (!p.ok) throw new Error(p.message);
    expect(p.html).toContain('<code id="vpmu-sweep-layout">--x events</code>');
    expect(tableOf(p.html, "err", false).map((r) => [r.x, ...r.cells])).toEqual([
      ["1", "8"],
      ["2", "16"],
      ["4", "32"],
    ]);
    const point = { ...header, axes: [{ name: "events", values: [2] }], points: 1 };
    const q = sweepPage("p.jsonl", point, [recs[1]!], { y: ["err"] });
    expect(q.ok && tableOf(q.html, "err", false)).toEqual([{ facet: "", x: "2", cells: ["16"] }]);
  });

  it("refuses what it cannot draw, naming the file, line and field", () => {
    const { header, records } = handMade(1);
    expect(sweepPage("a.jsonl", header, [], {})).toEqual({
      ok: false,
      message: "a.jsonl: no points (only the header)",
    });
    const bad = [...records];
    bad[3] = { ...bad[3]!, data: { ...bad[3]!.data, settings: { events: 1, vpmu: "emulated" } } };
    expect(sweepPage("a.jsonl", header, bad, {})).toMatchObject({
      message: 'a.jsonl:5: point 3: settings has no "host"',
    });
    expect(sweepPage("a.jsonl", header, records, { y: ["er"] })).toMatchObject({
      message: 'a.jsonl: --y: no collected value "er" (one of: exits, label, err)',
    });
    expect(sweepPage("a.jsonl", header, records, { x: "vpmu", lines: "vpmu" })).toMatchObject({
      message: 'a.jsonl: --lines: the axis "vpmu" is already --x',
    });
    expect(sweepPage("a.jsonl", header, records, { where: { host: "9" } })).toMatchObject({
      message: 'a.jsonl: --where: host has no value "9" (one of: 0, 8)',
    });
  });
});

describe("vpmu report RESULTS.jsonl", () => {
  const results = tmpFile("r.jsonl", "");
  const dir = dirname(results);
  const page = join(dir, "r.html");
  let html = "";

  beforeAll(() => {
    if (process.env.VPMU_TEST_UNCHECKED === "1") return;
    const s = vpmu("sweep", "examples/sweeps/guest-accuracy.yaml", "-o", results);
    expect(s.code, s.err).toBe(0);
    const r = vpmu("report", results, "-o", page);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^wrote .*r\.html \(\d+ bytes\)\n$/);
    html = readFileSync(page, "utf8");
  }, 60_000);

  cliIt(
    "guest-accuracy: the emulated error grows with host pinned events, mediated stays flat",
    () => {
      expect(html).toContain(
        '<code id="vpmu-sweep-layout">--x events --lines host_pinned --facet vpmu</code>',
      );
      expect(html).toContain("<dd>96 of 96</dd>");
      // error_pct is drawn first; its table has a row per (vpmu, events), a column per host_pinned.
      expect(html.indexOf('<section data-y="error_pct">')).toBeLessThan(
        html.indexOf('<section data-y="pmu_exits">'),
      );
      const rows = tableOf(html, "error_pct");
      expect(rows).toHaveLength(32);
      const at = (vpmu: string, events: number) =>
        rows.find((r) => r.facet === vpmu && r.x === String(events))!.cells.map(Number);
      const [e0, e4, e8] = at("emulated", 16);
      expect(e0!).toBeLessThan(1);
      expect(e4!).toBeGreaterThan(20);
      expect(e8!).toBeGreaterThan(e4! + 20);
      for (let events = 1; events <= 16; events++) {
        const m = at("mediated", events);
        expect(m[0]!).toBeLessThan(0.05);
        expect(m).toEqual([m[0], m[0], m[0]]);
      }
      // A file of another name is told by its header line; the same bytes.
      const txt = join(dir, "r.txt");
      writeFileSync(txt, readFileSync(results));
      expect(vpmu("report", txt, "-o", join(dir, "t.html")).code).toBe(0);
      expect(readFileSync(join(dir, "t.html"), "utf8")).toBe(html.replaceAll(results, txt));
    },
  );

  cliIt("takes the flags of sweep chart", () => {
    const o = join(dir, "f.html");
    const r = vpmu(
      "report",
      results,
      "--x",
      "host_pinned",
      "--lines",
      "vpmu",
      "--where",
      "events=16",
      "--y",
      "error_pct",
      "-o",
      o,
    );
    expect(r.code, r.err).toBe(0);
    // The page before its scripts (the viewer bundle holds the same markup in its code).
    const full = readFileSync(o, "utf8");
    const text = full.slice(0, full.indexOf("<script"));
    expect(text.match(/<section /g)).toHaveLength(1);
    expect(text.match(/<path /g)).toHaveLength(2);
    const rows = tableOf(text, "error_pct", false);
    expect(rows.map((x) => x.x)).toEqual(["0", "4", "8"]);
    expect(Number(rows[2]!.cells[0])).toBeGreaterThan(Number(rows[0]!.cells[0]) + 50);
  });

  cliIt("refuses bad input with one line naming file, line or flag, exit 2", () => {
    const whole = readFileSync(results, "utf8");
    const lines = whole.split("\n");
    const cut = join(dir, "cut.jsonl");
    writeFileSync(cut, whole.slice(0, whole.length - 30));
    const other = join(dir, "mixed.jsonl");
    writeFileSync(other, `${whole}${lines[1]!.replaceAll(/"sweep":"\w+"/g, '"sweep":"0"')}\n`);
    const damaged = join(dir, "damaged.jsonl");
    writeFileSync(damaged, `${lines[0]}\n${lines[1]}\n{"index":\n`);
    const cases: Array<[string[], string]> = [
      [[join(dir, "none.jsonl")], `${join(dir, "none.jsonl")}: cannot read (ENOENT)`],
      [
        [cut],
        `${cut}:97: the last line is cut short (a run was killed while writing); rerun that part with --resume`,
      ],
      [[other], `${other}:98: point 0 is from another sweep (hash 0)`],
      [[damaged], `${damaged}:3: not a JSON object (a damaged line)`],
      [
        [results, "--x", "event"],
        `${results}: --x: no axis "event" (one of: events, vpmu, host_pinned)`,
      ],
      [
        [results, "--lines", "cpu"],
        `${results}: --lines: no axis "cpu" (one of: events, vpmu, host_pinned)`,
      ],
      [
        [results, "--facet", "cpu"],
        `${results}: --facet: no axis "cpu" (one of: events, vpmu, host_pinned)`,
      ],
      [
        [results, "--y", "error"],
        `${results}: --y: no collected value "error" (one of: error_pct, max_error_pct, cycles_error_pct, pmu_exits, overhead_pct)`,
      ],
      [[results, "--where", "vpmu"], '--where: "vpmu" is not AXIS=VALUE'],
      [
        [results, "--seed", "2"],
        `--seed: only for a scenario (${results} is a sweep results file)`,
      ],
      [
        ["examples/host-multiplexing.yaml", "--x", "events"],
        "--x: only for a sweep results file (examples/host-multiplexing.yaml is a scenario)",
      ],
    ];
    for (const [args, msg] of cases) {
      const r = vpmu("report", ...args, "-o", join(dir, "never.html"));
      expect([r.code, r.err], args.join(" ")).toEqual([2, `vpmu: ${msg}\n`]);
    }
    expect(() => readFileSync(join(dir, "never.html"))).toThrow();
  });
});
