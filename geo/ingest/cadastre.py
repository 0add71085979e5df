"""Etalab cadastre parcels (cadastre.data.gouv.fr GeoJSON, one file per commune or département).

Pipeline, built for département-sized files with bounded memory:

1. GDAL (pyogrio) streams the GeoJSON, plain or gzipped, in Arrow batches;
2. a worker thread checks each batch and reprojects it to Lambert-93 with
   vectorised shapely/pyproj calls (no Python loop over coordinates), computes
   areas there too, and hands the batch over while reading the next one;
3. the calling thread binary-COPYs each batch: straight into ``parcel`` when none
   of its communes had parcels before this import (a first load), otherwise into
   a staging table merged at the end with ``INSERT … ON CONFLICT`` (a re-import
   updates changed rows and never duplicates).

Everything happens in one transaction: a file with a single bad feature writes nothing.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from geo.crs import LAMBERT93, departement_codes
from geo.db import partitions, tile_generation
from geo.db.sql import compose, ident, idents
from geo.ingest import chunks
from geo.ingest.cadastre_read import in_background, read_batches
from geo.ingest.common import (
    check_extent,
    check_readable,
    make_valid_polygonal,
    multipolygon_ewkb,
    record_run,
    sha256_of,
    to_lambert93,
)
from geo.ingest.errors import LoaderError
from geo.ingest.pgcopy import SIGNATURE, TRAILER, Field, encode_rows
from geo.ingest.report import ImportReport, updated_up_to
from geo.land.buildings import count_parcel_buildings
from geo.scoring import adjacency
from geo.territories import PARCEL_ID_PATTERN

# Files trimmed by their publisher to id/section/numero (e.g. Terres-de-Bord 27412) lack
# these: they are then read from the id (commune 5 characters, prefixe the next 3).
FROM_ID = {"commune": (0, 5), "prefixe": (5, 8)}
# 20,000 parcels a batch keeps the loader's memory well under 500 MB with two
# batches in flight, while amortising per-batch costs.
BATCH_SIZE = 20_000
# GDAL readers working in parallel on chunks of a large one-feature-per-line file:
# one per core (this machine has two); smaller files are read whole.
READERS = min(2, os.cpu_count() or 1)
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
EXAMPLES_PER_REASON = 5

COLUMNS = (
    "id",
    "departement_code",
    "commune_insee",
    "prefixe",
    "section",
    "numero",
    "contenance",
    "area_m2",
    "created",
    "updated",
    "geom",
)
# Binary COPY kinds; the geometry travels as EWKB, which PostGIS' receive function reads.
COPY_KINDS = ("text",) * 6 + ("int4", "float8", "date", "date", "bytes")

_MERGE = """
WITH upserted AS (
    INSERT INTO parcel AS p ({columns})
    SELECT {columns} FROM parcel_stage
    ON CONFLICT (id, departement_code) DO UPDATE SET {updates}
    WHERE (p.commune_insee, p.prefixe, p.section, p.numero, p.contenance, p.created, p.updated,
           ST_AsEWKB(p.geom))
          IS DISTINCT FROM
          (EXCLUDED.commune_insee, EXCLUDED.prefixe, EXCLUDED.section, EXCLUDED.numero,
           EXCLUDED.contenance, EXCLUDED.created, EXCLUDED.updated, ST_AsEWKB(EXCLUDED.geom))
    RETURNING 1
)
SELECT count(*) FROM upserted
""".format(
    columns=", ".join(COLUMNS),
    updates=", ".join(
        f"{c} = EXCLUDED.{c}" for c in COLUMNS if c not in ("id", "departement_code")
    ),
)

# A partitioned table cannot return xmax (which tells inserts from updates): count the
# staged rows that already exist before merging instead.
_EXISTING = """
SELECT count(*) FROM parcel_stage s
WHERE EXISTS (SELECT 1 FROM parcel p WHERE p.departement_code = s.departement_code AND p.id = s.id)
"""

# Commune codes of the file that are not current communes: merged ones are
# named with their successor, unknown ones as such. Never silently dropped.
_UNKNOWN_COMMUNES = """
SELECT code, string_agg(DISTINCT f.insee, ',') AS successor
FROM unnest(CAST(:codes AS text[])) AS code
LEFT JOIN commune c ON c.insee = code
LEFT JOIN commune_former_code f ON f.former_insee = code
WHERE c.insee IS NULL
GROUP BY code
ORDER BY code
"""


@dataclass
class _Part:
    """The rows of one département in a batch, encoded for binary COPY."""

    departement: str
    rows: int
    payload: memoryview
    communes: Counter[str]


@dataclass
class _Prepared:
    """A checked, projected batch ready for COPY, split by département (partition)."""

    parts: list[_Part]
    repaired: int


def load_cadastre(
    engine: Engine,
    path: Path,
    *,
    repair: bool = False,
    source_crs: CRS | None = None,
    batch_size: int = BATCH_SIZE,
    readers: int = READERS,
    on_batch: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one Etalab cadastre GeoJSON file (plain or .gz) into ``parcel``.

    ``source_crs`` overrides the CRS declared by the file (GeoJSON without one is
    WGS84 per RFC 7946). With ``repair``, invalid geometries are repaired with
    GEOS MakeValid (the algorithm of PostGIS' ST_MakeValid) and counted instead of
    failing the import. Large one-feature-per-line files are read by ``readers``
    GDAL readers in parallel. ``on_batch`` receives the number of features read
    after each batch (progress bars).
    """
    path = Path(path)
    check_readable(path)
    parallel = (
        readers > 1 and path.stat().st_size >= PARALLEL_MIN_BYTES and chunks.is_line_delimited(path)
    )
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE parcel_stage (LIKE parcel) ON COMMIT DROP")
        if parallel:
            try:
                with conn.begin_nested():
                    return _load(conn, path, repair, source_crs, batch_size, readers, on_batch)
            except chunks.NotLineDelimited:
                pass  # the layout changed past the first lines: read it whole instead
        # GDAL holds a whole feature, however long: a line longer than chunks allow is
        # refused before GDAL reads it (one pass, in blocks)
        chunks.check_lines(path)
        return _load(conn, path, repair, source_crs, batch_size, 1, on_batch)


