"""What the land-layer loaders share: reading CSV and GeoJSON in batches, commune codes,
geometries (repair, projection, extent), and the staged upsert.

Each source module (friches, pollution, plu, …) maps its format's columns onto its
table and calls these; the cadastre loader has its own faster path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import shapely
from pyogrio.errors import DataSourceError, FieldError
from pyproj import CRS
from sqlalchemy import Connection, text

from geo.crs import LAMBERT93, WGS84
from geo.db.sql import compose, ident, trusted
from geo.ingest.common import check_extent, cover, gdal_path, make_valid_polygonal, to_lambert93
from geo.ingest.errors import LoaderError
from geo.ingest.pgcopy import Field
from geo.ingest.report import ImportReport
from geo.ingest.staging import Stage, copy_binary
from geo.territories import PARCEL_ID_PATTERN

# Values that mean "no value" in the open data we read (Cartofriches writes NA).
NA_VALUES = ["", "NA", "N/A", "NULL", "null", "None", "nan"]
CSV_BLOCK_BYTES = 8 * 1024 * 1024
GEOJSON_BATCH = 10_000
PARCEL_REF = re.compile(PARCEL_ID_PATTERN)
POINT, POLYGONAL = (0,), (3, 6)  # shapely type ids (Point; Polygon, MultiPolygon)


# -- reading --------------------------------------------------------------------


def read_csv(path: Path, *, required: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
    """Stream a CSV (`;`, `,` or tab separated, plain or .gz) as batches of string columns."""
    if not path.is_file():
        raise LoaderError(f"{path}: no such file")
    header = _first_line(path)
    delimiter = max(";,\t", key=header.count)
    names = [n.strip().lstrip("\ufeff") for n in header.split(delimiter)]
    missing = [c for c in required if c not in names]
    if missing:
        raise LoaderError(f"{path}: missing column(s) {', '.join(missing)}")
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, encoding="utf8"),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=NA_VALUES,
                strings_can_be_null=True,
            ),
        )
        for batch in reader:
            renamed = batch.rename_columns([n.strip().lstrip("\ufeff") for n in batch.schema.names])
            yield renamed
    except pa.ArrowInvalid as exc:
        raise LoaderError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from exc


# The longest header line read: real ones are a few kB (Cartofriches' 60 columns: 1 kB).
MAX_HEADER_CHARS = 64 * 1024


def _first_line(path: Path) -> str:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as f:
            line = f.readline(MAX_HEADER_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise LoaderError(f"{path}: not a readable UTF-8 text file ({exc})") from exc
    if len(line) > MAX_HEADER_CHARS:
        raise LoaderError(
            f"{path}: a header line longer than {MAX_HEADER_CHARS} characters: not a CSV file "
            "of this source"
        )
    return line.rstrip("\r\n")


def read_geojson(
    path: Path,
    *,
    required: tuple[str, ...] = (),
    source_crs: CRS | None = None,
    batch_size: int = GEOJSON_BATCH,
) -> Iterator[tuple[pa.RecordBatch, CRS]]:
    """Stream a vector file through GDAL: (batch with a ``wkb_geometry`` column, its CRS)."""
    if not path.is_file():
        raise LoaderError(f"{path}: no such file")
    try:
        with pyogrio.open_arrow(gdal_path(path), batch_size=batch_size, use_pyarrow=True) as (
            meta,
            reader,
        ):
            missing = [f for f in required if f not in meta["fields"]]
            if missing:
                raise LoaderError(f"{path}: missing propert(ies) {', '.join(missing)}")
            crs = source_crs or (CRS.from_user_input(meta["crs"]) if meta["crs"] else None)
            crs = crs or CRS.from_epsg(WGS84)
            for batch in reader:
                yield batch, crs
    except (DataSourceError, FieldError, OSError, pa.ArrowException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LoaderError(f"{path}: not a readable vector file ({first})") from exc


def column(batch: pa.RecordBatch, name: str) -> pa.Array:
    """A column as strings, trimmed, NA-like values as nulls (an absent column is all nulls)."""
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, pa.string())
    values = batch.column(name)
    if pa.types.is_floating(values.type):
        # GDAL types numeric codes (BASOL ids, SIREN…) as floats: print them without ".0".
        values = pc.if_else(
            pc.equal(values, pc.floor(values)),
            pc.cast(pc.cast(values, pa.int64()), pa.string()),
            pc.cast(values, pa.string()),
        )
    values = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    na = pc.is_in(values, value_set=pa.array(NA_VALUES))
    return pc.if_else(na, pa.scalar(None, pa.string()), values)


def to_number(path: Path, values: pa.Array, name: str) -> pa.Array:
    """Decimal numbers written with a comma or a point; anything else is reported."""
    cleaned = pc.replace_substring(pc.replace_substring(values, " ", ""), ",", ".")
    try:
        return pc.cast(cleaned, pa.float64())
    except pa.ArrowInvalid as exc:
        raise LoaderError(
            f"{path}: column {name!r} holds a value that is not a number ({exc})"
        ) from exc


def to_date(path: Path, values: pa.Array, name: str) -> pa.Array:
    """ISO dates, French dd/mm/yyyy dates, compact yyyymmdd (GPU), bare years (1 January)."""
    iso = pc.replace_substring_regex(values, r"^(\d{2})/(\d{2})/(\d{4})$", r"\3-\2-\1")
    iso = pc.replace_substring_regex(iso, r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3")
    iso = pc.replace_substring_regex(iso, r"^(\d{4})$", r"\1-01-01")
    iso = pc.utf8_slice_codeunits(iso, 0, 10)
    try:
        return pc.cast(pc.cast(iso, pa.timestamp("s")), pa.date32())
    except pa.ArrowInvalid as exc:
        raise LoaderError(
            f"{path}: column {name!r} holds a value that is not a date ({exc})"
        ) from exc


# -- communes -------------------------------------------------------------------


def normalise_insee(values: pa.Array) -> pa.Array:
    """INSEE commune codes as found in the wild, made 5 characters.

    '8417' (a lost leading zero) -> '08417'; '60542 (832 habitants)' -> '60542';
    '2a004' -> '2A004'. Values without a recognisable code become null.
    """
    upper = pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(values, pa.string())))
    found = pc.extract_regex(upper, r"^(?P<code>2[AB][0-9]{3}|[0-9]{4,5})(?:[^0-9]|$)")
    code = pc.struct_field(found, "code")
    return pc.utf8_lpad(code, 5, "0")


@dataclass
class CommuneResolver:
    """Maps source commune codes to current communes, reporting merged and unknown ones."""

    conn: Connection
    known: dict[str, str | None] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)

    def resolve(self, codes: pa.Array) -> pa.Array:
        distinct = {c for c in pc.unique(codes).to_pylist() if c is not None}
        new = sorted(distinct - set(self.known))
        if new:
            rows = self.conn.execute(
                text(
                    """SELECT code, coalesce(c.insee, min(f.insee)) AS current
                       FROM unnest(CAST(:codes AS text[])) AS code
                       LEFT JOIN commune c ON c.insee = code
                       LEFT JOIN commune_former_code f ON f.former_insee = code
                       GROUP BY code, c.insee"""
                ),
                {"codes": new},
            ).all()
            for code, current in rows:
                self.known[code] = current
                if current is None:
                    self.unknown.add(code)
                elif current != code:
                    self.merged[code] = current
        mapping = [self.known.get(c) if c is not None else None for c in codes.to_pylist()]
        return pa.array(mapping, pa.string())

    def warnings(self) -> list[str]:
        out = []
        if self.merged:
            pairs = ", ".join(f"{a}→{b}" for a, b in sorted(self.merged.items()))
            out.append(
                f"{len(self.merged)} merged commune codes mapped to their successor: {pairs}"
            )
        if self.unknown:
            out.append(
                f"{len(self.unknown)} unknown commune codes kept as given: "
                + ", ".join(sorted(self.unknown)[:20])
            )
        return out


# -- geometries -----------------------------------------------------------------


@dataclass
class Geometries:
    """A batch's geometries in Lambert-93, as EWKB, with what was wrong with them."""

    ewkb: pa.Array  # null where missing or rejected
    rejected: np.ndarray  # bool per row
    area_m2: pa.Array  # null where missing or rejected (points: 0)


