"""Etalab cadastre parcels (cadastre.data.gouv.fr GeoJSON, one file per commune or département).

Pipeline, built for département-sized files with bounded memory:

1. GDAL (pyogrio) streams the GeoJSON, plain or gzipped, in Arrow batches;
2. each batch is checked and reprojected to Lambert-93 with vectorised
   shapely/pyproj calls (no Python loop over features or coordinates);
3. accepted rows are COPYed as CSV into a temporary staging table;
4. one ``INSERT … SELECT … ON CONFLICT`` merges the staging table into ``parcel``,
   computing ``area_m2`` in PostGIS, so a re-import updates and never duplicates.

Everything happens in one transaction: a file with a single bad feature writes nothing.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import shapely
from pyogrio.errors import DataSourceError, FieldError
from pyproj import CRS
from sqlalchemy import Connection, Engine, text

from geo.crs import LAMBERT93, WGS84, departement_codes
from geo.loaders.common import check_extent, check_readable, gdal_path, record_run, to_lambert93
from geo.loaders.errors import LoaderError
from geo.loaders.report import ImportReport

REQUIRED_FIELDS = ("id", "commune", "prefixe", "section", "numero")
# commune (5: 2 digits or 2A/2B, 3 digits) + prefixe (3) + section (2) + numero (4)
PARCEL_ID_PATTERN = "^[0-9][0-9AB][0-9]{3}[0-9]{3}[0-9A-Z]{2}[0-9]{4}$"
BATCH_SIZE = 50_000
EXAMPLES_PER_REASON = 5

STAGE_COLUMNS = (
    "id",
    "departement_code",
    "commune",
    "prefixe",
    "section",
    "numero",
    "contenance",
    "created",
    "updated",
    "geom",
)

_CREATE_STAGE = """
CREATE TEMP TABLE parcel_stage (
    id text, departement_code text, commune text, prefixe text, section text, numero text,
    contenance integer, created date, updated date, geom geometry
) ON COMMIT DROP
"""

# area_m2 is computed here, in Lambert-93. Repair (only reached with repair=True,
# otherwise invalid rows were rejected) keeps the polygonal part of ST_MakeValid.
_MERGE = """
WITH upserted AS (
    INSERT INTO parcel AS p (id, departement_code, commune_insee, prefixe, section, numero,
                             contenance, area_m2, created, updated, geom)
    SELECT id, departement_code, commune, prefixe, section, numero, contenance,
           ST_Area(g), created, updated, g
    FROM (
        SELECT s.*,
               ST_Multi(CASE WHEN ST_IsValid(geom) THEN geom
                             ELSE ST_CollectionExtract(ST_MakeValid(geom), 3) END) AS g
        FROM parcel_stage s
    ) staged
    ON CONFLICT (id) DO UPDATE SET
        departement_code = EXCLUDED.departement_code,
        commune_insee = EXCLUDED.commune_insee,
        prefixe = EXCLUDED.prefixe,
        section = EXCLUDED.section,
        numero = EXCLUDED.numero,
        contenance = EXCLUDED.contenance,
        area_m2 = EXCLUDED.area_m2,
        created = EXCLUDED.created,
        updated = EXCLUDED.updated,
        geom = EXCLUDED.geom
    WHERE (p.commune_insee, p.prefixe, p.section, p.numero, p.contenance, p.created, p.updated,
           ST_AsEWKB(p.geom))
          IS DISTINCT FROM
          (EXCLUDED.commune_insee, EXCLUDED.prefixe, EXCLUDED.section, EXCLUDED.numero,
           EXCLUDED.contenance, EXCLUDED.created, EXCLUDED.updated, ST_AsEWKB(EXCLUDED.geom))
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""

# Commune codes of the file that are not current communes: merged ones are
# named with their successor, unknown ones as such. Never silently dropped.
_UNKNOWN_COMMUNES = """
SELECT s.commune, count(*) AS parcels, string_agg(DISTINCT f.insee, ',') AS successor
FROM parcel_stage s
LEFT JOIN commune c ON c.insee = s.commune
LEFT JOIN commune_former_code f ON f.former_insee = s.commune
WHERE c.insee IS NULL
GROUP BY s.commune
ORDER BY s.commune
"""


def load_cadastre(
    engine: Engine,
    path: Path,
    *,
    repair: bool = False,
    source_crs: CRS | None = None,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one Etalab cadastre GeoJSON file (plain or .gz) into ``parcel``.

    ``source_crs`` overrides the CRS declared by the file (GeoJSON without one is
    WGS84 per RFC 7946). With ``repair``, invalid geometries are repaired with
    ST_MakeValid and counted instead of failing the import. ``on_batch`` receives
    the number of features read after each batch (progress bars).
    """
    path = Path(path)
    check_readable(path)
    report = ImportReport(kind="cadastre", source=str(path))
    examples: dict[str, list[str]] = defaultdict(list)

    with engine.begin() as conn:
        conn.exec_driver_sql(_CREATE_STAGE)
        for batch, crs in _read_batches(path, batch_size, source_crs):
            report.read += batch.num_rows
            accepted = _check_batch(batch, report.read - batch.num_rows, repair, report, examples)
            if not report.rejected and accepted is not None:
                _copy_to_stage(conn, path, accepted, crs)
            if on_batch is not None:
                on_batch(batch.num_rows)
        if report.rejected:
            raise LoaderError(_rejection_message(path, report, examples))
        if report.read == 0:
            raise LoaderError(f"{path}: the file holds no feature")
        _check_duplicates(conn, path)
        report.warnings += _commune_warnings(conn)
        inserted, updated = conn.execute(text(_MERGE)).one()
        report.inserted, report.updated = inserted, updated
        report.unchanged = report.read - inserted - updated
        record_run(conn, report, path)
    return report


def _read_batches(path: Path, batch_size: int, source_crs: CRS | None):
    """Yield (Arrow batch, CRS of its geometries) from the file, streamed by GDAL."""
    try:
        with pyogrio.open_arrow(gdal_path(path), batch_size=batch_size, use_pyarrow=True) as (
            meta,
            reader,
        ):
            if len(meta["fields"]) == 0:
                raise LoaderError(f"{path}: the file holds no feature with properties")
            missing = [f for f in REQUIRED_FIELDS if f not in meta["fields"]]
            if missing:
                raise LoaderError(
                    f"{path}: missing propert{'y' if len(missing) == 1 else 'ies'} "
                    f"{', '.join(missing)}: not an Etalab cadastre parcel file"
                )
            crs = source_crs or (CRS.from_user_input(meta["crs"]) if meta["crs"] else None)
            crs = crs or CRS.from_epsg(WGS84)
            for batch in reader:
                yield batch, crs
    except (DataSourceError, FieldError, OSError, pa.ArrowException) as exc:
        raise LoaderError(f"{path}: not a readable GeoJSON file ({_first_line(exc)})") from exc


def _check_batch(
    batch: pa.RecordBatch,
    offset: int,
    repair: bool,
    report: ImportReport,
    examples: dict[str, list[str]],
) -> pa.RecordBatch | None:
    """Count the batch's bad features by reason; return the batch when it is clean."""
    ids = pc.cast(batch.column("id"), pa.string())
    section = pc.utf8_lpad(pc.cast(batch.column("section"), pa.string()), 2, "0")
    numero = pc.utf8_lpad(pc.cast(batch.column("numero"), pa.string()), 4, "0")
    commune = pc.cast(batch.column("commune"), pa.string())
    prefixe = pc.cast(batch.column("prefixe"), pa.string())
    expected = pc.binary_join_element_wise(commune, prefixe, section, numero, "")
    wkb = batch.column(batch.schema.get_field_index("wkb_geometry"))
    geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))

    id_text = np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object)
    type_ids = shapely.get_type_id(geoms)
    checks: list[tuple[str, np.ndarray]] = [
        ("missing id", ~pc.is_valid(ids).to_numpy(zero_copy_only=False)),
        (
            "malformed id",
            ~pc.fill_null(pc.match_substring_regex(ids, PARCEL_ID_PATTERN), False).to_numpy(
                zero_copy_only=False
            ),
        ),
        (
            "id does not match commune+prefixe+section+numero",
            ~pc.fill_null(pc.equal(ids, expected), False).to_numpy(zero_copy_only=False),
        ),
        ("feature without geometry", shapely.is_missing(geoms)),
        ("geometry is not a polygon", ~np.isin(type_ids, (-1, 3, 6))),
        ("empty geometry", shapely.is_empty(geoms)),
    ]
    polygonal = np.isin(type_ids, (3, 6)) & ~shapely.is_empty(geoms)
    invalid = polygonal & ~shapely.is_valid(geoms)
    if repair:
        report.repaired += int(invalid.sum())
    else:
        checks.append(("invalid geometry", invalid))

    bad_any = np.zeros(batch.num_rows, dtype=bool)
    for reason, bad in checks:
        # A feature counts once, under its first failed check.
        bad = bad & ~bad_any
        if bad.any():
            report.rejected[reason] += int(bad.sum())
            room = EXAMPLES_PER_REASON - len(examples[reason])
            for i in np.flatnonzero(bad)[: max(room, 0)]:
                examples[reason].append(_describe(offset + i, id_text[i], geoms[i], reason))
            bad_any |= bad
    if bad_any.any():
        return None
    return pa.RecordBatch.from_arrays(
        [
            ids,
            departement_codes(commune),
            commune,
            prefixe,
            section,
            numero,
            _column_or_null(batch, "contenance", pa.int64()),
            _column_or_null(batch, "created", pa.date32()),
            _column_or_null(batch, "updated", pa.date32()),
            wkb,
        ],
        names=list(STAGE_COLUMNS),
    )


