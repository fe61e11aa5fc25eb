/** Number formatting shared by the reports. */

/** An integer with thousands separators (perf's `%'.0f`). */
export function thousands(n: number): string {
  const neg = n < 0;
  const s = String(Math.round(Math.abs(n)));
  const out = s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return neg ? `-${out}` : out;
}

/** Nanoseconds as milliseconds with 3 decimals (`12.500ms`). */
export function ms(t: number): string {
  return `${(t / 1e6).toFixed(3)}ms`;
}

/** Left-pads to a width. */
export function padL(s: string, w: number): string {
  return s.length >= w ? s : " ".repeat(w - s.length) + s;
}

/** Right-pads to a width. */
export function padR(s: string, w: number): string {
  return s.length >= w ? s : s + " ".repeat(w - s.length);
}

/** Renders rows as aligned columns; `right` lists the right-aligned column indices. */
export function table(
  header: string[],
  rows: string[][],
  right: number[] = [],
  indent = "  ",
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    indent +
    r
      .map((c, i) => (right.includes(i) ? padL(c, widths[i]!) : padR(c, widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
