"""Where each criterion's value comes from: dataset, producer, vintage and import run.

Each criterion reads one or more imported layers (``SOURCES``, by import_run kind). For a
parcel, a layer's lineage is the latest import of that kind that covered the parcel's
département (import_run.departements; a run that did not record them counts for every
département). One query per answer, whatever its number of parcels (:func:`lineage_for`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sqlalchemy import Connection, text

# criterion -> the import kinds (geo.ingest, ImportReport.kind) its value is computed from
SOURCES: dict[str, tuple[str, ...]] = {
    "site_area": ("cadastre",),
    "size_fit": ("cadastre",),
    "compactness": ("cadastre",),
    "zoning": ("plu",),
    "on_friche": ("friches",),
    "in_economic_zone": ("site-eco",),
    "activity_zone_distance": ("site-eco", "plu"),
    "pollution": ("basol", "friches"),
    "slope": ("terrain",),
    "flood": ("hazard flood",),
    "envelope_impact": ("cadastre", "friches"),
    "motorway_distance": (),
    "rail_siding": (),
    "land_use": ("batiments", "bdtopo-batiment"),
    "public_owner": ("proprietaires",),
}
# import kind -> (dataset, producer)
DATASETS: dict[str, tuple[str, str]] = {
    "cadastre": ("Plan cadastral informatisé, parcelles (Etalab GeoJSON)", "DGFiP, Etalab"),
    "plu": ("PLU/PLUi zone_urba (Géoportail de l'Urbanisme)", "commune or EPCI, via IGN GPU"),
    "friches": ("friches (CNIG Standard Friches)", "Cerema Cartofriches or local observatory"),
    "site-eco": ("sites économiques (CNIG standard)", "EPCI (ZAE inventory)"),
    "basol": ("BASOL polluted sites", "Ministère de la Transition écologique"),
    "terrain": ("elevation raster", "IGN (RGE ALTI / BD ALTI)"),
    "hazard flood": ("flood hazard raster", "as declared at import"),
    "batiments": ("Plan cadastral informatisé, bâtiments (Etalab)", "DGFiP, Etalab"),
    "bdtopo-batiment": ("BD TOPO BATIMENT", "IGN"),
    "proprietaires": ("fichier des parcelles des personnes morales", "DGFiP"),
}


@dataclass(frozen=True)
class Lineage:
    """The latest runs of the scoring layers, by (kind, département)."""

    runs: dict[tuple[str, str], dict[str, Any]]
    # the sources of each (criterion, département), the same for all its parcels: an
    # export annotates 100,000 parcels with a few dozen distinct lists
    _known: dict[tuple[str, str], list[dict[str, Any]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def sources(self, criterion: str, departement: str) -> list[dict[str, Any]]:
        known = self._known.get((criterion, departement))
        if known is None:
            known = [
                run
                for kind in SOURCES.get(criterion, ())
                if (run := self.runs.get((kind, departement))) is not None
            ]
            self._known[(criterion, departement)] = known
        return known

    def annotate(self, explained: dict[str, Any], departement: str) -> dict[str, Any]:
        """Each criterion of an explained score (geo.scoring.model.explain) gets its
        ``sources`` (empty: no layer of its kind imported for the département)."""
        for item in explained["criteria"]:
            item["sources"] = self.sources(item["criterion"], departement)
        return explained


def lineage_for(conn: Connection, departements: list[str]) -> Lineage:
    """One query: the latest run of every scoring layer for each of ``departements``."""
    kinds = sorted({k for ks in SOURCES.values() for k in ks})
    if not departements:
        return Lineage({})
    rows = conn.execute(
        text(
            """SELECT DISTINCT ON (r.kind, d.dep) r.kind, d.dep, r.id, r.source, r.vintage,
                      r.finished_at
               FROM unnest(CAST(:deps AS text[])) AS d(dep)
               JOIN import_run r ON r.kind = ANY(:kinds)
                    AND (r.departements IS NULL OR d.dep = ANY(r.departements))
               ORDER BY r.kind, d.dep, r.finished_at DESC, r.id DESC"""
        ),
        {"deps": sorted(set(departements)), "kinds": kinds},
    ).all()
    runs = {}
    for kind, dep, run_id, source, vintage, finished_at in rows:
        dataset, producer = DATASETS[kind]
        runs[(kind, dep)] = {
            "dataset": dataset,
            "producer": producer,
            "vintage": vintage,
            "file": PurePath(source).name,
            "import_run_id": run_id,
            "imported_at": finished_at.isoformat(),
        }
    return Lineage(runs)
