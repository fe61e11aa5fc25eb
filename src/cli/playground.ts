import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { EXIT_USAGE } from "./flags.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".yaml": "text/yaml; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** The folder `npm run build:web` writes (dist/playground/). */
export function playgroundDir(): string {
  return fileURLToPath(new URL("../playground/", import.meta.url));
}

/** The file under `root` a request path names, or null (outside it, or missing). */
function fileFor(root: string, urlPath: string): string | null {
  let p: string;
  try {
    p = decodeURIComponent(urlPath.split("?")[0]!);
  } catch {
    return null;
  }
  const full = normalize(join(root, p.endsWith("/") ? `${p}index.html` : p));
  if (full !== root && !full.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  return existsSync(full) && statSync(full).isFile() ? full : null;
}

/**
 * Adds `vpmu playground`: serves the browser playground (the simulator in a Web Worker)
 * from dist/playground on 127.0.0.1 and prints its URL. A static folder: any static host
 * serves it the same.
 */
export function registerPlaygroundCommand(program: Command): void {
  program
    .command("playground")
    .description("serve the browser playground on 127.0.0.1 and print its URL")
    .option("-p, --port <n>", "port (0: any free port)", "5178")
    .action((o: { port: string }) => {
      const root = playgroundDir();
      if (!existsSync(join(root, "index.html"))) {
        process.stderr.write(
          `vpmu: the playground is not built (${root} is missing): run npm run build:web\n`,
        );
        process.exit(EXIT_USAGE);
      }
      const port = /^\d+$/.test(o.port) && Number(o.port) < 65536 ? Number(o.port) : -1;
      if (port < 0) {
        process.stderr.write(`vpmu: --port: "${o.port}" is not a port number (0-65535)\n`);
        process.exit(EXIT_USAGE);
      }
      const server = createServer((req, res) => {
        const file =
          req.method === "GET" || req.method === "HEAD" ? fileFor(root, req.url ?? "/") : null;
        if (!file) {
          res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
          return;
        }
        res.writeHead(200, {
          "content-type": TYPES[extname(file)] ?? "application/octet-stream",
          "cache-control": "no-cache",
        });
        res.end(req.method === "HEAD" ? undefined : readFileSync(file));
      });
      server.on("error", (e: NodeJS.ErrnoException) => {
        process.stderr.write(`vpmu: cannot listen on 127.0.0.1:${port} (${e.code ?? e.message})\n`);
        process.exit(EXIT_USAGE);
      });
      server.listen(port, "127.0.0.1", () => {
        const addr = server.address();
        const p = typeof addr === "object" && addr ? addr.port : port;
        process.stdout.write(`vpmu playground: http://127.0.0.1:${p}/ (Ctrl-C to stop)\n`);
      });
    });
}
