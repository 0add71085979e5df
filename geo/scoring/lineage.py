"""Where each criterion's value comes from: dataset, producer, vintage and import run.

Each criterion reads one or more imported layers (``SOURCES``, by import_run kind). For a
parcel, a layer's lineage is the latest import of that kind that covers the parcel: one
whose recorded communes (import_run.communes) hold the parcel's commune, or, for a layer
read by département (``BY_DEPARTEMENT``: its absence there is a known "no"), whose
départements hold the parcel's. An import recorded before communes were (migration 0025)
covers the départements it recorded; one that recorded neither covers nothing: a source is
never cited for a parcel it says nothing about. A criterion without a covering
source cites none and says why (``no_source_reason``). One query per answer, whatever its
number of parcels (:func:`lineage_for`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sqlalchemy import Connection, text

from geo.ingest.report import vintage_text

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
# The layers whose coverage is a département's: the refresh reads their absence under a
# parcel of a covered département as a known "no" (geo.scoring.refresh, ``_covered``).
# The others cover the communes where they put data.
BY_DEPARTEMENT = frozenset({"friches", "site-eco", "basol"})
NO_COVERING_SOURCE = "aucune source chargée ne couvre cette commune"
NO_SOURCE_KIND = "aucune source de ce critère n'est chargée par Foncier"
# import kind -> (dataset, producer), as a reader of a dossier is shown them (French)
DATASETS: dict[str, tuple[str, str]] = {
    "cadastre": ("Plan cadastral informatisé, parcelles (Etalab GeoJSON)", "DGFiP, Etalab"),
    "plu": ("PLU/PLUi zone_urba (Géoportail de l'urbanisme)", "commune ou EPCI, via le GPU (IGN)"),
    "friches": (
        "friches (standard CNIG Friches)",
        "Cerema (Cartofriches) ou observatoire local",
    ),
    "site-eco": ("sites économiques (standard CNIG)", "EPCI (inventaire des ZAE)"),
    "basol": ("sites et sols pollués (BASOL)", "Ministère de la Transition écologique"),
    "terrain": ("modèle numérique de terrain (raster)", "IGN (RGE ALTI / BD ALTI)"),
    "hazard flood": ("aléa inondation (raster)", "déclaré à l'import"),
    "batiments": ("Plan cadastral informatisé, bâtiments (Etalab)", "DGFiP, Etalab"),
    "bdtopo-batiment": ("BD TOPO, bâtiments", "IGN"),
    "proprietaires": ("fichier des parcelles des personnes morales", "DGFiP"),
}


@dataclass(frozen=True)
class Lineage:
    """The latest covering runs of the scoring layers, by (kind, commune)."""

    runs: dict[tuple[str, str], dict[str, Any]]
    # the sources of each (criterion, commune), the same for all its parcels: an
    # export annotates 100,000 parcels with a few dozen distinct lists
    _known: dict[tuple[str, str], list[dict[str, Any]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def sources(self, criterion: str, commune: str) -> list[dict[str, Any]]:
        known = self._known.get((criterion, commune))
        if known is None:
            known = [
                run
                for kind in SOURCES.get(criterion, ())
                if (run := self.runs.get((kind, commune))) is not None
            ]
            self._known[(criterion, commune)] = known
        return known

    def annotate(self, explained: dict[str, Any], commune: str) -> dict[str, Any]:
        """Each criterion of an explained score (geo.scoring.model.explain) gets its
        ``sources`` (the imports covering the parcel's commune) and, when none does, its
        ``no_source_reason``."""
        for item in explained["criteria"]:
            item["sources"] = self.sources(item["criterion"], commune)
            if not item["sources"]:
                item["no_source_reason"] = (
                    NO_COVERING_SOURCE if SOURCES.get(item["criterion"]) else NO_SOURCE_KIND
                )
        return explained


def lineage_for(conn: Connection, communes: list[str]) -> Lineage:
    """One query: the latest covering run of every scoring layer for each of ``communes``."""
    kinds = sorted({k for ks in SOURCES.values() for k in ks})
    if not communes:
        return Lineage({})
    rows = conn.execute(
        text(
            """SELECT DISTINCT ON (r.kind, c.insee) r.kind, c.insee, r.id, r.source, r.vintage,
                      r.finished_at, r.synthetic
               FROM unnest(CAST(:communes AS text[])) AS c(insee)
               JOIN import_run r ON r.kind = ANY(:kinds)
                    AND (c.insee = ANY(r.communes)
                         OR ((r.kind = ANY(:by_dep) OR r.communes IS NULL)
                             AND CASE WHEN c.insee ~ '^9[78]' THEN left(c.insee, 3)
                                      ELSE left(c.insee, 2) END = ANY(r.departements)))
               ORDER BY r.kind, c.insee, r.finished_at DESC, r.id DESC"""
        ),
        {"communes": sorted(set(communes)), "kinds": kinds, "by_dep": sorted(BY_DEPARTEMENT)},
    ).all()
    runs = {}
    for kind, commune, run_id, source, vintage, finished_at, synthetic in rows:
        dataset, producer = DATASETS[kind]
        runs[(kind, commune)] = {
            "dataset": dataset,
            "producer": producer,
            "vintage": vintage_text(vintage),
            "file": PurePath(source).name,
            "import_run_id": run_id,
            "imported_at": finished_at.isoformat(),
            "synthetic": synthetic,
        }
    return Lineage(runs)
