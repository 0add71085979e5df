// Comparing 2 to 4 candidates side by side, parcels and candidate sites mixed: ticked in
// the results table (the choice outlives a new search or a change of mode), shown in a
// dialog that prints on its own.
import { api } from "./api.js";
import { CRITERION_FR, LAND_USE_SHORT, OWNER_SHORT, ZONING } from "./labels.js";
import { euros, exclusionText, valueText } from "./dossier.js";
import { results, state } from "./state.js";
import { $, esc, fmt, say } from "./util.js";

const MAX = 4;
// key ("parcel:id" or "site:site-n") → { kind, id, label, properties }: a snapshot, the
// results it came from may be gone
const picked = new Map();

export const isPicked = (key) => picked.has(key);

function showBar() {
  const n = picked.size;
  $("#compare-count").textContent = n
    ? `${n} candidat${n > 1 ? "s" : ""} choisi${n > 1 ? "s" : ""} pour la comparaison (2 à ${MAX}).`
    : `Cochez 2 à ${MAX} parcelles ou sites pour les comparer.`;
  $("#compare-open").disabled = n < 2;
  $("#compare-clear").hidden = n === 0;
}

function pick(box) {
  const key = box.dataset.pick;
  if (!box.checked) {
    picked.delete(key);
  } else if (picked.size >= MAX) {
    box.checked = false;
    say(`Pas plus de ${MAX} candidats à la fois : décochez-en un.`, true);
  } else {
    const [kind, id] = key.split(":");
    const feature = results.find((f) => String(f.id) === id);
    const p = feature ? feature.properties : {};
    const label = kind === "site" ? `Site ${p.rank}` : `Parcelle ${id.slice(8, 10).replace(/^0/, "")} ${id.slice(10)}`;
    picked.set(key, { kind, id, label, properties: p, mode: state.mode });
  }
  showBar();
}

function scoreParams() {
  const q = new URLSearchParams();
  if (state.profile) q.set("profile", state.profile);
  if (Object.keys(state.weights).length) q.set("weights", JSON.stringify(state.weights));
  return q;
}

// What each candidate says: a parcel's explained score (its criteria, exclusions, owner),
// a site's figures as its search gave them.
async function details(item) {
  if (item.kind === "site") return { ...item, score: null };
  const score = await api(`/parcels/${encodeURIComponent(item.id)}/score?${scoreParams()}`, { auth: false });
  return { ...item, score };
}

const owner = (o) => (o ? `${esc(OWNER_SHORT[o.group] || o.group)}${o.name ? ` — ${esc(o.name)}` : ""}` : "inconnu");

