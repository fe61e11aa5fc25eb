import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The playground: a static folder (relative URLs, so any static host can serve it) built
// by `npm run build:web` into dist/playground/, served by `vpmu playground`.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  logLevel: "warn",
  worker: { format: "es" },
  build: {
    outDir: fileURLToPath(new URL("../dist/playground", import.meta.url)),
    emptyOutDir: true,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2000,
  },
});
