import { cpuSubject } from "./cpu.js";
import { eventSubject } from "./event.js";
import type { SubjectKind } from "./subject.js";
import { taskSubject } from "./task.js";
import { truthSubject } from "./truth.js";
import { vcpuSubject } from "./vcpu.js";

/**
 * Every expectation subject, in the order messages list them. Adding a subject: its file,
 * and one line here.
 */
export const EXPECT_SUBJECTS: readonly SubjectKind[] = [
  truthSubject,
  taskSubject,
  cpuSubject,
  eventSubject,
  vcpuSubject,
];
