import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_KVM_COSTS } from "../src/kvm/costs.js";
import { ACTION_KINDS, ACTION_NAMES } from "../src/scenario/actions/table.js";
import { EXPECT_SUBJECTS } from "../src/scenario/expect/table.js";
import { KVM_COSTS_FIELDS } from "../src/scenario/kernel/schema.js";

/**
 * The registries of the scenario layer (actions/table.ts, expect/table.ts) against what
 * users read: every registered action kind and expectation subject is documented in
 * docs/scenario-format.md and is in the committed JSON Schema.
 */
const root = join(import.meta.dirname, "..");
const docs = readFileSync(join(root, "docs", "scenario-format.md"), "utf8");
const schema = JSON.parse(readFileSync(join(root, "schema", "scenario.schema.json"), "utf8"));

/** The `### ` headings between `## name` and the next `## ` heading. */
function headingsOf(section: string): string[] {
  const start = docs.indexOf(`\n## ${section}\n`);
  if (start < 0) return [];
  const end = docs.indexOf("\n## ", start + 1);
  return [...docs.slice(start, end < 0 ? undefined : end).matchAll(/^### (.+)$/gm)].map(
    (m) => m[1]!,
  );
}

/** The `do` values the JSON Schema accepts. */
function schemaDoValues(): string[] {
  const entries = schema.properties.actions.items.oneOf as Array<{
    properties: { do: { const?: string; enum?: string[] } };
  }>;
  return entries.flatMap((e) =>
    e.properties.do.const ? [e.properties.do.const] : e.properties.do.enum!,
  );
}

describe("every registered action kind is documented", () => {
  const headings = headingsOf("actions");
  for (const name of ACTION_NAMES) {
    it(`${name}: a section under actions in docs/scenario-format.md`, () => {
      // One heading may document a family: "cpu_online and cpu_offline".
      const h = headings.find((x) => x.split(/,? and |, /).includes(name));
      expect(h, `no "### ${name}" heading under "## actions"`).toBeDefined();
    });
  }

  it("each of them, and no other, in schema/scenario.schema.json, in table order", () => {
    expect(schemaDoValues()).toEqual(ACTION_NAMES);
  });

  it("each of them in the do column of docs/json-output.md", () => {
    const json = readFileSync(join(root, "docs", "json-output.md"), "utf8");
    const row = json.split("\n").find((l) => l.startsWith("| `do` | string | The action:"))!;
    expect(ACTION_NAMES.filter((n) => !row.includes(`\`"${n}"\``))).toEqual([]);
  });

  it("each kind's do values once", () => {
    const names = ACTION_KINDS.flatMap((k) => k.names);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("every registered expectation subject is documented", () => {
  const headings = headingsOf("expect");
  for (const s of EXPECT_SUBJECTS) {
    it(`${s.key}: a "${s.key} subject" section, and a field of expect in the JSON Schema`, () => {
      expect(headings).toContain(`${s.key} subject`);
      expect(Object.keys(schema.properties.expect.items.properties)).toContain(s.key);
    });
  }
});

describe("kernel.kvm.costs", () => {
  it("has one field per figure of the cost model, by its snake_case name", () => {
    const snake = (k: string) => k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
    expect([...KVM_COSTS_FIELDS].sort()).toEqual(Object.keys(DEFAULT_KVM_COSTS).map(snake).sort());
  });
});
