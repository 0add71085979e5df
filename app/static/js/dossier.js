// Dossiers: a parcel's or a site's score, criteria with their sources, trajectories.
import { api } from "./api.js";
import { CRITERION_FR, DEFINITIONS, EXCLUSIONS_FR, LABELS, VALUES_FR, ZONING } from "./labels.js";
import { NO_MATCH, bboxOf, hover, map } from "./map.js";
import { runSearch } from "./search.js";
import { config, profileName, results, state, writeAddress } from "./state.js";
import { $, day, esc, fmt, noteSynthetic } from "./util.js";

// A small printable map: the outline in SVG, north up, with a 100 m (or 1 km) scale.
export function outlineSvg(geometry, title) {
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

// The situation map of a printed dossier: the parcel in its commune, north up, in Web
// Mercator so that the basemap's tiles (when their host answers) sit under the outlines;
// without them the commune's outline from Foncier's own data is the map.
const TILE = 256;
const mercator = (z) => (c) => {
  const n = TILE * 2 ** z;
  const lat = Math.max(-85, Math.min(85, c[1])) * Math.PI / 180;
  return [((c[0] + 180) / 360) * n, ((1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2) * n];
};

function rings(geometry) {
  const out = [];
  const walk = (c, depth) => (depth === 0 ? out.push(c) : c.forEach((x) => walk(x, depth - 1)));
  walk(geometry.coordinates, geometry.type === "Polygon" ? 1 : 2);
  return out;
}

export function situationSvg(parcel, commune, names) {
  const size = 300, pad = 12;
  const area = commune || parcel;
  const [x0, y0, x1, y1] = bboxOf(area);
  // the zoom at which the commune fills the frame
  const span = (z) => { const m = mercator(z); const a = m([x0, y1]), b = m([x1, y0]); return Math.max(b[0] - a[0], b[1] - a[1], 1e-9); };
  const z = Math.max(0, Math.min(17, Math.floor(Math.log2((size - 2 * pad) / span(0)))));
  const m = mercator(z);
  const [ox, oy] = m([x0, y1]);
  const [ex, ey] = m([x1, y0]);
  const dx = pad + (size - 2 * pad - (ex - ox)) / 2 - ox, dy = pad + (size - 2 * pad - (ey - oy)) / 2 - oy;
  const px = (c) => { const [x, y] = m(c); return `${(x + dx).toFixed(1)},${(y + dy).toFixed(1)}`; };
  const path = (g) => rings(g).map((r) => "M" + r.map(px).join("L") + "Z").join("");
  const base = config.basemap;
  const tiles = [];
  const drawn = base && base.kind === "raster" && document.body.dataset.basemap !== "unreachable";
  if (drawn) {
    const first = [Math.floor((-dx) / TILE), Math.floor((-dy) / TILE)];
    const last = [Math.floor((size - dx) / TILE), Math.floor((size - dy) / TILE)];
    for (let x = first[0]; x <= last[0]; x += 1) {
      for (let y = first[1]; y <= last[1]; y += 1) {
        if (x < 0 || y < 0 || x >= 2 ** z || y >= 2 ** z) continue;
        const url = base.url.replace("{z}", z).replace("{x}", x).replace("{y}", y);
        tiles.push(`<image href="${esc(url)}" x="${x * TILE + dx}" y="${y * TILE + dy}" width="${TILE}" height="${TILE}"/>`);
      }
    }
  }
  const [cx, cy] = m([(bboxOf(parcel)[0] + bboxOf(parcel)[2]) / 2, (bboxOf(parcel)[1] + bboxOf(parcel)[3]) / 2]);
  const metresPerPx = (156543.03 * Math.cos(((y0 + y1) / 2) * Math.PI / 180)) / 2 ** z;
  const scaleM = [100, 200, 500, 1000, 2000, 5000, 10000].find((v) => v / metresPerPx >= 50) || 10000;
  const scalePx = scaleM / metresPerPx;
  const source = drawn ? esc(base.attribution || "fond de carte") : "fond : contour de la commune (données Foncier)";
  return `<figure class="situation"><svg viewBox="0 0 ${size} ${size + 22}" width="${size}" height="${size + 22}" role="img"
      aria-label="Situation de la parcelle ${esc(names.parcel)} dans la commune ${esc(names.commune)}" data-tiles="${tiles.length}">
    <defs><clipPath id="situation-clip"><rect width="${size}" height="${size}"/></clipPath></defs>
    <rect width="${size}" height="${size}" fill="#fbfaf6" stroke="#929292"/>
    <g clip-path="url(#situation-clip)">${tiles.join("")}
      ${commune ? `<path d="${path(commune)}" fill="${drawn ? "none" : "#ffffff"}" stroke="#000091" stroke-width="2" stroke-dasharray="6 3" fill-rule="evenodd"/>` : ""}
      <path d="${path(parcel)}" fill="#e1000f" fill-opacity="0.6" stroke="#e1000f" stroke-width="1.5" fill-rule="evenodd"/>
      <circle cx="${(cx + dx).toFixed(1)}" cy="${(cy + dy).toFixed(1)}" r="9" fill="none" stroke="#e1000f" stroke-width="2.5"/></g>
    <line x1="${pad}" y1="${size + 11}" x2="${(pad + scalePx).toFixed(1)}" y2="${size + 11}" stroke="#222" stroke-width="3"/>
    <text x="${(pad + scalePx + 6).toFixed(1)}" y="${size + 15}" font-size="11">${scaleM >= 1000 ? `${scaleM / 1000} km` : `${scaleM} m`}</text>
    <text x="${size - 4}" y="${size + 15}" font-size="11" text-anchor="end">N ↑</text></svg>
    <figcaption class="hint">Situation : la parcelle (en rouge) dans la commune de ${esc(names.commune)} (tirets) — ${source}.</figcaption></figure>`;
}

export async function trajectoryBlock(level, code) {
  try {
    const t = await api(`/trajectories/${level}/${code}`, { auth: false });
    noteSynthetic(t.data || t, "les trajectoires ZAN (consommation d'espaces)");
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
export function sourceOf(criterion) {
  const found = criterion.sources || [];
  return found.length
    ? found.map((s) => `${esc(s.dataset)}${s.vintage ? ", " + esc(s.vintage) : ""} — ${esc(s.file)}`
      + ` (import n° ${esc(s.import_run_id)} du ${esc((s.imported_at || "").slice(0, 10))})`).join(" ; ")
    : "aucune donnée chargée";
}

export const exclusionText = (e) => esc(EXCLUSIONS_FR[e.id] || e.label);
export const valueText = (v) => (typeof v === "number" ? fmt(v, 2) : esc(VALUES_FR[String(v)] || v));
// A remediation cost the API does not know (pollution unknown) is null: "inconnu", never 0 €.
export const euros = (v) => (v === null || v === undefined ? "inconnue" : `${fmt(v / 1000, 0)} k€`);

export async function parcelDossier(id) {
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
      <div>${situationSvg(feature.geometry, commune && commune.geometry, { parcel: id, commune: c.name || p.commune })}</div>
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

export async function siteDossier(id) {
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
        <li>Dépollution estimée : ${euros(p.remediation_cost_eur)}${p.remediation_cost_complete === false
          && p.remediation_cost_known_eur != null ? ` (au moins ${euros(p.remediation_cost_known_eur)} : pollution inconnue sur une partie du site)` : ""}</li>
        <li>Profil ${esc(profileName(p.profile))}, modèle ${esc(p.model_version)}</li></ul></div></div>
    <h3>Parcelles</h3><ul class="parcels">${p.parcels.map((x) =>
      `<li><a href="#" data-open="parcel:${esc(x)}">${esc(x)}</a></li>`).join("")}</ul>
    <h3>Trajectoire ZAN</h3><div class="trajectories">${epci ? await trajectoryBlock("epci", epci) : ""}</div>`;
}

export async function openDossier(key) {
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

export function bindDossier() {
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
