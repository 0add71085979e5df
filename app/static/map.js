// Foncier's page: find a place, search parcels or sites, read a dossier, export, and the
// prefecture's dashboard. The service's own vector tiles over the basemap the service names
// (FONCIER_BASEMAP_*: IGN's Plan IGN by default, the aerial imagery as a second choice);
// when its host cannot be reached the page says so and the territories' outlines from
// Foncier's own tiles carry the map. The state lives in the address (?…), the map position
// in its #hash, so that a search is shared by a link. Everything it shows is in French: the
// API's words (statuses, codes, criteria) are mapped here.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const LABELS = {
  on_track: "dans la trajectoire",
  will_exceed: "dépassement projeté",
  exceeded: "enveloppe dépassée",
  no_data: "données manquantes",
  partial_data: "données partielles",
  planned: "prévu",
  listed: "listé (PENE)",
  authorised: "autorisé",
  under_construction: "en chantier",
  completed: "achevé",
  abandoned: "abandonné",
  industrial: "industriel",
  commercial: "commercial",
  logistics: "logistique",
  other: "autre",
};
const LEVELS = {
  commune: "commune", epci: "EPCI", scot: "SCoT", departement: "département", region: "région",
  territoire_industrie: "Territoire d'industrie",
};
const LEVEL_PARAM = {
  commune: "commune",
  epci: "epci",
  departement: "departement",
  territoire_industrie: "territoire_industrie",
};
const FILTER_LABELS = {
  min_area: "Surface min. (ha)",
  max_area: "Surface max. (ha)",
  zoning: "Zonage PLU",
  exclude_zoning: "Exclure le zonage (zonage inconnu gardé)",
  on_friche: "Sur friche",
  min_score: "Score minimum",
  max_built_share: "Part bâtie maximale (0 à 1)",
  land_use: "Occupation du sol",
  owner: "Propriétaire",
};
// The filters that take a comma-separated list: one checkbox per value, in French.
const CHOICES = {
  land_use: {
    vacant: "vacante (aucun bâtiment)",
    underused: "sous-utilisée (peu ou légèrement bâtie)",
    built: "bâtie",
  },
  owner: {
    etat: "État", region: "région", departement: "département", commune: "commune", epci: "EPCI",
    etablissement_public: "établissement public (EPF…)", sem: "SEM ou SPL",
    personne_morale: "autre personne morale", private_or_unknown: "particulier ou inconnu",
  },
};
// The API's problem documents carry a stable "code" (app/api/errors.py): said in French here.
const PROBLEMS = {
  invalid_parameter: "Paramètre invalide",
  invalid_request: "Demande invalide",
  invalid: "Demande impossible à traiter",
  unauthorized: "Jeton manquant, inconnu ou révoqué",
  denied: "Action non permise pour ce jeton (rôle ou territoire)",
  not_found: "Introuvable",
  method_not_allowed: "Action non disponible ici",
  conflict: "Conflit avec l'état actuel",
  too_large: "Demande trop volumineuse",
  too_many_requests: "Trop de demandes : réessayez dans un instant",
  query_timeout: "La recherche a pris trop de temps : restreignez-la (territoire plus petit, filtres)",
  unavailable: "Service momentanément indisponible : réessayez dans un instant",
  server_error: "Erreur du service",
};
const ZONING = {
  activity: "activité", housing: "habitat", mixed: "mixte", agricultural: "agricole",
  natural: "naturel", other: "autre",
};
const PAGE = 20;

const state = {
  view: "search", place: null, mode: "parcels", profile: "", filters: {}, weights: {},
  site_area: "2", gap: "0", sort: "-score", offset: 0, dossier: null, ran: false,
};
let config = { profiles: [], criteria: [], search_filters: [], basemap: null };
let results = [];

function fmt(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return Number(value).toLocaleString("fr-FR", { maximumFractionDigits: digits });
}
function day(iso) {
  return iso ? new Date(iso).toLocaleDateString("fr-FR") : "—";
}
function profileName(id) {
  return (config.profiles.find((p) => p.id === id) || {}).name || id;
}
function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
function say(message, error = false) {
  const status = $("#status");
  status.textContent = message;
  status.classList.toggle("error", error);
}

// A problem document (RFC 9457) as one French sentence: its code says what happened, the
// fields it names are given their labels; the English detail only as a tooltip-free hint
// when the code is unknown to this page.
function problemText(body, status) {
  if (!body || typeof body !== "object") return `Erreur HTTP ${status}`;
  const said = PROBLEMS[body.code];
  if (!said) return [body.title, body.detail].filter(Boolean).join(" — ") || `Erreur HTTP ${status}`;
  const fields = (body.errors || []).map((e) => {
    const name = e.location[e.location.length - 1];
    return FILTER_LABELS[name] || CRITERION_FR[name] || name;
  });
  return fields.length ? `${said} : ${[...new Set(fields)].join(", ")}.` : `${said}.`;
}

