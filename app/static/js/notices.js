// Figures computed from synthetic data say so from the first screen: the imports that
// GET /sources marks synthetic (the demo's consumption file, its OCS GE millésimes) show
// the notice at the top of the page (util.js, noteSynthetic); map.js calls this once.
import { noteSynthetic } from "./util.js";

const KINDS = {
  "naf-consumption": "la consommation d'espaces NAF (trajectoires ZAN)",
  ocsge: "l'OCS GE (artificialisation nette)",
};

export function noteSyntheticImports() {
  fetch("/sources", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .then((answer) => {
      if (!answer) return;
      for (const item of answer.imports || []) {
        if (item.synthetic) {
          noteSynthetic({ synthetic: true }, `${KINDS[item.kind] || item.kind} (${item.file})`);
        }
      }
    })
    .catch(() => {}); // the sources panel says when /sources cannot be read
}
