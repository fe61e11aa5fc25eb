// Writes the HTML report of each scenario file given, as `vpmu report FILE -o OUT/NAME.html`
// does (the same functions, one process for all): node test/report-pages.mjs OUT FILE...
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { htmlReport } from "../dist/report/html.js";
import { parseScenario } from "../dist/scenario/load.js";
import { reportPage } from "../dist/scenario/report-page.js";

const [out, ...files] = process.argv.slice(2);
const viewer = readFileSync(new URL("../dist/viewer/viewer.js", import.meta.url), "utf8");
for (const f of files) {
  const loaded = parseScenario(readFileSync(f, "utf8"), f);
  if (!loaded.ok) throw new Error(`${f}: ${loaded.diagnostics[0]?.message}`);
  writeFileSync(
    join(out, `${f.replace(/\W+/g, "_")}.html`),
    htmlReport(reportPage(loaded.scenario, f), viewer),
  );
}
