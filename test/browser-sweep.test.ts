import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import { browserSuite, launchChromium, openPage } from "./browser-helpers.js";
import { cliIt, tmpFile, vpmu } from "./cli-helpers.js";

/** `vpmu report RESULTS.jsonl` in Chromium: the page of a sweep's charts and its controls. */
browserSuite("the sweep page in Chromium", () => {
  let browser: Browser;
  const results = tmpFile("small.jsonl", "");
  const page = join(dirname(results), "small.html");

  beforeAll(async () => {
    expect(vpmu("sweep", "examples/sweeps/exit-switch-cost.yaml", "-o", results).code).toBe(0);
    expect(vpmu("report", results, "-o", page).code).toBe(0);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  cliIt("loads from disk with no console error and no request; one line per series", async () => {
    const { page: p, problems } = await openPage(browser, `file://${page}`);
    const charts = await p.$$eval("section svg", (svgs) =>
      svgs.map((s) => ({
        lines: s.querySelectorAll("path").length,
        width: s.getBoundingClientRect().width,
      })),
    );
    const header = JSON.parse(readFileSync(results, "utf8").split("\n")[0]!);
    // exit-switch-cost: x host_events, one line per vpmu value, one chart per numeric value.
    expect(header.axes.map((a: { name: string }) => a.name)).toEqual(["vpmu", "host_events"]);
    expect(charts.length).toBeGreaterThanOrEqual(3);
    for (const c of charts) {
      expect(c.lines).toBe(2);
      expect(c.width).toBeGreaterThan(300);
    }
    const legend = await p.$$eval("section:first-of-type svg text", (ts) =>
      ts.map((t) => t.textContent),
    );
    expect(legend).toEqual(expect.arrayContaining(["vpmu = false", "vpmu = true"]));
    await p.click("section:first-of-type details summary");
    expect(await p.isVisible("section:first-of-type table")).toBe(true);
    // The controls draw the charts again: vpmu fixed at true leaves one line a chart, and
    // vpmu made x takes the place of host_events, which takes vpmu's old role (lines).
    await p.selectOption('select[data-axis="vpmu"]', "1");
    const lines = () =>
      p.$$eval("section svg", (svgs) => svgs.map((s) => s.querySelectorAll("path").length));
    expect(new Set(await lines())).toEqual(new Set([1]));
    expect(await p.textContent("#vpmu-sweep-layout")).toBe("--x host_events --where vpmu=true");
    await p.selectOption('select[data-axis="vpmu"]', "x");
    expect(
      await p.$eval('select[data-axis="host_events"]', (s) => (s as HTMLSelectElement).value),
    ).toBe("0");
    await p.selectOption('select[data-axis="host_events"]', "lines");
    expect(new Set(await lines())).toEqual(new Set([12]));
    expect(await p.textContent("#vpmu-sweep-layout")).toBe("--x vpmu --lines host_events");
    await p.selectOption('select[name="y"]', "ns_per_exit");
    expect(await p.$$eval("section", (ss) => ss.map((s) => s.dataset.y))).toEqual(["ns_per_exit"]);
    expect(problems).toEqual([]);
    await p.close();
  });
});
