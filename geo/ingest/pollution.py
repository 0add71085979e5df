"""Polluted sites: BASOL (known soil pollution calling for public action), GeoJSON export.

The real export (``data/pollution/basol-sample.geojson``) is messy: ``code_insee``
holds "60542 (832 habitants)", ids are numbers that lost their trailing zeros
(80.011 for BASOL 80.0110), parcels are a nested list of {section, numéro}. Points
are in Lambert-93 (declared in ``crs``); any other declared CRS is reprojected.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyproj import CRS
from sqlalchemy import Engine

from geo.crs import departement_codes
from geo.db.schema import polluted_site
from geo.ingest import vector
from geo.ingest.common import record_run
from geo.ingest.report import ImportReport
from geo.ingest.staging import copy_columns
from geo.ingest.vector import column

COLUMNS = copy_columns(polluted_site)


def load_basol(engine: Engine, path: Path, *, source_crs: CRS | None = None) -> ImportReport:
    """Import a BASOL GeoJSON export in one transaction; re-importing updates."""
    path = Path(path)
    report = ImportReport(kind="basol", source=str(path))
    with engine.begin() as conn:
        stage = vector.Stage(conn, "polluted_site", COLUMNS)
        resolver = vector.CommuneResolver(conn)
        owners: list[str] = []
        parcels: list[str] = []
        unmatched_parcels = 0
        for batch, crs in vector.read_geojson(
            path, required=("id", "code_insee"), source_crs=source_crs
        ):
            report.read += batch.num_rows
            ids = _basol_ids(batch.column("id"))
            geoms = vector.prepare_geometries(
                path,
                vector.geometries_from_wkb(batch),
                ids.to_pylist(),
                crs,
                report,
                kinds=vector.POINT,
                required=True,
            )
            source_codes = vector.normalise_insee(column(batch, "code_insee"))
            current = resolver.resolve(source_codes)
            values = {
                "id": ids,
                "source": pa.array(["BASOL"] * batch.num_rows, pa.string()),
                "name": column(batch, "nom_du_site"),
                "commune_insee_source": source_codes,
                "commune_insee": current,
                "departement_code": departement_codes(pc.coalesce(current, source_codes)),
                "address": column(batch, "adresse"),
                "pollutants_soil": column(batch, "polluants_sols"),
                "pollutants_groundwater": column(batch, "polluants_nappes"),
                "geom_point": geoms.ewkb,
            }
            keep = pa.array(~geoms.rejected)
            stage.copy({k: pc.filter(v, keep) for k, v in values.items()})
            for site, code, raw in zip(
                ids.to_pylist(),
                pc.coalesce(current, source_codes).to_pylist(),
                column(batch, "parcelles").to_pylist(),
                strict=True,
            ):
                refs, unmatched = _parcel_ids(code, raw)
                unmatched_parcels += unmatched
                owners += [site] * len(refs)
                parcels += refs
        vector.finish(path, stage, ["id"], report, resolver, noun="sites")
        report.tables["polluted_site_parcel links"] = vector.replace_links(
            conn,
            "polluted_site_parcel",
            "site_id",
            pa.array(owners, pa.string()),
            pa.array(parcels, pa.string()),
        )
        if unmatched_parcels:
            report.warnings.append(
                f"{unmatched_parcels} parcel references without a usable section and number"
            )
        record_run(conn, report, path)
    return report


def _basol_ids(values: pa.Array) -> pa.Array:
    """BASOL numbers are 'département.number' with 4 digits: 80.011 is 80.0110."""
    if pa.types.is_floating(values.type):
        return pa.array(
            [None if v is None else f"{v:.4f}" for v in values.to_pylist()], pa.string()
        )
    return pc.utf8_trim_whitespace(pc.cast(values, pa.string()))


def _parcel_ids(commune: str | None, raw: str | None) -> tuple[list[str], int]:
    """Cadastre ids from BASOL's nested parcel list (section + number in the site's commune)."""
    if not raw or commune is None:
        return [], 0
    try:
        entries = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return [], 1
    ids, unmatched = [], 0
    for entry in entries or []:
        section = str(entry.get("Section_cadastrale_parcelle") or "").strip().upper()
        number = str(entry.get("Numéro_de_parcelle") or "").strip()
        candidate = f"{commune}000{section.rjust(2, '0')}{number.rjust(4, '0')}"
        if section and number.isdigit() and vector.PARCEL_REF.match(candidate):
            ids.append(candidate)
        else:
            unmatched += 1
    return list(dict.fromkeys(ids)), unmatched
