// The prefecture's envelope dashboard, beside map.js's gauge and projects table: where the
// envelope's text stands in law (from its rule set, GET /envelope/territoires-industrie),
// every Territoire d'industrie by région (0 ha where nothing is drawn), the projects on
// the map (Foncier's own tiles), a project's ledger history, and authorising a project:
// its date, its act and its reason, then a confirmation, as the API requires.
import { api } from "./api.js";
import { loadEnvelope, loadProjects } from "./dashboard.js";
import { LABELS } from "./labels.js";
import { map, tiles } from "./map.js";
import { $, esc, fmt, say } from "./util.js";

const STANDING = {
  law: "en vigueur (loi)", decree: "en vigueur (décret)", bill: "projet de loi, non promulgué",
  proposal: "proposition, non adoptée", "what-if": "hypothèse (simulation)",
};
const STATUS_COLOURS = ["match", ["get", "status"], "authorised", "#b7791f", "under_construction", "#8a5a00",
  "completed", "#b42318", "listed", "#6a6af4", "#666"];

function standing(report) {
  const s = report.legal_standing;
  const inForce = s.in_force
    ? "<strong>En vigueur.</strong>"
    : "<strong>Pas en vigueur</strong> : tant que le texte n'est pas promulgué, la consommation des projets industriels compte dans les trajectoires locales (commune, EPCI, SCoT, région) ; l'enveloppe ci-dessous est tenue à titre prévisionnel.";
  return `<div class="fr-callout envelope-legal"><p class="fr-callout__title">Statut juridique de l'enveloppe</p>
    <p>${esc(report.ruleset.name)} — <strong>${esc(STANDING[s.legal_status] || s.legal_status)}</strong>,
      situation au ${esc(s.status_as_of || "—")}. ${inForce}</p>
    <details><summary>Base légale et sources</summary><p>${esc(s.legal_basis || "")}</p>
      <ul>${(s.sources || []).map((x) => `<li>${esc(x)}</li>`).join("")}</ul>
      ${(s.unverified || []).length ? `<p>Non vérifié :</p><ul>${s.unverified.map((x) => `<li>${esc(x)}</li>`).join("")}</ul>` : ""}
    </details></div>`;
}

function territories(report) {
  const byRegion = new Map(report.by_region.map((r) => [r.code, { ...r, list: [] }]));
  for (const t of report.territories) byRegion.get(t.region_code).list.push(t);
  const drawing = report.territories.filter((t) => t.reserved_ha || t.consumed_ha).length;
  return `<h4 id="ti-title">Territoires d'industrie : ${report.count}, dont ${drawing} avec des projets</h4>
    <div class="ti-list">${[...byRegion.values()].map((r) => `<details data-region="${esc(r.code)}">
      <summary>${esc(r.name || r.code)} — ${r.territories} TI, ${r.territories_drawing} avec projets,
        ${fmt(r.reserved_ha, 2)} ha réservés, ${fmt(r.consumed_ha, 2)} ha consommés</summary>
      <div class="table-wrap"><table><thead><tr><th scope="col">Territoire d'industrie</th><th scope="col">EPCI</th>
        <th scope="col">réservé (ha)</th><th scope="col">consommé (ha)</th></tr></thead><tbody>${r.list.map((t) =>
        `<tr data-ti="${esc(t.id)}"><td>${esc(t.name)}</td><td class="num">${t.epci_count}</td>
          <td class="num">${fmt(t.reserved_ha, 2)}</td><td class="num">${fmt(t.consumed_ha, 2)}</td></tr>`).join("")}</tbody></table></div>
    </details>`).join("")}</div>`;
}

async function loadDashboard() {
  const box = $("#envelope-legal");
  try {
    const report = await api("/envelope/territoires-industrie", { auth: false });
    box.innerHTML = standing(report);
    $("#envelope-ti").innerHTML = territories(report);
    $("#envelope-ti").dataset.count = report.count;
  } catch (error) {
    box.innerHTML = `<p class="error">${esc(error.message)}</p>`;
  }
}

// --- the projects on the map -----------------------------------------------------------

function drawProjects() {
  if (!map || map.getSource("projects")) return;
  map.addSource("projects", tiles("projects"));
  map.addLayer({ id: "projects-fill", type: "fill", source: "projects", "source-layer": "projects",
    paint: { "fill-color": STATUS_COLOURS, "fill-opacity": 0.45 } });
  map.addLayer({ id: "projects-line", type: "line", source: "projects", "source-layer": "projects",
    paint: { "line-color": STATUS_COLOURS, "line-width": 2.5 } });
}

async function refreshProjects() {
  const source = map && map.getSource("projects");
  if (!source) return;
  // a ledger entry remakes its commune's tiles, but the browser keeps a tile for a while
  // (Cache-Control): the tiles are asked again under a new address
  const tilejson = await api("/tiles/projects/tilejson.json", { auth: false });
  const [template] = tilejson.tiles;
  source.setTiles([`${template}${template.includes("?") ? "&" : "?"}v=${Date.now()}`]);
}

