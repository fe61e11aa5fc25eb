import type { ReportPageData } from "../../src/report/html.js";
import { renderReport } from "./app.js";

// The self-contained report: the data is the page's inline JSON.
const json = document.getElementById("vpmu-data")?.textContent ?? "null";
const root = document.getElementById("vpmu-report");
if (root)
  (globalThis as { vpmu?: unknown }).vpmu = renderReport(root, JSON.parse(json) as ReportPageData);