// The rows of the comparison: [label, cell of one candidate]; the best score in bold.
function rows(items) {
  const p = (x) => x.properties;
  const s = (x) => x.score;
  const both = (parcel, site) => (x) => (x.kind === "site" ? site(x) : parcel(x));
  const criteria = [...new Set(items.flatMap((x) => (s(x) ? s(x).criteria.map((c) => c.criterion) : [])))];
  const criterion = (x, name) => (s(x) ? s(x).criteria.find((c) => c.criterion === name) : null);
  return [
    ["Commune", (x) => esc(p(x).commune_name || p(x).commune || (p(x).parcels || [""])[0].slice(0, 5))],
    ["Surface", (x) => `${fmt(p(x).area_ha, 2)} ha${x.kind === "site" ? ` (${p(x).parcel_count} parcelles)` : ""}`],
    ["Parcelles", both((x) => esc(x.id), (x) => p(x).parcels.map(esc).join(", "))],
    ["Score", both((x) => `${fmt(s(x).score)} / 100`, (x) => `${fmt(p(x).score)} / 100`)],
    ["Fiabilité", both((x) => `${fmt(100 * s(x).reliability, 0)} %`, () => "—")],
    ["Exclusions (contraintes)", both((x) => (s(x).exclusions.length ? `<span class="neg">${s(x).exclusions.map(exclusionText).join(", ")}</span>` : "aucune"), () => "—")],
    ["Impact NAF", (x) => `${fmt((s(x) || p(x)).envelope_impact_ha, 2)} ha`],
    // pollution unknown: the cost is unknown, never 0 €
    ["Dépollution estimée", both((x) => (criterion(x, "pollution") && criterion(x, "pollution").known
      ? euros(s(x).remediation_cost_eur) : "inconnue (pollution inconnue)"),
    // a site's cost sums its parcels' estimates: 0 may be pollution unknown as well as ruled out
    (x) => (p(x).remediation_cost_eur ? euros(p(x).remediation_cost_eur) : "aucune estimée (pollution inconnue ou écartée)"))],
    ["Propriétaire", both((x) => owner(s(x).owner), () => "—")],
    ["Occupation", both((x) => esc(LAND_USE_SHORT[s(x).land_use] || "inconnue"), () => "—")],
    ["Zonage", both((x) => esc(ZONING[p(x).zoning] || p(x).zoning || "inconnu"), () => "—")],
    // the criteria not said above, each with its value and points
    ...criteria.filter((name) => !["zoning", "land_use", "public_owner", "envelope_impact"].includes(name)).map((name) => [CRITERION_FR[name] || name, (x) => {
      const c = criterion(x, name);
      if (!c) return "—";
      return c.known ? `${valueText(c.value)} <small class="${c.points > 0 ? "pos" : c.points < 0 ? "neg" : ""}">(${fmt(c.points, 2)} pt)</small>`
        : `<span class="unknown">inconnu</span>`;
    }]),
  ];
}

async function openComparison() {
  const dialog = $("#compare-dialog");
  const body = $("#compare-body");
  body.innerHTML = "<p>Chargement de la comparaison…</p>";
  document.body.classList.add("comparing");
  if (!dialog.open) dialog.showModal();
  try {
    const items = await Promise.all([...picked.values()].map(details));
    const best = Math.max(...items.map((x) => (x.score ? x.score.score : x.properties.score) ?? -1));
    const head = items.map((x) => `<th scope="col">${esc(x.label)}</th>`).join("");
    const lines = rows(items).map(([label, cell]) => `<tr><th scope="row">${esc(label)}</th>${items.map((x) => {
      const value = cell(x);
      const top = label === "Score" && (x.score ? x.score.score : x.properties.score) === best;
      return `<td${top ? ' class="best"' : ""}>${value}</td>`;
    }).join("")}</tr>`).join("");
    body.innerHTML = `<div class="table-wrap"><table class="compare">
      <caption class="fr-sr-only">Comparaison de ${items.length} candidats</caption>
      <thead><tr><th scope="col">critère</th>${head}</tr></thead><tbody>${lines}</tbody></table></div>
      <p class="hint">Profil ${esc(state.profile || "par défaut")} ; valeurs des critères et points (−1 à +1) du modèle de notation.
        « inconnu » : aucune donnée ne couvre le candidat pour ce critère.</p>
      <p class="hint print-only">Foncier — comparaison établie le ${new Date().toLocaleDateString("fr-FR")} depuis ${esc(location.origin)}.</p>`;
    dialog.dataset.count = String(items.length);
  } catch (error) {
    body.innerHTML = `<p class="error">${esc(error.message)}</p>`;
  }
}

export function bindCompare() {
  $("#results-table").addEventListener("change", (e) => {
    if (e.target.matches("input[data-pick]")) pick(e.target);
  });
  $("#compare-open").addEventListener("click", openComparison);
  $("#compare-clear").addEventListener("click", () => {
    picked.clear();
    for (const box of document.querySelectorAll("#results-table input[data-pick]")) box.checked = false;
    showBar();
  });
  const dialog = $("#compare-dialog");
  $("#compare-close").addEventListener("click", () => dialog.close());
  $("#compare-print").addEventListener("click", () => window.print());
  dialog.addEventListener("close", () => document.body.classList.remove("comparing"));
  showBar();
}