def prepare_geometries(
    path: Path,
    geoms: np.ndarray,
    ids: list,
    crs: CRS,
    report: ImportReport,
    *,
    kinds: tuple[int, ...],
    required: bool,
) -> Geometries:
    """Repair (GEOS MakeValid, counted), check the type, project to Lambert-93, check extent.

    Missing geometries are rejected when ``required``; a geometry of another type is
    rejected. Polygons come out as MultiPolygons, points as points.
    """
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    invalid = ~missing & ~shapely.is_valid(geoms)
    geoms = geoms.copy()
    if invalid.any():
        geoms[invalid] = (
            make_valid_polygonal(geoms[invalid])
            if kinds == POLYGONAL
            else shapely.make_valid(geoms[invalid])
        )
        report.repaired += int(invalid.sum())
        types = shapely.get_type_id(geoms)
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    wrong = ~missing & ~np.isin(types, kinds)
    rejected = wrong | (missing if required else np.zeros(len(geoms), dtype=bool))
    if wrong.any():
        report.rejected["geometry of another type"] += int(wrong.sum())
    if required and missing.any():
        report.rejected["feature without geometry"] += int(missing.sum())
    usable = ~missing & ~wrong
    out = np.full(len(geoms), None, dtype=object)
    area = np.full(len(geoms), np.nan)
    if usable.any():
        projected = to_lambert93(geoms[usable], crs)
        check_extent(path, projected, np.asarray(ids, dtype=object)[usable])
        if kinds == POLYGONAL:
            parts, index = shapely.get_parts(projected, return_index=True)
            projected = shapely.multipolygons(parts, indices=index)
        area[usable] = shapely.area(projected)
        out[usable] = shapely.to_wkb(
            shapely.set_srid(projected, LAMBERT93), include_srid=True, output_dimension=2
        )
    return Geometries(
        ewkb=pa.array(out, pa.binary()),
        rejected=rejected,
        area_m2=pa.array(area, pa.float64(), from_pandas=True),
    )


