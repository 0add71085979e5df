// Browser test of /docs with the network cut off: every request that does not go to the
// service (127.0.0.1) is aborted, as on a network without internet.
// Usage: node docs.spec.mjs BASE_URL SCREENSHOT
// Prints a JSON summary (operations listed, requests refused); exits 1 with the reason on
// any failure.
import { chromium } from "playwright-core";

const [baseUrl, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 30000;

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const problems = [];
const refused = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    refused.push(url.href);
    return route.abort("internetdisconnected");
  });
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} ${response.url()}`);
  });

  await page.goto(`${baseUrl}/docs`, { timeout: TIMEOUT });
  await page.waitForSelector(".opblock .opblock-summary-path", { timeout: TIMEOUT });
  const title = await page.locator(".info .title").innerText();
  const operations = await page.$$eval(".opblock", (blocks) =>
    blocks.map((block) => {
      const method = block.querySelector(".opblock-summary-method")?.textContent.trim();
      const path = block.querySelector(".opblock-summary-path")?.getAttribute("data-path");
      return `${method} ${path}`;
    }),
  );
  await page.screenshot({ path: screenshot });
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify({ title, operations, refused, screenshot }));
} catch (error) {
  console.error(`${error.message}${problems.length ? "\n" + problems.join("\n") : ""}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
