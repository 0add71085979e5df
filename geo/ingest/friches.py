"""Friches (brownfields) in the CNIG Standard Friches, as published by Cartofriches and
by local observatories.

Formats read (each proven on a real file in ``data/friches/``):

- the standard's CSV as exported by Cartofriches: ``;``-separated, ``NA`` for missing
  values, WKT ``geompoint``/``geomsurf`` in WGS84, INSEE codes that lost their
  leading zero, French dates;
- the Ardennes observatory's CSV (``,``-separated attributes, ``geompoint`` WKT) and
  its GeoJSON (site outlines with a few attributes).

A source only sets what it has, and a GeoJSON file is taken as the source of outlines:
its attributes only fill what no CSV has set. Loading the observatory's CSV and its
GeoJSON, in either order and as often as wanted, gives the same sites with the CSV's
attributes (the two files' names and surfaces differ for some sites) and the outlines. Sites are
linked to cadastre parcels through ``unite_fonciere_refcad`` and to current communes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import CRS
from sqlalchemy import Engine

from geo.crs import WGS84, departement_codes
from geo.db.schema import friche
from geo.ingest import vector
from geo.ingest.common import record_run
from geo.ingest.report import ImportReport
from geo.ingest.staging import copy_columns
from geo.ingest.vector import column

# Column of the friche table <- the names a source may give it (first found wins).
ALIASES = {
    "name": ("site_nom", "FRICHE", "nom"),
    "site_type": ("site_type",),
    "site_statut": ("site_statut",),
    "sol_pollution_existe": ("sol_pollution_existe",),
    "proprio_type": ("proprio_type", "proprio_type(catpro3)"),
    "proprio_personne": ("proprio_personne",),
    "activite_libelle": ("activite_libelle",),
    "commune": ("comm_insee", "insee", "code_insee"),
    "unite_fonciere_surface_m2": ("unite_fonciere_surface",),
    "bati_surface_m2": ("bati_surface",),
    "urba_zone_type": ("urba_zone_type",),
    "urba_zone_lib": ("urba_zone_lib",),
    "source_nom": ("source_nom",),
    "source_producteur": ("source_producteur",),
    "identified_on": ("site_identif_date",),
    "updated_on": ("site_actu_date",),
    "refcad": ("unite_fonciere_refcad",),
}
# Fields checked against the enumerations of the standard.
ENUM_FIELDS = ("site_type", "site_statut", "sol_pollution_existe", "urba_zone_type")

COLUMNS = copy_columns(friche)


@lru_cache
def standard_enums() -> dict[str, set[str]]:
    """The allowed values of the standard's enumerated fields (geo/ingest/standards/)."""
    schema = json.loads(
        resources.files("geo.ingest.standards").joinpath("friches.schema.json").read_text("utf-8")
    )
    return {
        f["name"]: {_canonical(v) for v in f["constraints"]["enum"]}
        for f in schema["fields"]
        if "enum" in f.get("constraints", {})
    }


def _canonical(value: str) -> str:
    # Sources differ in apostrophes and capitals ("friche d’habitat", "Friche carrière").
    return value.replace("\u2019", "'").strip().lower()


