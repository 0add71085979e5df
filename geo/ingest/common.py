"""Helpers shared by the loaders: file identity, the import_run record, CRS checks."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError
from sqlalchemy import Connection, insert, text

from geo.crs import LAMBERT93, METRO_LAMBERT93_BOUNDS, departement_of
from geo.db.schema import import_run
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport


def sha256_of(path: Path) -> str:
    """The file's digest; a folder's (a delivery of shapefiles): its files' names and bytes."""
    digest = hashlib.sha256()
    if path.is_dir():
        for member in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(member.relative_to(path)).encode() + b"\0")
            digest.update(sha256_of(member).encode())
        return digest.hexdigest()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_readable(path: Path) -> None:
    if not path.is_file():
        raise LoaderError(f"{path}: no such file")


def gdal_path(path: Path) -> str:
    """GDAL virtual path: .gz files are read through /vsigzip/ without unpacking them."""
    return f"/vsigzip/{path}" if path.suffix == ".gz" else str(path)


# The demonstration's made-up files say so in their name (data/consommation/README.md,
# data/ocsge/README.md): a figure computed from them is flagged ``synthetic``.
SYNTHETIC_NAME = re.compile(r"SYNTH(E|É)TI(C|QUE)", re.IGNORECASE)


def is_synthetic(path: Path | str) -> bool:
    return SYNTHETIC_NAME.search(Path(path).name) is not None


def cover(conn: Connection, report: ImportReport, communes_sql: str) -> None:
    """Add to the import's coverage the communes ``communes_sql`` selects (one column of
    INSEE codes: where the import put data, read from its staging table) and their
    départements."""
    codes = {c for c in conn.exec_driver_sql(communes_sql).scalars() if c}
    report.communes |= codes
    report.departements |= {departement_of(c) for c in codes}


def record_run(
    conn: Connection, report: ImportReport, path: Path, sha256: str | None = None
) -> int:
    """Record the import in import_run (``sha256`` when the caller already has it), with
    its lineage (coverage, vintage) when the loader filled them, in the transaction of its
    data; its id."""
    return conn.execute(
        insert(import_run)
        .values(
            kind=report.kind,
            source=str(path),
            sha256=sha256 or sha256_of(path),
            summary=report.as_json(),
            departements=sorted(report.departements) or None,
            communes=sorted(report.communes) or None,
            vintage=report.vintage,
            synthetic=is_synthetic(path),
        )
        .returning(import_run.c.id)
    ).scalar_one()


def to_lambert93(geoms: np.ndarray, source_crs: CRS) -> np.ndarray:
    """Reproject an array of shapely geometries to Lambert-93, vectorised over all coordinates."""
    if source_crs.to_epsg() == LAMBERT93:
        return geoms
    try:
        transformer = Transformer.from_crs(source_crs, LAMBERT93, always_xy=True)
    except ProjError as exc:
        # a damaged .prj (a local or incomplete CRS): said in one line
        raise LoaderError(
            f"the CRS {source_crs.name!r} cannot be projected to Lambert-93 ({exc}): "
            "a damaged .prj?"
        ) from exc

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, project)


def check_extent(path: Path, projected: np.ndarray, ids: np.ndarray) -> None:
    """Reject a file whose coordinates land outside metropolitan France once projected.

    This is how a wrong CRS or swapped longitude/latitude is caught: the geometry
    then lands in the sea or on another continent.
    """
    bounds = shapely.bounds(projected)
    xmin, ymin, xmax, ymax = METRO_LAMBERT93_BOUNDS
    with np.errstate(invalid="ignore"):
        outside = ~(
            (bounds[:, 0] >= xmin)
            & (bounds[:, 2] <= xmax)
            & (bounds[:, 1] >= ymin)
            & (bounds[:, 3] <= ymax)
        )
    outside &= ~np.isnan(bounds[:, 0])
    if outside.any():
        first = ids[np.flatnonzero(outside)[0]]
        raise LoaderError(
            f"{path}: {int(outside.sum())} geometries fall outside metropolitan France once "
            f"projected to Lambert-93 (first: {first}). Longitude and latitude swapped, or a "
            "CRS other than the one declared? Overseas départements need their own projection "
            "and are not supported yet."
        )


def multipolygon_ewkb(geoms: np.ndarray, srid: int) -> pa.Array:
    """EWKB MultiPolygons carrying ``srid``, from 2D Polygons or MultiPolygons.

    Done on the bytes (a Polygon becomes a one-part MultiPolygon by a 13-byte
    header) rather than by building new GEOS geometries: several times faster.
    """
    wkb = pa.array(shapely.to_wkb(geoms, output_dimension=2, byte_order=1), type=pa.binary())
    is_multi = pa.array(shapely.get_type_id(geoms) == 6)
    # little-endian flag, type 6 with the EWKB "has SRID" bit, SRID
    head = b"\x01" + (6 | 0x20000000).to_bytes(4, "little") + srid.to_bytes(4, "little")
    one_part = head + (1).to_bytes(4, "little")
    prefix = pc.if_else(is_multi, pa.scalar(head, pa.binary()), pa.scalar(one_part, pa.binary()))
    # a MultiPolygon keeps its part count and parts (after its 5-byte header);
    # a Polygon becomes the single part, header included
    # (an explicit stop: pyarrow 26's binary_slice fails without one)
    body = pc.if_else(is_multi, pc.binary_slice(wkb, 5, 2**31 - 1), wkb)
    return pc.binary_join_element_wise(prefix, body, pa.scalar(b"", pa.binary()))


def make_valid_polygonal(geoms: np.ndarray) -> np.ndarray:
    """GEOS MakeValid, keeping only the polygonal parts (as ST_CollectionExtract(…, 3))."""
    repaired = shapely.make_valid(geoms)
    parts, index = shapely.get_parts(repaired, return_index=True)
    sub, sub_index = shapely.get_parts(parts, return_index=True)  # explode nested multis
    index = index[sub_index]
    keep = shapely.get_type_id(sub) == 3
    out = np.full(len(geoms), shapely.from_wkt("MULTIPOLYGON EMPTY"), dtype=object)
    if keep.any():
        # multipolygons() wants contiguous indices: renumber the geometries that kept a part.
        owners, contiguous = np.unique(index[keep], return_inverse=True)
        out[owners] = shapely.multipolygons(sub[keep], indices=contiguous)
    return out


def warn_count(conn: Connection, report: ImportReport, count_sql: str, what: str) -> None:
    """Warn "<n> <what>" when ``count_sql`` counts any (rows the reference data lacks)."""
    if n := conn.execute(text(count_sql)).scalar_one():
        report.warnings.append(f"{n} {what}")
