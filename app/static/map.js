// Foncier's map: the service's own vector tiles, no external basemap (nothing outside is
// reachable). Clicking a parcel shows its score breakdown and its EPCI's ZAN trajectory.
"use strict";

const LABELS = {
  on_track: "dans la trajectoire",
  will_exceed: "dépassement projeté",
  exceeded: "enveloppe dépassée",
};

function fmt(value, digits = 1) {
  if (value === null || value === undefined) return "—";
  return Number(value).toLocaleString("fr-FR", { maximumFractionDigits: digits });
}

function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `${url}: HTTP ${response.status}`);
  return body;
}

function tiles(collection) {
  return { type: "vector", url: `${location.origin}/tiles/${collection}/tilejson.json` };
}

const scoreColour = [
  "case",
  ["any", ["==", ["get", "excluded"], true], ["!", ["has", "score"]]],
  "#9e9e9e",
  ["interpolate", ["linear"], ["get", "score"], 0, "#d73027", 40, "#fc8d59", 55, "#fee08b",
    70, "#91cf60", 100, "#1a9850"],
];

const style = {
  version: 8,
  sources: {
    communes: tiles("communes"),
    epci: tiles("epci"),
    ti: tiles("territoires-industrie"),
    zones: tiles("economic-zones"),
    sites: tiles("sites"),
    friches: tiles("friches"),
    parcels: tiles("parcels"),
  },
  layers: [
    { id: "background", type: "background", paint: { "background-color": "#e8e4da" } },
    { id: "communes-fill", type: "fill", source: "communes", "source-layer": "communes",
      paint: { "fill-color": "#fbfaf6" } },
    { id: "communes-line", type: "line", source: "communes", "source-layer": "communes",
      paint: { "line-color": "#b5ad9c", "line-width": 0.6 } },
    { id: "parcels-fill", type: "fill", source: "parcels", "source-layer": "parcels",
      paint: { "fill-color": scoreColour, "fill-opacity": 0.75 } },
    { id: "parcels-line", type: "line", source: "parcels", "source-layer": "parcels",
      minzoom: 15, paint: { "line-color": "#555", "line-width": 0.3 } },
    { id: "zones-fill", type: "fill", source: "zones", "source-layer": "economic-zones",
      paint: { "fill-color": "#5e3c99", "fill-opacity": 0.3, "fill-outline-color": "#5e3c99" } },
    { id: "sites-fill", type: "fill", source: "sites", "source-layer": "sites",
      paint: { "fill-color": "#2166ac", "fill-opacity": 0.35 } },
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
    { id: "parcel-selected", type: "line", source: "parcels", "source-layer": "parcels",
      filter: ["==", ["get", "id"], ""], paint: { "line-color": "#000", "line-width": 3 } },
  ],
};

const map = new maplibregl.Map({
  container: "map",
  style,
  center: [2.5, 46.6],
  zoom: 5,
  hash: true,
  attributionControl: { compact: true },
});
map.addControl(new maplibregl.NavigationControl(), "top-left");
map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
window.foncierMap = map; // for the browser test and for debugging

// Without a position in the address, open on the parcels that are loaded.
if (!location.hash) {
  getJSON("/collections/parcels")
    .then((c) => {
      const bbox = c.extent && c.extent.spatial.bbox[0];
      if (bbox) map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]], { padding: 20 });
    })
    .catch(() => {});
}

async function showEnvelope() {
  const section = document.querySelector("#envelope");
  try {
    const report = await getJSON("/envelope");
    const n = report.national;
    section.querySelector(".consumed").style.width = `${(100 * n.consumed_ha) / n.total_ha}%`;
    const reserved = section.querySelector(".reserved");
    reserved.style.left = `${(100 * n.consumed_ha) / n.total_ha}%`;
    reserved.style.width = `${(100 * n.reserved_ha) / n.total_ha}%`;
    section.querySelector(".figures").innerHTML =
      `${fmt(n.consumed_ha)} ha consommés, ${fmt(n.reserved_ha)} ha réservés, ` +
      `<strong>${fmt(n.remaining_ha)} ha restants</strong> sur ${fmt(n.total_ha, 0)} ha ` +
      `(${escapeHtml(report.ruleset.name)}, ${report.period.join("-")}).`;
    section.dataset.loaded = "true";
  } catch (error) {
    section.querySelector(".figures").innerHTML = `<span class="error">${escapeHtml(error.message)}</span>`;
  }
}

