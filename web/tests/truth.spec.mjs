// The page shows only what it knows (tests/e2e/test_page.py): the synthetic-data notice from
// the first screen, the risk-plan and NAF-land filters as French checkboxes, and an empty
// search's explanation as the API gives it (why_empty.message).
// Usage: node truth.spec.mjs '{"baseUrl": …, "epci": …}'; prints a JSON summary, exits 1
// with the reason on any failure.
import { chromium } from "playwright-core";

const { baseUrl, epci } = JSON.parse(process.argv[2]);
const TIMEOUT = 30000;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const problems = [];
let page;
try {
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // a search of the EPCI's vacant land, run from the address, finds nothing: no commune
  // of the test's database has a building layer
  await page.goto(`${baseUrl}/?place=epci:${epci}&place_name=EPCI&land_use=vacant&run=1`,
    { timeout: TIMEOUT });
  await page.waitForSelector("#synthetic-notice:not([hidden])", { timeout: TIMEOUT });
  await page.waitForSelector("#results:not([hidden])", { timeout: TIMEOUT });
  const result = {
    notice: await page.locator("#synthetic-notice").innerText(),
    risk: await page.locator("#f-exclude_risk").innerText(),
    landCover: await page.locator("#f-land_cover").innerText(),
    checkboxes: await page.locator("#f-exclude_risk input[type=checkbox], #f-land_cover input[type=checkbox]").count(),
    summary: await page.locator("#results-summary").innerText(),
  };
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify(result));
} catch (error) {
  const status = page ? await page.locator("#status").innerText().catch(() => "") : "";
  console.error(`${error.stack || error}\nstatus: ${status}\n${problems.join("\n")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