async function api(url, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const token = sessionStorage.getItem("foncier-token");
  if (token && options.auth !== false) headers.Authorization = `Bearer ${token}`;
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { ...options, headers }).catch(() => {
    throw new Error("Service Foncier injoignable : vérifiez la connexion et réessayez.");
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(problemText(body, response.status));
  return body;
}

// --- the address ------------------------------------------------------------------------

function readAddress() {
  const q = new URLSearchParams(location.search);
  state.view = q.get("view") === "dashboard" ? "dashboard" : "search";
  const place = q.get("place");
  if (place && place.includes(":")) {
    const [level, code] = place.split(":");
    state.place = { level, code, name: q.get("place_name") || code };
  }
  state.mode = q.get("mode") === "sites" ? "sites" : "parcels";
  state.profile = q.get("profile") || "";
  state.sort = q.get("sort") || "-score";
  state.offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
  state.site_area = q.get("site_area") || "2";
  state.gap = q.get("gap") || "0";
  state.dossier = q.get("dossier");
  state.ran = q.get("run") === "1";
  try { state.weights = JSON.parse(q.get("weights") || "{}"); } catch { state.weights = {}; }
  state.filters = {};
  for (const f of config.search_filters) if (q.get(f.name)) state.filters[f.name] = q.get(f.name);
}

function writeAddress() {
  const q = new URLSearchParams();
  if (state.view !== "search") q.set("view", state.view);
  if (state.place) {
    q.set("place", `${state.place.level}:${state.place.code}`);
    q.set("place_name", state.place.name);
  }
  if (state.mode !== "parcels") q.set("mode", state.mode);
  if (state.profile) q.set("profile", state.profile);
  for (const [k, v] of Object.entries(state.filters)) if (v !== "") q.set(k, v);
  if (Object.keys(state.weights).length) q.set("weights", JSON.stringify(state.weights));
  if (state.mode === "sites") { q.set("site_area", state.site_area); q.set("gap", state.gap); }
  if (state.sort !== "-score") q.set("sort", state.sort);
  if (state.offset) q.set("offset", state.offset);
  if (state.ran) q.set("run", "1");
  if (state.dossier) q.set("dossier", state.dossier);
  const search = q.toString();
  history.replaceState(null, "", `${location.pathname}${search ? "?" + search : ""}${location.hash}`);
}

// --- the map ----------------------------------------------------------------------------

function tiles(collection) {
  return { type: "vector", url: `${location.origin}/tiles/${collection}/tilejson.json` };
}
const scoreColour = [
  "case",
  ["any", ["==", ["get", "excluded"], true], ["!", ["has", "score"]]], "#9e9e9e",
  ["interpolate", ["linear"], ["get", "score"], 0, "#d73027", 40, "#fc8d59", 55, "#fee08b",
    70, "#91cf60", 100, "#1a9850"],
];
const empty = { type: "FeatureCollection", features: [] };

const NO_MATCH = ["==", ["get", "id"], ""];

function foncierStyle() {
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
async function withBasemap(style) {
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
const basemapState = { choice: "plan", loaded: { basemap: 0, aerial: 0 }, failed: { basemap: 0, aerial: 0 } };

function basemapDown(style = false) {
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

function basemapUp() {
  $("#basemap-notice").hidden = true;
  document.body.dataset.basemap = "drawn";
  if (map && map.getLayer("communes-fill")) map.setPaintProperty("communes-fill", "fill-opacity", 0);
}

function chooseBasemap(choice) {
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

function watchBasemap() {
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
function outlineTerritory(place) {
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

let map;
let hovered = null;

function hover(id) {
  if (hovered !== null) map.setFeatureState({ source: "results", id: hovered }, { hover: false });
  hovered = id;
  if (id !== null) map.setFeatureState({ source: "results", id }, { hover: true });
  for (const row of document.querySelectorAll("#results-table tbody tr")) {
    row.classList.toggle("hover", row.dataset.id === String(id));
  }
}

function frame(bbox) {
  if (bbox) map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]], { padding: 30, duration: 0 });
}

function bboxOf(geometry) {
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

async function startMap() {
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
    if (window.foncierDraft && window.foncierDraft.picking()) return; // js/draft.js takes the click
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

// --- finding a place ----------------------------------------------------------------------

let suggestions = [];
let active = -1;
let typed = 0;

function showSuggestions() {
  if (!suggestions.length) active = -1;
  const list = $("#place-list");
  const input = $("#place");
  list.innerHTML = suggestions
    .map((p, i) => `<li role="option" id="place-${i}" aria-selected="${i === active}"
        data-index="${i}">${esc(p.name)} <span class="kind">${esc(p.label)} ${esc(p.code)}</span></li>`)
    .join("");
  list.hidden = suggestions.length === 0;
  input.setAttribute("aria-expanded", String(!list.hidden));
  if (active >= 0) input.setAttribute("aria-activedescendant", `place-${active}`);
  else input.removeAttribute("aria-activedescendant");
}

async function suggest() {
  const q = $("#place").value.trim();
  const mine = ++typed;
  // names from 3 letters, codes (91, 2A…) from 2 characters
  if (q.length < (/^[0-9]/.test(q) ? 2 : 3)) { suggestions = []; showSuggestions(); return; }
  try {
    const found = await api(`/places?q=${encodeURIComponent(q)}&limit=8`, { auth: false });
    if (mine !== typed) return; // an older answer
    suggestions = found;
    active = -1;
    showSuggestions();
  } catch (error) {
    say(error.message, true);
  }
}

function choosePlace(place) {
  state.place = { level: place.level, code: place.code, name: place.name };
  $("#place").value = place.name;
  suggestions = []; showSuggestions();
  frame(place.bbox);
  outlineTerritory(state.place);
  state.offset = 0;
  showTerritory();
  writeAddress();
  if (state.view === "dashboard") loadTrajectories();
  say(`Lieu choisi : ${place.name} (${place.label}).`);
}

function showTerritory() {
  const p = state.place;
  const searchable = p && LEVEL_PARAM[p.level];
  $("#territory").innerHTML = p
    ? `Territoire : <strong>${esc(p.name)}</strong> (${esc(LEVELS[p.level] || p.level)} ${esc(p.code)})` +
      (searchable ? "" : " — <span class=\"error\">choisissez un département, un EPCI, une commune ou un TI pour chercher</span>")
    : "Territoire : <strong>aucun</strong> — choisissez un lieu ci-dessus.";
  $("#run").disabled = !searchable;
}

function bindPlaceSearch() {
  const input = $("#place");
  let timer;
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(suggest, 150); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!suggestions.length) return;
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : -1) + suggestions.length) % suggestions.length;
      showSuggestions();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (suggestions.length) choosePlace(suggestions[Math.max(active, 0)]);
    } else if (e.key === "Escape") {
      suggestions = []; showSuggestions();
    }
  });
  $("#place-list").addEventListener("mousedown", (e) => {
    const item = e.target.closest("li");
    if (item) { e.preventDefault(); choosePlace(suggestions[item.dataset.index]); }
  });
  input.addEventListener("blur", () => setTimeout(() => { suggestions = []; showSuggestions(); }, 100));
  $("#place-form").addEventListener("submit", (e) => e.preventDefault());
}

// --- the search form ----------------------------------------------------------------------

function buildForm() {
  $("#profile").innerHTML = config.profiles
    .map((p) => `<option value="${esc(p.id)}">${esc(p.name)}</option>`).join("");
  $("#profile").value = state.profile || config.default_profile;
  // one field per filter the API offers (read from its OpenAPI document by /page/config)
  $("#filters").innerHTML = config.search_filters.map((f) => {
    const label = FILTER_LABELS[f.name] || f.name;
    const id = `f-${f.name}`;
    let field;
    if (CHOICES[f.name]) {
      // a comma-separated list of values: one checkbox each (none checked: no filter)
      return `<fieldset class="checks" id="${id}" data-filter="${f.name}"><legend>${esc(label)}</legend>${Object.entries(CHOICES[f.name])
        .map(([v, text]) => `<div class="fr-checkbox-group fr-checkbox-group--sm"><input type="checkbox" id="${id}-${v}"
          name="${f.name}" value="${v}"><label class="fr-label" for="${id}-${v}">${esc(text)}</label></div>`).join("")}</fieldset>`;
    }
    if (f.type === "enum") {
      field = `<select class="fr-select" id="${id}" name="${f.name}"><option value="">${f.name === "exclude_zoning" ? "aucun" : "tous"}</option>${f.enum
        .map((v) => `<option value="${esc(v)}">${esc(ZONING[v] || v)}</option>`).join("")}</select>`;
    } else if (f.type === "boolean") {
      field = `<select class="fr-select" id="${id}" name="${f.name}"><option value="">indifférent</option>
        <option value="true">oui</option><option value="false">non</option></select>`;
    } else if (f.type === "number") {
      field = `<input class="fr-input" id="${id}" name="${f.name}" type="number" step="any" inputmode="decimal"
        ${f.minimum !== null ? `min="${f.minimum}"` : ""} ${f.maximum !== null ? `max="${f.maximum}"` : ""}>`;
    } else {
      field = `<input class="fr-input" id="${id}" name="${f.name}" maxlength="100">`;
    }
    return `<div class="row" data-filter="${f.name}"><label class="fr-label" for="${id}">${esc(label)}</label>${field}</div>`;
  }).join("");
  for (const [k, v] of Object.entries(state.filters)) {
    if (CHOICES[k]) {
      const chosen = v.split(",");
      for (const box of document.querySelectorAll(`#f-${k} input`)) box.checked = chosen.includes(box.value);
      continue;
    }
    const el = $(`#f-${k}`);
    if (el) el.value = v;
  }
  showWeights();
  for (const radio of document.querySelectorAll("input[name=mode]")) radio.checked = radio.value === state.mode;
  $("#site_area").value = state.site_area;
  $("#gap").value = state.gap;
  showMode();
}

