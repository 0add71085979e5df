// A map page served from another origin than Foncier's, in Debian's headless Chromium driven
// by playwright-core: MapLibre draws the parcels from Foncier's TileJSON and tiles, and the
// page fetches Foncier's OGC items, both cross-origin (CORS, app/api/cors.py).
// Usage: node cors.spec.mjs FONCIER_URL LON LAT
// Prints a JSON summary; exits 1 with the reason on any failure.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { chromium } from "playwright-core";

const [foncier, lon, lat] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 30000;
const maplibre = new URL("../node_modules/maplibre-gl/dist/", import.meta.url);

// The other site: this script's own server, on another port of the loopback (another
// origin; both on the loopback, so that Chromium's private network rules do not apply).
const server = createServer(async (request, response) => {
  const path = new URL(request.url, "http://x").pathname;
  if (path === "/favicon.ico") {
    response.writeHead(204);
    response.end();
    return;
  }
  if (path === "/") {
    response.writeHead(200, { "content-type": "text/html" });
    response.end(pageHtml);
    return;
  }
  try {
    const body = await readFile(new URL(path.slice(1), maplibre));
    response.writeHead(200, { "content-type": path.endsWith(".css") ? "text/css" : "text/javascript" });
    response.end(body);
  } catch {
    response.writeHead(404);
    response.end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const SITE = `http://127.0.0.1:${server.address().port}`;

const pageHtml = `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="${SITE}/maplibre-gl.css">
<script src="${SITE}/maplibre-gl.js"></script>
<style>html, body, #map { margin: 0; width: 100%; height: 100%; }</style></head>
<body><div id="map"></div><script>
const map = new maplibregl.Map({
  container: "map", center: [${lon}, ${lat}], zoom: 16,
  style: { version: 8, sources: {}, layers: [] },
});
map.on("load", () => {
  map.addSource("parcels", { type: "vector", url: "${foncier}/tiles/parcels/tilejson.json" });
  map.addLayer({ id: "parcels", type: "fill", source: "parcels", "source-layer": "parcels",
    paint: { "fill-color": "#c33", "fill-opacity": 0.5 } });
});
window.map = map;
const d = 0.002;
window.items = fetch("${foncier}/collections/parcels/items?limit=20&bbox=" +
    [${lon} - d, ${lat} - d, ${lon} + d, ${lat} + d].join(","))
  .then((r) => r.json()).then((body) => body.features.length);
</script></body></html>`;

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const problems = [];
const allowed = new Set(); // Access-Control-Allow-Origin of Foncier's answers
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} ${response.url()}`);
    if (response.url().startsWith(foncier)) {
      allowed.add(response.headers()["access-control-allow-origin"] || "(none)");
    }
  });
  await page.goto(`${SITE}/`, { timeout: TIMEOUT });
  await page.waitForFunction(
    () => window.map && window.map.loaded() && window.map.getLayer("parcels") &&
      window.map.areTilesLoaded() &&
      window.map.queryRenderedFeatures({ layers: ["parcels"] }).length > 0,
    null,
    { timeout: TIMEOUT },
  );
  const rendered = await page.evaluate(
    () => new Set(window.map.queryRenderedFeatures({ layers: ["parcels"] }).map((f) => f.id)).size);
  const items = await page.evaluate(() => window.items);
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify({ site: SITE, rendered, items, allowed: [...allowed] }));
} catch (error) {
  console.error(`${error.message}${problems.length ? "\n" + problems.join("\n") : ""}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
