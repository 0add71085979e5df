// The results table, its summary and its export links.
import { api } from "./api.js";
import { isPicked } from "./compare.js";
import { LAND_USE_SHORT, OWNER_SHORT, ZONING } from "./labels.js";
import { searchParams } from "./search.js";
import { results, state } from "./state.js";
import { $, esc, fmt } from "./util.js";

export function matchedText(answer, offset = state.offset) {
  if (answer.numberMatched !== undefined) return answer.numberMatched;
  const seen = offset + answer.numberReturned;
  const more = (answer.links || []).some((link) => link.rel === "next");
  return more ? `plus de ${seen.toLocaleString("fr-FR")}` : seen;
}

// An empty search says what may explain it: what the API tells (its "notes", when it gives
// them) and the rules of the filters used (a commune without a building layer never
// matches a land-use filter, without an owner file an owner filter).
export function emptyWhy(answer) {
  // the API's own explanation, in French (geo/scoring/empty.py)
  if (answer.why_empty) return answer.why_empty.message;
  const why = [...(answer.notes || [])];
  if (state.filters.land_use) why.push("les communes sans couche de bâtiments chargée ne répondent jamais au filtre d'occupation du sol");
  if (state.filters.owner) why.push("les communes sans fichier des propriétaires chargé ne répondent jamais au filtre de propriétaire");
  why.push("le territoire n'a peut-être pas toutes ses parcelles chargées (voir « Sources et fraîcheur »)");
  return `Aucune parcelle : ${why.join(" ; ")}.`;
}

export function sortHeader(key, label) {
  const current = state.sort.replace("-", "") === key;
  const dir = current ? (state.sort.startsWith("-") ? "descending" : "ascending") : "none";
  return `<th scope="col" aria-sort="${dir}"><button type="button" class="sort" data-sort="${key}">${label}${
    current ? (dir === "descending" ? " ▼" : " ▲") : ""}</button></th>`;
}

// A parcel's short name in the table: its section and number (the full id in its title).
const parcelName = (id) => (id.length === 14 ? `${id.slice(8, 10).replace(/^0/, "")} ${id.slice(10)}` : id);

// The box that puts a result in the comparison (compare.js keeps the choice).
function pickCell(key, label) {
  return `<td class="pick"><input type="checkbox" data-pick="${esc(key)}" ${isPicked(key) ? "checked" : ""}
    aria-label="Comparer ${esc(label)}"></td>`;
}

// A site's commune (that of its first parcel) by its name: a search of sites gives codes.
const communeNames = new Map();
async function nameSiteCommunes() {
  const cells = [...document.querySelectorAll("#results-table td[data-insee]")];
  await Promise.all([...new Set(cells.map((td) => td.dataset.insee))].map(async (insee) => {
    if (!communeNames.has(insee)) {
      const found = await api(`/communes/${insee}`, { auth: false }).catch(() => null);
      communeNames.set(insee, found ? found.properties.name : insee);
    }
  }));
  for (const td of cells) {
    td.textContent = communeNames.get(td.dataset.insee);
    const site = results.find((f) => String(f.id) === td.closest("tr").dataset.id);
    if (site) site.properties.commune_name = td.textContent;
  }
}

export function showResults(answer) {
  $("#results").hidden = false;
  const sites = state.mode === "sites";
  const table = $("#results-table");
  const pickHead = `<th scope="col" class="pick"><span class="fr-sr-only">comparer</span></th>`;
  if (sites) {
    table.tHead.innerHTML = `<tr>${pickHead}<th scope="col">rang</th><th scope="col">commune</th><th scope="col">surface (ha)</th>
      <th scope="col">score</th><th scope="col">parcelles</th><th scope="col">NAF (ha)</th></tr>`;
    table.tBodies[0].innerHTML = results.map((f) => {
      const p = f.properties;
      return `<tr data-id="${esc(f.id)}">${pickCell(`site:${f.id}`, `le site ${p.rank}`)}
      <td><a href="#" data-open="site:${esc(f.id)}">site ${p.rank}</a></td>
      <td data-insee="${esc((p.parcels[0] || "").slice(0, 5))}">${esc((p.parcels[0] || "").slice(0, 5))}</td>
      <td class="num area">${fmt(p.area_ha, 2)}</td><td class="num">${fmt(p.score)}</td>
      <td class="num">${p.parcel_count}</td><td class="num">${fmt(p.envelope_impact_ha, 2)}</td></tr>`;
    }).join("");
    nameSiteCommunes();
    $("#results-summary").textContent = `${results.length} site(s) d'au moins ${fmt(Number(state.site_area))} ha, du meilleur au moins bon.`
      + (answer.why_empty ? ` ${answer.why_empty.message}` : "");
    $(".pager").hidden = true;
  } else {
    table.tHead.innerHTML = `<tr>${pickHead}<th scope="col">parcelle</th><th scope="col">commune</th>
      ${sortHeader("area", "surface (ha)")}${sortHeader("score", "score")}
      <th scope="col">fiabilité</th><th scope="col">occupation</th><th scope="col">propriétaire</th>
      <th scope="col"><abbr title="espaces naturels, agricoles et forestiers consommés si bâtie">NAF</abbr> (ha)</th>
      <th scope="col">zonage</th><th scope="col">friche</th></tr>`;
    table.tBodies[0].innerHTML = results.map((f) => {
      const p = f.properties;
      return `<tr data-id="${esc(f.id)}">${pickCell(`parcel:${f.id}`, `la parcelle ${f.id}`)}
        <td><a href="#" data-open="parcel:${esc(f.id)}" title="parcelle ${esc(f.id)}">${esc(parcelName(f.id))}</a></td>
        <td class="commune">${esc(p.commune_name || p.commune)}</td><td class="num area">${fmt(p.area_ha, 2)}</td>
        <td class="num">${fmt(p.score)}</td><td class="num">${fmt(100 * p.reliability, 0)} %</td>
        <td>${esc(LAND_USE_SHORT[p.land_use] || "inconnue")}</td>
        <td>${p.owner ? esc(OWNER_SHORT[p.owner.group] || p.owner.group) : "inconnu"}</td>
        <td class="num">${fmt(p.envelope_impact_ha, 2)}</td>
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
