import type { MeasurementResult } from "../../report/result.js";

/**
 * The results of host and guest measurements by name, with what is left to do at the end of
 * the run: guest measurements read their counters then (the reads may wait for the vCPU),
 * and host measurements a shortened run (--duration) cut off are stopped there.
 */
export class MeasurementTable {
  private readonly results = new Map<string, MeasurementResult>();
  private readonly guestReads = new Map<string, () => MeasurementResult>();
  private readonly host = new Map<string, { stop(): MeasurementResult }>();
  /** The host measurement that opened each perf event, by event id (the report's labels). */
  readonly eventOwners = new Map<number, string>();

  get(name: string): MeasurementResult | undefined {
    return this.results.get(name);
  }

  set(name: string, r: MeasurementResult): void {
    this.results.set(name, r);
  }

  /** A guest measurement that stopped: its result is read at the end of the run. */
  readAtEnd(name: string, read: () => MeasurementResult): void {
    this.guestReads.set(name, read);
  }

  /** A host measurement that started; stopped at the end of the run if it is still on. */
  started(name: string, stat: { stop(): MeasurementResult }): void {
    this.host.set(name, stat);
  }

  /** Events [firstId, endId) were opened by host measurement `name`. */
  opened(name: string, firstId: number, endId: number): void {
    for (let id = firstId; id < endId; id++) this.eventOwners.set(id, name);
  }

  /** The end of the run: the guest reads, then the host measurements still running. */
  finish(): void {
    for (const [name, read] of this.guestReads) this.results.set(name, read());
    for (const [name, stat] of this.host) {
      if (!this.results.has(name)) this.results.set(name, stat.stop());
    }
  }
}