def _copy_to_stage(conn: Connection, path: Path, batch: pa.RecordBatch, crs: CRS) -> None:
    geoms = shapely.from_wkb(batch.column("geom").to_numpy(zero_copy_only=False))
    ids = np.asarray(batch.column("id").to_numpy(zero_copy_only=False), dtype=object)
    projected = to_lambert93(geoms, crs)
    check_extent(path, projected, ids)
    ewkb = shapely.to_wkb(shapely.set_srid(projected, LAMBERT93), hex=True, include_srid=True)
    table = pa.Table.from_batches([batch]).set_column(
        len(STAGE_COLUMNS) - 1, "geom", pa.array(ewkb, type=pa.string())
    )
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    cursor = conn.connection.dbapi_connection.cursor()
    columns = ", ".join(STAGE_COLUMNS)
    with cursor.copy(f"COPY parcel_stage ({columns}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buffer.getbuffer())


def _column_or_null(batch: pa.RecordBatch, name: str, type_: pa.DataType) -> pa.Array:
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, type=type_)
    try:
        return pc.cast(batch.column(name), type_)
    except pa.ArrowInvalid as exc:
        raise LoaderError(f"property {name!r} has values that are not {type_}: {exc}") from exc


def _check_duplicates(conn: Connection, path: Path) -> None:
    duplicates = conn.exec_driver_sql(
        "SELECT id, count(*) FROM parcel_stage GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 5"
    ).all()
    if duplicates:
        listed = ", ".join(f"{pid} ({n}×)" for pid, n in duplicates)
        raise LoaderError(f"{path}: parcel ids appear more than once: {listed}; nothing written")


