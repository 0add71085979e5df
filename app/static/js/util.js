// Small helpers of the page: the DOM, French numbers and dates, the status line, the
// notice that figures come from synthetic data.

export const $ = (selector, root = document) => root.querySelector(selector);

export function fmt(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return Number(value).toLocaleString("fr-FR", { maximumFractionDigits: digits });
}
export function day(iso) {
  return iso ? new Date(iso).toLocaleDateString("fr-FR") : "—";
}
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
export function say(message, error = false) {
  const status = $("#status");
  status.textContent = message;
  status.classList.toggle("error", error);
}

// A problem document (RFC 9457) as one French sentence: its code says what happened, the
// fields it names are given their labels; the English detail only as a tooltip-free hint
// Figures computed from synthetic data say so: any answer with "synthetic": true, on
// itself, its source or one of its sources, shows the notice at the top of the panel.
// (The API marks them beside their source; sources.js reports /sources' too.)
export function noteSynthetic(answer, what) {
  const flagged = (x) => x && typeof x === "object" && x.synthetic === true;
  const synthetic = flagged(answer) || flagged(answer && answer.source)
    || ((answer && answer.sources) || []).some(flagged);
  if (!synthetic) return;
  const notice = $("#synthetic-notice");
  const said = new Set((notice.dataset.what || "").split("|").filter(Boolean)).add(what);
  notice.dataset.what = [...said].join("|");
  $("#synthetic-what").textContent = [...said].join(", ");
  notice.hidden = false;
}
window.foncierNoteSynthetic = noteSynthetic;
