// The page's basemap, in Debian's headless Chromium driven by playwright-core. The server's
// basemap is a stub tile server on loopback (tests/e2e/test_page.py): its tiles are drawn; the
// aerial imagery is chosen with the switch; then, the stub's host refused by the browser
// (as an offline network would), the page says the basemap is out of reach and draws the
// territories' outlines from Foncier's own tiles. Choosing a territory outlines it and
// frames it; opening a parcel's dossier zooms to the parcel. At 1440×900 and 390×844.
// Usage: node basemap.spec.mjs '{"baseUrl":…,"outDir":…,"stubOrigin":…,"placeQuery":…,
//   "placeName":…,"parcelId":…}'
// Prints a JSON summary; exits 1 with the reason on any failure.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import path from "node:path";

const args = JSON.parse(process.argv[2]);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 60000; // generous: the test shares two cores with other runs
const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const shot = (name) => path.join(args.outDir, name);

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const problems = [];
const summary = {};

function watch(page, refused = false) {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (msg) => {
    const url = msg.location().url || "";
    // the refused basemap host: what this test makes happen
    if (refused && url.startsWith(args.stubOrigin)) return;
    if (msg.type() === "error") problems.push(`console error: ${msg.text()} (${url})`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} ${response.url()}`);
  });
}

async function axe(page, name) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"] } }));
  const serious = result.violations.filter((v) => ["serious", "critical"].includes(v.impact));
  for (const v of serious) {
    problems.push(`axe ${name}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target).join(" | ")}`);
  }
  return { violations: result.violations.map((v) => `${v.id}:${v.impact}`), serious: serious.length };
}

const rendered = (page, layer) =>
  page.evaluate((l) => window.foncierMap.queryRenderedFeatures({ layers: [l] }).length, layer);

async function open(context, refused) {
  const page = await context.newPage();
  watch(page, refused);
  if (refused) await page.route(`${args.stubOrigin}/**`, (route) => route.abort("connectionrefused"));
  await page.goto(`${args.baseUrl}/`, { timeout: TIMEOUT });
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  return page;
}

async function choosePlace(page) {
  await page.fill("#place", "");
  await page.type("#place", args.placeQuery, { delay: 30 });
  const option = page.locator("#place-list li", { hasText: args.placeName }).first();
  await option.waitFor({ timeout: TIMEOUT });
  await option.click();
  await page.waitForFunction(() => window.foncierMap.loaded() && window.foncierMap.areTilesLoaded(),
    null, { timeout: TIMEOUT });
  await page.waitForFunction(
    () => window.foncierMap.queryRenderedFeatures({ layers: ["territory-communes"] }).length > 0,
    null, { timeout: TIMEOUT });
}

try {
  // 1. the basemap host answers (the stub): its tiles are drawn, no notice
  const desk = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "fr-FR" });
  let page = await open(desk, false);
  await page.waitForSelector("body[data-basemap=drawn]", { timeout: TIMEOUT });
  await choosePlace(page);
  summary.stub = {
    notice: await page.locator("#basemap-notice").isVisible(),
    switchShown: await page.locator("#basemap-switch").isVisible(),
    territory: await rendered(page, "territory-communes"),
    centre: await page.evaluate(() => window.foncierMap.getCenter().toArray()),
    attribution: await page.locator(".maplibregl-ctrl-attrib").innerText(),
    blocMarque: await page.locator("#bloc-marque").isVisible(),
    developerLinks: await page.$$eval("#developers a", (links) => links.map((a) => a.getAttribute("href"))),
  };
  await page.screenshot({ path: shot("07-basemap-stub.png") });
  // the aerial imagery, from the switch
  await page.check("#basemap-switch input[value=aerial]");
  await page.waitForFunction(() => window.foncierMap.getLayoutProperty("basemap-aerial", "visibility") === "visible"
    && Number(document.body.dataset.aerialTiles) > 0, null, { timeout: TIMEOUT });
  summary.aerial = await page.evaluate(() => window.foncierMap.getLayoutProperty("basemap", "visibility"));
  await page.close();

  // 2. the host refused: the notice, the outlines from Foncier's tiles, the territory
  page = await open(desk, true);
  await page.waitForSelector("#basemap-notice:not([hidden])", { timeout: TIMEOUT });
  await choosePlace(page);
  summary.fallback = {
    notice: await page.locator("#basemap-notice").innerText(),
    state: await page.evaluate(() => document.body.dataset.basemap),
    communes: await rendered(page, "communes-line"),
    paper: await page.evaluate(() => window.foncierMap.getPaintProperty("communes-fill", "fill-opacity")),
    territory: await rendered(page, "territory-communes"),
  };
  // an answer flagged synthetic beside its source shows the notice (the hook the API fills)
  summary.syntheticBefore = await page.locator("#synthetic-notice").isVisible();
  await page.evaluate(() => window.foncierNoteSynthetic({ source: { synthetic: true } }, "la consommation d'espaces"));
  summary.synthetic = await page.locator("#synthetic-notice").innerText();
  await page.evaluate(() => { document.querySelector("#synthetic-notice").hidden = true; });
  await page.screenshot({ path: shot("08-basemap-unreachable.png") });
  summary.axeFallback = await axe(page, "fallback");
  // a parcel's dossier zooms to the parcel
  await page.goto(`${args.baseUrl}/?dossier=parcel:${args.parcelId}`, { timeout: TIMEOUT });
  await page.waitForSelector(`#dossier[data-parcel="${args.parcelId}"]`, { timeout: TIMEOUT });
  summary.parcel = await page.evaluate(() => ({
    zoom: window.foncierMap.getZoom(), centre: window.foncierMap.getCenter().toArray() }));
  summary.dossierText = (await page.locator("#dossier").innerText()).slice(0, 3000);
  await page.screenshot({ path: shot("09-dossier-1440.png") });
  await desk.close();

  // 3. a 390 px phone, the host refused
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "fr-FR" });
  page = await open(phone, true);
  await page.waitForSelector("#basemap-notice:not([hidden])", { timeout: TIMEOUT });
  await choosePlace(page);
  summary.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  await page.screenshot({ path: shot("10-phone-unreachable.png") });
  summary.axePhone = await axe(page, "phone");
  await phone.close();

  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify(summary));
} catch (error) {
  console.error(`${error.message}${problems.length ? "\n" + problems.join("\n") : ""}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