def _load(
    conn: Connection,
    path: Path,
    repair: bool,
    source_crs: CRS | None,
    batch_size: int,
    readers: int,
    on_batch: Callable[[int], None] | None,
) -> ImportReport:
    report = ImportReport(kind="cadastre", source=str(path))
    examples: dict[str, list[str]] = defaultdict(list)
    communes: Counter[str] = Counter()
    routing = _Routing(conn)
    # The file's checksum for import_run, computed alongside (hashlib releases the GIL).
    checksum = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cadastre-sha256")
    sha256 = checksum.submit(sha256_of, path)
    checksum.shutdown(wait=False)
    staged = 0
    # Per département: "bulk" (a new partition, filled before it is indexed and
    # attached) or "attached" (rows go through parcel).
    modes: dict[str, str] = {}
    # The stages overlap: GDAL reads the next batches while one is checked and
    # projected and another is COPYed (and indexed by the server).
    batches = read_batches(path, batch_size, source_crs, readers)
    for size, prepared in in_background(_prepared(path, batches, repair, report, examples)):
        report.read += size
        if on_batch is not None:
            on_batch(size)
        if prepared is None or report.rejected:
            continue  # keep reading to report every bad feature, write nothing
        report.repaired += prepared.repaired
        for part in prepared.parts:
            dep = part.departement
            if dep not in modes:
                partitions.lock(conn, dep)
                if partitions.is_attached(conn, dep):
                    modes[dep] = "attached"
                else:
                    partitions.create_detached(conn, dep)
                    modes[dep] = "bulk"
            communes.update(part.communes)
            if modes[dep] == "bulk":
                _copy(conn, path, partitions.partition_name(dep), part.payload)
                report.inserted += part.rows
            elif routing.all_new(dep, set(part.communes)):
                _copy(conn, path, "parcel", part.payload)
                report.inserted += part.rows
            else:
                _copy(conn, path, "parcel_stage", part.payload)
                staged += part.rows
    if report.rejected:
        raise LoaderError(_rejection_message(path, report, examples))
    if report.read == 0:
        raise LoaderError(f"{path}: the file holds no feature")
    for dep, mode in modes.items():
        if mode == "bulk":
            _attach(conn, path, dep)
    if staged:
        _check_staged_duplicates(conn, path)
        existing = conn.execute(text(_EXISTING)).scalar_one()
        written = conn.execute(text(_MERGE)).scalar_one()
        report.inserted += staged - existing
        report.updated += written - (staged - existing)
    report.unchanged = report.read - report.inserted - report.updated
    partitions.recount(conn, sorted(modes))
    # their parcels rewritten, the communes' touching pairs are computed again by the
    # next score refresh (the site search tests the geometries itself until then)
    adjacency.forget(conn, communes)
    tile_generation.bump(conn, communes, redrawn=True)
    report.warnings += _commune_warnings(conn, communes)
    report.departements = set(modes)
    report.communes = set(communes)
    latest = conn.execute(
        text(
            "SELECT max(updated) FROM parcel WHERE departement_code = ANY(:deps) "
            "AND commune_insee = ANY(:communes)"
        ),
        {"deps": sorted(modes), "communes": sorted(communes)},
    ).scalar()
    report.vintage = updated_up_to(latest)
    # parcels redrawn: the buildings standing on them are counted again, where loaded
    built = conn.execute(
        text("SELECT DISTINCT commune_insee FROM building WHERE commune_insee = ANY(:c)"),
        {"c": sorted(communes)},
    ).scalars()
    count_parcel_buildings(conn, sorted(built))
    record_run(conn, report, path, sha256.result())
    return report


