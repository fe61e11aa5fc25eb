import type { VariantRunResult } from "../../src/report/result.js";
import { barChart } from "./chart.js";
import { el } from "./format.js";
import { table } from "./tables.js";

/** The variants of a scenario side by side: what each sets, and charts across them. */
export function variantsView(runs: VariantRunResult[]): HTMLElement {
  const sec = el("section", { class: "vpmu-variants" }, el("h2", {}, "Variants side by side"));
  sec.append(
    table(
      ["variant", "description", "sets", "checks"],
      runs.map((v) => [
        v.name,
        v.description,
        Object.entries(v.set)
          .map(([k, x]) => `${k} = ${JSON.stringify(x)}`)
          .join(", "),
        el(
          "td",
          { class: v.result.summary.failed ? "vpmu-fail" : "vpmu-pass" },
          `${v.result.summary.passed} passed, ${v.result.summary.failed} failed`,
        ),
      ]),
    ),
  );
  const names = runs.map((v) => v.name);
  const charts = el("div", { class: "vpmu-charts" });
  for (const key of counterKeys(runs)) {
    const values = runs.map((v) => counterOf(v, key));
    charts.append(
      barChart(
        names,
        [
          { name: "count (scaled)", values: values.map((c) => c?.scaled ?? Number.NaN) },
          { name: "truth", values: values.map((c) => c?.truth ?? Number.NaN) },
        ],
        { title: keyTitle(runs, key), width: 340, height: 200 },
      ),
    );
  }
  const reasons = [
    ...new Set(
      runs.flatMap((v) =>
        v.result.vms.flatMap((vm) => vm.vcpus.flatMap((c) => Object.keys(c.exits))),
      ),
    ),
  ].sort();
  if (reasons.length)
    charts.append(
      barChart(
        names,
        reasons.map((reason) => ({
          name: reason,
          values: runs.map((v) =>
            v.result.vms.reduce(
              (n, vm) => n + vm.vcpus.reduce((k, c) => k + (c.exits[reason] ?? 0), 0),
              0,
            ),
          ),
        })),
        { title: "VM exits by reason", width: 520, height: 220 },
      ),
    );
  sec.append(charts);
  return sec;
}

/** measurement + counter position + event, in first-seen order. */
function counterKeys(runs: VariantRunResult[]): string[] {
  const keys = new Set<string>();
  for (const v of runs)
    for (const m of v.result.perf)
      m.counters.forEach((c, i) => {
        keys.add(`${m.name}\u0000${i}\u0000${c.event}`);
      });
  return [...keys];
}

function counterOf(v: VariantRunResult, key: string) {
  const [m, i, e] = key.split("\u0000");
  const c = v.result.perf.find((x) => x.name === m)?.counters[Number(i)];
  return c?.event === e ? c : undefined;
}

/** A chart title: `measurement: event`, with the counter's position when the name repeats. */
function keyTitle(runs: VariantRunResult[], key: string): string {
  const [m, i, e] = key.split("\u0000");
  const twins = counterKeys(runs).filter(
    (k) => k.startsWith(`${m}\u0000`) && k.endsWith(`\u0000${e}`),
  );
  return twins.length > 1 ? `${m}: ${e} (#${Number(i) + 1})` : `${m}: ${e}`;
}
