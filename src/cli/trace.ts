import { closeSync, openSync, writeSync } from "node:fs";
import type { Command } from "commander";
import {
  ChromeTraceSink,
  DEFAULT_TRACE_MAX_BYTES,
  TraceSizeCapError,
} from "../report/chrome-trace.js";
import { runScenario } from "../scenario/runner.js";
import { fail, parseDur, parseSeed } from "./flags.js";
import { scenarioOrExit } from "./io.js";
import { Progress } from "./progress.js";

interface TraceOpts {
  output: string;
  maxSize: string;
  seed?: string;
  duration?: string;
  variant?: string;
}

/** `--max-size` in MB (1 MB = 1 000 000 bytes) to bytes. */
function parseMaxSize(v: string): number {
  const mb = /^\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
  const bytes = Math.floor(mb * 1_000_000);
  if (!Number.isFinite(bytes) || bytes <= 0)
    fail(`--max-size: "${v}" is not a positive size in MB (e.g. 100, 0.5)`);
  return bytes;
}

/**
 * Adds `vpmu trace <file> -o <out>`: runs a scenario and streams a Chrome Trace Event JSON
 * timeline (Perfetto UI, chrome://tracing) into `<out>`. Exit codes: 0 written, 2 bad input
 * or the size cap reached (the file is then a valid trace of the run up to that point).
 */
export function registerTraceCommand(program: Command): void {
  program
    .command("trace")
    .description(
      "run a scenario and write a Chrome Trace Event JSON timeline (Perfetto UI, chrome://tracing)",
    )
    .argument("<file>", "scenario file (YAML or JSON)")
    .requiredOption("-o, --output <file>", "trace file to write (e.g. trace.json)")
    .option(
      "--max-size <MB>",
      "stop at this trace size in MB",
      String(DEFAULT_TRACE_MAX_BYTES / 1e6),
    )
    .option("-s, --seed <n>", "seed (overrides the scenario's)")
    .option("-d, --duration <time>", "simulated duration (overrides the scenario's), e.g. 500ms")
    .option("--variant <name>", "trace this variant of a scenario with variants")
    .action((file: string, o: TraceOpts) => {
      const seed = parseSeed(o.seed);
      const duration = parseDur(o.duration);
      const maxBytes = parseMaxSize(o.maxSize);
      const sc = scenarioOrExit(file, o.variant);
      let fd: number;
      try {
        fd = openSync(o.output, "w");
      } catch (e) {
        fail(`cannot write ${o.output} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
      }
      const sink = new ChromeTraceSink(
        (s) => {
          writeSync(fd, s);
        },
        { machine: sc.machine, endTime: duration ?? sc.duration, maxBytes },
      );
      const progress = new Progress();
      let capped: TraceSizeCapError | null = null;
      try {
        runScenario(sc, {
          seed,
          duration,
          traceSinks: [sink],
          onProgress: (now, total) => progress.update(now, total),
        });
        sink.close();
      } catch (e) {
        if (e instanceof TraceSizeCapError) capped = e;
        else {
          // Keep the file valid JSON whatever went wrong, then let the error through.
          try {
            sink.close();
          } catch {}
          throw e;
        }
      } finally {
        progress.stop();
        closeSync(fd);
      }
      if (capped) fail(`${capped.message}; raise it with --max-size`);
      process.stdout.write(
        `wrote ${sink.eventsWritten} trace events (${sink.bytesWritten} bytes) to ${o.output}\n`,
      );
    });
}
