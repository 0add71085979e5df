// The DDT (prefecture) agent's journey, in Debian's headless Chromium driven by
// playwright-core, in French (tests/e2e/test_journey_ddt.py prepares the data and checks the
// summary):
//   1. an EPCI's editor drafts a project from the map (two parcels clicked), previews it
//      and records it;
//   2. the prefecture reads the envelope's legal status and the Territoires d'industrie,
//      authorises the project (date, act, reason, confirmation), reads its history, sees
//      it on the map;
//   3. the prefecture opens the trajectory dossier of an EPCI of its département and goes
//      down to one of its communes;
//   4. the same dossier on a 390×844 phone, the basemap host refused.
// Every step is counted (clicks, typed fields); axe-core at each screen.
// Usage: node journey-ddt.spec.mjs '{"baseUrl":…,"outDir":…,"stubOrigin":…,"epci":…,
//   "parcels":[{"id":…,"lonlat":[…]}…],"editorToken":…,"prefectureToken":…,"drillEpci":…}'
// Prints a JSON summary; exits 1 with the reason on any failure.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import path from "node:path";

const args = JSON.parse(process.argv[2]);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 60000; // generous: the test shares two cores with other runs
const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const screenshots = [];
const shot = async (page, name, options = {}) => {
  screenshots.push(`${name}.png`);
  await page.screenshot({ path: path.join(args.outDir, `${name}.png`), ...options });
};

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const problems = [];
const summary = { axe: {}, steps: { desktop: [], phone: [] } };
let phase = "desktop";
// a step of the journey as a person does it: a click, a typed field, a key
const step = (kind, what) => summary.steps[phase].push(`${kind}: ${what}`);

