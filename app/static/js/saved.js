// Saved searches and their alerts: the current search saved with every filter of its form
// (a token is needed: an EPCI editor's, a prefecture's), the list of one's saved searches,
// each opened again in the form, and the alerts their re-runs raised (GET /alerts).
import { api } from "./api.js";
import { login, me } from "./dashboard.js";
import { openDossier } from "./dossier.js";
import { CHOICES, FILTER_LABELS, LEVEL_PARAM, LEVELS, VALUES_FR } from "./labels.js";
import { frame, outlineTerritory } from "./map.js";
import { showTerritory } from "./place.js";
import { buildForm, readForm, runSearch } from "./search.js";
import { config, state, writeAddress } from "./state.js";
import { $, day, esc, fmt, say } from "./util.js";

let searches = [];
// the territories' names of the saved searches (a saved query keeps codes only)
const names = new Map();

async function nameTerritories(list) {
  const wanted = new Set();
  for (const s of list) {
    for (const level of Object.keys(LEVEL_PARAM)) {
      const code = s.query[LEVEL_PARAM[level]];
      if (code !== undefined && !names.has(`${level}:${code}`)) wanted.add(`${level}:${code}`);
    }
  }
  await Promise.all([...wanted].map(async (key) => {
    const [level, code] = key.split(":");
    const found = await api(`/places?q=${encodeURIComponent(code)}&limit=20`, { auth: false }).catch(() => []);
    const place = found.find((p) => p.level === level && String(p.code) === code);
    names.set(key, place ? place.name : code);
  }));
}

// A form value as the saved search's JSON wants it (read strictly: a number is a number),
// from the filter's type as /page/config gives it: a filter added to the API needs no
// change here.
function typed(filter, value) {
  if (filter.type === "number") return Number(value);
  if (filter.type === "boolean") return value === "true";
  return value;
}

// The current search as a saved search's body: { kind, query }.
export function savedQuery() {
  const level = LEVEL_PARAM[state.place.level];
  const query = { [level]: state.place.code };
  if (state.profile) query.profile = state.profile;
  const byName = Object.fromEntries(config.search_filters.map((f) => [f.name, f]));
  if (state.mode === "sites") {
    query.min_area = Number(state.site_area);
    query.gap = Number(state.gap);
    if (state.filters.min_score) query.min_score = Number(state.filters.min_score);
  } else {
    for (const [name, value] of Object.entries(state.filters)) {
      if (byName[name]) query[name] = typed(byName[name], value);
    }
  }
  return { kind: state.mode, query };
}

// A saved query in French words: "EPCI 200058… · Surface min. (ha) 0,5 · Occupation du sol :
// vacante, sous-utilisée".
function describe(search) {
  const words = [search.kind === "sites" ? "sites" : "parcelles"];
  for (const [name, value] of Object.entries(search.query)) {
    if (LEVEL_PARAM[name]) { words.push(`${LEVELS[name] || name} ${names.get(`${name}:${value}`) || value}`); continue; }
    const label = name === "profile" ? "profil" : name === "gap" ? "écart (m)"
      : search.kind === "sites" && name === "min_area" ? "surface du site (ha)" : FILTER_LABELS[name] || name;
    const shown = CHOICES[name] ? String(value).split(",").map((v) => CHOICES[name][v] || v).join(", ")
      : typeof value === "number" ? fmt(value, 2) : VALUES_FR[String(value)] || value;
    words.push(`${label} : ${shown}`);
  }
  return words.join(" · ");
}

function showAccess() {
  $("#saved-login").hidden = Boolean(me);
  $("#save-form").hidden = !me;
  $("#saved-lists").hidden = !me;
}

// The form's "Enregistrer" is for a search that can run: a territory chosen.
export function showSaveTarget() {
  const ready = state.place && LEVEL_PARAM[state.place.level];
  $("#save-run").disabled = !ready;
  if (!ready) { $("#save-what").textContent = "Choisissez d'abord un territoire."; return; }
  readForm();
  const custom = Object.keys(state.weights).length ? " (les poids personnalisés ne sont pas enregistrés : le profil l'est)" : "";
  $("#save-what").textContent = `Sera enregistrée : ${describe(savedQuery())}${custom}.`;
}

