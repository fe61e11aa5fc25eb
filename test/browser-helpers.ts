import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { describe } from "vitest";

/**
 * A real Chromium for the page tests (Debian's, driven by playwright-core; no browser
 * download): the launcher and a page that records what a self-contained page must not do.
 */
export const CHROMIUM = process.env.VPMU_CHROMIUM ?? "/usr/bin/chromium";
// CI installs Debian's chromium (.ci/run) and must run these; elsewhere they are skipped
// with a note when it is missing.
export const haveChromium = existsSync(CHROMIUM);
/** `describe` for a suite that needs Chromium. */
export const browserSuite = haveChromium || process.env.CI === "true" ? describe : describe.skip;
if (!haveChromium)
  console.log(`skipping the browser tests: no ${CHROMIUM} (apt-get install chromium)`);

/** Starts the browser (headless, no sandbox: tests run as root in containers). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

/** A page that records console errors, page errors and every request off the page's own origin. */
export async function openPage(
  browser: Browser,
  url: string,
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  const origin = url.startsWith("http") ? new URL(url).origin : "file:";
  page.on("request", (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith("data:"))
      problems.push(`request: ${r.url()}`);
  });
  await page.goto(url);
  return { page, problems };
}
