// Foncier's page: find a place, search parcels or sites, read a dossier, export, and the
// prefecture's dashboard. The service's own vector tiles over the basemap the service names
// (FONCIER_BASEMAP_*: IGN's Plan IGN by default, the aerial imagery as a second choice);
// when its host cannot be reached the page says so and the territories' outlines from
// Foncier's own tiles carry the map. The state lives in the address (?…), the map position
// in its #hash, so that a search is shared by a link. Everything it shows is in French: the
// API's words (statuses, codes, criteria) are mapped in js/labels.js. This module starts the
// page; each job lives in its module under js/.
import { api } from "./js/api.js";
import { bindDashboard, changeStatus, loadEnvelope, loadProjects, loadTrajectories, login } from "./js/dashboard.js";
import { bindCompare } from "./js/compare.js";
import { bindDossier, openDossier } from "./js/dossier.js";
import { frame, map, outlineTerritory, startMap } from "./js/map.js";
import { bindPlaceSearch, showTerritory } from "./js/place.js";
import { bindSaved, loadSaved } from "./js/saved.js";
import { bindSearch, buildForm, runSearch } from "./js/search.js";
import { noteSyntheticImports } from "./js/notices.js";
import { matchedText } from "./js/results.js";
import { config, readAddress, state, writeAddress } from "./js/state.js";
import { $, say } from "./js/util.js";

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
  } else {
    loadSaved();
  }
  document.dispatchEvent(new CustomEvent("foncier:view", { detail: state.view }));
}

// On a phone the map collapses to leave the screen to the panel, and comes back.
function bindMapToggle() {
  const button = $("#map-toggle");
  button.addEventListener("click", () => {
    const collapsed = document.body.classList.toggle("map-collapsed");
    button.setAttribute("aria-expanded", String(!collapsed));
    button.textContent = collapsed ? "Afficher la carte" : "Masquer la carte";
    if (!collapsed && map) map.resize();
  });
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

// for the browser tests and for debugging
window.foncier = { matchedText, changeStatus };

async function main() {
  Object.assign(config, await api("/page/config", { auth: false }));
  // the State's bloc-marque, for a State deployment only (DSFR terms of use)
  $("#bloc-marque").hidden = !config.state_deployment;
  document.body.classList.toggle("state", config.state_deployment);
  noteSyntheticImports();
  readAddress();
  await startMap();
  buildForm();
  bindPlaceSearch();
  bindSearch();
  bindDossier();
  bindCompare();
  bindSaved();
  bindMapToggle();
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
