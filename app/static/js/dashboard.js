// The prefecture's dashboard: the envelope, the projects and their statuses, the
// territory's trajectories; the token entered here is used by the whole page.
import { api } from "./api.js";
import { open as openZanDossier } from "./dossier-zan.js";
import { authorise } from "./envelope.js";
import { LABELS, LEVELS } from "./labels.js";
import { state } from "./state.js";
import { $, day, esc, fmt, noteSynthetic, say } from "./util.js";

export let me = null;
export let projects = [];

export function gauge(section, n) {
  const consumed = section.querySelector(".consumed");
  const reserved = section.querySelector(".reserved");
  consumed.style.width = `${(100 * n.consumed_ha) / n.total_ha}%`;
  reserved.style.left = `${(100 * n.consumed_ha) / n.total_ha}%`;
  reserved.style.width = `${(100 * n.reserved_ha) / n.total_ha}%`;
  // a few hectares of 10,000 are under a pixel: still shown, 2 px wide
  consumed.classList.toggle("some", n.consumed_ha > 0);
  reserved.classList.toggle("some", n.reserved_ha > 0);
}

export async function loadEnvelope() {
  const section = $("#dash-envelope");
  const level = $("#group-by").value;
  try {
    const report = await api(`/envelope?group_by=${level}`, { auth: false });
    const n = report.national;
    gauge(section, n);
    section.dataset.consumed = n.consumed_ha;
    section.dataset.reserved = n.reserved_ha;
    section.querySelector(".figures").innerHTML =
      `${fmt(n.consumed_ha, 2)} ha consommés, ${fmt(n.reserved_ha, 2)} ha réservés, ` +
      `<strong>${fmt(n.remaining_ha, 2)} ha restants</strong> sur ${fmt(n.total_ha, 0)} ha ` +
      `(${esc(report.ruleset.name)}, ${report.period.join("-")}).`;
    const groups = report.groups || [];
    $("#envelope-table").tHead.innerHTML = `<tr><th scope="col">code</th><th scope="col">territoire</th>
      <th scope="col">consommé (ha)</th><th scope="col">réservé (ha)</th></tr>`;
    $("#envelope-table").tBodies[0].innerHTML = groups.length
      ? groups.map((g) => `<tr><td>${esc(g.code)}</td><td>${esc(g.name)}</td>
          <td class="num">${fmt(g.consumed_ha, 2)}</td><td class="num">${fmt(g.reserved_ha, 2)}</td></tr>`).join("")
      : `<tr><td colspan="4">Aucun projet autorisé ou achevé pour l'instant.</td></tr>`;
    const max = Math.max(1e-9, ...groups.map((g) => g.consumed_ha + g.reserved_ha));
    $("#envelope-chart").innerHTML = groups.length ? `<svg viewBox="0 0 320 ${groups.length * 22}" role="img"
        aria-label="Consommé et réservé par territoire" width="320" height="${groups.length * 22}">${groups.map((g, i) => `
        <text x="0" y="${i * 22 + 14}" font-size="11">${esc(g.name.slice(0, 22))}</text>
        <rect x="130" y="${i * 22 + 4}" height="14" width="${(180 * g.consumed_ha) / max}" fill="#b42318"/>
        <rect x="${130 + (180 * g.consumed_ha) / max}" y="${i * 22 + 4}" height="14"
          width="${(180 * g.reserved_ha) / max}" fill="#b7791f"/>`).join("")}</svg>` : "";
    $("#alerts").innerHTML = report.alerts.map((a) => `<li>Seuil ${fmt(100 * a.threshold, 0)} % :
      ${a.reached ? `<strong class="neg">atteint</strong> depuis ${esc(a.since)}` : "non atteint"}</li>`).join("");
    $("#envelope-csv").href = `/envelope?group_by=${level}&format=csv`;
    section.dataset.loaded = "true";
  } catch (error) {
    section.querySelector(".figures").innerHTML = `<span class="error">${esc(error.message)}</span>`;
  }
}

