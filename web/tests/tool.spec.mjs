// The page as a tool, in Debian's headless Chromium driven by playwright-core: find a
// place, search its EPCI's parcels, open a dossier, export a GeoPackage, search sites,
// authorise a project from the prefecture's dashboard; a phone-sized view; axe-core.
// Usage: node tool.spec.mjs '{"baseUrl":…,"outDir":…,"placeQuery":"paray",
//   "placeName":"Paray-Vieille-Poste","epciName":…,"profile":…,"minArea":…,
//   "prefectureToken":…,"projectId":…}'
// Prints a JSON summary; exits 1 with the reason on any failure (an HTTP answer ≥ 400,
// a page error, a serious accessibility violation, a step that does not happen).
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
  // WebGL on the CPU (no GPU here); no sandbox because CI runs as root.
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const problems = [];
const summary = { requests: 0 };

function watch(page) {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()} (${msg.location().url})`);
  });
  page.on("response", (response) => {
    summary.requests += 1;
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

async function choosePlace(page, query, name) {
  await page.fill("#place", "");
  await page.type("#place", query, { delay: 30 });
  const option = page.locator("#place-list li", { hasText: name }).first();
  await option.waitFor({ timeout: TIMEOUT });
  return option;
}

try {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 }, acceptDownloads: true, locale: "fr-FR" });
  const page = await context.newPage();
  watch(page);
  await page.goto(`${args.baseUrl}/`, { timeout: TIMEOUT });
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  summary.landmarks = await page.evaluate(() => ({
    search: !!document.querySelector("[role=search]"),
    main: !!document.querySelector("main"),
    nav: !!document.querySelector("nav"),
  }));

  // 1. "paray" suggests Paray-Vieille-Poste; choosing it frames the map on it.
  const paray = await choosePlace(page, args.placeQuery, args.placeName);
  summary.suggestions = await page.locator("#place-list li").allInnerTexts();
  await page.screenshot({ path: shot("01-place-search.png") });
  await paray.click();
  await page.waitForFunction((name) => document.querySelector("#territory").innerText.includes(name),
    args.placeName, { timeout: TIMEOUT });
  summary.placeCentre = await page.evaluate(() => window.foncierMap.getCenter().toArray());

  // 2. the parcels of an EPCI, with a profile and a minimum area, with the keyboard
  await choosePlace(page, args.epciQuery, args.epciName);
  await page.keyboard.press("ArrowDown");
  let index = await page.evaluate((name) =>
    [...document.querySelectorAll("#place-list li")].findIndex((li) => li.innerText.startsWith(name)), args.epciName);
  for (let i = 0; i < index; i += 1) await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await page.waitForFunction((name) => document.querySelector("#territory").innerText.includes(name),
    args.epciName, { timeout: TIMEOUT });
  await page.selectOption("#profile", args.profile);
  await page.fill("#f-min_area", String(args.minArea));
  await page.click("#run");
  await page.waitForSelector("#results-table tbody tr[data-id]", { timeout: TIMEOUT });
  await page.waitForFunction(() => window.foncierMap.queryRenderedFeatures({ layers: ["results-fill"] }).length > 0,
    null, { timeout: TIMEOUT });
  summary.resultsSummary = await page.locator("#results-summary").innerText();
  summary.numberMatched = parseInt(summary.resultsSummary.replace(/\s/g, ""), 10);
  summary.rows = await page.locator("#results-table tbody tr").count();
  summary.url = page.url();
  // a count too costly is left out (geo/db/count.py): the page says what its pages tell
  summary.moreThan = await page.evaluate(() =>
    window.foncier.matchedText({ numberReturned: 20, links: [{ rel: "self" }, { rel: "next" }] }, 9980));
  // sort by area, then back to score
  await page.click("#results-table button.sort[data-sort=area]");
  await page.waitForFunction(() => location.search.includes("sort=-area"), null, { timeout: TIMEOUT });
  await page.waitForSelector("#results-table th[aria-sort=descending] button[data-sort=area]", { timeout: TIMEOUT });
  const areas = await page.$$eval("#results-table tbody tr td.area", (tds) =>
    tds.map((td) => parseFloat(td.innerText.replace(/\s/g, "").replace(",", "."))));
  summary.sortedByArea = areas.every((a, i) => i === 0 || areas[i - 1] >= a);
  await page.click("#results-table button.sort[data-sort=score]");
  await page.waitForFunction(() => !location.search.includes("sort="), null, { timeout: TIMEOUT });
  await page.waitForSelector("#results-table th[aria-sort=descending] button[data-sort=score]", { timeout: TIMEOUT });
  await page.hover("#results-table tbody tr:first-child td:nth-child(2)");
  await page.screenshot({ path: shot("02-parcel-results.png") });
  summary.axeResults = await axe(page, "results");

  // 3. the first result's dossier, and its print view
  const first = await page.locator("#results-table tbody tr").first().getAttribute("data-id");
  await page.click(`#results-table a[data-open="parcel:${first}"]`);
  await page.waitForSelector(`#dossier[data-parcel="${first}"]`, { timeout: TIMEOUT });
  await page.waitForFunction(() => [...document.querySelectorAll("#dossier img")].every((i) => i.complete));
  summary.dossier = { id: first, text: (await page.locator("#dossier").innerText()).slice(0, 400),
    criteria: await page.locator("#dossier table.criteria tbody tr").count() };
  await page.screenshot({ path: shot("03-parcel-dossier.png") });
  await page.emulateMedia({ media: "print" });
  await page.screenshot({ path: shot("03-parcel-dossier-print.png"), fullPage: true });
  await page.pdf({ path: shot("dossier.pdf"), format: "A4" }).catch(() => {}); // headless only
  await page.emulateMedia({ media: "screen" });
  summary.axeDossier = await axe(page, "dossier");

  // 4. the results as a GeoPackage, from the page's button
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-gpkg")]);
  summary.gpkg = shot("export.gpkg");
  await download.saveAs(summary.gpkg);

  // custom weights: the slope counted twice, the rail siding not at all
  await page.click("#close-dossier");
  await page.click("#weights-box summary");
  await page.selectOption("#w-slope", "2");
  await page.selectOption("#w-rail_siding", "");
  await page.click("#run");
  await page.waitForFunction(() => location.search.includes("weights="), null, { timeout: TIMEOUT });
  await page.waitForSelector("#results-table tbody tr[data-id]", { timeout: TIMEOUT });
  summary.weights = JSON.parse(new URL(page.url()).searchParams.get("weights"));

  // 5. a site search, drawn on the map
  await page.check("input[name=mode][value=sites]");
  await page.fill("#site_area", String(args.siteArea));
  await page.click("#run");
  await page.waitForSelector("#results-table tbody tr[data-id^=site]", { timeout: TIMEOUT });
  await page.waitForFunction(() => window.foncierMap.queryRenderedFeatures({ layers: ["results-line"] }).length > 0,
    null, { timeout: TIMEOUT });
  summary.sites = await page.locator("#results-table tbody tr").count();
  summary.sitesDrawn = await page.evaluate(() => new Set(
    window.foncierMap.queryRenderedFeatures({ layers: ["results-line"] })
      .map((f) => f.properties.id).filter((id) => id && id.startsWith("site-"))).size);
  await page.click("#results-table a[data-open='site:site-1']");
  await page.waitForSelector("#dossier[data-site=site-1]", { timeout: TIMEOUT });
  await page.screenshot({ path: shot("04-sites.png") });
  summary.sitesUrl = page.url();

  // 6. the state is in the address: the link opens the same search
  const shared = await context.newPage();
  watch(shared);
  await shared.goto(summary.url, { timeout: TIMEOUT });
  await shared.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  await shared.waitForSelector("#results-table tbody tr[data-id]", { timeout: TIMEOUT });
  summary.sharedSummary = await shared.locator("#results-summary").innerText();
  await shared.close();

  // 7. the dashboard: a prefecture's token authorises a planned project; the gauge moves
  await page.click("#nav-dashboard");
  await page.waitForSelector("#dash-envelope[data-loaded=true]", { timeout: TIMEOUT });
  await page.fill("#token", args.prefectureToken);
  await page.click("#token-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#whoami").innerText.startsWith("Connecté"), null, { timeout: TIMEOUT });
  const button = `#projects-table button[data-project="${args.projectId}"][data-status=authorised]`;
  await page.waitForSelector(button, { timeout: TIMEOUT });
  const before = await page.evaluate(() => ({ ...document.querySelector("#dash-envelope").dataset,
    width: document.querySelector("#dash-envelope .reserved").style.width }));
  await page.click(button);
  // authorising asks its act and its reason (the date defaults to today), then a confirmation
  await page.fill("#a-act", "arrêté préfectoral n° 2026-001");
  await page.fill("#a-reason", "permis de construire accordé");
  await page.click("#authorise-form button[type=submit]");
  await page.click("#authorise-yes");
  await page.waitForFunction((b) => document.querySelector("#dash-envelope").dataset.reserved !== b,
    before.reserved, { timeout: TIMEOUT });
  const after = await page.evaluate(() => ({ ...document.querySelector("#dash-envelope").dataset,
    width: document.querySelector("#dash-envelope .reserved").style.width }));
  summary.gauge = { before, after };
  // the gauge and the projects table are reloaded side by side: read the row once it is
  // drawn again (the assertion on its status stays in tests/e2e/test_page.py)
  await page.waitForSelector(`#projects-table tr[data-project="${args.projectId}"] td[data-status="authorised"]`,
    { timeout: TIMEOUT }).catch(() => {});
  summary.projectStatus = await page.locator(`#projects-table tr[data-project="${args.projectId}"] td[data-status]`).getAttribute("data-status");
  await page.locator("#dashboard-title").scrollIntoViewIfNeeded();
  await page.screenshot({ path: shot("05-dashboard.png") });
  await page.locator("#dash-projects").scrollIntoViewIfNeeded();
  await page.screenshot({ path: shot("05-dashboard-projects.png") });
  await page.waitForSelector("#trajectories h4", { timeout: TIMEOUT });
  await page.click("#trajectories [data-trajectory]");
  await page.waitForSelector("#dossier[data-trajectory] .trajectory img", { timeout: TIMEOUT });
  // a refused write is said in words: authorising it again is a conflict
  await page.evaluate((id) => window.foncier.changeStatus(id, "authorised",
    { act: "arrêté n° 2", occurred_on: new Date().toISOString().slice(0, 10) }), args.projectId);
  await page.waitForSelector("#status.error", { timeout: TIMEOUT });
  summary.refusal = await page.locator("#status").innerText();
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes(`/projects/${args.projectId}/status`)));
  await page.screenshot({ path: shot("05-dashboard-trajectory.png") });
  summary.axeDashboard = await axe(page, "dashboard");

  // 8. a 390 px phone
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "fr-FR" });
  const mobile = await phone.newPage();
  watch(mobile);
  await mobile.goto(summary.url, { timeout: TIMEOUT });
  await mobile.waitForSelector("#results-table tbody tr[data-id]", { timeout: TIMEOUT });
  await mobile.waitForFunction(() => window.foncierMap.loaded() && window.foncierMap.areTilesLoaded(),
    null, { timeout: TIMEOUT });
  summary.phoneOverflow = await mobile.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  await mobile.screenshot({ path: shot("06-phone.png") });
  summary.axePhone = await axe(mobile, "phone");
  await phone.close();

  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify(summary));
} catch (error) {
  console.error(`${error.message}${problems.length ? "\n" + problems.join("\n") : ""}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
