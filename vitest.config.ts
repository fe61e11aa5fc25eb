import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// Three projects. "checked": every test but the integration ones, with the invariant checker on every
// simulated System (test/setup.ts). "unchecked": the files whose Systems run x86 guests
// without an explicit checker mode, again with the checker off, as `vpmu run` runs: the
// checker watches every state change, which turns lazy guest loads off, so only these files
// exercise a different path without it. Tests that spawn the CLI, write traces (lazy loads
// off anyway), run arm64 guests (no lazy path) or pin checkInvariants themselves run once.
// "integration": the files that drive real programs (Chromium, the perf binary, GNU
// parallel and the deploy recipes), checked too; `npm run test:all` runs them with the
// rest, `npm test` leaves them out (scripts/test.mjs).
const INTEGRATION = [
  "test/browser.test.ts",
  "test/browser-sweep.test.ts",
  "test/deploy.test.ts",
  "test/exec-perf.test.ts",
  "test/exec-record.test.ts",
];
const UNCHECKED = [
  "test/determinism.test.ts",
  "test/guest-record.test.ts",
  "test/guest-switch.test.ts",
  "test/kvm-x86-amd.test.ts",
  "test/kvm-x86.test.ts",
  "test/overhead.test.ts",
  "test/perf-guest.test.ts",
  "test/robustness.test.ts",
  "test/scenario-variants.test.ts",
];

export default defineConfig({
  test: {
    pool: "threads",
    // Every core: vitest leaves one idle by default, which halves a 2-core machine.
    maxWorkers: availableParallelism(),
    // Test files share a worker's module cache: src/ is transformed and loaded once per
    // worker, not once per file. No test leaves module state changed (test/setup.ts sets
    // the checker's default, the same in every file of a project).
    isolate: false,
    testTimeout: 60_000,
    setupFiles: ["test/setup.ts"],
    projects: [
      {
        extends: true,
        test: { name: "checked", include: ["test/**/*.test.ts"], exclude: INTEGRATION },
      },
      { extends: true, test: { name: "integration", include: INTEGRATION } },
      {
        extends: true,
        test: { name: "unchecked", include: UNCHECKED, env: { VPMU_TEST_UNCHECKED: "1" } },
      },
    ],
  },
});
