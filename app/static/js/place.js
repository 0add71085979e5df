// Finding a place: the combobox over /places, and the territory it chooses.
import { api } from "./api.js";
import { loadTrajectories } from "./dashboard.js";
import { LEVELS, LEVEL_PARAM } from "./labels.js";
import { frame, outlineTerritory } from "./map.js";
import { state, writeAddress } from "./state.js";
import { $, esc, say } from "./util.js";

export let suggestions = [];
export let active = -1;
export let typed = 0;

export function showSuggestions() {
  if (!suggestions.length) active = -1;
  const list = $("#place-list");
  const input = $("#place");
  list.innerHTML = suggestions
    .map((p, i) => `<li role="option" id="place-${i}" aria-selected="${i === active}"
        data-index="${i}">${esc(p.name)} <span class="kind">${esc(p.label)} ${esc(p.code)}</span></li>`)
    .join("");
  list.hidden = suggestions.length === 0;
  input.setAttribute("aria-expanded", String(!list.hidden));
  if (active >= 0) input.setAttribute("aria-activedescendant", `place-${active}`);
  else input.removeAttribute("aria-activedescendant");
}

export async function suggest() {
  const q = $("#place").value.trim();
  const mine = ++typed;
  // names from 3 letters, codes (91, 2A…) from 2 characters
  if (q.length < (/^[0-9]/.test(q) ? 2 : 3)) { suggestions = []; showSuggestions(); return; }
  try {
    const found = await api(`/places?q=${encodeURIComponent(q)}&limit=8`, { auth: false });
    if (mine !== typed) return; // an older answer
    suggestions = found;
    active = -1;
    showSuggestions();
  } catch (error) {
    say(error.message, true);
  }
}

export function choosePlace(place) {
  state.place = { level: place.level, code: place.code, name: place.name };
  $("#place").value = place.name;
  suggestions = []; showSuggestions();
  frame(place.bbox);
  outlineTerritory(state.place);
  state.offset = 0;
  showTerritory();
  writeAddress();
  if (state.view === "dashboard") loadTrajectories();
  say(`Lieu choisi : ${place.name} (${place.label}).`);
}

export function showTerritory() {
  const p = state.place;
  const searchable = p && LEVEL_PARAM[p.level];
  $("#territory").innerHTML = p
    ? `Territoire : <strong>${esc(p.name)}</strong> (${esc(LEVELS[p.level] || p.level)} ${esc(p.code)})` +
      (searchable ? "" : " — <span class=\"error\">choisissez un département, un EPCI, une commune ou un TI pour chercher</span>")
    : "Territoire : <strong>aucun</strong> — choisissez un lieu ci-dessus.";
  $("#run").disabled = !searchable;
}

export function bindPlaceSearch() {
  const input = $("#place");
  let timer;
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(suggest, 150); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!suggestions.length) return;
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : -1) + suggestions.length) % suggestions.length;
      showSuggestions();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (suggestions.length) choosePlace(suggestions[Math.max(active, 0)]);
    } else if (e.key === "Escape") {
      suggestions = []; showSuggestions();
    }
  });
  $("#place-list").addEventListener("mousedown", (e) => {
    const item = e.target.closest("li");
    if (item) { e.preventDefault(); choosePlace(suggestions[item.dataset.index]); }
  });
  input.addEventListener("blur", () => setTimeout(() => { suggestions = []; showSuggestions(); }, 100));
  $("#place-form").addEventListener("submit", (e) => e.preventDefault());
}
