import type { Ns } from "./time.js";

/**
 * Typed trace records, keyed by kind. Subsystems add their own kinds by augmenting this
 * interface (`declare module "../sim/trace.js"`), so the bus stays one typed stream.
 */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by each subsystem
export interface TraceRecordMap {}

/** Every trace record: a kind, the simulated time, and the kind's own fields. */
export type TraceRecord = {
  [K in keyof TraceRecordMap]: { kind: K; t: Ns } & TraceRecordMap[K];
}[keyof TraceRecordMap];

/** Something that consumes trace records. */
export interface TraceSink {
  write(record: TraceRecord): void;
  /** Called once at the end of a run. */
  close?(): void;
}

/**
 * The trace bus. Emitters check `enabled` before building a record, so a run without
 * sinks allocates nothing for tracing.
 */
export class TraceBus {
  private sinks: TraceSink[] = [];
  /** True when at least one sink is attached. */
  enabled = false;

  /** Attaches a sink. */
  attach(sink: TraceSink): void {
    this.sinks.push(sink);
    this.enabled = true;
  }

  /** Sends a record to every sink. */
  emit(record: TraceRecord): void {
    for (const s of this.sinks) s.write(record);
  }

  /** Closes every sink. */
  close(): void {
    for (const s of this.sinks) s.close?.();
  }
}

/** Keeps every record in memory (tests, small runs). */
export class MemorySink implements TraceSink {
  readonly records: TraceRecord[] = [];
  write(record: TraceRecord): void {
    this.records.push(record);
  }
}

/**
 * Streams records as JSON lines through a caller-supplied writer (a file stream in the
 * CLI, anything in a browser), so large runs never hold the trace in memory.
 */
export class JsonLinesSink implements TraceSink {
  /** @param writeLine Receives each line, newline included. */
  constructor(private readonly writeLine: (line: string) => void) {}
  write(record: TraceRecord): void {
    this.writeLine(JSON.stringify(record) + "\n");
  }
}