def load_friches(engine: Engine, path: Path, *, source_crs: CRS | None = None) -> ImportReport:
    """Import a friches file (CSV of the standard, or GeoJSON) in one transaction."""
    path = Path(path)
    report = ImportReport(kind="friches", source=str(path))
    unknown_values: dict[str, set[str]] = {f: set() for f in ENUM_FIELDS}
    malformed_refs = 0
    with engine.begin() as conn:
        stage = vector.Stage(conn, "friche", COLUMNS)
        resolver = vector.CommuneResolver(conn)
        owners, parcels = [], []
        for batch, geoms, point_geoms, crs in _batches(path, source_crs):
            report.read += batch.num_rows
            values, ids = _attributes(path, batch, unknown_values, report)
            surfaces = vector.prepare_geometries(
                path, geoms, ids, crs, report, kinds=vector.POLYGONAL, required=False
            )
            points = vector.prepare_geometries(
                path, point_geoms, ids, crs, report, kinds=vector.POINT, required=False
            )
            rejected = surfaces.rejected | points.rejected | ~_present(values["site_id"])
            if (~_present(values["site_id"])).any():
                report.rejected["missing site_id"] += int((~_present(values["site_id"])).sum())
            source_codes = vector.normalise_insee(values.pop("commune"))
            values["commune_insee_source"] = source_codes
            values["commune_insee"] = resolver.resolve(source_codes)
            values["departement_code"] = departement_codes(
                pc.coalesce(values["commune_insee"], source_codes)
            )
            values["geom"] = surfaces.ewkb
            values["area_m2"] = surfaces.area_m2
            values["geom_point"] = points.ewkb
            refs = values.pop("refcad")
            keep = pa.array(~rejected)
            values = {name: pc.filter(v, keep) for name, v in values.items()}
            owner, parcel, bad = vector.parcel_links(pc.filter(refs, keep), values["site_id"])
            malformed_refs += bad
            owners.append(owner)
            parcels.append(parcel)
            stage.copy(values)
        outlines_only = _is_geojson(path)
        vector.finish(
            path,
            stage,
            ["site_id"],
            report,
            resolver,
            noun="sites",
            keep_when_null=True,
            fill_only=frozenset(COLUMNS) - {"geom", "area_m2"} if outlines_only else frozenset(),
        )
        links = vector.replace_links(
            conn, "friche_parcel", "site_id", pa.concat_arrays(owners), pa.concat_arrays(parcels)
        )
        report.tables["friche_parcel links"] = links
        if malformed_refs:
            report.warnings.append(f"{malformed_refs} malformed parcel references ignored")
        for name, values_seen in unknown_values.items():
            if values_seen:
                report.warnings.append(
                    f"{name}: values outside the standard kept as given: "
                    + ", ".join(sorted(values_seen)[:10])
                )
        record_run(conn, report, path)
    return report


def _batches(
    path: Path, source_crs: CRS | None
) -> Iterator[tuple[pa.RecordBatch, np.ndarray, np.ndarray, CRS]]:
    """(attributes, outlines, points, CRS) per batch, whatever the format."""
    if path.suffix.lower() in (".csv", ".gz") and not path.name.endswith(
        (".json.gz", ".geojson.gz")
    ):
        crs = source_crs or CRS.from_epsg(WGS84)
        for batch in vector.read_csv(path, required=("site_id",)):
            yield (
                batch,
                _wkt(path, batch, "geomsurf"),
                _wkt(path, batch, "geompoint"),
                crs,
            )
        return
    for batch, crs in vector.read_geojson(path, required=("site_id",), source_crs=source_crs):
        geoms = vector.geometries_from_wkb(batch)
        is_point = np.asarray([g is not None and g.geom_type == "Point" for g in geoms])
        outlines = np.where(is_point, np.asarray(None, dtype=object), geoms)
        points = np.where(is_point, geoms, _wkt(path, batch, "geompoint"))
        yield batch, outlines, points, crs


def _is_geojson(path: Path) -> bool:
    return path.name.lower().endswith((".json", ".geojson", ".json.gz", ".geojson.gz"))


def _wkt(path: Path, batch: pa.RecordBatch, name: str) -> np.ndarray:
    return vector.geometries_from_wkt(path, column(batch, name), name)


def _present(values: pa.Array) -> np.ndarray:
    return pc.is_valid(values).to_numpy(zero_copy_only=False)


def _attributes(
    path: Path,
    batch: pa.RecordBatch,
    unknown_values: dict[str, set[str]],
    report: ImportReport,
) -> tuple[dict[str, pa.Array], list]:
    values: dict[str, pa.Array] = {"site_id": column(batch, "site_id")}
    for target, names in ALIASES.items():
        found = next((n for n in names if n in batch.schema.names), None)
        values[target] = column(batch, found) if found else pa.nulls(batch.num_rows, pa.string())
    for name in ("unite_fonciere_surface_m2", "bati_surface_m2"):
        values[name] = vector.to_number(path, values[name], name)
    for name in ("identified_on", "updated_on"):
        values[name] = vector.to_date(path, values[name], name)
    enums = standard_enums()
    for name in ENUM_FIELDS:
        seen = {v for v in pc.unique(values[name]).to_pylist() if v is not None}
        unknown_values[name] |= {v for v in seen if _canonical(v) not in enums.get(name, set())}
    return values, values["site_id"].to_pylist()
