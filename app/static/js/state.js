// The page's state and the service's configuration (/page/config); the state lives in
// the address (?…), so that a search is shared by a link.

export const PAGE = 20;

export const state = {
  view: "search", place: null, mode: "parcels", profile: "", filters: {}, weights: {},
  site_area: "2", gap: "0", sort: "-score", offset: 0, dossier: null, ran: false,
};
export const config = { profiles: [], criteria: [], search_filters: [], basemap: null };
export let results = [];
export function setResults(list) {
  results = list;
}

export function profileName(id) {
  return (config.profiles.find((p) => p.id === id) || {}).name || id;
}

// --- the address ------------------------------------------------------------------------

export function readAddress() {
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

export function writeAddress() {
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
