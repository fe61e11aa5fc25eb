import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The HTML report's viewer: one IIFE file (CSS inlined into it) that `vpmu report`
// embeds in every report. Built by `npm run build` into dist/viewer/.
export default defineConfig({
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/viewer", import.meta.url)),
    emptyOutDir: true,
    lib: {
      entry: fileURLToPath(new URL("viewer/entry.ts", import.meta.url)),
      formats: ["iife"],
      name: "vpmuViewer",
      fileName: () => "viewer.js",
    },
    minify: true,
    reportCompressedSize: false,
  },
});
