import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { textReport, variantsTextReport } from "../../src/report/text.js";
import { TOUR } from "../../src/scenario/default-scenario.js";
import { loadScenario } from "../../src/scenario/load.js";
import { runScenario, runVariants } from "../../src/scenario/runner.js";

/**
 * Expect tests: each example's text report (with ground truth) is compared with a
 * committed golden file. On a mismatch the new output is written next to it as
 * .actual.txt; accept it with `npm run accept` (or VPMU_ACCEPT=1).
 */
const root = join(import.meta.dirname, "..", "..");
const expectedDir = join(import.meta.dirname, "expected");
const accept = process.env.VPMU_ACCEPT === "1";

const cases: Array<[string, string]> = [
  ...TOUR.map((t): [string, string] => [t.name, t.text]),
  ...readdirSync(join(root, "examples"))
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f): [string, string] => [
      basename(f, ".yaml"),
      readFileSync(join(root, "examples", f), "utf8"),
    ]),
];

describe("golden reports", () => {
  for (const [name, text] of cases) {
    it(name, () => {
      const sc = loadScenario(text, `${name}.yaml`);
      // A scenario with variants: the side-by-side comparison and each variant's report.
      const out =
        sc.variants.length > 0
          ? variantsTextReport(runVariants(sc, { checkInvariants: true }), { truth: true })
          : textReport(runScenario(sc, { checkInvariants: true }), { truth: true });
      const file = join(expectedDir, `${name}.txt`);
      if (accept) {
        writeFileSync(file, out);
        return;
      }
      // A missing golden is a failure too: write it as .actual for review.
      if (!existsSync(file)) {
        writeFileSync(join(expectedDir, `${name}.actual.txt`), out);
        expect.fail(`no golden for ${name}; review ${name}.actual.txt, then npm run accept`);
      }
      const want = readFileSync(file, "utf8");
      if (out !== want) {
        const actual = join(expectedDir, `${name}.actual.txt`);
        writeFileSync(actual, out);
        expect.fail(
          `report of ${name} changed; see ${actual}\naccept with: cp ${actual} ${file}   (or npm run accept)`,
        );
      }
      expect(out).toBe(want);
    });
  }
});