// --- a project's ledger history ------------------------------------------------------------

async function history(id) {
  const box = $("#project-history");
  box.hidden = false;
  try {
    const p = await api(`/projects/${id}`);
    box.innerHTML = `<h4 id="history-title">Historique du projet n° ${p.id} — ${esc(p.name)}</h4>
      <p>${LABELS[p.status] || esc(p.status)} ; ${fmt(p.naf_ha, 2)} ha NAF ; ${fmt(p.reserved_ha, 2)} ha réservés,
        ${fmt(p.consumed_ha, 2)} ha consommés sur l'enveloppe.</p>
      <div class="table-wrap"><table><thead><tr><th scope="col">date</th><th scope="col">écriture</th>
        <th scope="col">réservé (ha)</th><th scope="col">consommé (ha)</th><th scope="col">acte et motif</th><th scope="col">par</th></tr></thead>
      <tbody>${p.entries.map((e) => `<tr><td class="num">${esc(new Date(e.occurred_on).toLocaleDateString("fr-FR"))}</td>
        <td>${e.kind === "status" ? LABELS[e.status] || esc(e.status) : "correction"}</td>
        <td class="num">${fmt(e.reserved_delta_ha, 4)}</td><td class="num">${fmt(e.consumed_delta_ha, 4)}</td>
        <td>${esc(e.reason)}</td><td>${esc(e.recorded_by)}</td></tr>`).join("")}</tbody></table></div>`;
    box.dataset.project = id;
    box.scrollIntoView({ block: "nearest" });
  } catch (error) {
    box.innerHTML = `<p class="error">${esc(error.message)}</p>`;
  }
}

// --- authorising: date, act, reason, then a confirmation ------------------------------------

let asked = null;

export function authorise(id) {
  const dialog = $("#authorise-dialog");
  const form = $("#authorise-form");
  form.reset();
  form.elements.occurred_on.value = new Date().toISOString().slice(0, 10);
  form.hidden = false;
  $("#authorise-confirm").hidden = true;
  $("#authorise-error").textContent = "";
  const row = document.querySelector(`#projects-table tr[data-project="${id}"]`);
  const name = row ? row.children[1].textContent : "";
  $("#authorise-title").textContent = `Autoriser le projet n° ${id}${name ? ` — ${name}` : ""}`;
  asked = { id, name, naf: row ? row.children[5].textContent : "" };
  dialog.showModal();
  form.elements.act.focus();
}

function bindAuthorise() {
  const dialog = $("#authorise-dialog");
  const form = $("#authorise-form");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    asked = { ...asked, act: data.act.trim(), occurred_on: data.occurred_on, reason: data.reason.trim() };
    if (!asked.act || !asked.reason || !asked.occurred_on) {
      $("#authorise-error").textContent = "La date, l'acte et le motif sont obligatoires.";
      return;
    }
    form.hidden = true;
    $("#authorise-summary").innerHTML = `Autoriser le projet n° ${esc(asked.id)} ${esc(asked.name)} réserve
      <strong>${esc(asked.naf)} ha</strong> sur l'enveloppe, par <strong>${esc(asked.act)}</strong> du
      ${esc(new Date(asked.occurred_on).toLocaleDateString("fr-FR"))} : « ${esc(asked.reason)} ». L'écriture est définitive
      (une erreur se corrige par une écriture compensatoire).`;
    $("#authorise-confirm").hidden = false;
    $("#authorise-yes").focus();
  });
  $("#authorise-back").addEventListener("click", () => { form.hidden = false; $("#authorise-confirm").hidden = true; });
  for (const cancel of document.querySelectorAll("#authorise-dialog [data-cancel]")) {
    cancel.addEventListener("click", () => dialog.close());
  }
  $("#authorise-yes").addEventListener("click", async () => {
    try {
      await api(`/projects/${asked.id}/status`, { method: "POST", body: JSON.stringify({
        status: "authorised", act: asked.act, occurred_on: asked.occurred_on, reason: asked.reason }) });
      dialog.close();
      say(`Projet ${asked.id} autorisé (${asked.act}).`);
      await Promise.all([loadProjects(), loadEnvelope()]);
      refreshProjects();
      await history(asked.id);
      document.body.dataset.authorised = asked.id;
    } catch (error) {
      $("#authorise-error").textContent = error.message;
    }
  });
}

document.addEventListener("foncier:view", (e) => { if (e.detail === "dashboard") loadDashboard(); });
document.addEventListener("foncier:ready", drawProjects);
$("#projects-table").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-history]");
  if (button) history(button.dataset.history);
});
bindAuthorise();
