// A territory's ZAN trajectory dossier (GET /trajectories/{level}/{code}/dossier): the
// reference 2011-2020, the target and who set it, allowed, consumed, pace, projection and
// status, the source dataset and its vintage (synthetic said so), the legal basis; the
// member communes with their own status, to go down (EPCI → commune) and the parents, to
// go up. In French; the API's words are mapped here.
import { api } from "./api.js";
import { LABELS, LEVELS } from "./labels.js";
import { frame, outlineTerritory } from "./map.js";
import { $, esc, fmt, noteSynthetic } from "./util.js";

const LEGAL = {
  law: "loi", "sraddet-adopted": "SRADDET modifié adopté", "arrete-minimum": "minimum de l'arrêté du 31 mai 2024",
  "law-default": "défaut de la loi", "own-document-not-loaded": "document propre (PADDUC, SAR) non chargé",
  "document-adopted": "document adopté", "document-proposed": "document proposé (non adopté)",
  bill: "projet de loi (non promulgué)",
};
const COMMUNE_STATUS = {
  missing_from_source: "absente du fichier", split: "scindée", merged: "fusionnée", unchanged: "inchangée",
};

function levelName(level, code) {
  const L = LEVELS;
  return level === "national" ? "national" : `${L[level] || level} ${code || ""}`.trim();
}

// "own", "inherited from region 11", "sum of its communes' targets", in French
function origin(target) {
  if (!target) return "—";
  if (target.origin === "own") return "propre au territoire";
  if (target.origin && target.origin.startsWith("inherited from")) {
    const by = target.set_by || {};
    return `hérité : ${levelName(by.level, by.code)}`;
  }
  return "somme des objectifs de ses communes";
}

function statusBadge(status) {
  return `<span class="status-${esc(status)}">${LABELS[status] || esc(status)}</span>`;
}

function figures(d) {
  const [p0, p1] = d.period;
  const [r0, r1] = d.reference.years;
  const t = d.target || {};
  const reduction = t.reduction === null || t.reduction === undefined ? "—" : `−${fmt(100 * t.reduction, 1)} %`;
  // [label, value, numeric]
  const rows = [
    [`Consommation de référence ${r0}-${r1}`, `${fmt(d.reference.ha, 2)} ha`, true],
    ["Objectif de réduction", reduction, true],
    ["Fixé par", `${origin(t)} — ${t.regulatory ? "réglementaire" : "non réglementaire pour ce territoire"}`],
    ...(t.figure ? [["Nature du chiffre", t.figure]] : []),
    ["Statut juridique de l'objectif", LEGAL[t.legal_status] || t.legal_status || (t.binding ? "opposable" : "—")],
    [`Autorisé ${p0}-${p1}`, `${fmt(d.allowed_ha, 2)} ha`, true],
    [`Consommé depuis ${p0} (${d.years_elapsed} ans de données)`, `${fmt(d.consumed_ha, 2)} ha`, true],
    ["Rythme annuel", `${fmt(d.pace_ha_per_year, 2)} ha/an`, true],
    [`Projection fin ${p1}`, `${fmt(d.projection_ha, 2)} ha`, true],
    ["Part de l'enveloppe consommée", d.share_used === null ? "—" : `${fmt(100 * d.share_used, 0)} %`, true],
  ];
  return `<table class="zan-figures"><caption class="fr-sr-only">Chiffres de la trajectoire</caption><tbody>${rows.map(([k, v, num]) =>
    `<tr><th scope="row">${k}</th><td${num ? ' class="num"' : ""}>${esc(v)}</td></tr>`).join("")}</tbody></table>`;
}

function source(d) {
  const s = d.source;
  const synthetic = s.synthetic
    ? `<p class="fr-badge fr-badge--warning">données synthétiques</p><p class="hint">Ce fichier tient lieu de celui du Cerema pour la démonstration : ces chiffres ne sont pas une mesure.</p>`
    : "";
  const legal = d.legal_basis || {};
  return `<h4>Source et base légale</h4>${synthetic}<ul class="facts">
    <li>Source : ${esc(s.dataset)}, millésime ${esc(s.vintage)} (années ${s.years.join("-")}, ${esc(s.provisional_year)} provisoire), fichier <code>${esc(s.file)}</code></li>
    <li>Règles : ${esc(legal.ruleset)} (${LEGAL[legal.legal_status] || esc(legal.legal_status)}) — ${esc(legal.text || "")}</li>
    <li>Garantie communale : ${fmt(d.garantie_communale.ha, 0)} ha (loi n° 2023-630 art. 4)</li></ul>`;
}

