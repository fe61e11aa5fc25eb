import type { RunContext } from "../run-context.js";
import { callResult } from "./call-result.js";
import type { ActionDecl } from "./compile.js";

/** Arms each action at its time; each call's result joins the run's calls. */
export function scheduleActions(actions: readonly ActionDecl[], run: RunContext): void {
  for (const a of actions) {
    run.sys.at(a.at, `action ${a.index}`, () => {
      const now = run.sys.now;
      const outcome = a.kind.execute(a.args, run);
      run.calls.push(callResult(now, a.do, a.label, outcome, a.expect));
    });
  }
}
