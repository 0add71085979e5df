"""The loaders, registered once: each one's name (and its older names), function, help and
accepted formats. ``foncier import <name>`` (app/cli/imports.py), ``foncier sync`` (the ``loader``
of geo/ingest/sources.toml) and the demo data set (app/services/demo.py) read this table.

Every loader here is called ``load(engine, path, **options)`` and writes in one
transaction. Its module is imported when it is used, not with this table: ``foncier
--help`` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Loader:
    name: str
    # "module:function", imported on use
    target: str
    help: str
    formats: tuple[str, ...]
    # older names, still accepted (the command line's French ones among them)
    aliases: tuple[str, ...] = ()
    # the files may lack a declared CRS: the command line offers --crs
    crs_option: bool = False
    # one file that replaces what the table held (not a list of files)
    one_file: bool = False
    # reads a directory of files side by side rather than one file
    directory: bool = False

    @property
    def function(self) -> Callable[..., Any]:
        module, _, function = self.target.partition(":")
        return getattr(importlib.import_module(module), function)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


LOADERS: tuple[Loader, ...] = (
    Loader(
        "admin",
        "geo.ingest.admin:load_admin",
        "Régions, départements, EPCI, communes and boundaries from a directory holding "
        "communes.json, epci.json, departements.json (Etalab decoupage-administratif) and "
        "contours-*.geojson; defaults to data/admin.",
        ("directory of Etalab decoupage-administratif JSON and GeoJSON",),
        directory=True,
    ),
    Loader(
        "cadastre",
        "geo.ingest.cadastre:load_cadastre",
        "Etalab cadastre parcels (GeoJSON FeatureCollection, plain or .gz).",
        ("GeoJSON", "GeoJSON.gz"),
    ),
    Loader(
        "buildings",
        "geo.ingest.buildings:load_buildings",
        "Buildings: Etalab cadastre batiments (GeoJSON, plain or .gz) or IGN BD TOPO BATIMENT, "
        "told apart by their fields; replaces the same source's buildings in the file's "
        "communes.",
        ("GeoJSON", "GeoJSON.gz"),
        aliases=("batiments", "bdtopo"),
        crs_option=True,
    ),
    Loader(
        "owners",
        "geo.ingest.owners:load_owners",
        'Parcel owners: DGFiP "parcelles des personnes morales" CSV (;-separated, 2025 '
        "header) or the publisher's zip of a département's parts; replaces the owners of the "
        "file's communes.",
        ("CSV", "zip of CSV"),
        aliases=("proprietaires",),
    ),
    Loader(
        "consumption",
        "geo.ingest.consumption:load_consumption",
        "Consumption of NAF land by commune and year: Cerema conso_com CSV.",
        ("CSV",),
    ),
    Loader(
        "friches",
        "geo.ingest.friches:load_friches",
        "Friches: CNIG Standard Friches CSV (Cartofriches), observatory CSV or GeoJSON.",
        ("CSV", "GeoJSON"),
        crs_option=True,
    ),
    Loader(
        "basol",
        "geo.ingest.pollution:load_basol",
        "Polluted sites: BASOL GeoJSON export.",
        ("GeoJSON",),
        crs_option=True,
    ),
    Loader(
        "plu",
        "geo.ingest.plu:load_plu",
        "PLU: CNIG delivery (zip or folder of shapefiles: zones, prescriptions) or a zone_urba "
        "file (API Carto GeoJSON), classified for industry.",
        ("CNIG zip", "CNIG folder", "GeoJSON"),
        crs_option=True,
    ),
    Loader(
        "ppr",
        "geo.ingest.risks:load_ppr",
        "Risk prevention plans: CNIG PPR delivery (zip or folder: ZONE_REG, ZONE_ALEA, PERIMETRE).",
        ("CNIG zip", "CNIG folder"),
    ),
    Loader(
        "pprt",
        "geo.ingest.risks:load_pm3",
        "PPRT servitudes (SUP PM3): the assiette file, its generator read from beside it.",
        ("GeoJSON",),
    ),
    Loader(
        "site-eco",
        "geo.ingest.zae:load_site_eco",
        "Economic sites (ZAE): CNIG Sites économiques SITE-ECO CSV.",
        ("CSV",),
        crs_option=True,
    ),
    Loader(
        "terrain-eco",
        "geo.ingest.zae:load_terrain_eco",
        "Land units of economic sites: CNIG TERRAIN-ECO CSV (states kept for the vacancy rate).",
        ("CSV",),
        crs_option=True,
    ),
    Loader(
        "territoires-industrie",
        "geo.ingest.territoires:load_territoires_industrie",
        "Territoires d'industrie: the ANCT GeoJSON (plain or .gz), or CSV "
        "ti_id;ti_nom;region;epci_siren.",
        ("GeoJSON", "GeoJSON.gz", "CSV"),
    ),
    Loader(
        "zan-targets",
        "geo.ingest.zan_rules:load_targets",
        "Territorialised ZAN targets: MDA territorialisation JSON or the documented CSV.",
        ("JSON", "CSV"),
    ),
    Loader(
        "zan-perimeters",
        "geo.ingest.zan_rules:load_target_members",
        "Communes of SCoT and custom perimeters of ZAN targets (CSV land;commune_insee).",
        ("CSV",),
    ),
    Loader(
        "planning-documents",
        "geo.ingest.zan_rules:load_planning_documents",
        "Planning document of each commune (PLU/PLUi/CC/DTL/RNU), for the garantie communale.",
        ("CSV",),
        one_file=True,
    ),
    Loader(
        "pene",
        "geo.ingest.zan_rules:load_pene",
        "The PENE list (annex I of the arrêté of 31 May 2024), declared on the PENE ledger.",
        ("CSV",),
        one_file=True,
    ),
    Loader(
        "pene-consumption",
        "geo.ingest.zan_rules:load_pene_consumption",
        "What PENE projects actually consumed, by commune and year (CSV "
        "pene_id;commune_insee;year;hectares): deducted from local trajectories.",
        ("CSV",),
        one_file=True,
    ),
    Loader(
        "ocsge",
        "geo.ingest.ocsge:load_ocsge",
        "IGN OCS GE of a département at one millésime: the GeoPackage of the artificialisation "
        "product (layer artif_<millésime>_<dép>, extracted from its .7z) or an OCCUPATION_SOL "
        "layer; replaces that delivery. Measures net artificialisation (from 2031).",
        ("GeoPackage",),
    ),
    Loader(
        "commune-splits",
        "geo.ingest.zan_rules:load_commune_splits",
        "Communes split after the consumption data's geography (shares by area if not given).",
        ("CSV",),
        one_file=True,
    ),
)
# Every name a loader answers to, its older ones included.
BY_NAME: dict[str, Loader] = {name: loader for loader in LOADERS for name in loader.names}


def loader(name: str) -> Loader | None:
    """The loader of this name (or of an older name of it), None if there is none."""
    return BY_NAME.get(name)