def geometries_from_wkt(path: Path, values: pa.Array, name: str) -> np.ndarray:
    """WKT strings (e.g. Cartofriches' geompoint, geomsurf) as shapely geometries."""
    texts = np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)
    try:
        return shapely.from_wkt(texts, on_invalid="raise")
    except shapely.errors.GEOSException as exc:
        raise LoaderError(f"{path}: column {name!r} holds WKT that does not parse ({exc})") from exc


def geometries_from_geojson(
    path: Path, values: pa.Array, name: str, report: ImportReport
) -> np.ndarray:
    """GeoJSON geometry strings (Table Schema ``geojson`` fields of the CNIG standards).

    Rings left open (the last point differs from the first, as in the standard's own
    example) are closed and counted as repaired; anything else unreadable is an error.
    """
    texts = np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)
    present = np.array([t is not None for t in texts], dtype=bool)
    out = np.full(len(texts), None, dtype=object)
    if not present.any():
        return out
    try:
        out[present] = shapely.from_geojson(texts[present], on_invalid="raise")
        return out
    except shapely.errors.GEOSException:
        pass
    for i in np.flatnonzero(present):
        try:
            out[i] = shapely.from_geojson(texts[i], on_invalid="raise")
            continue
        except shapely.errors.GEOSException:
            pass
        try:
            geometry = json.loads(texts[i])
            closed = _close_rings(geometry)
            out[i] = shapely.from_geojson(json.dumps(geometry), on_invalid="raise")
        except (ValueError, TypeError, KeyError, shapely.errors.GEOSException) as exc:
            raise LoaderError(
                f"{path}: column {name!r}, row {i + 1}: unreadable geometry ({exc})"
            ) from exc
        report.repaired += closed
    return out


def _close_rings(geometry: dict) -> int:
    """Close the open rings of a GeoJSON Polygon or MultiPolygon in place; how many."""
    polygons = {"Polygon": [geometry["coordinates"]], "MultiPolygon": geometry["coordinates"]}
    closed = 0
    for rings in polygons.get(geometry.get("type", ""), []):
        for ring in rings:
            if ring and ring[0] != ring[-1]:
                ring.append(ring[0])
                closed += 1
    return closed


def guess_crs(geoms: np.ndarray) -> CRS:
    """WGS84 when every coordinate could be a longitude/latitude, else Lambert-93.

    For formats that do not say (GeoJSON text in CSV cells): the standards' own
    examples use Lambert-93 coordinates although RFC 7946 says WGS84. A wrong guess
    is then caught by the extent check.
    """
    bounds = shapely.bounds(geoms[~shapely.is_missing(geoms)])
    if (
        len(bounds)
        and np.all(np.abs(bounds[:, [0, 2]]) <= 180)
        and np.all(np.abs(bounds[:, [1, 3]]) <= 90)
    ):
        return CRS.from_epsg(WGS84)
    return CRS.from_epsg(LAMBERT93)


