import { label } from "../../src/scenario/sweep/chart.js";
import type { SweepPageData } from "../../src/scenario/sweep/page.js";
import { chartSections, layoutFlags } from "../../src/scenario/sweep/page-charts.js";

/** The role of an axis in the layout: x, lines, facet, or fixed at the value of that index. */
type Role = "x" | "lines" | "facet" | number;

/** What a sweep page exposes (`window.vpmuSweep`, the tests' handle). */
export interface SweepHandle {
  data: SweepPageData;
  /** Gives `axis` the role; an axis that had it takes the axis's old role. */
  setRole(axis: string, role: Role): void;
  /** Draws only `y`, or every value of the page (undefined). */
  setY(y: string | undefined): void;
}

function rolesOf(d: SweepPageData): Map<string, Role> {
  const c = d.choice;
  const roles = new Map<string, Role>();
  for (const a of d.header.axes) {
    const fixed = c.where?.[a.name];
    roles.set(
      a.name,
      a.name === c.x
        ? "x"
        : a.name === c.lines
          ? "lines"
          : a.name === c.facet
            ? "facet"
            : Math.max(
                0,
                a.values.findIndex((v) => label(v) === fixed),
              ),
    );
  }
  return roles;
}

function select(name: string, options: Array<[string, string]>, value: string): HTMLSelectElement {
  const s = document.createElement("select");
  s.name = name;
  for (const [v, text] of options) {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = text;
    s.append(o);
  }
  s.value = value;
  return s;
}

/**
 * Lets the reader of a sweep page change the layout: one select per axis (x, lines,
 * panels, or fixed at a value) and one for the value drawn; the charts are drawn again
 * from the inline results with the code `vpmu report` used.
 */
export function renderSweepControls(
  controls: HTMLElement,
  charts: HTMLElement,
  data: SweepPageData,
): SweepHandle {
  const roles = rolesOf(data);
  let ys = data.ys;
  const problem = document.createElement("p");
  problem.className = "vpmu-sweep-problem";
  const draw = () => {
    const by = (r: Role) => [...roles].find(([, v]) => v === r)?.[0];
    const where: Record<string, string> = {};
    for (const a of data.header.axes) {
      const r = roles.get(a.name)!;
      if (typeof r === "number") where[a.name] = label(a.values[r]);
    }
    const lines = by("lines");
    const facet = by("facet");
    const choice = {
      x: by("x")!,
      where,
      ...(lines !== undefined ? { lines } : {}),
      ...(facet !== undefined ? { facet } : {}),
    };
    const r = chartSections(data.header, data.records, choice, ys);
    problem.textContent = r.ok ? "" : r.message;
    if (r.ok) charts.innerHTML = r.html;
    const shown = document.getElementById("vpmu-sweep-layout");
    if (r.ok && shown) shown.textContent = layoutFlags(choice);
    for (const s of controls.querySelectorAll<HTMLSelectElement>("select[data-axis]"))
      s.value = String(roles.get(s.dataset.axis!));
  };
  const handle: SweepHandle = {
    data,
    setRole(axis, role) {
      const old = roles.get(axis)!;
      if (typeof role === "string")
        for (const [a, r] of roles)
          if (a !== axis && r === role) roles.set(a, typeof old === "string" ? old : 0);
      roles.set(axis, role);
      // x is never left empty: the lines (else the panels) axis takes it.
      if (![...roles.values()].includes("x")) {
        const next =
          [...roles].find(([, r]) => r === "lines") ?? [...roles].find(([, r]) => r === "facet");
        roles.set(next ? next[0] : axis, "x");
      }
      draw();
    },
    setY(y) {
      ys = y === undefined ? data.ys : [y];
      draw();
    },
  };
  for (const a of data.header.axes) {
    const s = select(
      a.name,
      [
        ["x", "x"],
        ["lines", "lines"],
        ["facet", "panels"],
        ...a.values.map((v, i): [string, string] => [String(i), `= ${label(v)}`]),
      ],
      String(roles.get(a.name)),
    );
    s.dataset.axis = a.name;
    s.addEventListener("change", () =>
      handle.setRole(a.name, /^\d+$/.test(s.value) ? Number(s.value) : (s.value as Role)),
    );
    const l = document.createElement("label");
    l.append(`${a.name} `, s);
    controls.append(l);
  }
  const y = select("y", [["", "every value"], ...data.ys.map((v): [string, string] => [v, v])], "");
  y.addEventListener("change", () => handle.setY(y.value || undefined));
  const l = document.createElement("label");
  l.append("value ", y);
  controls.append(l, problem);
  return handle;
}
