// The HTML report and the playground: report build time, the playground's run in Chromium
// against Node (the same core), and the timeline's redraw with 100k state changes.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { htmlReport } from "../dist/report/html.js";
import { jsonReport, variantsJsonReport } from "../dist/report/json.js";
import { parseScenario } from "../dist/scenario/load.js";
import { reportPage } from "../dist/scenario/report-page.js";

const root = new URL("..", import.meta.url).pathname;
const CHROMIUM = process.env.VPMU_CHROMIUM ?? "/usr/bin/chromium";
const fmt = (x, d = 0) =>
  x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

function bestOf(n, f) {
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** What the playground's worker does after parsing: the report page and the JSON text. */
function runLikeWorker(sc, name) {
  const page = reportPage(sc, name, {});
  return "variants" in page.result
    ? variantsJsonReport(page.result.variants)
    : jsonReport(page.result);
}

/**
 * A timeline with `n` event state changes over 8 CPUs, 8 counters each (for the redraw line),
 * each event with a value sample per change.
 */
function bigTimeline(n) {
  const strings = ["ACTIVE", "INACTIVE", "ERROR", "cycles", "instructions", "guest", "stat"];
  const end = 1_000_000_000;
  const cpus = [];
  const events = [];
  const holders = [];
  const perEvent = Math.ceil(n / 64);
  for (let cpu = 0; cpu < 8; cpu++) {
    const lanes = [];
    for (let idx = 0; idx < 8; idx++) {
      const id = cpu * 8 + idx;
      const segs = [];
      for (let k = 0; k < perEvent; k++)
        segs.push((k * end) / perEvent, ((k + 0.5) * end) / perEvent, id);
      lanes.push({ pmu: "cpu", idx, label: `gp${idx}`, segs });
      const changes = [];
      const values = [];
      // Multiplexing: ACTIVE and INACTIVE by turns, as rotation makes them.
      for (let k = 0; k < perEvent; k++) {
        const t = Math.floor((k * end) / perEvent);
        changes.push(t, k % 2);
        values.push(
          t,
          3 * Math.ceil(k / 2) * (end / perEvent),
          t,
          Math.ceil(k / 2) * (end / perEvent),
        );
      }
      events.push({ id, name: 3 + (idx % 2), cpu, changes });
      holders.push({ id, name: 3 + (idx % 2), measurement: 6, values });
    }
    cpus.push({ cpu, lanes, guest: [0, end / 2, 5], tasks: [], marks: [] });
  }
  return {
    version: 2,
    end_ns: end,
    strings,
    mark_kinds: ["vm entry"],
    cpus,
    uncore: [],
    events,
    holders,
  };
}

export async function runReportBenchmarks(row, quick) {
  // 1. Report build of the largest example (by page size).
  const file = "examples/x86-overhead.yaml";
  const viewer = readFileSync(join(root, "dist/viewer/viewer.js"), "utf8");
  const text = readFileSync(join(root, file), "utf8");
  const sc = parseScenario(text, file).scenario;
  let html = "";
  const buildMs = bestOf(quick ? 1 : 3, () => {
    html = htmlReport(reportPage(sc, file, {}), viewer);
  });
  row(
    `vpmu report ${file} (run + timeline + page)`,
    fmt(buildMs),
    "ms",
    `${fmt(html.length)} bytes`,
  );

  // 2. The same core in Node and in Chromium's worker.
  runLikeWorker(sc, file); // warm-up
  const nodeMs = bestOf(6, () => runLikeWorker(sc, file));
  if (!existsSync(CHROMIUM) || !existsSync(join(root, "dist/playground/index.html"))) {
    row("playground run in Chromium", "skipped", "", `needs ${CHROMIUM} and npm run build:web`);
    return;
  }
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const server = spawn(process.execPath, [
    join(root, "dist/bin/vpmu.js"),
    "playground",
    "--port",
    "0",
  ]);
  try {
    const url = await new Promise((resolve) => {
      let buf = "";
      server.stdout.on("data", (d) => {
        buf += d;
        const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(buf);
        if (m) resolve(m[0]);
      });
    });
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => globalThis.playground);
    const browserMs = await page.evaluate(async (f) => {
      globalThis.playground.pick(f);
      let best = Infinity;
      await globalThis.playground.run(); // warm-up
      for (let i = 0; i < 6; i++) best = Math.min(best, (await globalThis.playground.run()).ms);
      return best;
    }, file);
    row(
      `playground run of ${file}: Chromium worker vs Node`,
      (browserMs / nodeMs).toFixed(2),
      "x",
      `${fmt(browserMs)} ms in Chromium, ${fmt(nodeMs)} ms in Node, best of 6 after a warm-up`,
    );

    // 3. Timeline redraw with 100k state changes (and as many counter intervals).
    const big = reportPage(
      parseScenario(readFileSync(join(root, "examples/x86-passthrough-rfc.yaml"), "utf8"), "x")
        .scenario,
      "x",
      {},
    );
    big.timelines = [bigTimeline(100_000)];
    const dir = mkdtempSync(join(tmpdir(), "vpmu-bench-"));
    writeFileSync(join(dir, "big.html"), htmlReport(big, viewer));
    await page.setViewportSize({ width: 1600, height: 1000 });
    await page.goto(`file://${join(dir, "big.html")}`);
    await page.waitForFunction(() => globalThis.vpmu?.timeline);
    const r = await page.evaluate(() => {
      const tl = globalThis.vpmu.timeline;
      const median = (f) => {
        const xs = [];
        for (let i = 0; i < 15; i++) xs.push(f());
        xs.sort((a, b) => a - b);
        return xs[7];
      };
      const full = median(() => tl.draw());
      tl.setRange(400_000_000, 410_000_000);
      const zoomed = median(() => tl.draw());
      const changes = tl.data.events.reduce((n, e) => n + e.changes.length / 2, 0);
      return { full, zoomed, changes };
    });
    row(
      `timeline redraw, ${fmt(r.changes)} state changes (whole run / 1% zoom)`,
      `${fmt(r.full, 1)} / ${fmt(r.zoomed, 1)}`,
      "ms",
      "median of 15 draws, 1600 px wide",
    );
  } finally {
    server.kill();
    await browser.close();
  }
}
