/**
 * The reporting side of a kvm-unit-tests guest (lib/libcflat: report, report_info,
 * report_skip, report_prefix_push/pop, report_summary), producing the same line format:
 * `PASS: pmu: cycle-counter: Monotonically increasing cycle count`.
 */
export class KutReport {
  /** Output lines, in order. */
  readonly lines: string[] = [];
  /** The checks alone (report() and report_skip()), with their full names. */
  readonly checks: Array<{ status: "PASS" | "FAIL" | "SKIP"; name: string }> = [];
  private readonly prefixes: string[] = [];
  tests = 0;
  failures = 0;
  skipped = 0;
  /** Set when the guest stopped early (unhandled exception, failed KVM_RUN). */
  aborted: string | null = null;

  private prefix(): string {
    return this.prefixes.map((p) => `${p}: `).join("");
  }

  prefixPush(p: string): void {
    this.prefixes.push(p);
  }

  prefixPop(): void {
    this.prefixes.pop();
  }

  /** report(): one check. */
  report(ok: boolean, msg: string): void {
    this.tests++;
    if (!ok) this.failures++;
    this.checks.push({ status: ok ? "PASS" : "FAIL", name: `${this.prefix()}${msg}` });
    this.lines.push(`${ok ? "PASS" : "FAIL"}: ${this.prefix()}${msg}`);
  }

  /** report_info(). */
  info(msg: string): void {
    this.lines.push(`INFO: ${this.prefix()}${msg}`);
  }

  /** report_skip(): counts as a test and a skip. */
  skip(msg: string): void {
    this.tests++;
    this.skipped++;
    this.checks.push({ status: "SKIP", name: `${this.prefix()}${msg}` });
    this.lines.push(`SKIP: ${this.prefix()}${msg}`);
  }

  /** printf() from the guest. */
  print(msg: string): void {
    this.lines.push(msg);
  }

  /** The guest took an exception it does not handle (or never ran): the run aborts. */
  abort(msg: string): void {
    this.aborted = msg;
    this.lines.push(`ABORT: ${this.prefix()}${msg}`);
  }

  /** report_summary(). */
  summary(): string {
    let s = `SUMMARY: ${this.tests} tests`;
    if (this.failures) s += `, ${this.failures} unexpected failures`;
    if (this.skipped) s += `, ${this.skipped} skipped`;
    return s;
  }

  /** Exit status like run_tests.sh: 0 pass, 1 failures or abort, 77 everything skipped. */
  get status(): 0 | 1 | 77 {
    if (this.aborted || this.failures) return 1;
    return this.tests > 0 && this.skipped === this.tests ? 77 : 0;
  }
}
