import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserSuite, CHROMIUM, launchChromium, openPage } from "./browser-helpers.js";
import { bin, root } from "./cli-helpers.js";

/**
 * The HTML report and the playground in a real Chromium (Debian's, driven by
 * playwright-core; no browser download). One browser, one page per check.
 */
const suite = browserSuite;
const examples = readdirSync(join(root, "examples"))
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => `examples/${f}`);
const out = mkdtempSync(join(tmpdir(), "vpmu-report-"));
const shots = process.env.VPMU_SCREENSHOTS ?? join(tmpdir(), "vpmu-screenshots");
const RFC = "examples/x86-passthrough-rfc.yaml";

/** The pages' handles (window.vpmu, window.playground), as page.evaluate sees them. */
// biome-ignore lint/suspicious/noExplicitAny: the page's globals, untyped across the boundary
type PageGlobal = any;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: root, maxBuffer: 64 << 20 },
      (e, stdout, stderr) =>
        resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Runs jobs two at a time (the machine's cores). */
async function pool<T>(jobs: Array<() => Promise<T>>, n = 2): Promise<T[]> {
  const res: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        res[i] = await jobs[i]!();
      }
    }),
  );
  return res;
}

const htmlOf = (f: string) => join(out, `${f.replace(/\W+/g, "_")}.html`);
const cliJson = new Map<string, string>();
let browser: Browser;
let server: ChildProcess | null = null;
let playgroundUrl = "";

