import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jsonReport } from "../src/report/json.js";
import { loadScenario } from "../src/scenario/load.js";
import { runScenario } from "../src/scenario/runner.js";

const root = join(import.meta.dirname, "..");

describe("determinism", () => {
  for (const f of [
    "host-multiplexing.yaml",
    "big-little-task-event.yaml",
    "pinned-overcommit.yaml",
  ]) {
    it(`${f}: same scenario and seed give byte-identical JSON`, () => {
      const text = readFileSync(join(root, "examples", f), "utf8");
      const a = jsonReport(runScenario(loadScenario(text, f), { seed: 7 }));
      const b = jsonReport(runScenario(loadScenario(text, f), { seed: 7 }));
      expect(a).toBe(b);
      expect(a.length).toBeGreaterThan(1000);
    });
  }
});
