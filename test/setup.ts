import { System } from "../src/system.js";

// Every System built in a test checks the model's invariants and stops at the first
// violation; tests that expect findings pass checkInvariants: "record". The "unchecked"
// vitest project (vitest.config.ts) sets VPMU_TEST_UNCHECKED=1 and runs the x86 guest files
// again without the checker, as `vpmu run` does: the checker watches every state change,
// which turns lazy guest loads off.
System.defaultInvariantMode = process.env.VPMU_TEST_UNCHECKED === "1" ? false : "throw";
