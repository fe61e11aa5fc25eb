import { System } from "../src/system.js";

// Every System built in a test checks the model's invariants and stops at the first
// violation; tests that expect findings pass checkInvariants: "record".
System.defaultInvariantMode = "throw";
