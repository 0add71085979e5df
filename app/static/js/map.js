// The map: Foncier's vector tiles over the basemap the service names (FONCIER_BASEMAP_*:
// IGN's Plan IGN by default, the aerial imagery as a second choice); when its host cannot
// be reached the page says so and the territories' outlines from Foncier's own tiles
// carry the map.
import { isPicking } from "./draft.js";
import { openDossier } from "./dossier.js";
import { config, results, state } from "./state.js";
import { $ } from "./util.js";

export function tiles(collection) {
  return { type: "vector", url: `${location.origin}/tiles/${collection}/tilejson.json` };
}
export const scoreColour = [
  "case",
  ["any", ["==", ["get", "excluded"], true], ["!", ["has", "score"]]], "#9e9e9e",
  ["interpolate", ["linear"], ["get", "score"], 0, "#d73027", 40, "#fc8d59", 55, "#fee08b",
    70, "#91cf60", 100, "#1a9850"],
];
export const empty = { type: "FeatureCollection", features: [] };

export const NO_MATCH = ["==", ["get", "id"], ""];

export function foncierStyle() {
  return {
    version: 8,
    sources: {
      communes: tiles("communes"), epci: tiles("epci"), ti: tiles("territoires-industrie"),
      zones: tiles("economic-zones"), friches: tiles("friches"), parcels: tiles("parcels"),
      results: { type: "geojson", data: empty, promoteId: "id" },
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#e8e4da" } },
      // without a basemap the communes are the paper the map is drawn on
      { id: "communes-fill", type: "fill", source: "communes", "source-layer": "communes",
        paint: { "fill-color": "#fbfaf6", "fill-opacity": config.basemap ? 0 : 1 } },
      { id: "communes-line", type: "line", source: "communes", "source-layer": "communes",
        paint: { "line-color": "#8c8474", "line-width": config.basemap ? 0.5 : 0.8 } },
      { id: "parcels-fill", type: "fill", source: "parcels", "source-layer": "parcels",
        paint: { "fill-color": scoreColour, "fill-opacity": 0.7 } },
      { id: "parcels-line", type: "line", source: "parcels", "source-layer": "parcels",
        minzoom: 15, paint: { "line-color": "#555", "line-width": 0.3 } },
      { id: "zones-fill", type: "fill", source: "zones", "source-layer": "economic-zones",
        paint: { "fill-color": "#5e3c99", "fill-opacity": 0.3, "fill-outline-color": "#5e3c99" } },
      { id: "friches-fill", type: "fill", source: "friches", "source-layer": "friches",
        filter: ["!=", ["geometry-type"], "Point"],
        paint: { "fill-color": "#8c510a", "fill-opacity": 0.55 } },
      { id: "friches-point", type: "circle", source: "friches", "source-layer": "friches",
        filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-color": "#8c510a", "circle-radius": 4 } },
      { id: "epci-line", type: "line", source: "epci", "source-layer": "epci",
        paint: { "line-color": "#333", "line-width": 1.5 } },
      { id: "ti-line", type: "line", source: "ti", "source-layer": "territoires-industrie",
        paint: { "line-color": "#e7298a", "line-width": 3, "line-opacity": 0.8 } },
      { id: "results-fill", type: "fill", source: "results",
        paint: { "fill-color": "#0b57d0",
          "fill-opacity": ["case", ["boolean", ["feature-state", "hover"], false], 0.55, 0.2] } },
      { id: "results-line", type: "line", source: "results",
        paint: { "line-color": "#0b57d0",
          "line-width": ["case", ["boolean", ["feature-state", "hover"], false], 4, 2] } },
      { id: "parcel-selected", type: "line", source: "parcels", "source-layer": "parcels",
        filter: NO_MATCH, paint: { "line-color": "#000", "line-width": 3 } },
      // the territory chosen in "Lieu": outlined in blue-france
      ...[["communes", "communes"], ["epci", "epci"], ["ti", "territoires-industrie"]].map(([source, layer]) => (
        { id: `territory-${source}`, type: "line", source, "source-layer": layer, filter: NO_MATCH,
          paint: { "line-color": "#000091", "line-width": 3.5 } })),
    ],
  };
}

// The basemaps: "plan" (FONCIER_BASEMAP_URL, raster or a vector style) and "aerial"
// (FONCIER_BASEMAP_AERIAL_URL, raster), each a layer under Foncier's; one shown at a time.
export async function withBasemap(style) {
  const base = config.basemap;
  if (!base) return style;
  const attribution = base.attribution || "";
  const raster = (url) => ({ type: "raster", tiles: [url], tileSize: 256, attribution, maxzoom: 19 });
  if (base.aerial_url) {
    style.sources.aerial = raster(base.aerial_url);
    style.layers.splice(1, 0, { id: "basemap-aerial", type: "raster", source: "aerial",
      layout: { visibility: "none" } });
  }
  if (base.kind === "raster") {
    style.sources.basemap = raster(base.url);
    style.layers.splice(1, 0, { id: "basemap", type: "raster", source: "basemap" });
    return style;
  }
  // vector: the named MapLibre style (a self-hosted one) under Foncier's layers
  try {
    const under = await fetch(base.url).then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status))));
    return {
      ...under,
      sources: { ...under.sources, ...style.sources },
      layers: [...under.layers, ...style.layers.filter((l) => l.id !== "background")],
    };
  } catch {
    basemapDown(true);
    return style;
  }
}

// The basemap host out of reach (no internet, the test suite, an outage): said under the
// map, and the communes become the map's paper again, their outlines and the EPCI's drawn
// from Foncier's own tiles. A tile drawn since clears the notice.
export const basemapState = { choice: "plan", loaded: { basemap: 0, aerial: 0 }, failed: { basemap: 0, aerial: 0 } };