def _commune_warnings(conn: Connection) -> list[str]:
    if conn.exec_driver_sql("SELECT NOT EXISTS (SELECT 1 FROM commune)").scalar():
        return ["administrative reference not loaded: commune codes were not checked"]
    warnings = []
    for code, parcels, successor in conn.execute(text(_UNKNOWN_COMMUNES)):
        if successor:
            warnings.append(f"commune {code} has merged into {successor} ({parcels} parcels)")
        else:
            warnings.append(f"commune {code} is unknown ({parcels} parcels)")
    return warnings


def _describe(index: int, parcel_id: str | None, geom, reason: str) -> str:
    label = f"feature #{index + 1}" + (f" ({parcel_id})" if parcel_id else "")
    if reason == "invalid geometry":
        return f"{label}: {shapely.is_valid_reason(geom)}"
    return label


def _rejection_message(path: Path, report: ImportReport, examples: dict[str, list[str]]) -> str:
    parts = [
        f"{reason}: {n} (e.g. {'; '.join(examples[reason][:3])})"
        for reason, n in report.rejected.items()
    ]
    hint = (
        " Re-run with --repair to fix invalid geometries with ST_MakeValid."
        if "invalid geometry" in report.rejected
        else ""
    )
    return (
        f"{path}: {sum(report.rejected.values())} of {report.read} features rejected, "
        f"nothing written. " + " | ".join(parts) + "." + hint
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
