import { EventQueue } from "../sim/queue.js";
import { Cpu } from "./cpu.js";
import type { CoreType, MachineDesc } from "./machine-desc.js";

export type { CoreType, MachineDesc, UncoreDesc } from "./machine-desc.js";

/** The runtime machine: CPUs with live PMU registers. */
export class Machine {
  readonly cpus: Cpu[];
  private readonly types = new Map<string, CoreType>();

  constructor(
    readonly desc: MachineDesc,
    readonly queue: EventQueue = new EventQueue(),
  ) {
    for (const t of desc.coreTypes) this.types.set(t.name, t);
    this.cpus = desc.cpus.map((c, i) => new Cpu(i, this.coreType(c.coreType), c.cluster, queue));
  }

  /** A core type by name (throws on an unknown name: descriptions are validated first). */
  coreType(name: string): CoreType {
    const t = this.types.get(name);
    if (!t) throw new Error(`unknown core type ${name}`);
    return t;
  }

  /** Number of CPUs (nr_cpu_ids). */
  get nrCpus(): number {
    return this.cpus.length;
  }

  /** CPU ids of one core type. */
  cpusOf(coreType: string): number[] {
    return this.cpus.filter((c) => c.coreType.name === coreType).map((c) => c.id);
  }
}
