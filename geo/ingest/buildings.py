"""Building footprints: the Etalab cadastre ``batiments`` layer and IGN BD TOPO ``BATIMENT``.

- Etalab (cadastre.data.gouv.fr, one GeoJSON per commune or département, plain or .gz):
  ``type`` 01 hard / 02 light, ``nom``, ``commune``, ``created``, ``updated``; no id.
- BD TOPO v3 ``BATIMENT`` (GeoJSON or any GDAL vector format): ``ID``, ``NATURE``,
  ``USAGE1``, ``LEGER`` (Oui/Non), ``DATE_MAJ``… and no commune: the commune comes from an
  ``INSEE_COM`` column when the publisher joined one, else from the commune outline or the
  loaded parcel under the footprint.

The format is told by the fields. A file replaces the buildings of the same source in the
communes it holds (one transaction: a broken file writes nothing). The per-parcel
statistics are computed by the score refresh (geo.scoring.refresh), the rule in
geo.land.buildings.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyproj import CRS
from sqlalchemy import Engine

from geo.crs import departement_codes
from geo.ingest.common import cover, record_run
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport, updated_up_to
from geo.ingest.vector import (
    POLYGONAL,
    Stage,
    column,
    geometries_from_wkb,
    normalise_insee,
    prepare_geometries,
    read_geojson,
    rejection_error,
    to_date,
)
from geo.land.buildings import HARD, LIGHT, USAGES, count_parcel_buildings

COLUMNS = {
    "source": "text",
    "source_id": "text",
    "commune_insee": "text",
    "departement_code": "text",
    "hard": "bool",
    "nature": "text",
    "usage": "text",
    "updated_on": "date",
    "area_m2": "float8",
    "geom": "geometry",
}
ETALAB_FIELDS = ("type", "commune")
BDTOPO_FIELDS = ("ID", "NATURE", "LEGER")
# the commune column a BD TOPO extract may carry (joined by its publisher)
BDTOPO_COMMUNE = ("INSEE_COM", "insee_com", "code_insee")


def detect(names: list[str]) -> str:
    """'cadastre' (Etalab batiments) or 'bdtopo' (BD TOPO BATIMENT), from a file's fields."""
    if all(f in names for f in ETALAB_FIELDS):
        return "cadastre"
    upper = {n.upper() for n in names}
    if all(f in upper for f in BDTOPO_FIELDS):
        return "bdtopo"
    raise LoaderError(
        "fields are neither an Etalab cadastre batiments layer (type, commune) nor a BD TOPO "
        "BATIMENT layer (ID, NATURE, LEGER)"
    )


def load_buildings(engine: Engine, path: Path, *, source_crs: CRS | None = None) -> ImportReport:
    """Import one building file (format detected by its fields) in one transaction."""
    path = Path(path)
    report = ImportReport(kind="batiments", source=str(path))
    source = None
    dates: list[pa.Array] = []
    with engine.begin() as conn:
        stage = Stage(conn, "building", COLUMNS)  # geom_point computed at insert
        for batch, crs in read_geojson(path, source_crs=source_crs):
            if source is None:
                try:
                    source = detect(batch.schema.names)
                except LoaderError as exc:
                    raise LoaderError(f"{path}: {exc}") from None
                report.kind = "batiments" if source == "cadastre" else "bdtopo-batiment"
            report.read += batch.num_rows
            renamed = batch.rename_columns(
                [n.upper() if source == "bdtopo" and n != "wkb_geometry" else n
                 for n in batch.schema.names]
            )  # fmt: skip
            values = (_etalab if source == "cadastre" else _bdtopo)(path, renamed, report)
            geoms = prepare_geometries(
                path,
                geometries_from_wkb(renamed),
                list(range(report.read - batch.num_rows, report.read)),
                crs,
                report,
                kinds=POLYGONAL,
                required=True,
            )
            values.update(geom=geoms.ewkb, area_m2=geoms.area_m2)
            keep = pa.array(~geoms.rejected)
            stage.copy({k: pc.filter(v, keep) for k, v in values.items()})
            dates.append(values["updated_on"])
        if source is None or report.read == 0:
            raise LoaderError(f"{path}: the file holds no building")
        if source == "bdtopo":
            _communes_from_outlines(conn, report)
        if report.rejected:
            raise rejection_error(path, report, "buildings")
        deps = conn.exec_driver_sql(f"SELECT DISTINCT departement_code FROM {stage.name}").scalars()
        report.departements = set(deps)
        report.tables["replaced (same source, same communes)"] = conn.exec_driver_sql(
            f"DELETE FROM building b USING (SELECT DISTINCT commune_insee FROM {stage.name}) s "
            "WHERE b.commune_insee = s.commune_insee AND b.source = %(source)s",
            {"source": source},
        ).rowcount
        cols = stage.cols
        report.inserted = conn.exec_driver_sql(
            f"INSERT INTO building ({cols}, geom_point) "
            f"SELECT {cols}, ST_PointOnSurface(geom) FROM {stage.name}"
        ).rowcount
        hard = conn.exec_driver_sql(
            f"SELECT count(*) FILTER (WHERE hard), count(*) FILTER (WHERE NOT hard) "
            f"FROM {stage.name}"
        ).one()
        report.tables.update({"hard": hard[0], "light": hard[1]})
        cover(conn, report, f"SELECT DISTINCT commune_insee FROM {stage.name}")
        report.tables["parcels with a building"] = count_parcel_buildings(
            conn, sorted(report.communes)
        )
        latest = max((pc.max(d).as_py() for d in dates if len(d)), default=None, key=_sortable)
        report.vintage = updated_up_to(latest)
        record_run(conn, report, path)
    return report