function members(d) {
  const list = d.member_communes || [];
  if (d.territory.level === "commune") return "";
  const counts = Object.entries(d.member_communes_by_status || {})
    .map(([status, n]) => `${n} ${LABELS[status] || status}`).join(", ");
  const rows = list.map((c) => `<tr><td><a href="#" data-zan="commune:${esc(c.insee)}">${esc(c.name)}</a> <span class="hint">${esc(c.insee)}</span></td>
    <td>${statusBadge(c.status)}</td>
    <td class="num">${c.status === "no_data" ? "—" : `${fmt(c.consumed_ha, 2)} / ${fmt(c.allowed_ha, 2)}`}</td></tr>`).join("");
  return `<h4>Communes membres (${list.length}) : ${esc(counts)}</h4>
    <div class="table-wrap zan-members"><table><thead><tr><th scope="col">commune</th><th scope="col">statut</th>
    <th scope="col">consommé / autorisé (ha)</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function children(d) {
  const groups = Object.values(d.children || {}).flat().filter((c) => c.level !== "commune");
  if (!groups.length) return "";
  return `<h4>${LEVELS[groups[0].level] || groups[0].level} du territoire (${groups.length})</h4><ul class="zan-children">${groups.map((c) =>
    `<li><a href="#" data-zan="${esc(c.level)}:${esc(c.code)}">${esc(c.name || c.code)}</a> — ${statusBadge(c.status)}
      ${c.status === "no_data" ? "" : `(${fmt(c.consumed_ha, 2)} / ${fmt(c.allowed_ha, 2)} ha)`}</li>`).join("")}</ul>`;
}

function parents(d) {
  if (!d.parents || !d.parents.length) return "";
  return `<p class="zan-parents">Remonter : ${d.parents.map((p) =>
    `<a href="#" data-zan="${esc(p.level)}:${esc(p.code)}">${esc(LEVELS[p.level] || p.level)} ${esc(p.name || p.code)}</a>`).join(" · ")}</p>`;
}

function missing(d) {
  if (d.status === "no_data") return `<p class="fr-badge fr-badge--info">Aucune donnée de consommation pour ses ${d.communes} communes : ni l'enveloppe ni le statut ne sont connus.</p>`;
  if (d.status === "partial_data") {
    return `<p class="hint">${d.communes_without_data} commune(s) sur ${d.communes} sans donnée de consommation ; avec celles qui en ont : ${LABELS[d.status_of_communes_with_data] || d.status_of_communes_with_data}.</p>`;
  }
  return "";
}

// a territory outlined and framed on the map (a dossier opened from a list)
async function showPlace(level, code) {
  outlineTerritory({ level, code });
  const found = await api(`/places?q=${encodeURIComponent(code)}&limit=20`, { auth: false }).catch(() => []);
  const place = found.find((p) => p.level === level && String(p.code) === String(code));
  if (place) frame(place.bbox);
}

export async function open(level, code) {
  const section = $("#dossier");
  section.hidden = false;
  const body = $("#dossier-body");
  body.innerHTML = "<p>Chargement du dossier…</p>";
  try {
    const d = await api(`/trajectories/${level}/${encodeURIComponent(code)}/dossier`, { auth: false });
    noteSynthetic(d.source, "les trajectoires ZAN (consommation d'espaces)");
    const name = `${LEVELS[level] || level} ${d.territory.name}`;
    body.innerHTML = `<h2 id="dossier-title">Trajectoire ZAN — ${esc(name)}</h2>
      ${parents(d)}
      <p class="big">${statusBadge(d.status)}</p>${missing(d)}
      <div class="trajectory">${figures(d)}
      <img src="/trajectories/${esc(level)}/${esc(code)}/chart.png" alt="Graphique de la trajectoire ZAN de ${esc(d.territory.name)}" width="300"></div>
      ${source(d)}${children(d)}${members(d)}`;
    section.dataset.trajectory = `${level}:${code}`;
    showPlace(level, code);
  } catch (error) {
    body.innerHTML = `<h2 id="dossier-title">Trajectoire ZAN</h2><p class="error">${esc(error.message)}</p>`;
  }
  section.scrollIntoView({ block: "start" });
  section.focus();
}

$("#dossier-body").addEventListener("click", (e) => {
  const link = e.target.closest("[data-zan]");
  if (!link) return;
  e.preventDefault();
  const [level, code] = link.dataset.zan.split(":");
  open(level, code);
});