// Custom weights replace the profile's (the API takes 0.5, 1 or 2 per criterion): every
// criterion gets a choice, preset to the profile's weight; only a change sends them all.
function criterionNames(profile) {
  return [...new Set([...Object.keys(profile ? profile.weights : {}), ...config.criteria.map((c) => c.name)])];
}

function showWeights() {
  const profile = currentProfile();
  const custom = Object.keys(state.weights).length > 0;
  $("#weights").innerHTML = criterionNames(profile).map((name) => {
    const base = profile.weights[name];
    const value = custom ? state.weights[name] : base;
    const options = [["", "non compté"], [0.5, "× 0,5"], [1, "× 1"], [2, "× 2"]]
      .map(([v, label]) => `<option value="${v}" ${String(value ?? "") === String(v) ? "selected" : ""}>${label}</option>`)
      .join("");
    return `<div class="row weight"><label class="fr-label" for="w-${name}" title="${esc(DEFINITIONS[name] || "")}">${esc(CRITERION_FR[name] || name)}</label>
      <select class="fr-select" id="w-${name}" name="${name}">${options}</select></div>`;
  }).join("");
}

function currentProfile() {
  return config.profiles.find((p) => p.id === $("#profile").value) || config.profiles[0];
}

function showMode() {
  const sites = state.mode === "sites";
  $("#site-fields").hidden = !sites;
  // sites search by site size and score only
  for (const row of document.querySelectorAll("#filters [data-filter]")) {
    row.hidden = sites && row.dataset.filter !== "min_score";
  }
}

function readForm() {
  state.mode = $("input[name=mode]:checked").value;
  state.profile = $("#profile").value === config.default_profile ? "" : $("#profile").value;
  state.filters = {};
  for (const f of config.search_filters) {
    const value = CHOICES[f.name]
      ? [...document.querySelectorAll(`#f-${f.name} input:checked`)].map((box) => box.value).join(",")
      : $(`#f-${f.name}`).value.trim();
    if (value !== "") state.filters[f.name] = value;
  }
  const chosen = {};
  for (const select of document.querySelectorAll("#weights select")) {
    if (select.value !== "") chosen[select.name] = Number(select.value);
  }
  const base = currentProfile().weights;
  const same = Object.keys(chosen).length === Object.keys(base).length &&
    Object.entries(chosen).every(([k, v]) => base[k] === v);
  state.weights = same ? {} : chosen;
  state.site_area = $("#site_area").value;
  state.gap = $("#gap").value;
}

function searchParams(extra = {}) {
  const q = new URLSearchParams();
  q.set(LEVEL_PARAM[state.place.level], state.place.code);
  if (state.profile) q.set("profile", state.profile);
  if (Object.keys(state.weights).length) q.set("weights", JSON.stringify(state.weights));
  if (state.mode === "sites") {
    q.set("min_area", state.site_area);
    q.set("gap", state.gap);
    if (state.filters.min_score) q.set("min_score", state.filters.min_score);
  } else {
    for (const [k, v] of Object.entries(state.filters)) q.set(k, v);
    q.set("sort", state.sort);
  }
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}

async function runSearch() {
  if (!state.place || !LEVEL_PARAM[state.place.level]) return;
  state.ran = true;
  writeAddress();
  const sites = state.mode === "sites";
  const path = sites ? "/sites/search" : "/parcels/search";
  const params = sites ? searchParams({ limit: 50 }) : searchParams({ limit: PAGE, offset: state.offset });
  say("Recherche en cours…");
  $("#run").disabled = true;
  try {
    const answer = await api(`${path}?${params}`, { auth: false });
    results = answer.features;
    showResults(answer);
    // the feature's id as a property too: the map's hover state and clicks key on it
    map.getSource("results").setData({ type: "FeatureCollection",
      features: results.map((f) => ({ ...f, properties: { ...f.properties, id: String(f.id) } })) });
    if (results.length) {
      const b = results.map((f) => bboxOf(f.geometry)).reduce((a, c) =>
        [Math.min(a[0], c[0]), Math.min(a[1], c[1]), Math.max(a[2], c[2]), Math.max(a[3], c[3])]);
      frame(b);
    }
    say(sites ? `${results.length} site(s) trouvé(s).` : `${matchedText(answer)} parcelle(s) trouvée(s).`);
    if (!state.dossier) $("#results").scrollIntoView({ block: "start" });
  } catch (error) {
    say(error.message, true);
  } finally {
    $("#run").disabled = false;
  }
}

// numberMatched is left out when counting would cost too much (geo/db/count.py): the page
// then says what it knows, from where the page ends and whether a next page follows.
function matchedText(answer, offset = state.offset) {
  if (answer.numberMatched !== undefined) return answer.numberMatched;
  const seen = offset + answer.numberReturned;
  const more = (answer.links || []).some((link) => link.rel === "next");
  return more ? `plus de ${seen.toLocaleString("fr-FR")}` : seen;
}

// An empty search says what may explain it: what the API tells (its "notes", when it gives
// them) and the rules of the filters used (a commune without a building layer never
// matches a land-use filter, without an owner file an owner filter).
function emptyWhy(answer) {
  const why = [...(answer.notes || [])];
  if (state.filters.land_use) why.push("les communes sans couche de bâtiments chargée ne répondent jamais au filtre d'occupation du sol");
  if (state.filters.owner) why.push("les communes sans fichier des propriétaires chargé ne répondent jamais au filtre de propriétaire");
  why.push("le territoire n'a peut-être pas toutes ses parcelles chargées (voir « Sources et fraîcheur »)");
  return `Aucune parcelle : ${why.join(" ; ")}.`;
}

function sortHeader(key, label) {
  const current = state.sort.replace("-", "") === key;
  const dir = current ? (state.sort.startsWith("-") ? "descending" : "ascending") : "none";
  return `<th scope="col" aria-sort="${dir}"><button type="button" class="sort" data-sort="${key}">${label}${
    current ? (dir === "descending" ? " ▼" : " ▲") : ""}</button></th>`;
}