export function projectRow(p) {
  const next = { planned: ["authorised", "abandoned"], listed: ["authorised", "abandoned"], authorised: ["under_construction", "completed", "abandoned"],
    under_construction: ["completed", "abandoned"] }[p.status] || [];
  const verbs = { authorised: "Autoriser", under_construction: "Démarrer", completed: "Achever", abandoned: "Abandonner" };
  // only what the token's role may do (geo/access.py): authorising is the prefecture's act
  const may = (s) => me && (me.role === "admin" || (me.role === "prefecture")
    || (me.role === "epci_editor" && s !== "authorised" && me.territory_code === p.epci_siren));
  const buttons = next.filter(may).map((s) => `<button type="button" data-project="${p.id}" data-status="${s}"
    aria-label="${verbs[s]} le projet ${p.id}">${verbs[s]}</button>`).join(" ")
    + ` <button type="button" data-history="${p.id}" aria-label="Historique du projet ${p.id}">Historique</button>`;
  return `<tr data-project="${p.id}"><td>${p.id}</td><td>${esc(p.name)}</td><td>${LABELS[p.kind] || esc(p.kind)}</td>
    <td data-status="${esc(p.status)}">${LABELS[p.status] || esc(p.status)}</td><td>${esc(p.epci_siren)}</td>
    <td class="num">${fmt(p.naf_ha, 2)}</td><td>${esc((p.last_entry_on || "").slice(0, 10))}</td><td>${buttons}</td></tr>`;
}

export async function loadProjects() {
  const form = $("#project-filters");
  const q = new URLSearchParams();
  for (const name of ["status", "epci", "departement", "region"]) if (form[name].value) q.set(name, form[name].value);
  try {
    const all = await api(`/projects?${q}`);
    const kind = form.kind.value, from = form.from.value, to = form.to.value;
    projects = all.filter((p) => {
      const day = (p.last_entry_on || "").slice(0, 10);
      return (!kind || p.kind === kind) && (!from || day >= from) && (!to || day <= to);
    });
    $("#projects-table").tHead.innerHTML = `<tr><th scope="col">n°</th><th scope="col">nom</th><th scope="col">type</th>
      <th scope="col">statut</th><th scope="col">EPCI</th><th scope="col">NAF (ha)</th><th scope="col">dernière écriture</th>
      <th scope="col">actions</th></tr>`;
    $("#projects-table").tBodies[0].innerHTML = projects.length ? projects.map(projectRow).join("")
      : `<tr><td colspan="8">Aucun projet${me ? "" : " public"} pour ces filtres.</td></tr>`;
  } catch (error) {
    say(error.message, true);
  }
}

export function projectsCsv() {
  const columns = ["id", "name", "kind", "status", "epci_siren", "commune_insee", "departement_code", "area_ha", "naf_ha", "reserved_ha", "consumed_ha", "last_entry_on"];
  const cell = (v) => `"${String(v ?? "").replace(/"/g, '""')}"`;
  const text = [columns.join(","), ...projects.map((p) => columns.map((c) => cell(p[c])).join(","))].join("\r\n");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/csv" }));
  link.download = "projets.csv";
  link.click();
}

export async function changeStatus(id, status, extra = {}) {
  try {
    await api(`/projects/${id}/status`, { method: "POST",
      body: JSON.stringify({ status, reason: `${LABELS[status]} depuis le tableau de bord`, ...extra }) });
    say(`Projet ${id} : ${LABELS[status]}.`);
    await Promise.all([loadProjects(), loadEnvelope()]);
  } catch (error) {
    say(`Projet ${id} : ${error.message}`, true);
  }
}

