// The journey of a developer of a map front-end, in Debian's headless Chromium driven by
// playwright-core, in French (tests/e2e/test_journey_dev.py prepares the data and checks the
// summary):
//   1. on the page, the links "Pour les développeurs": the API documentation (/docs, Swagger
//      UI), the OGC collections (HTML), the parcels' TileJSON, each followed;
//   2. a map on ANOTHER origin (this script's own server, on another port of the loopback):
//      MapLibre loaded from Foncier's /static/vendor, Foncier's TileJSON added as a vector
//      source, the parcels drawn from Foncier's tiles (CORS);
//   3. the same on a 390×844 phone, the basemap host refused (the fallback said).
// Every step is counted (clicks, scrolls); axe-core on Foncier's own screens (the page, the
// OGC HTML); /docs is Swagger UI (third-party, vendored): loaded without error, not audited.
// Usage: node journey-dev.spec.mjs '{"baseUrl":…,"outDir":…,"stubOrigin":…,"lon":…,"lat":…}'
// Prints a JSON summary; exits 1 with the reason on any failure.
import { createServer } from "node:http";
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

// The developer's own site: a tiny page on another port of the loopback (another origin;
// both on the loopback, so that Chromium's private network rules do not apply).
const pageHtml = `<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Ma carte (autre origine)</title>
<link rel="stylesheet" href="${args.baseUrl}/static/vendor/maplibre-gl.css">
<script src="${args.baseUrl}/static/vendor/maplibre-gl.js"></script>
<style>html, body, #map { margin: 0; width: 100%; height: 100%; }</style></head>
<body><div id="map"></div><script>
const map = new maplibregl.Map({
  container: "map", center: [${args.lon}, ${args.lat}], zoom: 16,
  style: { version: 8, sources: {}, layers: [
    { id: "fond", type: "background", paint: { "background-color": "#f6f6f6" } }] },
});
map.on("load", () => {
  map.addSource("foncier", { type: "vector", url: "${args.baseUrl}/tiles/parcels/tilejson.json" });
  map.addLayer({ id: "parcelles", type: "fill", source: "foncier", "source-layer": "parcels",
    paint: { "fill-color": "#000091", "fill-opacity": 0.35 } });
  map.addLayer({ id: "contours", type: "line", source: "foncier", "source-layer": "parcels",
    paint: { "line-color": "#000091", "line-width": 1 } });
});
window.map = map;
</script></body></html>`;
const server = createServer((request, response) => {
  if (new URL(request.url, "http://x").pathname !== "/") {
    response.writeHead(204);
    response.end();
    return;
  }
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  response.end(pageHtml);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const SITE = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const problems = [];
const summary = { site: SITE, axe: {}, steps: { desktop: [], phone: [] } };
let phase = "desktop";
// a step of the journey as a person does it: a click, a scroll, an address typed
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

// a developer link of the page, followed as a person does: scrolled to, clicked
async function follow(page, href, what) {
  const link = page.locator(`#developers a[href="${href}"]`);
  await link.scrollIntoViewIfNeeded({ timeout: TIMEOUT });
  await Promise.all([page.waitForURL((u) => u.pathname === new URL(href, args.baseUrl).pathname, { timeout: TIMEOUT }),
    link.click({ timeout: TIMEOUT })]);
  step("clic", what);
}

async function openPage(page, size) {
  await page.goto(`${args.baseUrl}/`, { timeout: TIMEOUT });
  step("ouvrir", "la page de Foncier");
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  await page.locator("#developers").scrollIntoViewIfNeeded();
  step("défiler", "jusqu'à « Pour les développeurs »");
  const links = await page.$$eval("#developers a", (as) => as.map((a) => ({
    href: a.getAttribute("href"), text: a.textContent.trim() })));
  await shot(page, `dev-01-links-${size}`);
  await axe(page, `page-${size}`);
  return links;
}

async function docs(page, size) {
  await follow(page, "/docs", "Documentation de l'API (OpenAPI)");
  await page.waitForSelector(".opblock .opblock-summary-path", { timeout: TIMEOUT });
  const found = {
    lang: await page.getAttribute("html", "lang"),
    title: await page.title(),
    operations: await page.locator(".opblock").count(),
    info: await page.locator(".info .title").innerText(),
    description: await page.locator(".info .description").innerText(),
  };
  await shot(page, `dev-02-docs-${size}`);
  await page.goBack({ timeout: TIMEOUT });
  step("clic", "retour à la page");
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  return found;
}

async function collections(page, size) {
  await follow(page, "/collections", "Collections OGC API – Features");
  await page.waitForSelector("main, body", { timeout: TIMEOUT });
  const found = {
    contentType: await page.evaluate(() => document.contentType),
    lang: await page.getAttribute("html", "lang"),
    text: await page.locator("body").innerText(),
    links: await page.$$eval("a[href]", (as) => as.map((a) => a.getAttribute("href"))),
  };
  await shot(page, `dev-03-collections-${size}`, { fullPage: size === "390" });
  await axe(page, `collections-${size}`);
  await page.goBack({ timeout: TIMEOUT });
  step("clic", "retour à la page");
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  return found;
}

async function tilejson(page) {
  await follow(page, "/tiles/parcels/tilejson.json", "TileJSON des parcelles");
  const body = JSON.parse(await page.evaluate(() => document.body.innerText));
  step("copier", "l'adresse du TileJSON");
  return { tiles: body.tiles, vectorLayers: (body.vector_layers || []).map((l) => l.id),
    minzoom: body.minzoom, maxzoom: body.maxzoom, attribution: body.attribution };
}

// the developer's own map, on another origin, at the context's size
async function otherOrigin(context, size) {
  const page = await context.newPage();
  watch(page);
  const tiles = [];
  page.on("response", (response) => {
    const url = response.url();
    if (url.startsWith(`${args.baseUrl}/tiles/parcels/`) && !url.endsWith("tilejson.json")) {
      tiles.push({ status: response.status(), allow: response.headers()["access-control-allow-origin"] || null });
    }
  });
  await page.goto(`${SITE}/`, { timeout: TIMEOUT });
  step("ouvrir", "sa propre carte (autre origine) avec la source TileJSON de Foncier");
  await page.waitForFunction(
    () => window.map && window.map.loaded() && window.map.getLayer("parcelles") &&
      window.map.areTilesLoaded() &&
      window.map.queryRenderedFeatures({ layers: ["parcelles"] }).length > 0,
    null, { timeout: TIMEOUT });
  const features = await page.evaluate(() => {
    const found = window.map.queryRenderedFeatures({ layers: ["parcelles"] });
    return { count: new Set(found.map((f) => f.id)).size, sample: found[0].properties };
  });
  await shot(page, `dev-04-other-origin-${size}`);
  await page.close();
  return { ...features, tiles };
}

try {
  // 1-2. 1440×900, the stub basemap drawn
  const desk = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "fr-FR" });
  let page = await desk.newPage();
  watch(page);
  summary.links = await openPage(page, "1440");
  summary.docs = await docs(page, "1440");
  summary.collections = await collections(page, "1440");
  summary.tilejson = await tilejson(page);
  summary.otherOrigin = await otherOrigin(desk, "1440");
  await desk.close();

  // 3. a phone, the basemap host refused
  phase = "phone";
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "fr-FR" });
  page = await phone.newPage();
  watch(page, true);
  await page.route(`${args.stubOrigin}/**`, (route) => route.abort("connectionrefused"));
  const links = await openPage(page, "390");
  await page.waitForSelector("#basemap-notice:not([hidden])", { timeout: TIMEOUT });
  summary.phone = { links, fallback: await page.locator("#basemap-notice").innerText() };
  summary.phone.overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  summary.phone.docs = await docs(page, "390");
  summary.phone.collections = await collections(page, "390");
  summary.phone.tilejson = await tilejson(page);
  summary.phone.otherOrigin = await otherOrigin(phone, "390");
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
  server.close();
}