function showResults(answer) {
  $("#results").hidden = false;
  const sites = state.mode === "sites";
  const table = $("#results-table");
  if (sites) {
    table.tHead.innerHTML = `<tr><th scope="col">rang</th><th scope="col">surface (ha)</th>
      <th scope="col">score</th><th scope="col">parcelles</th><th scope="col">NAF (ha)</th></tr>`;
    table.tBodies[0].innerHTML = results.map((f) => `<tr data-id="${esc(f.id)}">
      <td><a href="#" data-open="site:${esc(f.id)}">site ${f.properties.rank}</a></td>
      <td class="num">${fmt(f.properties.area_ha, 2)}</td><td class="num">${fmt(f.properties.score)}</td>
      <td class="num">${f.properties.parcel_count}</td><td class="num">${fmt(f.properties.envelope_impact_ha, 2)}</td></tr>`).join("");
    $("#results-summary").textContent = `${results.length} site(s) d'au moins ${fmt(Number(state.site_area))} ha, du meilleur au moins bon.`;
    $(".pager").hidden = true;
  } else {
    table.tHead.innerHTML = `<tr><th scope="col">parcelle</th><th scope="col">commune</th>
      ${sortHeader("area", "surface (ha)")}${sortHeader("score", "score")}
      <th scope="col">fiabilité</th><th scope="col">zonage</th><th scope="col">friche</th></tr>`;
    table.tBodies[0].innerHTML = results.map((f) => {
      const p = f.properties;
      return `<tr data-id="${esc(f.id)}"><td><a href="#" data-open="parcel:${esc(f.id)}">${esc(f.id)}</a></td>
        <td>${esc(p.commune)}</td><td class="num">${fmt(p.area_ha, 2)}</td>
        <td class="num">${fmt(p.score)}</td><td class="num">${fmt(100 * p.reliability, 0)} %</td>
        <td>${esc(ZONING[p.zoning] || p.zoning || "—")}</td><td>${p.on_friche ? "oui" : "—"}</td></tr>`;
    }).join("");
    const last = state.offset + results.length;
    $("#results-summary").textContent = `${matchedText(answer)} parcelle(s) — profil ${answer.profile.name}.`
      + (results.length ? "" : ` ${emptyWhy(answer)}`);
    $("#page-info").textContent = results.length ? `${state.offset + 1}–${last} sur ${matchedText(answer)}` : "";
    $(".pager").hidden = false;
    $("#prev").disabled = state.offset === 0;
    $("#next").disabled = !answer.links.some((link) => link.rel === "next");
  }
  const base = sites ? "/sites/search" : "/parcels/search";
  for (const format of ["csv", "csv-fr", "geojson", "gpkg"]) {
    const link = $(`#export-${format}`);
    link.href = `${base}?${searchParams(sites ? { limit: 50, format } : { format })}`;
  }
}

function bindSearch() {
  $("#search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    readForm();
    state.offset = 0;
    runSearch();
  });
  $("#profile").addEventListener("change", () => { state.weights = {}; showWeights(); });
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => { state.mode = radio.value; showMode(); });
  }
  $("#prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); runSearch(); });
  $("#next").addEventListener("click", () => { state.offset += PAGE; runSearch(); });
  const table = $("#results-table");
  table.addEventListener("click", (e) => {
    const sort = e.target.closest("button.sort");
    if (sort) {
      const key = sort.dataset.sort;
      state.sort = state.sort === `-${key}` ? key : `-${key}`;
      state.offset = 0;
      runSearch();
      return;
    }
    const open = e.target.closest("[data-open]");
    if (open) { e.preventDefault(); openDossier(open.dataset.open); }
  });
  table.addEventListener("mouseover", (e) => {
    const row = e.target.closest("tbody tr");
    if (row) hover(row.dataset.id);
  });
  table.addEventListener("focusin", (e) => {
    const row = e.target.closest("tbody tr");
    if (row) hover(row.dataset.id);
  });
  table.addEventListener("mouseleave", () => hover(null));
}

// --- dossiers ---------------------------------------------------------------------------

// A small printable map: the outline in SVG, north up, with a 100 m (or 1 km) scale.
function outlineSvg(geometry, title) {
  const [x0, y0, x1, y1] = bboxOf(geometry);
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
  const w = Math.max((x1 - x0) * k, 1e-6), h = Math.max(y1 - y0, 1e-6);
  const size = 260, pad = 10, s = (size - 2 * pad) / Math.max(w, h);
  const px = (c) => `${(pad + (c[0] - x0) * k * s).toFixed(1)},${(pad + (y1 - c[1]) * s).toFixed(1)}`;
  const rings = [];
  const walk = (c, depth) => (depth === 0 ? rings.push(c) : c.forEach((x) => walk(x, depth - 1)));
  walk(geometry.coordinates, geometry.type === "Polygon" ? 1 : 2);
  const d = rings.map((r) => "M" + r.map(px).join("L") + "Z").join("");
  const metresPerUnit = 111320;
  const scaleM = w * metresPerUnit > 1500 ? 1000 : 100;
  const scalePx = (scaleM / metresPerUnit) * s;
  return `<svg class="outline" viewBox="0 0 ${size} ${size + 20}" width="${size}" height="${size + 20}" role="img" aria-label="${esc(title)}">
    <path d="${d}" fill="#0b57d033" stroke="#0b57d0" stroke-width="1.5" fill-rule="evenodd"/>
    <line x1="${pad}" y1="${size + 10}" x2="${pad + scalePx}" y2="${size + 10}" stroke="#222" stroke-width="3"/>
    <text x="${pad + scalePx + 6}" y="${size + 14}" font-size="11">${scaleM >= 1000 ? "1 km" : "100 m"}</text></svg>`;
}

async function trajectoryBlock(level, code) {
  try {
    const t = await api(`/trajectories/${level}/${code}`, { auth: false });
    noteSynthetic(t, "les trajectoires ZAN (consommation d'espaces)");
    return `<div class="trajectory"><h4>${esc(t.territory.name)}</h4>
      <p class="status-${t.status}"><strong>${LABELS[t.status] || t.status}</strong>
        (${fmt(100 * t.share_used, 0)} % de l'enveloppe ${t.period.join("-")} consommés)</p>
      <table><tr><td>autorisé ${t.period.join("-")}</td><td class="num">${fmt(t.allowed_ha)} ha</td></tr>
        <tr><td>consommé (${t.years_elapsed} ans)</td><td class="num">${fmt(t.consumed_ha)} ha</td></tr>
        <tr><td>projection fin de période</td><td class="num">${fmt(t.projection_ha)} ha</td></tr></table>
      <img src="/trajectories/${level}/${code}/chart.png" alt="Trajectoire ZAN de ${esc(t.territory.name)}" width="300"></div>`;
  } catch (error) {
    return `<p class="hint">Trajectoire ${esc(level)} ${esc(code)} : ${esc(error.message)}</p>`;
  }
}