export function basemapDown(style = false) {
  const notice = $("#basemap-notice");
  notice.textContent = style
    ? "Style du fond de carte injoignable : la carte montre les contours des communes et des EPCI tirés des données de Foncier."
    : "Fond de carte IGN injoignable (réseau sans accès à internet ?) : la carte montre les contours des communes et des EPCI tirés des données de Foncier.";
  notice.hidden = false;
  document.body.dataset.basemap = "unreachable";
  if (map && map.getLayer("communes-fill")) {
    map.setPaintProperty("communes-fill", "fill-opacity", 1);
    map.setPaintProperty("communes-line", "line-width", 0.8);
  }
}

export function basemapUp() {
  $("#basemap-notice").hidden = true;
  document.body.dataset.basemap = "drawn";
  if (map && map.getLayer("communes-fill")) map.setPaintProperty("communes-fill", "fill-opacity", 0);
}

export function chooseBasemap(choice) {
  basemapState.choice = choice;
  const shown = { plan: "basemap", aerial: "basemap-aerial" }[choice];
  for (const layer of ["basemap", "basemap-aerial"]) {
    if (map.getLayer(layer)) map.setLayoutProperty(layer, "visibility", layer === shown ? "visible" : "none");
  }
  if (choice === "none") {
    $("#basemap-notice").hidden = true;
    map.setPaintProperty("communes-fill", "fill-opacity", 1);
    return;
  }
  const source = choice === "plan" ? "basemap" : "aerial";
  if (basemapState.loaded[source]) basemapUp();
  else if (basemapState.failed[source]) basemapDown();
}

export function watchBasemap() {
  const base = config.basemap;
  if (!base) return;
  const switcher = $("#basemap-switch");
  switcher.hidden = base.kind !== "raster" && !base.aerial_url;
  if (!base.aerial_url) switcher.querySelector("input[value=aerial]").parentElement.hidden = true;
  switcher.addEventListener("change", (e) => chooseBasemap(e.target.value));
  const current = () => (basemapState.choice === "aerial" ? "aerial" : "basemap");
  map.on("error", (e) => {
    // (a listener silences MapLibre's own logging: other errors are logged as before)
    if (!(e.sourceId in basemapState.failed)) { console.error(e.error || e); return; }
    basemapState.failed[e.sourceId] += 1;
    if (e.sourceId === current() && !basemapState.loaded[e.sourceId] && basemapState.choice !== "none") basemapDown();
  });
  map.on("sourcedata", (e) => {
    if (!(e.sourceId in basemapState.loaded) || !e.tile || e.tile.state !== "loaded") return;
    basemapState.loaded[e.sourceId] += 1;
    document.body.dataset[`${e.sourceId}Tiles`] = basemapState.loaded[e.sourceId]; // for the tests
    if (e.sourceId === current() && basemapState.choice !== "none") basemapUp();
  });
  // a host that neither answers nor refuses: said after 8 s without a tile
  setTimeout(() => {
    if (basemapState.choice === "plan" && !basemapState.loaded.basemap) basemapDown(base.kind === "vector");
  }, 8000);
}

// The chosen territory outlined on the map (communes, EPCI, TI from their tiles; a
// département as its communes).
export function outlineTerritory(place) {
  const level = place && place.level;
  const code = place ? String(place.code) : "";
  const filters = {
    "territory-communes": level === "commune" ? ["==", ["get", "id"], code]
      : level === "departement" ? ["==", ["slice", ["to-string", ["get", "id"]], 0, code.length], code] : NO_MATCH,
    "territory-epci": level === "epci" ? ["==", ["to-string", ["get", "id"]], code] : NO_MATCH,
    "territory-ti": level === "territoire_industrie" ? ["==", ["to-string", ["get", "id"]], code] : NO_MATCH,
  };
  for (const [layer, filter] of Object.entries(filters)) if (map.getLayer(layer)) map.setFilter(layer, filter);
}

export let map;
export let hovered = null;

export function hover(id) {
  if (hovered !== null) map.setFeatureState({ source: "results", id: hovered }, { hover: false });
  hovered = id;
  if (id !== null) map.setFeatureState({ source: "results", id }, { hover: true });
  for (const row of document.querySelectorAll("#results-table tbody tr")) {
    row.classList.toggle("hover", row.dataset.id === String(id));
  }
}

export function frame(bbox) {
  if (bbox) map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]], { padding: 30, duration: 0 });
}

export function bboxOf(geometry) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === "number") {
      b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]);
      b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return b;
}

export async function startMap() {
  map = new maplibregl.Map({
    container: "map",
    style: await withBasemap(foncierStyle()),
    center: [2.5, 46.6],
    zoom: 5,
    hash: true,
    attributionControl: { compact: true },
  });
  map.addControl(new maplibregl.NavigationControl(), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  window.foncierMap = map; // for the browser tests and for debugging
  watchBasemap();
  map.on("click", (event) => {
    if (isPicking()) return; // a project being drafted takes the click (draft.js)
    const [result] = map.queryRenderedFeatures(event.point, { layers: ["results-fill"] });
    if (result) return openDossier(state.mode === "sites" ? `site:${result.id}` : `parcel:${result.id}`);
    const [parcel] = map.queryRenderedFeatures(event.point, { layers: ["parcels-fill"] });
    if (parcel) openDossier(`parcel:${parcel.properties.id}`);
  });
  map.on("mousemove", "results-fill", (e) => hover(e.features[0].id));
  map.on("mouseleave", "results-fill", () => hover(null));
  for (const layer of ["parcels-fill", "results-fill"]) {
    map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
  }
}
