/**
 * The parts of tools/testing/selftests (kselftest.h, kselftest_harness.h, the KVM
 * selftests' assert.c and run_kselftest.sh) the ported tests report through: assertion
 * failures, requirement skips, and the TAP the runner and the harness print.
 */

/** TEST_ASSERT() / TEST_FAIL() / REPORT_GUEST_ASSERT(): the test fails (exit 254). */
export class TestFailure extends Error {
  constructor(
    /** The asserted expression, as the assertion banner prints it. */
    readonly expr: string,
    msg: string,
  ) {
    super(msg);
  }
}

/** TEST_REQUIRE() / ksft_exit_skip(): the test is skipped (exit 4, KSFT_SKIP). */
export class TestSkip extends Error {}

/** KSFT_SKIP and the KVM selftests' failure exit status. */
export const KSFT_SKIP = 4;
export const KVM_TEST_FAIL = 254;

/** TEST_ASSERT(cond, fmt...). */
export function testAssert(cond: boolean, expr: string, msg = ""): asserts cond {
  if (!cond) throw new TestFailure(expr, msg);
}

/** TEST_ASSERT_EQ(a, b): prints both values in hex like the selftests do. */
export function testAssertEq(
  a: bigint | number | boolean,
  b: bigint | number | boolean,
  expr: string,
): void {
  const n = (v: bigint | number | boolean) => BigInt(typeof v === "boolean" ? Number(v) : v);
  if (n(a) !== n(b))
    throw new TestFailure(expr, `0x${n(a).toString(16)} != 0x${n(b).toString(16)} (${expr})`);
}

/** TEST_REQUIRE(cond). */
export function testRequire(cond: boolean, expr: string): asserts cond {
  if (!cond) throw new TestSkip(`- Requirement not met: ${expr}`);
}

/** What a test prints (pr_info(), the harness's own lines), unprefixed. */
export interface SelftestOut {
  lines: string[];
}

/** The assertion banner test_assert() prints. */
export function failureBanner(file: string, e: TestFailure): string[] {
  const out = ["==== Test Assertion Failure ====", `  ${file}: ${e.expr}`];
  if (e.message) out.push(`  ${e.message}`);
  return out;
}

/** One TEST_F/KVM_ONE_VCPU_TEST of a kselftest_harness test. */
export interface HarnessCase {
  name: string;
  run(): void;
}

/**
 * test_harness_run(): runs each case and prints the harness's TAP (`#  RUN`, `#  OK`,
 * `ok N fixture.case`, the totals). Returns the binary's exit status (0, or 1 on a failure).
 */
export function harnessRun(
  fixture: string,
  cases: HarnessCase[],
  out: string[],
  file: string,
): number {
  out.push("TAP version 13", `1..${cases.length}`);
  out.push(`# Starting ${cases.length} tests from 1 test cases.`);
  let pass = 0;
  let fail = 0;
  let skip = 0;
  cases.forEach((c, i) => {
    const full = `${fixture}.${c.name}`;
    out.push(`#  RUN           ${full} ...`);
    try {
      c.run();
      out.push(`#            OK  ${full}`, `ok ${i + 1} ${full}`);
      pass++;
    } catch (e) {
      if (e instanceof TestSkip) {
        out.push(
          `#      SKIP      ${e.message}`,
          `#            OK  ${full}`,
          `ok ${i + 1} ${full} # SKIP ${e.message}`,
        );
        skip++;
        return;
      }
      if (!(e instanceof TestFailure)) throw e;
      for (const l of failureBanner(file, e)) out.push(`# ${l}`);
      out.push(`#            FAIL  ${full}`, `not ok ${i + 1} ${full}`);
      fail++;
    }
  });
  out.push(
    fail
      ? `# FAILED: ${pass} / ${cases.length} tests passed.`
      : `# PASSED: ${pass} / ${cases.length} tests passed.`,
    `# Totals: pass:${pass} fail:${fail} xfail:0 xpass:0 skip:${skip} error:0`,
  );
  return fail ? 1 : 0;
}

/** A ported selftest: its binary's name, its architecture, and its main(). */
export interface Selftest {
  /** The binary (`pmu_counters_test`), as run_kselftest.sh names it. */
  name: string;
  /** Its source file under tools/testing/selftests/kvm/. */
  file: string;
  arch: "x86" | "arm64";
  /**
   * main(): prints into `out`; returns the exit status, or throws TestFailure/TestSkip
   * (an assertion or a requirement outside the harness).
   */
  main(out: string[]): number;
}

/**
 * run_kselftest.sh's report of one binary: its output indented with "# ", then
 * `ok N selftests: kvm: name`, `# SKIP`, or `not ok ... # exit=254`.
 */
export function runSelftest(
  t: Selftest,
  n: number,
): { lines: string[]; status: "pass" | "fail" | "skip" } {
  const out: string[] = [];
  const lines = [`# timeout set to 120`, `# selftests: kvm: ${t.name}`];
  let status: "pass" | "fail" | "skip" = "pass";
  let exit = 0;
  // kvm_selftest_init(): the guest random seed, from an unseeded random().
  out.push("Random seed: 0x6b8b4567");
  try {
    exit = t.main(out);
    if (exit !== 0) status = "fail";
  } catch (e) {
    if (e instanceof TestSkip) {
      out.push(`1..0 # SKIP ${e.message}`);
      status = "skip";
      exit = KSFT_SKIP;
    } else if (e instanceof TestFailure) {
      out.push(...failureBanner(t.file, e));
      status = "fail";
      exit = KVM_TEST_FAIL;
    } else {
      throw e;
    }
  }
  for (const l of out) lines.push(`# ${l}`);
  const tag = `selftests: kvm: ${t.name}`;
  if (status === "pass") lines.push(`ok ${n} ${tag}`);
  else if (status === "skip") lines.push(`ok ${n} ${tag} # SKIP`);
  else lines.push(`not ok ${n} ${tag} # exit=${exit}`);
  return { lines, status };
}