export async function loadTrajectories() {
  const box = $("#trajectories");
  const level = me && me.territory_level ? me.territory_level : state.place && state.place.level;
  const code = me && me.territory_code ? me.territory_code : state.place && state.place.code;
  if (!level) return;
  try {
    const t = await api(`/trajectories/${level}/${code}`, { auth: false });
    noteSynthetic(t.data || t, "les trajectoires ZAN (consommation d'espaces)");
    const groups = Object.entries(t.children || {}).filter(([, list]) => list.length);
    box.innerHTML = `<p><strong>${esc(t.territory.name)}</strong> :
        <span class="status-${t.status}">${LABELS[t.status] || t.status}</span>
        — <a href="/trajectories/${level}/${code}/chart.png">graphique</a></p>` +
      groups.map(([status, list]) => `<h4 class="status-${status}">${LABELS[status] || status} (${list.length})</h4>
        <ul>${list.map((c) => `<li>${esc(c.name)} — ${c.status === "no_data" ? "pas de données de consommation"
          : `${fmt(c.consumed_ha)} / ${fmt(c.allowed_ha)} ha`}
          (<a href="/trajectories/${c.level}/${c.code}/chart.png">graphique</a>,
          <a href="#" data-trajectory="${esc(c.level)}:${esc(c.code)}">dossier</a>)</li>`).join("")}</ul>`).join("");
  } catch (error) {
    box.innerHTML = `<p class="error">${esc(error.message)}</p>`;
  }
}

export async function login(token) {
  if (token) sessionStorage.setItem("foncier-token", token);
  if (!sessionStorage.getItem("foncier-token")) { me = null; return; }
  try {
    me = await api("/me");
    document.dispatchEvent(new CustomEvent("foncier:login", { detail: me }));
    const role = { epci_editor: "éditeur d'EPCI", prefecture: "préfecture", admin: "administrateur" }[me.role] || me.role;
    $("#whoami").textContent = `Connecté : ${me.name} (${role}${me.territory_level ? `, ${LEVELS[me.territory_level] || me.territory_level} ${me.territory_code}` : ""}).`;
  } catch (error) {
    sessionStorage.removeItem("foncier-token");
    me = null;
    $("#whoami").textContent = `Jeton refusé : ${error.message}`;
  }
}

export function openTrajectory(level, code) {
  return openZanDossier(level, code);
}

export function bindDashboard() {
  $("#trajectories").addEventListener("click", (e) => {
    const link = e.target.closest("[data-trajectory]");
    if (link) { e.preventDefault(); openTrajectory(...link.dataset.trajectory.split(":")); }
  });
  $("#token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    await login($("#token").value.trim());
    $("#token").value = "";
    await Promise.all([loadProjects(), loadTrajectories()]);
  });
  $("#logout").addEventListener("click", () => {
    sessionStorage.removeItem("foncier-token");
    me = null;
    $("#whoami").textContent = "Déconnecté.";
    document.dispatchEvent(new CustomEvent("foncier:login", { detail: null }));
    loadProjects();
  });
  $("#group-by").addEventListener("change", loadEnvelope);
  $("#project-filters").addEventListener("submit", (e) => { e.preventDefault(); loadProjects(); });
  $("#projects-csv").addEventListener("click", projectsCsv);
  $("#projects-table").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-status]");
    if (!button) return;
    // authorising asks its date, its act and its reason, then a confirmation (envelope.js)
    if (button.dataset.status === "authorised") authorise(button.dataset.project);
    else changeStatus(button.dataset.project, button.dataset.status);
  });
  $("#project-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    try {
      const created = await api("/projects", { method: "POST", body: JSON.stringify({
        name: form.name.value, kind: form.kind.value, epci_siren: form.epci_siren.value.trim(),
        parcel_ids: form.parcel_ids.value.split(/[\s,;]+/).filter(Boolean),
        reason: "projet enregistré depuis le tableau de bord" }) });
      say(`Projet ${created.id} enregistré (prévu).`);
      form.reset();
      loadProjects();
    } catch (error) {
      say(`Projet refusé : ${error.message}`, true);
    }
  });
}
