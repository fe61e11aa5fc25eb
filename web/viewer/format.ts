/** Number and time formats of the viewer, as the text report prints them. */

/** 1234567 -> "1,234,567" (perf's %'llu). */
export function thousands(n: number): string {
  const s = String(Math.trunc(Math.abs(n)));
  const g = s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return n < 0 ? `-${g}` : g;
}

/** A time in ns as a short human string (ns, µs, ms, s). */
export function fmtTime(ns: number): string {
  const a = Math.abs(ns);
  if (a >= 1e9) return `${trim(ns / 1e9)} s`;
  if (a >= 1e6) return `${trim(ns / 1e6)} ms`;
  if (a >= 1e3) return `${trim(ns / 1e3)} µs`;
  return `${Math.round(ns)} ns`;
}

function trim(x: number): string {
  return Number(x.toPrecision(6)).toString();
}

/** A DOM element with attributes and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Array<Node | string | null | undefined>
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