// Each criterion names the data it was computed from (dataset, producer, vintage, file,
// import run): the answer's own lineage.
function sourceOf(criterion) {
  const found = criterion.sources || [];
  return found.length
    ? found.map((s) => `${esc(s.dataset)}${s.vintage ? ", " + esc(s.vintage) : ""} — ${esc(s.file)}`
      + ` (import n° ${esc(s.import_run_id)} du ${esc((s.imported_at || "").slice(0, 10))})`).join(" ; ")
    : "aucune donnée chargée";
}

const CRITERION_FR = {
  site_area: "surface", size_fit: "taille adaptée", compactness: "compacité", zoning: "zonage PLU",
  on_friche: "friche", in_economic_zone: "zone d'activité", activity_zone_distance: "distance zone d'activité",
  pollution: "pollution", slope: "pente", flood: "inondation", envelope_impact: "impact NAF",
  motorway_distance: "distance échangeur", rail_siding: "embranchement fer",
  risk_regulation: "plans de prévention", plu_prescriptions: "prescriptions PLU",
  land_use: "occupation (bâti)", public_owner: "propriétaire public",
};
// Each criterion's definition, in French (the API's label is its English twin).
const DEFINITIONS = {
  site_area: "surface (méthode Mutafriches : moins de 1 ha très défavorable, 1 à 5 ha favorable, plus de 5 ha très favorable)",
  size_fit: "surface adaptée au profil recherché",
  compactness: "forme : indice de Polsby-Popper 4πA/P² (1 pour un disque ; les parcelles longues et étroites sont mal notées)",
  zoning: "classe de zonage du PLU",
  on_friche: "sur une friche (reconversion, sans artificialisation nouvelle)",
  in_economic_zone: "dans une zone d'activité (ZAE, zone commerciale, site clé en main)",
  activity_zone_distance: "distance à la zone d'activité la plus proche (site économique ou zone d'activité du PLU), 2000 valant 2 km ou plus ; inconnue là où aucune couche ne couvre le département (critère propre à Foncier)",
  pollution: "pollution des sols : avérée (BASOL, friche « avérée » ou « supposée ») ou écartée",
  slope: "pente moyenne en pourcentage (modèle numérique de terrain)",
  flood: "part de la parcelle en aléa inondation fort (classe 3 et plus) ; aucune part est neutre, comme « pas de risque inondation » chez Mutafriches",
  envelope_impact: "hectares NAF que la parcelle consommerait (0 sur une friche ou un sol déjà artificialisé)",
  risk_regulation: "plans de prévention des risques (PPR, PPRT) : la zone la plus stricte couvrant au moins 1 % de la parcelle ; inconnu hors du périmètre d'un plan chargé",
  plu_prescriptions: "prescriptions du PLU : interdiction de construire (espace boisé classé, emplacement réservé…) ou contrainte (patrimoine, paysage…) ; inconnu là où le PLU n'est pas chargé au standard CNIG",
  motorway_distance: "distance à un échangeur autoroutier (Mutafriches : moins de 1 km très favorable, 1 à 2 km favorable, 2 à 5 km défavorable, plus de 5 km très défavorable)",
  rail_siding: "embranchement ferroviaire sur le site ou à proximité",
  land_use: "occupation d'après l'emprise des bâtiments : vacante (aucun bâtiment), sous-utilisée (emprise bâtie sous 20 % ou bâti léger seulement), bâtie ; inconnue là où aucune couche de bâtiments ne couvre la commune",
  public_owner: "propriétaire (fichier des parcelles des personnes morales, DGFiP) : un terrain public se mobilise plus facilement ; commune, EPCI et établissements publics (EPF compris) très favorables, État, région, département et SEM favorables, autres neutres ; inconnu là où aucun fichier ne couvre la commune",
};
const EXCLUSIONS_FR = {
  agricultural_or_natural_zoning: "zonage agricole ou naturel (hors friche)",
  high_flood_hazard: "la moitié de la parcelle ou plus en aléa inondation fort",
  risk_plan_interdiction: "la moitié de la parcelle ou plus en zone d'interdiction d'un plan de prévention des risques (PPR, PPRT)",
  plu_prescription_interdiction: "la moitié de la parcelle ou plus sous une prescription du PLU interdisant de construire",
  nature_reserve: "réserves naturelles (aucune couche chargée)",
  wetland: "zones humides (aucune couche chargée)",
};
// A criterion's value in French words where the API gives a code.
const VALUES_FR = {
  ...ZONING, ...CHOICES.land_use, ...CHOICES.owner, known: "avérée", ruled_out: "écartée",
  interdiction: "interdiction", prescription: "prescription", none: "aucune", exclude: "interdit de construire",
  penalise: "contrainte", true: "oui", false: "non",
};
const exclusionText = (e) => esc(EXCLUSIONS_FR[e.id] || e.label);
const valueText = (v) => (typeof v === "number" ? fmt(v, 2) : esc(VALUES_FR[String(v)] || v));
// A remediation cost the API does not know (pollution unknown) is null: "inconnu", never 0 €.
const euros = (v) => (v === null || v === undefined ? "inconnue" : `${fmt(v / 1000, 0)} k€`);