suite("in Chromium", () => {
  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} (apt-get install chromium)`).toBe(true);
    // The CLI's JSON of every example; the pages, as `vpmu report` writes them, from one process
    // (the command itself: one example here, its errors in cli.test.ts).
    const jobs: Array<() => Promise<unknown>> = examples.map((f) => async () => {
      const r = await cli(["run", "--format", "json", f]);
      cliJson.set(f, r.stdout);
    });
    jobs.push(async () => {
      const rest = examples.filter((f) => f !== RFC);
      await new Promise<void>((resolve, reject) =>
        execFile(
          process.execPath,
          [join(root, "test/report-pages.mjs"), out, ...rest],
          { cwd: root },
          (e) => (e ? reject(e) : resolve()),
        ),
      );
      const r = await cli(["report", RFC, "-o", htmlOf(RFC)]);
      expect(r.stdout).toMatch(/^wrote .*\.html \(\d+ bytes\)\n$/);
    });
    await pool(jobs);
    browser = await launchChromium();
    server = spawn(process.execPath, [bin, "playground", "--port", "0"], { cwd: root });
    playgroundUrl = await new Promise<string>((resolve, reject) => {
      let buf = "";
      server!.stdout!.on("data", (d: Buffer) => {
        buf += d;
        const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(buf);
        if (m) resolve(m[0]);
      });
      server!.on("exit", (code) => reject(new Error(`vpmu playground exited ${code}`)));
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill();
  });

  /** A page that records console errors, page errors and requests off its origin. */
  const open = (url: string): Promise<{ page: Page; problems: string[] }> => openPage(browser, url);

  /** Pixel variance of the timeline canvas (0: one flat colour). */
  function canvasVariance(page: Page): Promise<number> {
    return page.evaluate(() => {
      const c = document.querySelector<HTMLCanvasElement>(".vpmu-timeline-canvas")!;
      const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      let sum = 0;
      let sq = 0;
      const n = Math.ceil(d.length / 28);
      // Every 7th pixel is plenty to tell a drawn timeline from a blank one.
      for (let i = 0; i < d.length; i += 28) {
        const v = (d[i]! + d[i + 1]! + d[i + 2]!) / 3;
        sum += v;
        sq += v * v;
      }
      return sq / n - (sum / n) ** 2;
    });
  }

  /** The perf-stat table cells of the page, by measurement and event. */
  function tableCells(
    page: Page,
  ): Promise<Array<{ m: string; e: string; cells: Record<string, string> }>> {
    return page.$$eval("table.vpmu-perfstat tbody tr", (rows) =>
      rows.map((tr) => ({
        m: tr.getAttribute("data-measurement")!,
        e: tr.getAttribute("data-event")!,
        cells: Object.fromEntries(
          [...tr.querySelectorAll("td[data-field]")].map((td) => [
            td.getAttribute("data-field")!,
            td.textContent!,
          ]),
        ),
      })),
    );
  }

  const grouped = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

  describe("vpmu report in Chromium", () => {
    it("writes a self-contained page under 1 MB for every example", () => {
      for (const f of examples) {
        const html = readFileSync(htmlOf(f), "utf8");
        expect(statSync(htmlOf(f)).size, f).toBeLessThan(1_000_000);
        expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=(?!"data:)/);
      }
    });

    it("loads every example's report with no console error and no network request; tables equal the JSON", async () => {
      const { page, problems } = await open("about:blank");
      for (const f of examples) {
        await page.goto(`file://${htmlOf(f)}`);
        await page.waitForFunction(() => (globalThis as { vpmu?: unknown }).vpmu);
        const json = JSON.parse(cliJson.get(f)!);
        const runs: Array<{
          perf: Array<{
            name: string;
            counters: Array<Record<string, unknown>>;
            warnings?: string[];
          }>;
        }> = json.variants ? json.variants.map((v: { result: unknown }) => v.result) : [json];
        for (let i = 0; i < runs.length; i++) {
          if (runs.length > 1) await page.click(`nav.vpmu-picker button[data-run="${i}"]`);
          const cells = await tableCells(page);
          const want = runs[i]!.perf.flatMap((m) => m.counters.map((c) => ({ m: m.name, c })));
          expect(cells.length, f).toBe(want.length);
          want.forEach(({ m, c }, k) => {
            const got = cells[k]!;
            expect([got.m, got.e]).toEqual([m, c.event]);
            if (c.status === "counted")
              expect(got.cells.count, `${f} ${m} ${c.event}`).toBe(grouped(c.count as number));
            expect(got.cells.scaled).toBe(c.scaled === null ? "-" : grouped(c.scaled as number));
            expect(got.cells.enabled_ns).toBe(grouped(c.enabled_ns as number));
            expect(got.cells.running_ns).toBe(grouped(c.running_ns as number));
            expect(got.cells.state).toBe(c.state);
          });
          // perf's warnings (a group it broke up) are shown as perf prints them.
          expect(await page.$$eval(".vpmu-warn", (els) => els.map((e) => e.textContent))).toEqual(
            runs[i]!.perf.filter((m) => m.warnings).map((m) => m.warnings!.join("\n")),
          );
          expect(await canvasVariance(page), f).toBeGreaterThan(10);
        }
        expect(problems, f).toEqual([]);
      }
      await page.close();
    });

    it("shows the leader's ERROR at the first VM entry on CPU 2, its sibling INACTIVE (x86-passthrough-rfc)", async () => {
      const { page } = await open(`file://${htmlOf(RFC)}`);
      const r = await page.evaluate(() => {
        const tl = (globalThis as PageGlobal).vpmu.timeline;
        const d = tl.data;
        const cpu2 = d.cpus.find((c: { cpu: number }) => c.cpu === 2);
        const entry = d.mark_kinds.indexOf("vm entry");
        let first = -1;
        for (let i = 0; i < cpu2.marks.length; i += 3)
          if (cpu2.marks[i + 1] === entry) {
            first = cpu2.marks[i];
            break;
          }
        const states = tl.rows
          .filter((row: PageGlobal) => row.kind === "state" && row.cpu === 2)
          .map((row: PageGlobal) => {
            const ch: number[] = row.ev.changes;
            // The state it was left in before the run's end closed it (DEAD).
            let k = ch.length - 2;
            while (k > 0 && ch[k]! >= d.end_ns) k -= 2;
            return {
              name: d.strings[row.ev.name],
              id: row.ev.id,
              errors: tl.errorTimes(row.ev),
              last: d.strings[ch[k + 1]!],
              y: row.y + row.h / 2,
            };
          });
        return { first, states, x: tl.xOf(first) };
      });
      expect(r.first).toBe(10_000_000);
      const cycles = r.states.filter((s: { name: string }) => s.name === "cycles");
      // host_all's cycles and the group leader: both to ERROR at that entry.
      expect(cycles.length).toBeGreaterThanOrEqual(2);
      for (const c of cycles) expect(c.errors[0]).toBe(r.first);
      const sibling = r.states.find((s: { name: string }) => s.name === "instructions")!;
      expect(sibling.errors).toEqual([]);
      expect(sibling.last).toBe("INACTIVE");
      // The mark is drawn there (a dark bar), the ERROR colour right after it.
      const leader = cycles[cycles.length - 1]!;
      const px = await page.evaluate(
        ([x, y]) => {
          const c = document.querySelector<HTMLCanvasElement>(".vpmu-timeline-canvas")!;
          const dpr = devicePixelRatio;
          const at = (xx: number) => [
            ...c.getContext("2d")!.getImageData(Math.round(xx * dpr), Math.round(y! * dpr), 1, 1)
              .data,
          ];
          return { mark: at(x!), after: at(x! + 20) };
        },
        [r.x, leader.y],
      );
      expect(px.mark.slice(0, 3)).toEqual([0, 0, 0]);
      expect(px.after.slice(0, 3)).toEqual([0xd5, 0x5e, 0x00]);
      await page.close();
    });

    /** The page's data as the HTML file carries it, its timeline unpacked. */
    async function pageData(f: string): Promise<PageGlobal> {
      const { unpackTimeline } = await import("../src/report/timeline.js");
      const html = readFileSync(htmlOf(f), "utf8");
      const m = /<script type="application\/json" id="vpmu-data">(.*?)<\/script>/s.exec(html)!;
      const d = JSON.parse(m[1]!);
      return { ...d, timelines: d.timelines.map(unpackTimeline) };
    }

    /** Moves the pointer onto a lane of the timeline at time t; returns the tooltip and the hit. */
    async function hover(
      page: Page,
      cpu: number,
      label: string,
      t: number,
    ): Promise<{ tip: string; t: number; holder: number }> {
      const where = await page.evaluate(
        ([cpu, label, t]) => {
          const tl = (globalThis as PageGlobal).vpmu.timeline;
          const row = tl.rows.find(
            (r: PageGlobal) => r.kind === "lane" && r.cpu === cpu && r.label === label,
          );
          const top = document.querySelector(".vpmu-timeline-canvas")!.getBoundingClientRect().top;
          window.scrollBy(0, top + row.y - 300);
          const c = document.querySelector(".vpmu-timeline-canvas")!.getBoundingClientRect();
          return { x: c.left + tl.xOf(t), y: c.top + row.y + row.h / 2 };
        },
        [cpu, label, t] as const,
      );
      await page.mouse.move(where.x, where.y);
      expect(await page.isVisible(".vpmu-tip")).toBe(true);
      const hit = await page.evaluate(() => {
        const h = (globalThis as PageGlobal).vpmu.timeline.lastHit;
        const segs: number[] = h.row.lane.segs;
        let holder = -1;
        for (let i = 0; i < segs.length; i += 3)
          if (segs[i]! <= h.t && h.t < segs[i + 1]!) holder = segs[i + 2]!;
        return { t: h.t as number, holder };
      });
      return { tip: (await page.textContent(".vpmu-tip"))!, ...hit };
    }

    it("hover on a counter lane names the event holding it, its attr, and its counts at that instant", async () => {
      const d = await pageData(RFC);
      const host = d.result.perf.find((m: PageGlobal) => m.name === "host_all").counters[0];
      const cpu3 = host.per_cpu.find((p: PageGlobal) => p.cpu === 3);
      const { page } = await open(`file://${htmlOf(RFC)}`);
      const h = await hover(page, 3, "gp0", 30_000_000);
      expect(h.tip).toMatch(/held by cycles \(host_all\), id \d+/);
      expect(h.tip).toContain("host_all: cycles {type 0, config 0x0}");
      // host_all's cycles on CPU 3 counts all the run (its final count over its enabled
      // time, from the JSON): at t it had counted that share, enabled and running all of t.
      expect(cpu3.enabled_ns).toBe(100_000_000);
      const want = Math.floor((cpu3.count * h.t) / cpu3.enabled_ns);
      expect(want).toBeGreaterThan(0);
      expect(want).toBeLessThan(cpu3.count);
      expect(h.tip).toContain(`at this instant: count ${grouped(want)}`);
      expect(h.tip).toContain(`time_enabled ${grouped(Math.floor(h.t))} ns`);
      expect(h.tip).toContain(`time_running ${grouped(Math.floor(h.t))} ns`);

      // host_only's cycles:H on CPU 2 stops counting in guest mode: the count at an instant
      // is between the samples the page carries (state changes, PMIs), interpolated linearly.
      const tl = d.timelines[0];
      const hi = tl.holders.findIndex(
        (x: PageGlobal) =>
          tl.strings[x.name] === "cycles:H" &&
          tl.strings[x.measurement] === "host_only" &&
          tl.events.some((e: PageGlobal) => e.id === x.id && e.cpu === 2),
      );
      const holder = tl.holders[hi];
      const v: number[] = holder.values;
      // Its last sample is what perf stat read at the end (the JSON's per-CPU numbers).
      const only = d.result.perf.find((m: PageGlobal) => m.name === "host_only").counters[0];
      const pc2 = only.per_cpu.find((p: PageGlobal) => p.cpu === 2);
      expect(v.slice(-3)).toEqual([pc2.count, pc2.enabled_ns, pc2.running_ns]);
      expect(pc2.running_ns).toBeLessThan(pc2.enabled_ns);
      // A lane and a time where it holds a counter, halfway through its longest stretch.
      const cpu2 = tl.cpus.find((c: PageGlobal) => c.cpu === 2);
      let best = { label: "", t: 0, len: 0 };
      for (const l of cpu2.lanes)
        for (let i = 0; i < l.segs.length; i += 3)
          if (l.segs[i + 2] === hi && l.segs[i + 1] - l.segs[i] > best.len)
            best = {
              label: l.label,
              t: (l.segs[i] + l.segs[i + 1]) / 2,
              len: l.segs[i + 1] - l.segs[i],
            };
      const g = await hover(page, 2, best.label, best.t);
      expect(g.holder).toBe(hi);
      expect(g.tip).toMatch(/held by cycles:H \(host_only\)/);
      let k = 0;
      while (k + 4 < v.length && v[k + 4]! <= g.t) k += 4;
      const f = (g.t - v[k]!) / (v[k + 4]! - v[k]!);
      const at = (j: number) => Math.floor(v[k + j]! + (v[k + 4 + j]! - v[k + j]!) * f);
      expect(at(1)).toBeGreaterThan(0);
      expect(g.tip).toContain(`at this instant: count ${grouped(at(1))}`);
      expect(g.tip).toContain(
        `time_enabled ${grouped(at(2))} ns, time_running ${grouped(at(3))} ns`,
      );
      await page.close();
    });

    it("tells apart events of one name in two measurements: colours, legend, hover", async () => {
      const { page } = await open(`file://${htmlOf(RFC)}`);
      // On CPU 2 before the first VM entry (10 ms): host_all's cycles and the group's.
      const a = await hover(page, 2, "gp0", 5_000_000);
      const b = await hover(page, 2, "gp2", 5_000_000);
      expect(a.tip).toMatch(/held by cycles \(host_all\)/);
      expect(a.tip).toContain("host_all: cycles {type 0, config 0x0}");
      expect(a.tip).not.toContain("group: cycles");
      expect(b.tip).toMatch(/held by cycles \(group\)/);
      expect(b.tip).toContain("group: cycles {type 0, config 0x0}");
      expect(b.tip).not.toContain("host_all:");
      // Nor is the guest's cycles (gstat) a host event's.
      expect(a.tip + b.tip).not.toContain("gstat:");
      const r = await page.evaluate(() => {
        const tl = (globalThis as PageGlobal).vpmu.timeline;
        const legend = [...document.querySelectorAll(".vpmu-legend-item")].map(
          (e) => e.textContent,
        );
        return { holders: tl.holders(), legend };
      });
      const colour = (n: string) =>
        r.holders.find((h: { name: string }) => h.name === n)?.colour as string;
      expect(colour("cycles (host_all)")).toBeTruthy();
      expect(colour("cycles (group)")).toBeTruthy();
      expect(colour("cycles (host_all)")).not.toBe(colour("cycles (group)"));
      expect(r.legend).toEqual(expect.arrayContaining(["cycles (host_all)", "cycles (group)"]));
      await page.close();
    });

    it("writes screenshots of three examples", async () => {
      mkdirSync(shots, { recursive: true });
      for (const f of [RFC, "examples/x86-overhead.yaml", "examples/big-little-counts.yaml"]) {
        const { page } = await open(`file://${htmlOf(f)}`);
        await page.waitForFunction(() => (globalThis as { vpmu?: unknown }).vpmu);
        expect(await canvasVariance(page)).toBeGreaterThan(10);
        const file = join(shots, `${f.replace(/^examples\/|\.yaml$/g, "")}.png`);
        await page.screenshot({ path: file, fullPage: true });
        expect(statSync(file).size).toBeGreaterThan(10_000);
        await page.close();
      }
      console.log(`screenshots of the HTML report: ${shots}`);
    });
  });

  describe("the playground in Chromium", () => {
    it("runs every example in the worker with JSON byte-identical to vpmu run --format json", async () => {
      const { page, problems } = await open(playgroundUrl);
      await page.waitForFunction(() => (globalThis as { playground?: unknown }).playground);
      const names: string[] = await page.evaluate(
        () => (globalThis as PageGlobal).playground.examples,
      );
      expect(names).toEqual(examples);
      for (const f of examples) {
        await page.selectOption("#example", f);
        const r = await page.evaluate(async () => {
          const m = await (globalThis as PageGlobal).playground.run();
          return { kind: m.kind, json: m.json as string };
        });
        expect(r.kind, f).toBe("done");
        expect(r.json === cliJson.get(f), `${f}: worker JSON differs from the CLI's`).toBe(true);
      }
      expect(await page.locator("#output table.vpmu-perfstat").count()).toBeGreaterThan(0);
      expect(await page.locator("#output .vpmu-text pre").textContent()).toContain("passed");
      expect(problems).toEqual([]);
      await page.close();
    });

    it("shows a syntax error's CLI message at its line", async () => {
      const bad =
        "name: bad\nmachine: x86-server\ntasks:\n  - { name: a, workload: compute\nduration: 10ms\n";
      const dir = mkdtempSync(join(tmpdir(), "vpmu-bad-"));
      const file = join(dir, "bad.yaml");
      writeFileSync(file, bad);
      const cliErr = (await cli(["run", file])).stderr.trim().split("\n");
      expect(cliErr[0]).toMatch(/^.*bad\.yaml:\d+:\d+: /);
      const line = Number(/bad\.yaml:(\d+):/.exec(cliErr[0]!)![1]);
      const { page } = await open(playgroundUrl);
      await page.waitForFunction(() => (globalThis as { playground?: unknown }).playground);
      const r = await page.evaluate(
        async ([text, name]) => {
          const pg = (globalThis as PageGlobal).playground;
          pg.setText(text, name);
          const m = await pg.run();
          return { kind: m.kind, lines: m.lines as string[] };
        },
        [bad, file],
      );
      expect(r.kind).toBe("diagnostics");
      expect(r.lines).toEqual(cliErr);
      expect((await page.textContent("#errors"))?.trim()).toBe(cliErr.join("\n"));
      // The editor marks that line.
      const marked = await page.evaluate(() =>
        [...document.querySelectorAll(".cm-line")].findIndex((l) =>
          l.querySelector(".cm-lintRange-error"),
        ),
      );
      expect(marked + 1).toBe(line);
      await page.close();
    });

    it("completes keys and values from the scenario JSON Schema", async () => {
      const { page } = await open(playgroundUrl);
      await page.waitForFunction(() => (globalThis as { playground?: unknown }).playground);
      await page.evaluate(() => {
        const pg = (globalThis as PageGlobal).playground;
        pg.setText("name: a\nperf:\n  - name: s\n    ev", "c.yaml");
        pg.view.focus();
        pg.view.dispatch({ selection: { anchor: pg.view.state.doc.length } });
      });
      await page.keyboard.press("Control+Space");
      const options = page.locator(".cm-tooltip-autocomplete li");
      await options.first().waitFor();
      expect(await options.allTextContents()).toContainEqual(expect.stringMatching(/^events/));
      // A value the schema lists: the kernel profiles, inserted quoted where YAML needs it.
      await page.keyboard.press("Escape");
      await page.evaluate(() => {
        const pg = (globalThis as PageGlobal).playground;
        pg.setText("name: a\nkernel:\n  profile: ", "c.yaml");
        pg.view.focus();
        pg.view.dispatch({ selection: { anchor: pg.view.state.doc.length } });
      });
      await page.keyboard.press("Control+Space");
      await options.first().waitFor();
      expect((await options.allTextContents()).sort()).toEqual(["5.18", "7.0", "rfc-v1"]);
      await page.keyboard.press("Escape");
      await page.keyboard.type("7");
      await page.keyboard.press("Control+Space");
      await options.first().waitFor();
      expect(await options.allTextContents()).toEqual(["7.0"]);
      await options.first().click();
      expect(
        await page.evaluate(() => (globalThis as PageGlobal).playground.view.state.doc.toString()),
      ).toBe('name: a\nkernel:\n  profile: "7.0"');
      await page.close();
    });

    it("Cancel stops a long run, and the next run works", async () => {
      const long = readFileSync(join(root, "examples/x86-overhead.yaml"), "utf8").replace(
        /^duration: .*$/m,
        "duration: 60s",
      );
      const { page } = await open(playgroundUrl);
      await page.waitForFunction(() => (globalThis as { playground?: unknown }).playground);
      await page.evaluate((text) => {
        const pg = (globalThis as PageGlobal).playground;
        pg.setText(text, "long.yaml");
        (globalThis as PageGlobal).longRun = pg.run();
      }, long);
      await page.waitForFunction(
        () => /simulating… [1-9]/.test(document.getElementById("status")!.textContent!),
        null,
        {
          timeout: 20_000,
        },
      );
      await page.click("#cancel");
      const r = await page.evaluate(async () => (await (globalThis as PageGlobal).longRun).kind);
      expect(r).toBe("cancelled");
      expect(await page.textContent("#status")).toBe("cancelled");
      expect(await page.isDisabled("#cancel")).toBe(true);
      await page.selectOption("#example", "examples/x86-mediated.yaml");
      const next = await page.evaluate(
        async () => (await (globalThis as PageGlobal).playground.run()).kind,
      );
      expect(next).toBe("done");
      await page.close();
    });
  });
});
