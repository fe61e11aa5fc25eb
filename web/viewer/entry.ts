import type { ReportPageData } from "../../src/report/html.js";
import type { SweepPageData } from "../../src/scenario/sweep/page.js";
import { renderReport } from "./app.js";
import { renderSweepControls } from "./sweep.js";

// The self-contained report: the data is the page's inline JSON.
const json = document.getElementById("vpmu-data")?.textContent ?? "null";
const root = document.getElementById("vpmu-report");
if (root)
  (globalThis as { vpmu?: unknown }).vpmu = renderReport(root, JSON.parse(json) as ReportPageData);

// A sweep's page (`vpmu report RESULTS.jsonl`): the charts are in the page; the script adds
// the layout controls.
const sweepJson = document.getElementById("vpmu-sweep-data")?.textContent;
const controls = document.getElementById("vpmu-sweep-controls");
const charts = document.getElementById("vpmu-sweep-charts");
if (sweepJson && controls && charts)
  (globalThis as { vpmuSweep?: unknown }).vpmuSweep = renderSweepControls(
    controls,
    charts,
    JSON.parse(sweepJson) as SweepPageData,
  );