async function parcelDossier(id) {
  const params = new URLSearchParams();
  if (state.profile) params.set("profile", state.profile);
  if (Object.keys(state.weights).length) params.set("weights", JSON.stringify(state.weights));
  const [feature, s] = await Promise.all([
    api(`/parcels/${id}`, { auth: false }),
    api(`/parcels/${id}/score?${params}`, { auth: false }),
  ]);
  map.setFilter("parcel-selected", ["==", ["get", "id"], id]);
  // the parcel framed, a little context around it
  const [x0, y0, x1, y1] = bboxOf(feature.geometry);
  map.fitBounds([[x0, y0], [x1, y1]], { padding: 80, maxZoom: 17, duration: 0 });
  const p = feature.properties;
  const commune = await api(`/communes/${p.commune}`, { auth: false }).catch(() => null);
  const c = commune ? commune.properties : {};
  const value = (name) => (s.criteria.find((x) => x.criterion === name) || {}).value;
  const rows = s.criteria.map((x) => {
    const cls = !x.known ? "unknown" : x.points > 0 ? "pos" : x.points < 0 ? "neg" : "";
    return `<tr class="${cls}"><td>${esc(CRITERION_FR[x.criterion] || x.criterion)}</td>
      <td class="num">${x.known ? valueText(x.value) : "inconnu"}</td>
      <td class="num">${x.known ? fmt(x.points, 2) : "—"}</td><td class="num">×${fmt(x.weight, 1)}</td>
      <td class="source">${esc(DEFINITIONS[x.criterion] || x.label)}<br><span class="file">source : ${sourceOf(x)}</span></td></tr>`;
  }).join("");
  const trajectories = await Promise.all([
    trajectoryBlock("commune", p.commune),
    c.epci_siren ? trajectoryBlock("epci", c.epci_siren) : "",
  ]);
  return `
    <h2 id="dossier-title">Dossier — parcelle ${esc(id)}</h2>
    <p>${esc(c.name || p.commune)} (${esc(p.commune)}), ${esc(c.epci || "")} — section ${esc(p.section)} n° ${esc(p.numero)},
      ${fmt(p.area_m2 / 10000, 2)} ha.</p>
    <div class="dossier-grid">
      <div>${outlineSvg(feature.geometry, `Contour de la parcelle ${id}`)}</div>
      <div>
        <p class="big">Score <strong class="score">${fmt(s.score)}</strong> / 100</p>
        <p>Profil ${esc(profileName(s.profile))}, fiabilité ${fmt(100 * s.reliability, 0)} %, modèle ${esc(s.model_version)},
          calculé le ${day(s.computed_at)}.</p>
        <p>${s.exclusions.length ? `<span class="neg">Exclue : ${s.exclusions.map(exclusionText).join(", ")}</span>`
          : "Aucune exclusion évaluée ne s'applique."}</p>
        <ul class="facts">
          <li>Zonage : ${esc(ZONING[value("zoning")] || value("zoning") || "inconnu")}</li>
          <li>Friche : ${value("on_friche") === true ? "oui" : value("on_friche") === false ? "non" : "inconnu"}</li>
          <li>Pollution : ${value("pollution") == null ? "inconnue" : valueText(value("pollution"))}</li>
          <li>Risque inondation (part en aléa fort) : ${value("flood") == null ? "inconnu" : fmt(100 * value("flood"), 0) + " %"}</li>
          <li>Impact sur l'enveloppe : ${fmt(s.envelope_impact_ha, 2)} ha NAF</li>
          <li>Dépollution estimée : ${value("pollution") == null ? "inconnue (pollution inconnue)" : euros(s.remediation_cost_eur)}</li>
          <li>Propriétaire : ${value("public_owner") ? valueText(value("public_owner")) : "non renseigné"}</li>
        </ul>
      </div>
    </div>
    <h3>Critères</h3>
    <table class="criteria"><thead><tr><th scope="col">critère</th><th scope="col">valeur</th><th scope="col">points</th>
      <th scope="col">poids</th><th scope="col">définition et source</th></tr></thead><tbody>${rows}</tbody></table>
    <p class="hint print-only">Foncier — dossier établi le ${new Date().toLocaleDateString("fr-FR")} depuis ${esc(location.origin)}.</p>
    <p class="hint">Non évalué : ${s.exclusions_not_evaluated.map(exclusionText).join(" ; ")}.</p>
    <h3>Trajectoires ZAN</h3><div class="trajectories">${trajectories.join("")}</div>`;
}

async function siteDossier(id) {
  let site = results.find((f) => String(f.id) === id);
  if (!site) {
    // opened from a link: the search runs again
    if (state.mode !== "sites" || !state.place) throw new Error("site inconnu : relancez la recherche de sites");
    await runSearch();
    site = results.find((f) => String(f.id) === id);
    if (!site) throw new Error(`le site ${id} n'est plus dans les résultats`);
  }
  const p = site.properties;
  const insee = p.parcels[0].slice(0, 5);
  const commune = await api(`/communes/${insee}`, { auth: false }).catch(() => null);
  const epci = commune && commune.properties.epci_siren;
  return `
    <h2 id="dossier-title">Dossier — site ${p.rank}</h2>
    <div class="dossier-grid"><div>${outlineSvg(site.geometry, `Contour du site ${p.rank}`)}</div><div>
      <p class="big">Score <strong class="score">${fmt(p.score)}</strong> / 100</p>
      <ul class="facts"><li>Surface : ${fmt(p.area_ha, 2)} ha en ${p.parcel_count} parcelle(s)</li>
        <li>Impact sur l'enveloppe : ${fmt(p.envelope_impact_ha, 2)} ha NAF</li>
        <li>Dépollution estimée : ${euros(p.remediation_cost_eur)}</li>
        <li>Profil ${esc(profileName(p.profile))}, modèle ${esc(p.model_version)}</li></ul></div></div>
    <h3>Parcelles</h3><ul class="parcels">${p.parcels.map((x) =>
      `<li><a href="#" data-open="parcel:${esc(x)}">${esc(x)}</a></li>`).join("")}</ul>
    <h3>Trajectoire ZAN</h3><div class="trajectories">${epci ? await trajectoryBlock("epci", epci) : ""}</div>`;
}

async function openDossier(key) {
  const [kind, id] = key.split(":");
  state.dossier = key;
  writeAddress();
  const section = $("#dossier");
  section.hidden = false;
  $("#dossier-body").innerHTML = `<p>Chargement du dossier…</p>`;
  section.dataset.parcel = "";
  section.dataset.site = "";
  try {
    $("#dossier-body").innerHTML = kind === "site" ? await siteDossier(id) : await parcelDossier(id);
    section.dataset[kind] = id;
    if (results.some((f) => String(f.id) === id)) hover(id);
  } catch (error) {
    $("#dossier-body").innerHTML = `<h2 id="dossier-title">Dossier</h2><p class="error">${esc(error.message)}</p>`;
  }
  section.scrollIntoView({ block: "start" });
  section.focus();
}

function bindDossier() {
  $("#print").addEventListener("click", () => window.print());
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("#dossier").hidden && !e.target.closest("#place-form")) $("#close-dossier").click();
  });
  $("#close-dossier").addEventListener("click", () => {
    $("#dossier").hidden = true;
    state.dossier = null;
    writeAddress();
    map.setFilter("parcel-selected", NO_MATCH);
  });
  $("#dossier-body").addEventListener("click", (e) => {
    const open = e.target.closest("[data-open]");
    if (open) { e.preventDefault(); openDossier(open.dataset.open); }
  });
}

// --- the prefecture's dashboard -----------------------------------------------------------

let me = null;
let projects = [];

function gauge(section, n) {
  const consumed = section.querySelector(".consumed");
  const reserved = section.querySelector(".reserved");
  consumed.style.width = `${(100 * n.consumed_ha) / n.total_ha}%`;
  reserved.style.left = `${(100 * n.consumed_ha) / n.total_ha}%`;
  reserved.style.width = `${(100 * n.reserved_ha) / n.total_ha}%`;
  // a few hectares of 10,000 are under a pixel: still shown, 2 px wide
  consumed.classList.toggle("some", n.consumed_ha > 0);
  reserved.classList.toggle("some", n.reserved_ha > 0);
}

