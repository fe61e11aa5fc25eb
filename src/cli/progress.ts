import cliProgress from "cli-progress";

/**
 * A progress bar on stderr for long runs: shown only on a TTY, and only once a run has
 * taken more than a second of wall time.
 */
export class Progress {
  private readonly start = Date.now();
  private bar: cliProgress.SingleBar | null = null;

  update(now: number, total: number): void {
    if (!process.stderr.isTTY) return;
    if (!this.bar) {
      if (Date.now() - this.start < 1000) return;
      this.bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: "simulating [{bar}] {percentage}% | {value}/{total} ms simulated",
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.round(total / 1e6), 0);
    }
    this.bar.update(Math.round(now / 1e6));
  }

  stop(): void {
    this.bar?.stop();
  }
}