def _sortable(value):
    return (value is not None, value)


def _etalab(path: Path, batch: pa.RecordBatch, report: ImportReport) -> dict[str, pa.Array]:
    kind = pc.utf8_lpad(column(batch, "type"), 2, "0")
    unknown = pc.fill_null(pc.invert(pc.is_in(kind, pa.array([HARD, LIGHT]))), True)
    if (n := pc.sum(unknown).as_py() or 0) > 0:
        report.rejected["type neither 01 (hard) nor 02 (light)"] += n
    commune = normalise_insee(column(batch, "commune"))
    if (n := commune.null_count) > 0:
        report.rejected["no commune code"] += n
    updated = pc.coalesce(column(batch, "updated"), column(batch, "created"))
    return {
        "source": pa.array(["cadastre"] * batch.num_rows, pa.string()),
        "source_id": pa.nulls(batch.num_rows, pa.string()),
        "commune_insee": commune,
        "departement_code": departement_codes(commune),
        "hard": pc.equal(kind, HARD),
        "nature": column(batch, "nom"),
        "usage": pa.nulls(batch.num_rows, pa.string()),
        "updated_on": to_date(path, updated, "updated"),
    }


def _bdtopo(path: Path, batch: pa.RecordBatch, report: ImportReport) -> dict[str, pa.Array]:
    commune = pa.nulls(batch.num_rows, pa.string())
    for name in BDTOPO_COMMUNE:
        commune = pc.coalesce(commune, normalise_insee(column(batch, name.upper())))
    leger = pc.utf8_lower(column(batch, "LEGER"))
    usage = pa.array(
        [USAGES.get(u) if u else None for u in column(batch, "USAGE1").to_pylist()], pa.string()
    )
    updated = pc.coalesce(column(batch, "DATE_MAJ"), column(batch, "DATE_CREAT"))
    return {
        "source": pa.array(["bdtopo"] * batch.num_rows, pa.string()),
        "source_id": column(batch, "ID"),
        "commune_insee": commune,
        "departement_code": departement_codes(commune),
        # LEGER "Oui" is a light building; "Non" hard; anything else unknown
        "hard": pc.if_else(
            pc.equal(leger, "non"),
            True,
            pc.if_else(pc.equal(leger, "oui"), pa.scalar(False), pa.scalar(None, pa.bool_())),
        ),
        "nature": column(batch, "NATURE"),
        "usage": usage,
        "updated_on": to_date(path, updated, "DATE_MAJ"),
    }


def _communes_from_outlines(conn, report: ImportReport) -> None:
    """BD TOPO footprints without a commune column: the commune outline, else the loaded
    parcel, under the footprint's point on surface; the others are rejected."""
    conn.exec_driver_sql(
        """UPDATE building_stage s SET commune_insee = coalesce(
               (SELECT c.insee FROM commune c WHERE c.geom && s.geom
                  AND ST_Intersects(c.geom, ST_PointOnSurface(s.geom)) LIMIT 1),
               (SELECT p.commune_insee FROM parcel p WHERE p.geom && s.geom
                  AND ST_Intersects(p.geom, ST_PointOnSurface(s.geom)) LIMIT 1))
           WHERE s.commune_insee IS NULL"""
    )
    conn.exec_driver_sql(
        "UPDATE building_stage SET departement_code = CASE WHEN commune_insee ~ '^9[78]' "
        "THEN left(commune_insee, 3) ELSE left(commune_insee, 2) END "
        "WHERE departement_code IS NULL"
    )
    missing = conn.exec_driver_sql(
        "SELECT count(*) FROM building_stage WHERE commune_insee IS NULL"
    ).scalar_one()
    if missing:
        reason = "no commune (no INSEE_COM column, no commune outline or parcel under it)"
        report.rejected[reason] += missing