function watch(page, refused = false) {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (msg) => {
    const url = msg.location().url || "";
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
  for (const v of result.violations) {
    problems.push(`axe ${name}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target).join(" | ")}`);
  }
  summary.axe[name] = { violations: result.violations.map((v) => `${v.id}:${v.impact}`) };
}

const tilesLoaded = (page) => page.waitForFunction(
  () => window.foncierMap.loaded() && window.foncierMap.areTilesLoaded(), null, { timeout: TIMEOUT });

async function click(page, selector, what) {
  await page.click(selector, { timeout: TIMEOUT });
  step("clic", what);
}

async function type(page, selector, value, what) {
  await page.fill(selector, value, { timeout: TIMEOUT });
  step("saisie", what);
}

async function login(page, token, who) {
  await type(page, "#token", token, `jeton ${who}`);
  await click(page, "#token-form button[type=submit]", "Se connecter");
  await page.waitForFunction(() => document.querySelector("#whoami").innerText.startsWith("Connecté"), null, { timeout: TIMEOUT });
}

const rowButtons = (page, id) => page.$$eval(`#projects-table tr[data-project="${id}"] button`, (b) => b.map((x) => x.textContent.trim()));

async function openDossiers(page, prefix) {
  // the département's trajectory lists its EPCI: open one, then one of its communes
  const link = `#trajectories [data-trajectory="epci:${args.drillEpci}"]`;
  await page.waitForSelector(link, { timeout: TIMEOUT });
  await click(page, link, "dossier de l'EPCI");
  await page.waitForSelector(`#dossier[data-trajectory="epci:${args.drillEpci}"] .zan-members`, { timeout: TIMEOUT });
  await page.waitForFunction(() => [...document.querySelectorAll("#dossier img")].every((i) => i.complete), null, { timeout: TIMEOUT });
  const epci = await page.locator("#dossier").innerText();
  await shot(page, `${prefix}-dossier-epci`);
  await axe(page, `${prefix}-dossier-epci`);
  const commune = await page.$eval("#dossier .zan-members tbody tr:has(.status-on_track, .status-will_exceed, .status-exceeded) a[data-zan]",
    (a) => a.dataset.zan);
  await click(page, `#dossier a[data-zan="${commune}"]`, "une commune membre");
  await page.waitForSelector(`#dossier[data-trajectory="${commune}"] .zan-parents`, { timeout: TIMEOUT });
  await page.waitForFunction(() => [...document.querySelectorAll("#dossier img")].every((i) => i.complete), null, { timeout: TIMEOUT });
  await shot(page, `${prefix}-dossier-commune`);
  await axe(page, `${prefix}-dossier-commune`);
  return { epci, commune: await page.locator("#dossier").innerText() };
}

try {
  const desk = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "fr-FR" });
  let page = await desk.newPage();
  watch(page);
  // 1. the dashboard, without a token: no drafting
  await page.goto(`${args.baseUrl}/?view=dashboard`, { timeout: TIMEOUT });
  step("ouvrir", "Tableau de bord préfecture");
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  await page.waitForSelector("#envelope-ti[data-count]", { timeout: TIMEOUT });
  const shown = {};
  shown.public = await page.locator("#new-project").isVisible();

  // 1. the EPCI's editor: a project from the map
  await login(page, args.editorToken, "éditeur d'EPCI");
  shown.editor = await page.locator("#new-project").isVisible();
  await click(page, "#new-project summary", "Préparer un projet depuis la carte");
  await type(page, "#p-name", "Usine de la journée DDT", "nom du projet");
  await click(page, "#draft-pick", "Choisir les parcelles sur la carte");
  // the map framed on the parcels (a person pans and zooms there)
  const [a, b] = args.parcels;
  await page.evaluate(([p, q]) => window.foncierMap.jumpTo({
    center: [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2], zoom: 17 }), [a.lonlat, b.lonlat]);
  step("carte", "se placer sur les parcelles");
  await tilesLoaded(page);
  for (const parcel of [a, b]) {
    const box = await page.locator("#map canvas").boundingBox();
    const [x, y] = await page.evaluate((ll) => { const p = window.foncierMap.project(ll); return [p.x, p.y]; }, parcel.lonlat);
    await page.mouse.click(box.x + x, box.y + y);
    step("clic", `parcelle ${parcel.id} sur la carte`);
  }
  await page.waitForFunction(() => document.body.dataset.draft === "2", null, { timeout: TIMEOUT });
  await click(page, "#draft-preview-button", "Aperçu avant d'enregistrer");
  await page.waitForSelector("#draft-preview table tbody tr", { timeout: TIMEOUT });
  summary.draft = {
    parcels: (await page.inputValue("#p-parcels")).split(/\s+/).sort(),
    naf: await page.getAttribute("#draft-preview", "data-naf"),
    text: await page.locator("#draft-preview").innerText(),
    trajectories: await page.$$eval("#draft-preview tbody tr", (rows) => rows.map((r) => ({
      level: r.dataset.level, before: r.dataset.before, after: r.dataset.after }))),
  };
  await page.locator("#draft-preview").scrollIntoViewIfNeeded();
  await shot(page, "11-ddt-draft-preview");
  await axe(page, "draft-preview");
  await click(page, "#project-form button[type=submit]", "Enregistrer le projet (prévu)");
  await page.waitForFunction(() => /Projet \d+ enregistré/.test(document.querySelector("#status").innerText), null, { timeout: TIMEOUT });
  summary.projectId = (await page.locator("#status").innerText()).match(/Projet (\d+)/)[1];
  const id = summary.projectId;
  await page.waitForSelector(`#projects-table tr[data-project="${id}"]`, { timeout: TIMEOUT });
  summary.editorButtons = await rowButtons(page, id);

  // 2. the prefecture: the envelope, the Territoires d'industrie, authorising
  await click(page, "#logout", "Se déconnecter");
  await login(page, args.prefectureToken, "préfecture");
  shown.prefecture = await page.locator("#new-project").isVisible();
  summary.draftShown = shown;
  await page.waitForSelector(`#projects-table tr[data-project="${id}"] button[data-status=authorised]`, { timeout: TIMEOUT });
  summary.prefectureButtons = await rowButtons(page, id);
  summary.legal = await page.locator("#envelope-legal").innerText();
  summary.tiCount = await page.getAttribute("#envelope-ti", "data-count");
  summary.tiRows = await page.locator("#envelope-ti tr[data-ti]").count();
  summary.regions = await page.locator("#envelope-ti details").count();
  await click(page, "#envelope-ti details[data-region='11'] summary", "Territoires d'industrie d'Île-de-France");
  await page.evaluate(() => document.querySelector("#envelope-legal").scrollIntoView({ block: "start" }));
  await shot(page, "12-ddt-envelope");
  await page.evaluate(() => document.querySelector("#ti-title").scrollIntoView({ block: "start" }));
  await shot(page, "12-ddt-territoires-industrie");
  await axe(page, "envelope");
  const before = await page.getAttribute("#dash-envelope", "data-reserved");
  await click(page, `#projects-table tr[data-project="${id}"] button[data-status=authorised]`, "Autoriser");
  await page.waitForSelector("#authorise-dialog[open]", { timeout: TIMEOUT });
  await type(page, "#a-act", "arrêté préfectoral n° 2026-042", "acte");
  await type(page, "#a-reason", "dossier complet, avis favorable de la CDPENAF", "motif");
  step("vérifier", "date du jour proposée");
  await shot(page, "13-ddt-authorise-dialog");
  await click(page, "#authorise-form button[type=submit]", "Continuer");
  await page.waitForSelector("#authorise-confirm:not([hidden])", { timeout: TIMEOUT });
  summary.confirmation = await page.locator("#authorise-summary").innerText();
  await shot(page, "14-ddt-authorise-confirm");
  await axe(page, "authorise-confirm");
  await click(page, "#authorise-yes", "Confirmer l'autorisation");
  await page.waitForSelector(`body[data-authorised="${id}"]`, { timeout: TIMEOUT });
  await page.waitForFunction((b) => document.querySelector("#dash-envelope").dataset.reserved !== b, before, { timeout: TIMEOUT });
  summary.gauge = { before, after: await page.getAttribute("#dash-envelope", "data-reserved") };
  summary.projectStatus = await page.getAttribute(`#projects-table tr[data-project="${id}"] td[data-status]`, "data-status");
  summary.history = await page.locator("#project-history").innerText();
  // the authorised project on the map, from Foncier's tiles
  await page.waitForFunction(() => window.foncierMap.queryRenderedFeatures({ layers: ["projects-fill"] }).length > 0,
    null, { timeout: TIMEOUT });
  summary.projectsDrawn = await page.evaluate(() => window.foncierMap.queryRenderedFeatures({ layers: ["projects-fill"] }).length);
  await page.locator("#project-history").scrollIntoViewIfNeeded();
  await shot(page, "15-ddt-history-map");
  await axe(page, "history");

  // 3. the trajectory dossier: the EPCI, then a commune
  const dossiers = await openDossiers(page, "16-ddt");
  summary.dossierEpci = dossiers.epci;
  summary.dossierCommune = dossiers.commune;
  await desk.close();

  // 4. a phone, the basemap host refused
  phase = "phone";
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "fr-FR" });
  page = await phone.newPage();
  watch(page, true);
  await page.route(`${args.stubOrigin}/**`, (route) => route.abort("connectionrefused"));
  await page.goto(`${args.baseUrl}/?view=dashboard`, { timeout: TIMEOUT });
  step("ouvrir", "Tableau de bord préfecture");
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  await page.waitForSelector("#basemap-notice:not([hidden])", { timeout: TIMEOUT });
  await page.waitForSelector("#envelope-ti[data-count]", { timeout: TIMEOUT });
  await login(page, args.prefectureToken, "préfecture");
  await page.locator("#envelope-legal").scrollIntoViewIfNeeded();
  await shot(page, "18-ddt-phone-envelope");
  await axe(page, "phone-envelope");
  await openDossiers(page, "19-ddt-phone");
  summary.phone = {
    overflow: await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth),
    fallback: await page.locator("#basemap-notice").innerText(),
  };
  await phone.close();

  summary.screenshots = screenshots;
  summary.counts = Object.fromEntries(Object.entries(summary.steps).map(([k, v]) =>
    [k, { steps: v.length, clicks: v.filter((s) => s.startsWith("clic")).length }]));
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify(summary));
} catch (error) {
  console.error(`${error.message}${problems.length ? "\n" + problems.join("\n") : ""}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
