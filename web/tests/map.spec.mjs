// Browser test of the map page, in Debian's headless Chromium driven by playwright-core.
// Usage: node map.spec.mjs BASE_URL PARCEL_ID LON LAT SCREENSHOT
// Opens the page on the parcel, waits for the tiles, clicks the parcel, checks its dossier,
// saves a screenshot, prints a JSON summary; exits 1 with the reason on any failure.
import { chromium } from "playwright-core";

const [baseUrl, parcelId, lon, lat, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 30000;

const browser = await chromium.launch({
  executablePath,
  // WebGL on the CPU (no GPU here); no sandbox because CI runs as root.
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (msg) => {
    const url = msg.location().url || "";
    // the basemap's host, out of reach in the test suite (a loopback port where nothing
    // listens): the page says so itself (basemap.spec.mjs)
    if (msg.text().includes("net::ERR_") && !url.startsWith(baseUrl)) return;
    if (msg.type() === "error") problems.push(`console error: ${msg.text()} (${url})`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} ${response.url()}`);
  });

  await page.goto(`${baseUrl}/#16/${lat}/${lon}`, { timeout: TIMEOUT });
  await page.waitForFunction(
    () => {
      const map = window.foncierMap;
      return map && map.loaded() && map.areTilesLoaded() &&
        map.queryRenderedFeatures({ layers: ["parcels-fill"] }).length > 0;
    },
    null,
    { timeout: TIMEOUT },
  );
  const rendered = await page.evaluate(() => ({
    parcels: window.foncierMap.queryRenderedFeatures({ layers: ["parcels-fill"] }).length,
    communes: window.foncierMap.queryRenderedFeatures({ layers: ["communes-fill"] }).length,
  }));

  // A real mouse click in the middle of the map, where the parcel is.
  const box = await page.locator("#map").boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForSelector(`#dossier[data-parcel="${parcelId}"]`, { timeout: TIMEOUT });
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#dossier .trajectory img")].every((img) => img.complete));

  const panel = {
    parcel: await page.locator("#dossier").innerText(),
    trajectory: await page.locator("#dossier .trajectories").innerText(),
    criteriaRows: await page.locator("#dossier table.criteria tr").count(),
  };
  await page.screenshot({ path: screenshot });
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify({ rendered, panel, screenshot }));
} catch (error) {
  console.error(`${error.message}${problems.length ? "\n" + problems.join("\n") : ""}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
