#!/usr/bin/env node
/**
 * The `vpmu` command (the package's bin). A sweep's worker threads start here, before the
 * CLI's modules load, so that they read the sweep and run points while this thread loads.
 */
import { prestartSweep } from "./sweep-prestart.js";

prestartSweep(process.argv.slice(2));
await import("./main.js");
