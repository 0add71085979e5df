// The search form: its fields built from the filters the API offers, read back into the
// state, turned into one query string; the search run and drawn.
import { api } from "./api.js";
import { openDossier } from "./dossier.js";
import { CHOICES, CRITERION_FR, DEFINITIONS, FILTER_LABELS, LEVEL_PARAM, ZONING } from "./labels.js";
import { bboxOf, frame, hover, map } from "./map.js";
import { matchedText, showResults } from "./results.js";
import { PAGE, config, results, setResults, state, writeAddress } from "./state.js";
import { $, esc, say } from "./util.js";

export function buildForm() {
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
export function criterionNames(profile) {
  return [...new Set([...Object.keys(profile ? profile.weights : {}), ...config.criteria.map((c) => c.name)])];
}

export function showWeights() {
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

export function currentProfile() {
  return config.profiles.find((p) => p.id === $("#profile").value) || config.profiles[0];
}

export function showMode() {
  const sites = state.mode === "sites";
  $("#site-fields").hidden = !sites;
  // sites search by site size and score only
  for (const row of document.querySelectorAll("#filters [data-filter]")) {
    row.hidden = sites && row.dataset.filter !== "min_score";
  }
}

export function readForm() {
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

export function searchParams(extra = {}) {
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

export async function runSearch() {
  if (!state.place || !LEVEL_PARAM[state.place.level]) return;
  state.ran = true;
  writeAddress();
  const sites = state.mode === "sites";
  const path = sites ? "/sites/search" : "/parcels/search";
  const params = sites ? searchParams({ limit: 50 }) : searchParams({ limit: PAGE, offset: state.offset });
  say("Recherche en cours…");
  $("#run").disabled = true;
  // the time from the search to its first rows on screen (read by the browser tests)
  performance.clearMarks("foncier-search");
  performance.mark("foncier-search");
  try {
    const answer = await api(`${path}?${params}`, { auth: false });
    setResults(answer.features);
    showResults(answer);
    performance.measure("foncier-first-results", "foncier-search");
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

export function bindSearch() {
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
