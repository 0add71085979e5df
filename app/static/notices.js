// Figures computed from synthetic data say so from the first screen: the imports that
// GET /sources marks synthetic (the demo's consumption file, its OCS GE millésimes) show
// the notice at the top of the page (map.js, foncierNoteSynthetic). Self-contained:
// index.html only loads this file, after map.js.
(function () {
  "use strict";

  const KINDS = {
    "naf-consumption": "la consommation d'espaces NAF (trajectoires ZAN)",
    ocsge: "l'OCS GE (artificialisation nette)",
  };

  fetch("/sources", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .then((answer) => {
      if (!answer || !window.foncierNoteSynthetic) return;
      for (const item of answer.imports || []) {
        if (item.synthetic) {
          window.foncierNoteSynthetic({ synthetic: true }, `${KINDS[item.kind] || item.kind} (${item.file})`);
        }
      }
    })
    .catch(() => {}); // the sources panel says when /sources cannot be read
})();