class _Routing:
    """Which communes of the file had no parcel before this import.

    Their parcels can be COPYed straight into ``parcel``: no conflict is possible,
    since a parcel id starts with its commune code. The others go through the
    staging table and the upsert.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.new: set[str] = set()
        self.existing: set[str] = set()

    def all_new(self, departement: str, communes: set[str]) -> bool:
        unknown = communes - self.new - self.existing
        if unknown:
            # Rows COPYed by this import belong to communes already in self.new,
            # so this sees the table as it was before the import.
            found = {
                code
                for (code,) in self.conn.execute(
                    text(
                        "SELECT code FROM unnest(CAST(:codes AS text[])) AS code "
                        "WHERE EXISTS (SELECT 1 FROM parcel WHERE departement_code = :dep "
                        "AND commune_insee = code)"
                    ),
                    {"codes": sorted(unknown), "dep": departement},
                )
            }
            self.existing |= found
            self.new |= unknown - found
        return communes <= self.new


def _prepared(
    path: Path,
    batches: Iterator[tuple[pa.RecordBatch, CRS, int]],
    repair: bool,
    report: ImportReport,
    examples: dict[str, list[str]],
) -> Iterator[tuple[int, _Prepared | None]]:
    for batch, crs, offset in batches:
        yield batch.num_rows, _prepare(path, batch, offset, crs, repair, report, examples)


def _prepare(
    path: Path,
    batch: pa.RecordBatch,
    offset: int,
    crs: CRS,
    repair: bool,
    report: ImportReport,
    examples: dict[str, list[str]],
) -> _Prepared | None:
    """Check a batch, counting bad features by reason; project it when it is clean."""
    ids = pc.cast(batch.column("id"), pa.string())
    section = pc.utf8_lpad(pc.cast(batch.column("section"), pa.string()), 2, "0")
    numero = pc.utf8_lpad(pc.cast(batch.column("numero"), pa.string()), 4, "0")
    if not all(name in batch.schema.names for name in FROM_ID):
        note = "commune and prefixe absent from the file: read from the parcel ids"
        if note not in report.warnings:
            report.warnings.append(note)
    commune, prefixe = (_or_from_id(batch, ids, name) for name in ("commune", "prefixe"))
    expected = pc.binary_join_element_wise(commune, prefixe, section, numero, "")
    wkb = batch.column(batch.schema.get_field_index("wkb_geometry"))
    geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))

    id_text = np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object)
    type_ids = shapely.get_type_id(geoms)
    polygonal = np.isin(type_ids, (3, 6)) & ~shapely.is_empty(geoms)
    invalid = polygonal & ~shapely.is_valid(geoms)
    checks: list[tuple[str, np.ndarray]] = [
        ("missing id", ~_to_bool(pc.is_valid(ids))),
        ("malformed id", ~_to_bool(pc.match_substring_regex(ids, PARCEL_ID_PATTERN))),
        (
            "id does not match commune+prefixe+section+numero",
            ~_to_bool(pc.equal(ids, expected)),
        ),
        ("feature without geometry", shapely.is_missing(geoms)),
        ("geometry is not a polygon", ~np.isin(type_ids, (-1, 3, 6))),
        ("empty geometry", shapely.is_empty(geoms)),
    ]
    if not repair:
        checks.append(("invalid geometry", invalid))

    bad_any = np.zeros(batch.num_rows, dtype=bool)
    for reason, bad in checks:
        bad = bad & ~bad_any  # a feature counts once, under its first failed check
        if bad.any():
            report.rejected[reason] += int(bad.sum())
            room = max(EXAMPLES_PER_REASON - len(examples[reason]), 0)
            for i in np.flatnonzero(bad)[:room]:
                examples[reason].append(_describe(offset + i, id_text[i], geoms[i], reason))
            bad_any |= bad
    if bad_any.any() or report.rejected:
        return None

    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = make_valid_polygonal(geoms[invalid])
        if shapely.is_empty(geoms[invalid]).any():
            first = id_text[np.flatnonzero(invalid & shapely.is_empty(geoms))[0]]
            raise LoaderError(f"{path}: geometry of {first} has no area left once repaired")
    projected = to_lambert93(geoms, crs)
    check_extent(path, projected, id_text)
    departements = departement_codes(commune)
    values = [
        ids,
        departements,
        commune,
        prefixe,
        section,
        numero,
        _column_or_null(path, batch, "contenance", pa.int32()),
        pa.array(shapely.area(projected)),
        _column_or_null(path, batch, "created", pa.date32()),
        _column_or_null(path, batch, "updated", pa.date32()),
        multipolygon_ewkb(projected, LAMBERT93),
    ]
    parts = []
    deps = pc.unique(departements).to_pylist()
    for dep in deps:
        subset = (
            values
            if len(deps) == 1
            else [pc.filter(v, pc.equal(departements, dep)) for v in values]
        )
        counts = pc.value_counts(subset[2]).to_pylist()
        parts.append(
            _Part(
                departement=dep,
                rows=len(subset[0]),
                payload=encode_rows([Field(v, k) for v, k in zip(subset, COPY_KINDS, strict=True)]),
                communes=Counter({c["values"]: c["counts"] for c in counts}),
            )
        )
    return _Prepared(parts=parts, repaired=int(invalid.sum()))


def _or_from_id(batch: pa.RecordBatch, ids: pa.Array, name: str) -> pa.Array:
    if name in batch.schema.names:
        return pc.cast(batch.column(name), pa.string())
    start, stop = FROM_ID[name]
    return pc.utf8_slice_codeunits(ids, start, stop)


def _to_bool(mask: pa.Array) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def _attach(conn: Connection, path: Path, departement: str) -> None:
    try:
        partitions.index_and_attach(conn, departement)
    except IntegrityError as exc:
        found = re.search(r"\(id, departement_code\)=\((.*?),", str(exc.orig))
        duplicate = found.group(1) if found else "?"
        raise LoaderError(
            f"{path}: parcel ids appear more than once: {duplicate}; nothing written"
        ) from exc


def _copy(conn: Connection, path: Path, table: str, payload: memoryview) -> None:
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a checked-out connection always has one
    cursor = dbapi.cursor()
    try:
        statement = compose(
            "COPY {table} ({cols}) FROM STDIN (FORMAT binary)",
            table=ident(table),
            cols=idents(COLUMNS),
        )
        with cursor.copy(statement) as copy:
            copy.write(SIGNATURE)
            copy.write(payload)
            copy.write(TRAILER)
    except psycopg.errors.UniqueViolation as exc:
        # Only possible within the file: these rows' communes had no parcel before.
        found = re.search(r"\(id, departement_code\)=\((.*?),", exc.diag.message_detail or "")
        duplicate = found.group(1) if found else "?"
        raise LoaderError(
            f"{path}: parcel ids appear more than once: {duplicate}; nothing written"
        ) from exc
    except psycopg.errors.CheckViolation as exc:
        raise LoaderError(f"{path}: {exc.diag.message_primary}; nothing written") from exc


def _column_or_null(path: Path, batch: pa.RecordBatch, name: str, type_: pa.DataType) -> pa.Array:
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, type=type_)
    try:
        return pc.cast(batch.column(name), type_)
    except pa.ArrowInvalid as exc:
        raise LoaderError(f"{path}: property {name!r} has values that are not {type_}") from exc


def _check_staged_duplicates(conn: Connection, path: Path) -> None:
    duplicates = conn.exec_driver_sql(
        "SELECT id, count(*) FROM parcel_stage GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 5"
    ).all()
    if duplicates:
        listed = ", ".join(f"{pid} ({n}×)" for pid, n in duplicates)
        raise LoaderError(f"{path}: parcel ids appear more than once: {listed}; nothing written")


def _commune_warnings(conn: Connection, communes: Counter[str]) -> list[str]:
    if conn.exec_driver_sql("SELECT NOT EXISTS (SELECT 1 FROM commune)").scalar():
        return ["administrative reference not loaded: commune codes were not checked"]
    warnings = []
    for code, successor in conn.execute(text(_UNKNOWN_COMMUNES), {"codes": sorted(communes)}):
        if successor:
            warnings.append(
                f"commune {code} has merged into {successor} ({communes[code]} parcels)"
            )
        else:
            warnings.append(f"commune {code} is unknown ({communes[code]} parcels)")
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
