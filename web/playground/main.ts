import { autocompletion } from "@codemirror/autocomplete";
import { yaml } from "@codemirror/lang-yaml";
import {
  type Diagnostic as CmDiagnostic,
  linter,
  lintGutter,
  setDiagnostics,
} from "@codemirror/lint";
import { basicSetup, EditorView } from "codemirror";
import type { Diagnostic } from "../../src/scenario/diagnostics.js";
import { formatDiagnostic } from "../../src/scenario/diagnostics.js";
import { parseScenario } from "../../src/scenario/load.js";
import { scenarioJsonSchema } from "../../src/scenario/schema.js";
import { renderReport } from "../viewer/app.js";
import { schemaCompletion } from "./complete.js";
import type { FromWorker, ToWorker } from "./protocol.js";

const EXAMPLES = import.meta.glob("../../examples/*.yaml", {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;
const examples = Object.fromEntries(
  Object.entries(EXAMPLES).map(([p, t]) => [`examples/${p.split("/").pop()}`, t]),
);
const names = Object.keys(examples).sort();

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const picker = $<HTMLSelectElement>("example");
const runBtn = $<HTMLButtonElement>("run");
const cancelBtn = $<HTMLButtonElement>("cancel");
const truthBox = $<HTMLInputElement>("truth");
const progress = $<HTMLProgressElement>("progress");
const status = $<HTMLSpanElement>("status");
const errors = $<HTMLPreElement>("errors");
const output = $<HTMLDivElement>("output");

let fileName = names.includes("examples/x86-passthrough-rfc.yaml")
  ? "examples/x86-passthrough-rfc.yaml"
  : names[0]!;

/** A diagnostic's place in the editor: from its column to the end of the line. */
function toCm(view: EditorView, d: Diagnostic): CmDiagnostic {
  const doc = view.state.doc;
  const line = doc.line(Math.min(Math.max(1, d.line), doc.lines));
  const from = Math.min(line.to, line.from + Math.max(0, d.col - 1));
  return { from, to: Math.max(from, line.to), severity: "error", message: formatDiagnostic(d) };
}

const lint = linter((view) => {
  const r = parseScenario(view.state.doc.toString(), fileName);
  return r.ok ? [] : r.diagnostics.map((d) => toCm(view, d));
});

const editor = new EditorView({
  parent: $("editor"),
  doc: examples[fileName] ?? "",
  extensions: [
    basicSetup,
    yaml(),
    lint,
    lintGutter(),
    autocompletion({ override: [schemaCompletion(scenarioJsonSchema() as never)] }),
    EditorView.theme({ "&": { height: "100%" }, ".cm-scroller": { overflow: "auto" } }),
  ],
});

for (const n of names) picker.append(new Option(n, n, n === fileName, n === fileName));
picker.addEventListener("change", () => pick(picker.value));

function setText(text: string, name = "scenario.yaml"): void {
  fileName = name;
  editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: text } });
}

function pick(name: string): void {
  if (!(name in examples)) return;
  picker.value = name;
  setText(examples[name]!, name);
}

let worker: Worker | null = null;
let seq = 0;
let pending: { id: number; resolve: (m: FromWorker | { kind: "cancelled" }) => void } | null = null;
let lastJson: string | null = null;

function newWorker(): Worker {
  const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
  w.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);
  return w;
}

function busy(on: boolean): void {
  runBtn.disabled = on;
  cancelBtn.disabled = !on;
  progress.hidden = !on;
}

function onMessage(m: FromWorker): void {
  if (!pending || m.id !== pending.id) return;
  if (m.kind === "progress") {
    progress.value = m.done / m.total;
    status.textContent = `simulating… ${Math.floor((100 * m.done) / m.total)}%`;
    return;
  }
  busy(false);
  if (m.kind === "diagnostics") {
    errors.textContent = m.lines.join("\n");
    errors.hidden = false;
    editor.dispatch(
      setDiagnostics(
        editor.state,
        m.diagnostics.map((d) => toCm(editor, d)),
      ),
    );
    status.textContent = `${m.lines.length} error(s)`;
  } else if (m.kind === "crash") {
    errors.textContent = m.message;
    errors.hidden = false;
    status.textContent = "the simulator failed";
  } else {
    errors.hidden = true;
    lastJson = m.json;
    renderReport(output, m.page);
    status.textContent = `ran in ${m.ms.toFixed(0)} ms`;
  }
  const p = pending;
  pending = null;
  p.resolve(m);
}

/** Runs the editor's scenario in the worker; resolves with the worker's answer. */
function run(): Promise<FromWorker | { kind: "cancelled" }> {
  cancel();
  worker ??= newWorker();
  const id = ++seq;
  busy(true);
  progress.value = 0;
  status.textContent = "simulating…";
  const msg: ToWorker = {
    kind: "run",
    id,
    text: editor.state.doc.toString(),
    name: fileName,
    truth: truthBox.checked,
  };
  return new Promise((resolve) => {
    pending = { id, resolve };
    worker!.postMessage(msg);
  });
}

/** Stops a run: the worker is ended (a run is one synchronous loop) and a fresh one made. */
function cancel(): void {
  if (!pending) return;
  worker?.terminate();
  worker = null;
  busy(false);
  status.textContent = "cancelled";
  const p = pending;
  pending = null;
  p.resolve({ kind: "cancelled" });
}

runBtn.addEventListener("click", () => void run());
cancelBtn.addEventListener("click", cancel);
busy(false);

/** The page's handle for scripts and tests. */
(globalThis as { playground?: unknown }).playground = {
  examples: names,
  pick,
  setText,
  run,
  cancel,
  text: () => editor.state.doc.toString(),
  lastJson: () => lastJson,
  view: editor,
};
