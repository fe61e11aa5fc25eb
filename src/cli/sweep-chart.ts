import type { Command } from "commander";

/** `vpmu sweep chart`: registered once the SVG writer is in. */
export function registerSweepChart(_sweep: Command): void {}