export async function loadSaved() {
  showAccess();
  if (!me) return;
  showSaveTarget();
  try {
    const [list, alerts] = await Promise.all([api("/saved-searches"), api("/alerts?limit=1000")]);
    searches = list;
    await nameTerritories(list);
    const bySearch = new Map();
    for (const a of alerts.alerts) bySearch.set(a.saved_search_id, [...(bySearch.get(a.saved_search_id) || []), a]);
    $("#saved-list").innerHTML = list.length ? list.map((s) => {
      const mine = bySearch.get(s.id) || [];
      return `<li data-saved="${s.id}"><strong>${esc(s.name)}</strong>
        <span class="hint">— ${esc(describe(s))}, enregistrée le ${day(s.created_at)}${s.webhook_url ? ", avec webhook" : ""}</span>
        <span class="saved-alerts">${mine.length ? `${mine.length} alerte${mine.length > 1 ? "s" : ""}` : "aucune alerte"}</span>
        <div class="actions"><button type="button" class="fr-btn fr-btn--sm fr-btn--secondary" data-open-saved="${s.id}">Ouvrir</button>
        <button type="button" class="fr-btn fr-btn--sm fr-btn--tertiary" data-delete-saved="${s.id}">Supprimer</button></div></li>`;
    }).join("") : "<li class=\"hint\">Aucune recherche enregistrée.</li>";
    const recent = alerts.alerts.slice(-20).reverse();
    $("#alerts-list").innerHTML = recent.length ? recent.map((a) => `<li data-alert="${a.id}">
      <span class="${a.change === "appeared" ? "pos" : "neg"}">${a.change === "appeared" ? "Nouveau" : "Disparu"}</span> :
      ${a.kind === "sites" ? "site" : `<a href="#" data-open="parcel:${esc(a.item_id)}">parcelle ${esc(a.item_id)}</a>`}
      (${esc(a.commune_insee)}) — « ${esc(a.saved_search_name)} », le ${day(a.at)}</li>`).join("")
      : "<li class=\"hint\">Aucune alerte : elles viennent quand un import ou une synchronisation change les résultats d'une recherche enregistrée.</li>";
    $("#saved").dataset.loaded = String(list.length);
  } catch (error) {
    $("#saved-list").innerHTML = `<li class="error">${esc(error.message)}</li>`;
  }
}

async function save(e) {
  e.preventDefault();
  readForm();
  if (!state.place || !LEVEL_PARAM[state.place.level]) return;
  const body = { name: $("#save-name").value.trim(), ...savedQuery() };
  const webhook = $("#save-webhook").value.trim();
  if (webhook) body.webhook_url = webhook;
  try {
    const saved = await api("/saved-searches", { method: "POST", body: JSON.stringify(body) });
    say(`Recherche « ${saved.name} » enregistrée : ses alertes viendront après chaque import de données.`);
    $("#save-secret").hidden = !saved.webhook_secret;
    if (saved.webhook_secret) {
      $("#save-secret").textContent = `Secret de signature du webhook (affiché une seule fois) : ${saved.webhook_secret}`;
    }
    $("#save-form").reset();
    await loadSaved();
  } catch (error) {
    say(`Recherche non enregistrée : ${error.message}`, true);
  }
}

// A saved search opened again: its territory, mode, profile and filters in the form, run.
async function openSaved(id) {
  const search = searches.find((s) => String(s.id) === String(id));
  if (!search) return;
  const q = { ...search.query };
  const level = Object.keys(LEVEL_PARAM).find((l) => q[LEVEL_PARAM[l]] !== undefined);
  const code = q[LEVEL_PARAM[level]];
  const found = await api(`/places?q=${encodeURIComponent(code)}&limit=20`, { auth: false }).catch(() => []);
  const place = found.find((p) => p.level === level && String(p.code) === String(code));
  state.place = { level, code, name: place ? place.name : code };
  $("#place").value = state.place.name;
  state.mode = search.kind;
  state.profile = q.profile || "";
  state.weights = {};
  state.filters = {};
  state.offset = 0;
  if (search.kind === "sites") {
    state.site_area = String(q.min_area);
    state.gap = String(q.gap ?? 0);
    if (q.min_score !== undefined) state.filters.min_score = String(q.min_score);
  } else {
    for (const f of config.search_filters) if (q[f.name] !== undefined) state.filters[f.name] = String(q[f.name]);
  }
  buildForm();
  showTerritory();
  outlineTerritory(state.place);
  if (place) frame(place.bbox);
  writeAddress();
  say(`Recherche « ${search.name} » ouverte.`);
  await runSearch();
}

async function remove(id) {
  try {
    await api(`/saved-searches/${id}`, { method: "DELETE" });
    await loadSaved();
  } catch (error) {
    say(error.message, true);
  }
}

export function bindSaved() {
  $("#saved-token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    await login($("#saved-token").value.trim());
    $("#saved-token").value = "";
    if (!me) say("Jeton refusé : vérifiez-le ou demandez-en un à l'administrateur de Foncier.", true);
    await loadSaved();
  });
  $("#save-form").addEventListener("submit", save);
  // what would be saved, said as the form changes
  $("#search-form").addEventListener("change", () => { if (me) showSaveTarget(); });
  $("#saved").addEventListener("click", (e) => {
    const open = e.target.closest("[data-open-saved]");
    if (open) { openSaved(open.dataset.openSaved); return; }
    const gone = e.target.closest("[data-delete-saved]");
    if (gone) { remove(gone.dataset.deleteSaved); return; }
    const parcel = e.target.closest("[data-open]");
    if (parcel) { e.preventDefault(); openDossier(parcel.dataset.open); }
  });
}
