// The sources panel of the map page: each catalogued source and how fresh it is
// (GET /sources). Self-contained (its own section, built here) so that the map page can
// change around it: index.html only loads this file.
(function () {
  "use strict";

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function day(iso) {
    return iso ? iso.slice(0, 10) : "—";
  }

  function summary(source) {
    const parts = source.parts || [];
    if (!source.loader_available) return "pas de chargeur dans cette version";
    if (!parts.length) return "jamais synchronisée";
    const ok = parts.filter((p) => p.last_success_at);
    const failed = parts.filter((p) => p.last_error);
    const last = ok.map((p) => p.last_success_at).sort().pop();
    const vintage = ok.map((p) => p.vintage).filter(Boolean).sort().pop();
    let text = `${ok.length}/${parts.length} à jour, millésime ${day(vintage)}, synchro ${day(last)}`;
    if (failed.length) text += ` — ${failed.length} en erreur`;
    return text;
  }

  function render(container, sources) {
    const list = el("ul", { class: "sources" });
    sources.forEach((source) => {
      const item = el("li");
      const link = el("a", { href: source.docs[0], target: "_blank", rel: "noopener" }, source.name);
      const synthetic = source.synthetic === true;
      const what = `${source.producer} · ${summary(source)}${synthetic ? " · données synthétiques" : ""}`;
      item.append(link, el("br"), el("small", {}, what));
      // a synthetic source (the demo's consumption file) is said at the top of the page too
      if (synthetic && window.foncierNoteSynthetic) window.foncierNoteSynthetic({ synthetic }, source.name);
      const error = (source.parts || []).find((p) => p.last_error);
      if (error) item.title = `${error.part}: ${error.last_error}`;
      list.append(item);
    });
    container.append(list);
  }

  function start() {
    const panel = document.getElementById("sources-slot") || document.body;
    const section = el("section", { id: "sources", "aria-live": "polite" });
    const details = el("details");
    details.append(el("summary", {}, "Sources et fraîcheur"));
    section.append(details);
    panel.append(section);
    fetch("/sources")
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((body) => render(details, body.sources))
      .catch((err) => details.append(el("p", { class: "hint" }, `indisponible (${err.message})`)));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
