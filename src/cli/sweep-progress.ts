import cliProgress from "cli-progress";

/** A sweep's progress bar on stderr: points done, rate, ETA; only on a terminal. */
export class SweepProgress {
  private readonly bar: cliProgress.SingleBar | null = null;
  private readonly start = Date.now();
  private done = 0;

  constructor(total: number) {
    if (!process.stderr.isTTY || total === 0) return;
    this.bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: "sweep [{bar}] {value}/{total} points | {rate} points/s | ETA {eta_formatted}",
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { rate: "0.0" });
  }

  tick(): void {
    this.done++;
    if (!this.bar) return;
    const s = (Date.now() - this.start) / 1000;
    this.bar.update(this.done, { rate: (s > 0 ? this.done / s : 0).toFixed(1) });
  }

  stop(): void {
    this.bar?.stop();
  }
}