async function loadEnvelope() {
  const section = $("#dash-envelope");
  const level = $("#group-by").value;
  try {
    const report = await api(`/envelope?group_by=${level}`, { auth: false });
    const n = report.national;
    gauge(section, n);
    section.dataset.consumed = n.consumed_ha;
    section.dataset.reserved = n.reserved_ha;
    section.querySelector(".figures").innerHTML =
      `${fmt(n.consumed_ha, 2)} ha consommés, ${fmt(n.reserved_ha, 2)} ha réservés, ` +
      `<strong>${fmt(n.remaining_ha, 2)} ha restants</strong> sur ${fmt(n.total_ha, 0)} ha ` +
      `(${esc(report.ruleset.name)}, ${report.period.join("-")}).`;
    const groups = report.groups || [];
    $("#envelope-table").tHead.innerHTML = `<tr><th scope="col">code</th><th scope="col">territoire</th>
      <th scope="col">consommé (ha)</th><th scope="col">réservé (ha)</th></tr>`;
    $("#envelope-table").tBodies[0].innerHTML = groups.length
      ? groups.map((g) => `<tr><td>${esc(g.code)}</td><td>${esc(g.name)}</td>
          <td class="num">${fmt(g.consumed_ha, 2)}</td><td class="num">${fmt(g.reserved_ha, 2)}</td></tr>`).join("")
      : `<tr><td colspan="4">Aucun projet autorisé ou achevé pour l'instant.</td></tr>`;
    const max = Math.max(1e-9, ...groups.map((g) => g.consumed_ha + g.reserved_ha));
    $("#envelope-chart").innerHTML = groups.length ? `<svg viewBox="0 0 320 ${groups.length * 22}" role="img"
        aria-label="Consommé et réservé par territoire" width="320" height="${groups.length * 22}">${groups.map((g, i) => `
        <text x="0" y="${i * 22 + 14}" font-size="11">${esc(g.name.slice(0, 22))}</text>
        <rect x="130" y="${i * 22 + 4}" height="14" width="${(180 * g.consumed_ha) / max}" fill="#b42318"/>
        <rect x="${130 + (180 * g.consumed_ha) / max}" y="${i * 22 + 4}" height="14"
          width="${(180 * g.reserved_ha) / max}" fill="#b7791f"/>`).join("")}</svg>` : "";
    $("#alerts").innerHTML = report.alerts.map((a) => `<li>Seuil ${fmt(100 * a.threshold, 0)} % :
      ${a.reached ? `<strong class="neg">atteint</strong> depuis ${esc(a.since)}` : "non atteint"}</li>`).join("");
    $("#envelope-csv").href = `/envelope?group_by=${level}&format=csv`;
    section.dataset.loaded = "true";
  } catch (error) {
    section.querySelector(".figures").innerHTML = `<span class="error">${esc(error.message)}</span>`;
  }
}

function projectRow(p) {
  const next = { planned: ["authorised", "abandoned"], listed: ["authorised", "abandoned"], authorised: ["under_construction", "completed", "abandoned"],
    under_construction: ["completed", "abandoned"] }[p.status] || [];
  const verbs = { authorised: "Autoriser", under_construction: "Démarrer", completed: "Achever", abandoned: "Abandonner" };
  // only what the token's role may do (geo/access.py): authorising is the prefecture's act
  const may = (s) => me && (me.role === "admin" || (me.role === "prefecture")
    || (me.role === "epci_editor" && s !== "authorised" && me.territory_code === p.epci_siren));
  const buttons = next.filter(may).map((s) => `<button type="button" data-project="${p.id}" data-status="${s}"
    aria-label="${verbs[s]} le projet ${p.id}">${verbs[s]}</button>`).join(" ")
    + ` <button type="button" data-history="${p.id}" aria-label="Historique du projet ${p.id}">Historique</button>`;
  return `<tr data-project="${p.id}"><td>${p.id}</td><td>${esc(p.name)}</td><td>${LABELS[p.kind] || esc(p.kind)}</td>
    <td data-status="${esc(p.status)}">${LABELS[p.status] || esc(p.status)}</td><td>${esc(p.epci_siren)}</td>
    <td class="num">${fmt(p.naf_ha, 2)}</td><td>${esc((p.last_entry_on || "").slice(0, 10))}</td><td>${buttons}</td></tr>`;
}

async function loadProjects() {
  const form = $("#project-filters");
  const q = new URLSearchParams();
  for (const name of ["status", "epci", "departement", "region"]) if (form[name].value) q.set(name, form[name].value);
  try {
    const all = await api(`/projects?${q}`);
    const kind = form.kind.value, from = form.from.value, to = form.to.value;
    projects = all.filter((p) => {
      const day = (p.last_entry_on || "").slice(0, 10);
      return (!kind || p.kind === kind) && (!from || day >= from) && (!to || day <= to);
    });
    $("#projects-table").tHead.innerHTML = `<tr><th scope="col">n°</th><th scope="col">nom</th><th scope="col">type</th>
      <th scope="col">statut</th><th scope="col">EPCI</th><th scope="col">NAF (ha)</th><th scope="col">dernière écriture</th>
      <th scope="col">actions</th></tr>`;
    $("#projects-table").tBodies[0].innerHTML = projects.length ? projects.map(projectRow).join("")
      : `<tr><td colspan="8">Aucun projet${me ? "" : " public"} pour ces filtres.</td></tr>`;
  } catch (error) {
    say(error.message, true);
  }
}

function projectsCsv() {
  const columns = ["id", "name", "kind", "status", "epci_siren", "commune_insee", "departement_code", "area_ha", "naf_ha", "reserved_ha", "consumed_ha", "last_entry_on"];
  const cell = (v) => `"${String(v ?? "").replace(/"/g, '""')}"`;
  const text = [columns.join(","), ...projects.map((p) => columns.map((c) => cell(p[c])).join(","))].join("\r\n");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/csv" }));
  link.download = "projets.csv";
  link.click();
}

async function changeStatus(id, status, extra = {}) {
  try {
    await api(`/projects/${id}/status`, { method: "POST",
      body: JSON.stringify({ status, reason: `${LABELS[status]} depuis le tableau de bord`, ...extra }) });
    say(`Projet ${id} : ${LABELS[status]}.`);
    await Promise.all([loadProjects(), loadEnvelope()]);
  } catch (error) {
    say(`Projet ${id} : ${error.message}`, true);
  }
}

async function loadTrajectories() {
  const box = $("#trajectories");
  const level = me && me.territory_level ? me.territory_level : state.place && state.place.level;
  const code = me && me.territory_code ? me.territory_code : state.place && state.place.code;
  if (!level) return;
  try {
    const t = await api(`/trajectories/${level}/${code}`, { auth: false });
    noteSynthetic(t, "les trajectoires ZAN (consommation d'espaces)");
    const groups = Object.entries(t.children || {}).filter(([, list]) => list.length);
    box.innerHTML = `<p><strong>${esc(t.territory.name)}</strong> :
        <span class="status-${t.status}">${LABELS[t.status] || t.status}</span>
        — <a href="/trajectories/${level}/${code}/chart.png">graphique</a></p>` +
      groups.map(([status, list]) => `<h4 class="status-${status}">${LABELS[status] || status} (${list.length})</h4>
        <ul>${list.map((c) => `<li>${esc(c.name)} — ${c.status === "no_data" ? "pas de données de consommation"
          : `${fmt(c.consumed_ha)} / ${fmt(c.allowed_ha)} ha`}
          (<a href="/trajectories/${c.level}/${c.code}/chart.png">graphique</a>,
          <a href="#" data-trajectory="${esc(c.level)}:${esc(c.code)}">dossier</a>)</li>`).join("")}</ul>`).join("");
  } catch (error) {
    box.innerHTML = `<p class="error">${esc(error.message)}</p>`;
  }
}

