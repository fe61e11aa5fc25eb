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

/**
 * `x` with `digits` decimals as C's printf("%.*f") prints it: from the double's exact
 * decimal value, ties to even (JavaScript's toFixed() rounds ties away from zero).
 */
export function cFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "inf" : x < 0 ? "-inf" : "nan";
  const neg = x < 0 || Object.is(x, -0);
  // toFixed(100) is the exact expansion for every double above 2^-48 in magnitude.
  const exact = Math.abs(x).toFixed(100);
  const dot = exact.indexOf(".");
  const keep = exact.slice(0, dot) + exact.slice(dot + 1, dot + 1 + digits);
  const rest = exact.slice(dot + 1 + digits);
  let n = BigInt(keep);
  const first = rest.charCodeAt(0) - 48;
  const tail = /[1-9]/.test(rest.slice(1));
  if (first > 5 || (first === 5 && (tail || n % 2n === 1n))) n += 1n;
  let s = n.toString().padStart(digits + 1, "0");
  if (digits > 0) s = `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  // printf keeps the sign of a negative value that rounds to zero ("-0.00").
  return neg ? `-${s}` : s;
}

/** printf("%'.*f"): cFixed() with the integer part grouped in thousands (en_US). */
export function groupedFixed(x: number, digits: number): string {
  const s = cFixed(x, digits);
  const neg = s.startsWith("-");
  const body = neg ? s.slice(1) : s;
  const dot = body.indexOf(".");
  const int = dot < 0 ? body : body.slice(0, dot);
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (dot < 0 ? "" : body.slice(dot));
  return neg ? `-${grouped}` : grouped;
}

/** C's printf for one double and the `%[']W.Pf` / `%%` formats perf stat uses. */
export function cFormat(fmt: string, v: number): string {
  return fmt.replace(/%(%|(')?(-)?(\d*)(?:\.(\d+))?f)/g, (_m, all, q, left, w, p) => {
    if (all === "%") return "%";
    const digits = p === undefined ? 6 : Number(p);
    const s = q ? groupedFixed(v, digits) : cFixed(v, digits);
    const width = w ? Number(w) : 0;
    return left ? padR(s, width) : padL(s, width);
  });
}