async function showTrajectory(level, code) {
  const section = document.querySelector("#trajectory");
  try {
    const t = await getJSON(`/trajectories/${level}/${code}`);
    section.innerHTML = `
      <h2>Trajectoire ZAN — ${escapeHtml(t.territory.name)}</h2>
      <p class="status-${t.status}"><strong>${LABELS[t.status] || t.status}</strong>
         (${fmt(100 * t.share_used, 0)} % de l'enveloppe ${t.period.join("-")} consommés)</p>
      <table>
        <tr><td>référence ${t.reference_years.join("-")}</td><td class="num">${fmt(t.reference_ha)} ha</td></tr>
        <tr><td>autorisé ${t.period.join("-")}</td><td class="num">${fmt(t.allowed_ha)} ha</td></tr>
        <tr><td>consommé (${t.years_elapsed} ans)</td><td class="num">${fmt(t.consumed_ha)} ha</td></tr>
        <tr><td>projection fin de période</td><td class="num">${fmt(t.projection_ha)} ha</td></tr>
      </table>
      <img src="/trajectories/${level}/${code}/chart.png" alt="trajectoire" width="320">`;
    section.dataset.territory = code;
  } catch (error) {
    section.innerHTML = `<h2>Trajectoire ZAN</h2><p class="error">${escapeHtml(error.message)}</p>`;
  }
}

async function selectCommune(insee) {
  const commune = await getJSON(`/communes/${insee}`);
  const epci = commune.properties.epci_siren;
  await showTrajectory(epci ? "epci" : "commune", epci || insee);
}

async function selectParcel(id, commune) {
  map.setFilter("parcel-selected", ["==", ["get", "id"], id]);
  const section = document.querySelector("#parcel");
  try {
    const s = await getJSON(`/parcels/${id}/score`);
    const rows = s.criteria
      .map((c) => {
        const cls = !c.known ? "unknown" : c.points > 0 ? "pos" : c.points < 0 ? "neg" : "";
        return `<tr class="${cls}"><td>${escapeHtml(c.criterion)}</td>
          <td class="num">${c.known ? fmt(c.value, 2) : "inconnu"}</td>
          <td class="num">${c.known ? fmt(c.points, 1) : "—"}</td><td class="num">×${c.weight}</td></tr>`;
      })
      .join("");
    const exclusions = s.exclusions.length
      ? `<p class="neg">Exclue : ${s.exclusions.map((e) => escapeHtml(e.label || e.id || e)).join(", ")}</p>`
      : "";
    section.innerHTML = `
      <h2>Parcelle ${escapeHtml(s.parcel_id)}</h2>
      <p>Score <strong class="score">${fmt(s.score)}</strong> / 100 (profil ${escapeHtml(s.profile)}),
         fiabilité ${fmt(100 * s.reliability, 0)} %, modèle ${escapeHtml(s.model_version)}</p>
      ${exclusions}
      <p>Impact sur l'enveloppe : ${fmt(s.envelope_impact_ha, 2)} ha NAF;
         dépollution estimée : ${fmt(s.remediation_cost_eur / 1000, 0)} k€</p>
      <table><tr><th>critère</th><th>valeur</th><th>points</th><th>poids</th></tr>${rows}</table>`;
    section.dataset.parcel = id;
  } catch (error) {
    section.innerHTML = `<h2>Parcelle ${escapeHtml(id)}</h2><p class="error">${escapeHtml(error.message)}</p>`;
  }
  if (commune) await selectCommune(commune);
}

map.on("click", (event) => {
  const [parcel] = map.queryRenderedFeatures(event.point, { layers: ["parcels-fill"] });
  if (parcel) {
    selectParcel(parcel.properties.id, parcel.properties.commune);
    return;
  }
  const [commune] = map.queryRenderedFeatures(event.point, { layers: ["communes-fill"] });
  if (commune) selectCommune(commune.properties.id);
});
for (const layer of ["parcels-fill", "communes-fill"]) {
  map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
}

showEnvelope();
