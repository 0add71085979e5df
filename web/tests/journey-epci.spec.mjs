// The journey of a chargé de mission at an EPCI, in French, in Debian's headless Chromium
// driven by playwright-core: find the EPCI, search its land, read the results, compare
// three candidates, print a parcel's dossier (its situation map), log in with a token,
// save the search with every kind of filter, see the alerts of an older saved search and
// open it again. At 1440×900 over a stub basemap, then at 390×844 with the basemap host
// refused (the fallback): the map collapses, the tables scroll within themselves, every
// panel is reachable. axe-core after each step; each click and each typed field counted.
// Usage: node journey-epci.spec.mjs '{"baseUrl":…,"outDir":…,"stubOrigin":…,"epciQuery":…,
//   "pdfDir":…,"epciName":…,"minArea":…,"siteArea":…,"token":…,"olderSearch":…,"saveName":…}'
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
const pdf = (name) => path.join(args.pdfDir, name);

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const problems = [];
const summary = { steps: [], axe: {} };
// what the user does, counted: clicks (a click, a checkbox, a choice in a list, Enter)
// and fields typed
const done = { clicks: 0, typed: 0 };

function step(name) {
  summary.steps.push({ step: name, clicks: done.clicks, typed: done.typed });
}

function watch(page, refused = false) {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (msg) => {
    const url = msg.location().url || "";
    if (refused && url.startsWith(args.stubOrigin)) return; // the refused host: on purpose
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
  for (const v of result.violations) {
    problems.push(`axe ${name}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target).join(" | ")}`);
  }
  summary.axe[name] = result.violations.length;
}

const click = async (page, selector) => { done.clicks += 1; await page.click(selector); };
const check = async (page, selector) => { done.clicks += 1; await page.check(selector); };
const select = async (page, selector, value) => { done.clicks += 1; await page.selectOption(selector, value); };
const type = async (page, selector, text) => { done.typed += 1; await page.fill(selector, text); };

// Nothing of the panel wider than the screen; a table wider than its panel scrolls in it.
const overflow = (page) => page.evaluate(() => ({
  page: document.documentElement.scrollWidth > window.innerWidth,
  table: (() => { const w = document.querySelector("#results-wrap"); return w.scrollWidth > w.clientWidth; })(),
  tableScrolls: getComputedStyle(document.querySelector("#results-wrap")).overflowX === "auto",
}));

async function findEpci(page) {
  done.typed += 1;
  await page.fill("#place", "");
  await page.type("#place", args.epciQuery, { delay: 20 });
  const option = page.locator("#place-list li", { hasText: args.epciName }).first();
  await option.waitFor({ timeout: TIMEOUT });
  done.clicks += 1;
  await option.click();
  await page.waitForFunction((name) => document.querySelector("#territory").innerText.includes(name),
    args.epciName, { timeout: TIMEOUT });
}

try {
  // --- 1440×900, the stub basemap drawn ---------------------------------------------------
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "fr-FR" });
  const page = await context.newPage();
  watch(page);
  await page.goto(`${args.baseUrl}/`, { timeout: TIMEOUT });
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  step("page ouverte");

  // 1. the EPCI, found by its name, outlined and framed
  await findEpci(page);
  step("EPCI choisi");

  // 2. its parcels of at least minArea hectares
  await type(page, "#f-min_area", String(args.minArea));
  await click(page, "#run");
  await page.waitForSelector("#results-table tbody tr[data-id]", { timeout: TIMEOUT });
  summary.firstResultsMs = await page.evaluate(() =>
    Math.round(performance.getEntriesByName("foncier-first-results").pop().duration));
  summary.searchRequestMs = await page.evaluate(() => Math.round(performance.getEntriesByType("resource")
    .filter((r) => r.name.includes("/parcels/search?")).pop().duration));
  await page.waitForFunction(() => window.foncierMap.queryRenderedFeatures({ layers: ["results-fill"] }).length > 0,
    null, { timeout: TIMEOUT });
  step("recherche lancée");
  summary.columns = await page.$$eval("#results-table thead th", (ths) => ths.map((th) => th.innerText.trim()));
  summary.firstRow = await page.$$eval("#results-table tbody tr:first-child td", (tds) => tds.map((td) => td.innerText.trim()));
  summary.desktopOverflow = await overflow(page);
  summary.basemapTiles = await page.evaluate(() => Number(document.body.dataset.basemapTiles || 0));
  await page.screenshot({ path: shot("epci-01-results-1440.png") });
  await axe(page, "results");

  // 3. three candidates compared side by side, printable
  const ids = await page.$$eval("#results-table tbody tr[data-id]", (rows) => rows.slice(0, 3).map((r) => r.dataset.id));
  for (const id of ids) await check(page, `#results-table input[data-pick="parcel:${id}"]`);
  await click(page, "#compare-open");
  await page.waitForSelector("#compare-dialog[data-count='3'] table.compare", { timeout: TIMEOUT });
  step("3 parcelles comparées");
  summary.compare = await page.evaluate(() => ({
    columns: [...document.querySelectorAll("#compare-dialog thead th")].map((th) => th.innerText.trim()),
    rows: [...document.querySelectorAll("#compare-dialog tbody th[scope=row]")].map((th) => th.innerText.trim()),
  }));
  await page.screenshot({ path: shot("epci-02-compare-1440.png") });
  await axe(page, "compare");
  await page.emulateMedia({ media: "print" });
  summary.comparePrint = await page.evaluate(() => ({
    dialog: getComputedStyle(document.querySelector("#compare-dialog")).display,
    main: getComputedStyle(document.querySelector("#main")).display,
  }));
  await page.pdf({ path: pdf("compare.pdf"), format: "A4" });
  await page.emulateMedia({ media: "screen" });
  await click(page, "#compare-close");

  // 4. the best parcel's dossier, with its situation map, printed on A4
  await click(page, `#results-table a[data-open="parcel:${ids[0]}"]`);
  await page.waitForSelector(`#dossier[data-parcel="${ids[0]}"] .situation svg`, { timeout: TIMEOUT });
  await page.waitForFunction(() => [...document.querySelectorAll("#dossier img")].every((i) => i.complete));
  step("dossier ouvert");
  summary.situation = await page.evaluate(() => {
    const svg = document.querySelector("#dossier .situation svg");
    return { tiles: Number(svg.dataset.tiles), paths: svg.querySelectorAll("path").length,
      caption: document.querySelector("#dossier .situation figcaption").innerText };
  });
  await page.screenshot({ path: shot("epci-03-dossier-1440.png") });
  await axe(page, "dossier");
  await page.emulateMedia({ media: "print" });
  await page.setViewportSize({ width: 794, height: 1123 }); // A4 at 96 dpi
  summary.dossierPrint = await page.evaluate(() => {
    const dossier = document.querySelector("#dossier");
    return { width: dossier.scrollWidth, fits: dossier.scrollWidth <= document.documentElement.clientWidth,
      searchShown: getComputedStyle(document.querySelector("#search-view")).display !== "none" };
  });
  await page.screenshot({ path: shot("epci-04-dossier-print.png"), fullPage: true });
  await page.pdf({ path: pdf("dossier.pdf"), format: "A4" });
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.emulateMedia({ media: "screen" });
  await click(page, "#close-dossier");

  // 4b. candidate sites of siteArea hectares; the best one joins the three parcels
  await check(page, "input[name=mode][value=sites]");
  await type(page, "#site_area", String(args.siteArea));
  await click(page, "#run");
  await page.waitForSelector("#results-table tbody tr[data-id^=site]", { timeout: TIMEOUT });
  await page.waitForFunction(() => !/^[0-9]/.test(document.querySelector("#results-table td[data-insee]").innerText));
  await check(page, '#results-table input[data-pick="site:site-1"]');
  await click(page, "#compare-open");
  await page.waitForSelector("#compare-dialog[data-count='4'] table.compare", { timeout: TIMEOUT });
  step("3 parcelles et 1 site comparés");
  summary.compareMixed = await page.evaluate(() => ({
    columns: [...document.querySelectorAll("#compare-dialog thead th")].map((th) => th.innerText.trim()),
    siteCommune: document.querySelector("#results-table td[data-insee]").innerText,
  }));
  await page.screenshot({ path: shot("epci-04b-compare-sites-1440.png") });
  await axe(page, "compare-sites");
  await click(page, "#compare-close");
  await check(page, "input[name=mode][value=parcels]");

  // 5. logged in with the token, the search saved with every kind of filter
  await type(page, "#saved-token", args.token);
  await click(page, "#saved-token-form button[type=submit]");
  await page.waitForSelector("#save-form:not([hidden])", { timeout: TIMEOUT });
  step("connecté");
  await click(page, 'label[for="f-land_use-vacant"]');
  await click(page, 'label[for="f-land_use-underused"]');
  await select(page, "#f-exclude_zoning", "housing");
  await click(page, 'label[for="f-owner-commune"]');
  await click(page, 'label[for="f-owner-epci"]');
  await type(page, "#f-max_built_share", "0.2");
  await type(page, "#save-name", args.saveName);
  summary.saveWhat = await page.locator("#save-what").innerText();
  await click(page, "#save-run");
  await page.waitForSelector(`#saved-list li:has-text("${args.saveName}")`, { timeout: TIMEOUT });
  step("recherche enregistrée");
  summary.saved = await page.$$eval("#saved-list li[data-saved]", (lis) => lis.map((li) => li.innerText.replace(/\s+/g, " ").trim()));
  summary.alerts = await page.$$eval("#alerts-list li[data-alert]", (lis) => lis.map((li) => li.innerText.replace(/\s+/g, " ").trim()));
  await page.locator("#saved").scrollIntoViewIfNeeded();
  await page.screenshot({ path: shot("epci-05-saved-1440.png") });
  await axe(page, "saved");

  // 6. the older saved search opened again: its filters in the form, its results
  await click(page, `#saved-list li:has-text("${args.olderSearch}") [data-open-saved]`);
  await page.waitForFunction((name) => document.querySelector("#status").innerText.includes("trouvée"),
    args.olderSearch, { timeout: TIMEOUT });
  step("recherche enregistrée rouverte");
  summary.reopened = { url: page.url(), minArea: await page.inputValue("#f-min_area"),
    rows: await page.locator("#results-table tbody tr[data-id]").count() };
  summary.desktop = { ...done };

  // --- 390×844, the basemap host refused ----------------------------------------------------
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "fr-FR" });
  const mobile = await phone.newPage();
  watch(mobile, true);
  await mobile.route(`${args.stubOrigin}/**`, (route) => route.abort("connectionrefused"));
  done.clicks = 0; done.typed = 0;
  await mobile.goto(`${args.baseUrl}/`, { timeout: TIMEOUT });
  await mobile.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  await mobile.waitForSelector("body[data-basemap=unreachable]", { timeout: TIMEOUT });
  summary.phoneNotice = await mobile.locator("#basemap-notice").innerText();
  await findEpci(mobile);
  await type(mobile, "#f-min_area", String(args.minArea));
  await click(mobile, "#run");
  await mobile.waitForSelector("#results-table tbody tr[data-id]", { timeout: TIMEOUT });
  summary.phoneFirstResultsMs = await mobile.evaluate(() =>
    Math.round(performance.getEntriesByName("foncier-first-results").pop().duration));
  await mobile.screenshot({ path: shot("epci-06-phone-results.png") });
  await click(mobile, "#map-toggle");
  await mobile.waitForFunction(() => getComputedStyle(document.querySelector("#map")).display === "none");
  summary.phoneOverflow = await overflow(mobile);
  summary.phoneMapCollapsed = await mobile.evaluate(() => document.querySelector("#map-toggle").getAttribute("aria-expanded"));
  await mobile.locator("#results").scrollIntoViewIfNeeded();
  await mobile.screenshot({ path: shot("epci-07-phone-map-collapsed.png") });
  await axe(mobile, "phone");
  // the comparison on a phone
  const phoneIds = await mobile.$$eval("#results-table tbody tr[data-id]", (rows) => rows.slice(0, 2).map((r) => r.dataset.id));
  for (const id of phoneIds) await check(mobile, `#results-table input[data-pick="parcel:${id}"]`);
  await click(mobile, "#compare-open");
  await mobile.waitForSelector("#compare-dialog[data-count='2'] table.compare", { timeout: TIMEOUT });
  summary.phoneCompareOverflow = await mobile.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  await mobile.screenshot({ path: shot("epci-08-phone-compare.png") });
  await click(mobile, "#compare-close");
  // the dossier on a phone, its situation map over the commune's outline (no basemap)
  await click(mobile, `#results-table a[data-open="parcel:${phoneIds[0]}"]`);
  await mobile.waitForSelector(`#dossier[data-parcel="${phoneIds[0]}"] .situation svg`, { timeout: TIMEOUT });
  summary.phoneSituation = await mobile.evaluate(() => ({
    tiles: Number(document.querySelector("#dossier .situation svg").dataset.tiles),
    caption: document.querySelector("#dossier .situation figcaption").innerText,
    criteriaScroll: (() => { const t = document.querySelector("#dossier table.criteria"); return t.getBoundingClientRect().right <= window.innerWidth + 1; })(),
  }));
  summary.phoneDossierOverflow = await mobile.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  await mobile.screenshot({ path: shot("epci-09-phone-dossier.png") });
  await axe(mobile, "phone-dossier");
  // every panel reachable: "Sources et fraîcheur" opened and seen, not under the header
  await click(mobile, "#sources summary");
  await mobile.locator("#sources").scrollIntoViewIfNeeded();
  summary.phoneSources = await mobile.evaluate(() => {
    const box = document.querySelector("#sources summary").getBoundingClientRect();
    const hit = document.elementFromPoint(box.left + 10, box.top + box.height / 2);
    return { top: Math.round(box.top), reachable: Boolean(hit && hit.closest("#sources")) };
  });
  await mobile.screenshot({ path: shot("epci-10-phone-sources.png") });
  summary.phone = { ...done };
  await phone.close();

  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify(summary));
} catch (error) {
  console.error(`${error.message}${problems.length ? "\n" + problems.join("\n") : ""}\n${JSON.stringify(summary)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
