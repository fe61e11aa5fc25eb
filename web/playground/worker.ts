/// <reference lib="webworker" />
import { jsonReport, variantsJsonReport } from "../../src/report/json.js";
import { formatDiagnostic } from "../../src/scenario/diagnostics.js";
import { parseScenario } from "../../src/scenario/load.js";
import { reportPage } from "../../src/scenario/report-page.js";
import type { FromWorker, ToWorker } from "./protocol.js";

// The simulator core in a Web Worker: the same modules `vpmu run` uses, no node: module.
const post = (m: FromWorker) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(m);

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const { id, text, name, truth } = ev.data;
  try {
    const loaded = parseScenario(text, name);
    if (!loaded.ok) {
      post({
        kind: "diagnostics",
        id,
        diagnostics: loaded.diagnostics,
        lines: loaded.diagnostics.map(formatDiagnostic),
      });
      return;
    }
    const start = performance.now();
    let lastPct = -1;
    const page = reportPage(loaded.scenario, name, {
      truth,
      onProgress: (done, total) => {
        const pct = Math.floor((100 * done) / total);
        if (pct !== lastPct) post({ kind: "progress", id, done, total });
        lastPct = pct;
      },
    });
    const json =
      "variants" in page.result
        ? variantsJsonReport(page.result.variants)
        : jsonReport(page.result);
    post({ kind: "done", id, page, json, ms: performance.now() - start });
  } catch (e) {
    post({
      kind: "crash",
      id,
      message: e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e),
    });
  }
};
