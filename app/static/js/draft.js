// A project drafted from the map: while "Choisir sur la carte" is pressed, a click on a
// parcel adds it to the draft (a second click takes it out); the draft is outlined on the
// map and its ids fill the project form. "Aperçu" asks POST /projects/preview (the body of
// POST /projects; nothing is written): its NAF hectares, what it would draw on the envelope
// once authorised, its commune's and EPCI's trajectories before → after. The form then
// records it through POST /projects (map.js), as typed ids always did. Shown only to the
// roles that may record a project (an EPCI's editor, an administrator).
import { api } from "./api.js";
import { me } from "./dashboard.js";
import { LABELS, LEVELS } from "./labels.js";
import { map } from "./map.js";
import { $, esc, fmt } from "./util.js";
const chosen = new Set();
let picking = false;

function form() { return $("#project-form"); }

function body() {
  const x = form();
  return { name: x.name.value.trim() || "Projet (aperçu)", kind: x.kind.value, epci_siren: x.epci_siren.value.trim(),
    parcel_ids: x.parcel_ids.value.split(/[\s,;]+/).filter(Boolean) };
}

function show() {
  const ids = [...chosen];
  if (map && map.getLayer("draft-line")) {
    map.setFilter("draft-line", ["in", ["get", "id"], ["literal", ids]]);
    map.setFilter("draft-fill", ["in", ["get", "id"], ["literal", ids]]);
  }
  form().parcel_ids.value = ids.join(" ");
  $("#draft-count").textContent = ids.length
    ? `${ids.length} parcelle${ids.length > 1 ? "s" : ""} choisie${ids.length > 1 ? "s" : ""} sur la carte.`
    : "Aucune parcelle choisie.";
  $("#draft-preview").innerHTML = "";
  document.body.dataset.draft = ids.length;
}

function togglePicking(on = !picking) {
  picking = on;
  const button = $("#draft-pick");
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? "Terminer le choix sur la carte" : "Choisir les parcelles sur la carte";
  $("#draft-hint").hidden = !on;
  if (map) map.getCanvas().style.cursor = on ? "crosshair" : "";
}

function onMapClick(event) {
  const [parcel] = map.queryRenderedFeatures(event.point, { layers: ["parcels-fill"] });
  if (!parcel) return;
  const id = parcel.properties.id;
  if (chosen.has(id)) chosen.delete(id); else chosen.add(id);
  show();
}

function drawLayers() {
  if (!map || map.getLayer("draft-line")) return;
  const none = ["in", ["get", "id"], ["literal", []]];
  map.addLayer({ id: "draft-fill", type: "fill", source: "parcels", "source-layer": "parcels", filter: none,
    paint: { "fill-color": "#000091", "fill-opacity": 0.35 } });
  map.addLayer({ id: "draft-line", type: "line", source: "parcels", "source-layer": "parcels", filter: none,
    paint: { "line-color": "#000091", "line-width": 3 } });
  map.on("click", (event) => { if (picking) onMapClick(event); });
}

function arrow(before, after) {
  if (!before || !after || before.status === "no_data") {
    return `<td colspan="3">${LABELS.no_data} : aucune donnée de consommation pour ce territoire, l'effet n'est pas connu</td>`;
  }
  const changed = before.status !== after.status;
  return `<td><span class="status-${before.status}">${LABELS[before.status] || before.status}</span> →
      <strong class="status-${after.status}">${LABELS[after.status] || after.status}</strong>${changed ? " (change)" : ""}</td>
    <td class="num">${fmt(before.consumed_ha, 2)} → ${fmt(after.consumed_ha, 2)}</td>
    <td class="num">${fmt(before.projection_ha, 2)} → ${fmt(after.projection_ha, 2)} / ${fmt(after.allowed_ha, 2)}</td>`;
}

async function preview() {
  const box = $("#draft-preview");
  box.innerHTML = "<p>Calcul de l'aperçu…</p>";
  try {
    const p = await api("/projects/preview", { method: "POST", body: JSON.stringify(body()) });
    const c = p.naf_computation;
    const e = p.envelope;
    box.innerHTML = `<h4 id="draft-preview-title">Aperçu (rien n'est enregistré)</h4>
      <ul class="facts"><li>Surface : <strong>${fmt(p.area_ha, 2)} ha</strong>, dont ${fmt(c.on_friche_ha, 2)} ha sur friche
        et ${fmt(c.on_artificialised_ha, 2)} ha déjà artificialisés</li>
        <li>Consommation d'espaces NAF : <strong>${fmt(p.naf_ha, 2)} ha</strong></li>
        <li>Enveloppe industrielle${e.ruleset.in_force ? "" : " (texte non promulgué)"} : ${e.refused ? `<strong class="neg">refusé : ${esc(e.refused)}</strong>`
          : `réserverait <strong>${fmt(e.draws_ha, 2)} ha</strong> une fois autorisé ; restant ${fmt(e.before.remaining_ha, 2)} → ${fmt(e.after.remaining_ha, 2)} ha`}</li></ul>
      <div class="table-wrap"><table><caption>Effet sur les trajectoires ZAN (s'il est autorisé)</caption>
        <thead><tr><th scope="col">territoire</th><th scope="col">statut</th><th scope="col">consommé (ha)</th>
        <th scope="col">projection / autorisé (ha)</th></tr></thead>
        <tbody>${p.trajectories.map((t) => `<tr data-level="${esc(t.level)}" data-before="${esc(t.before && t.before.status)}"
          data-after="${esc(t.after && t.after.status)}"><th scope="row">${esc(LEVELS[t.level])} ${esc(t.name || t.code)}</th>${arrow(t.before, t.after)}</tr>`).join("")}</tbody></table></div>`;
    box.dataset.naf = p.naf_ha;
  } catch (error) {
    box.innerHTML = `<p class="error">Aperçu impossible : ${esc(error.message)}</p>`;
  }
}

function roles(me) {
  const may = !!me && (me.role === "epci_editor" || me.role === "admin");
  $("#new-project").hidden = !may;
  if (may && me.role === "epci_editor" && !form().epci_siren.value) form().epci_siren.value = me.territory_code;
  if (!may) togglePicking(false);
}

$("#draft-pick").addEventListener("click", () => togglePicking());
$("#draft-preview-button").addEventListener("click", preview);
form().addEventListener("reset", () => {
  chosen.clear();
  togglePicking(false);
  setTimeout(() => { show(); roles(me); }); // after the form is emptied
});
form().parcel_ids.addEventListener("change", () => {
  chosen.clear();
  for (const id of body().parcel_ids) chosen.add(id);
  show();
});
document.addEventListener("foncier:login", (e) => roles(e.detail));
document.addEventListener("foncier:ready", () => { drawLayers(); roles(me); });

export const isPicking = () => picking;