def to_bool(values: pa.Array) -> pa.Array:
    """oui/non (and yes/no, true/false, 1/0) as booleans; anything else as null."""
    lowered = pc.utf8_lower(values)
    true = pc.is_in(lowered, value_set=pa.array(["oui", "yes", "true", "1", "o", "y"]))
    false = pc.is_in(lowered, value_set=pa.array(["non", "no", "false", "0", "n"]))
    return pc.if_else(true, True, pc.if_else(false, pa.scalar(False), pa.scalar(None, pa.bool_())))


def geometries_from_wkb(batch: pa.RecordBatch) -> np.ndarray:
    wkb = batch.column(batch.schema.get_field_index("wkb_geometry"))
    return shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))


# -- writing --------------------------------------------------------------------


def rejection_error(path: Path, report: ImportReport, noun: str = "rows") -> LoaderError:
    """The one-line reason a file with rejected rows is refused."""
    reasons = ", ".join(f"{reason}: {n}" for reason, n in report.rejected.items())
    return LoaderError(
        f"{path}: {sum(report.rejected.values())} of {report.read} {noun} rejected, "
        f"nothing written: {reasons}"
    )


def finish(
    path: Path,
    stage: Stage,
    key: list[str],
    report: ImportReport,
    resolver: CommuneResolver | None = None,
    *,
    noun: str = "rows",
    **merge_options,
) -> None:
    """The common end of a land-layer import: refuse a file with rejected rows or
    duplicate keys, else merge the staged rows and report what changed."""
    if report.rejected:
        raise rejection_error(path, report, noun)
    if duplicates := stage.duplicates(key):
        raise LoaderError(
            f"{path}: {'/'.join(key)} appears more than once: {', '.join(duplicates)}"
        )
    report.inserted, report.updated = stage.merge(key, **merge_options)
    report.unchanged = report.read - report.inserted - report.updated
    # where the file put data is what it covers (geo.scoring.lineage)
    if "commune_insee" in stage.columns:
        cover(stage.conn, report, f"SELECT DISTINCT commune_insee FROM {stage.name}")
    elif "departement_code" in stage.columns:
        report.departements |= set(
            stage.conn.exec_driver_sql(
                f"SELECT DISTINCT departement_code FROM {stage.name} "
                "WHERE departement_code IS NOT NULL"
            ).scalars()
        )
    if resolver is not None:
        report.warnings += resolver.warnings()


def parcel_links(
    refs: pa.Array, owners: pa.Array, separator: str = "|"
) -> tuple[pa.Array, pa.Array, int]:
    """(owner ids, parcel ids, malformed count) from '|'-separated parcel references."""
    lists = pc.split_pattern(pc.fill_null(refs, ""), separator)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    flat = pc.utf8_upper(pc.utf8_trim_whitespace(pc.list_flatten(lists)))
    owner = pa.array(np.repeat(np.asarray(owners.to_pylist(), dtype=object), lengths), pa.string())
    nonempty = pc.not_equal(flat, "")
    well_formed = pc.match_substring_regex(flat, PARCEL_REF.pattern)
    malformed = int(pc.sum(pc.and_(nonempty, pc.invert(well_formed))).as_py() or 0)
    keep = pc.and_(nonempty, well_formed)
    return pc.filter(owner, keep), pc.filter(flat, keep), malformed


def replace_links(
    conn: Connection, table: str, owner_column: str, owners: pa.Array, parcels: pa.Array
) -> int:
    """Make ``table`` hold exactly these (owner, parcel) links for the owners named."""
    pieces = {
        "table": ident(table),
        "stage": ident(f"{table}_stage"),
        "owner": ident(owner_column),
    }
    conn.exec_driver_sql(
        compose(
            "CREATE TEMP TABLE IF NOT EXISTS {stage} (owner text, parcel_id text) ON COMMIT DROP",
            **pieces,
        )
    )
    conn.exec_driver_sql(compose("TRUNCATE {stage}", **pieces))
    if len(owners):
        copy_binary(
            conn,
            pieces["stage"],
            trusted("owner, parcel_id"),
            [Field(owners, "text"), Field(parcels, "text")],
        )
    conn.exec_driver_sql(
        compose(
            "DELETE FROM {table} l USING (SELECT DISTINCT owner FROM {stage}) s "
            "WHERE l.{owner} = s.owner",
            **pieces,
        )
    )
    return conn.exec_driver_sql(
        compose(
            "INSERT INTO {table} ({owner}, parcel_id) SELECT DISTINCT owner, parcel_id "
            "FROM {stage} ON CONFLICT DO NOTHING",
            **pieces,
        )
    ).rowcount