async function login(token) {
  if (token) sessionStorage.setItem("foncier-token", token);
  if (!sessionStorage.getItem("foncier-token")) { me = null; return; }
  try {
    me = await api("/me");
    document.dispatchEvent(new CustomEvent("foncier:login", { detail: me }));
    const role = { epci_editor: "éditeur d'EPCI", prefecture: "préfecture", admin: "administrateur" }[me.role] || me.role;
    $("#whoami").textContent = `Connecté : ${me.name} (${role}${me.territory_level ? `, ${LEVELS[me.territory_level] || me.territory_level} ${me.territory_code}` : ""}).`;
  } catch (error) {
    sessionStorage.removeItem("foncier-token");
    me = null;
    $("#whoami").textContent = `Jeton refusé : ${error.message}`;
  }
}

async function openTrajectory(level, code) {
  if (window.foncierZan) return window.foncierZan.open(level, code);
  const section = $("#dossier");
  section.hidden = false;
  $("#dossier-body").innerHTML = `<h2 id="dossier-title">Dossier — trajectoire ZAN</h2>${await trajectoryBlock(level, code)}`;
  section.dataset.trajectory = `${level}:${code}`;
  section.scrollIntoView({ block: "start" });
  section.focus();
}

function bindDashboard() {
  $("#trajectories").addEventListener("click", (e) => {
    const link = e.target.closest("[data-trajectory]");
    if (link) { e.preventDefault(); openTrajectory(...link.dataset.trajectory.split(":")); }
  });
  $("#token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    await login($("#token").value.trim());
    $("#token").value = "";
    await Promise.all([loadProjects(), loadTrajectories()]);
  });
  $("#logout").addEventListener("click", () => {
    sessionStorage.removeItem("foncier-token");
    me = null;
    $("#whoami").textContent = "Déconnecté.";
    document.dispatchEvent(new CustomEvent("foncier:login", { detail: null }));
    loadProjects();
  });
  $("#group-by").addEventListener("change", loadEnvelope);
  $("#project-filters").addEventListener("submit", (e) => { e.preventDefault(); loadProjects(); });
  $("#projects-csv").addEventListener("click", projectsCsv);
  $("#projects-table").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-status]");
    if (!button) return;
    // authorising asks its date, its act and its reason, then a confirmation (js/envelope.js)
    if (button.dataset.status === "authorised" && window.foncierEnvelope) window.foncierEnvelope.authorise(button.dataset.project);
    else changeStatus(button.dataset.project, button.dataset.status);
  });
  $("#project-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    try {
      const created = await api("/projects", { method: "POST", body: JSON.stringify({
        name: form.name.value, kind: form.kind.value, epci_siren: form.epci_siren.value.trim(),
        parcel_ids: form.parcel_ids.value.split(/[\s,;]+/).filter(Boolean),
        reason: "projet enregistré depuis le tableau de bord" }) });
      say(`Projet ${created.id} enregistré (prévu).`);
      form.reset();
      loadProjects();
    } catch (error) {
      say(`Projet refusé : ${error.message}`, true);
    }
  });
}

// --- views ------------------------------------------------------------------------------

function showView() {
  const dashboard = state.view === "dashboard";
  document.body.classList.toggle("dashboard", dashboard);
  if (map) map.resize();
  $("#search-view").hidden = dashboard;
  $("#dashboard-view").hidden = !dashboard;
  $("#nav-search").toggleAttribute("aria-current", !dashboard);
  $("#nav-dashboard").toggleAttribute("aria-current", dashboard);
  if (!dashboard) $("#nav-search").setAttribute("aria-current", "page");
  else $("#nav-dashboard").setAttribute("aria-current", "page");
  if (dashboard) {
    $("#dossier").hidden = true;
    loadEnvelope(); loadProjects(); loadTrajectories();
  }
  document.dispatchEvent(new CustomEvent("foncier:view", { detail: state.view }));
}

function bindNav() {
  for (const [id, view] of [["#nav-search", "search"], ["#nav-dashboard", "dashboard"]]) {
    $(id).addEventListener("click", (e) => {
      e.preventDefault();
      state.view = view;
      writeAddress();
      showView();
    });
  }
}

// Figures computed from synthetic data say so: any answer with "synthetic": true, on
// itself, its source or one of its sources, shows the notice at the top of the panel.
// (The API marks them beside their source; sources.js reports /sources' too.)
function noteSynthetic(answer, what) {
  const flagged = (x) => x && typeof x === "object" && x.synthetic === true;
  const synthetic = flagged(answer) || flagged(answer && answer.source)
    || ((answer && answer.sources) || []).some(flagged);
  if (!synthetic) return;
  const notice = $("#synthetic-notice");
  const said = new Set((notice.dataset.what || "").split("|").filter(Boolean)).add(what);
  notice.dataset.what = [...said].join("|");
  $("#synthetic-what").textContent = [...said].join(", ");
  notice.hidden = false;
}
window.foncierNoteSynthetic = noteSynthetic;
// What the page's ES modules (js/*.js) use of this script.
window.foncier = {
  api, esc, fmt, day, say, noteSynthetic, LABELS, LEVELS, tiles,
  get map() { return map; }, get me() { return me; },
  reloadDashboard: () => Promise.all([loadProjects(), loadEnvelope()]),
  // a territory outlined and framed on the map (a dossier opened from a list)
  showPlace: async (level, code) => {
    outlineTerritory({ level, code });
    const found = await api(`/places?q=${encodeURIComponent(code)}&limit=20`, { auth: false }).catch(() => []);
    const place = found.find((p) => p.level === level && String(p.code) === String(code));
    if (place) frame(place.bbox);
  },
};

async function main() {
  config = await api("/page/config", { auth: false });
  // the State's bloc-marque, for a State deployment only (DSFR terms of use)
  $("#bloc-marque").hidden = !config.state_deployment;
  document.body.classList.toggle("state", config.state_deployment);
  readAddress();
  await startMap();
  buildForm();
  bindPlaceSearch();
  bindSearch();
  bindDossier();
  bindDashboard();
  bindNav();
  showTerritory();
  if (state.place) $("#place").value = state.place.name;
  await login();
  map.once("load", async () => {
    outlineTerritory(state.place);
    if (!location.hash && state.place) {
      // a shared link without a map position: frame the place it names
      api(`/places?q=${encodeURIComponent(state.place.code)}&limit=20`, { auth: false }).then((found) => {
        const place = found.find((p) => p.level === state.place.level && p.code === state.place.code);
        if (place) frame(place.bbox);
      }).catch(() => {});
    } else if (!location.hash) {
      api("/collections/parcels", { auth: false }).then((c) => {
        frame(c.extent && c.extent.spatial.bbox[0]);
      }).catch(() => {});
    }
    showView();
    if (state.ran && state.place && state.view === "search") await runSearch();
    if (state.dossier && state.view === "search") await openDossier(state.dossier);
    document.dispatchEvent(new CustomEvent("foncier:ready"));
    document.body.dataset.ready = "true";
  });
}

main().catch((error) => say(error.message, true));
