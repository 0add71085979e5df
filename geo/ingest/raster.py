"""Per-parcel statistics of rasters (elevation, hazard classes), computed in bulk.

Any GeoTIFF (or other GDAL raster) in any CRS: parcels are projected to the raster's
CRS, and the raster is read tile by tile (bounded memory whatever its size). Each
tile's parcels are burnt into a label image (one rasterize call) and their statistics
come from a few ``numpy`` sort/``reduceat``/``unique`` calls over the cells; Python
only merges each parcel's partial sums across tiles (no loop over cells). A parcel
too small to hold a cell centre takes the cell under its representative point.

- elevation (metres): min, mean, max and the mean slope in percent
  (100 × |gradient|, from central differences over the cell size in metres; a
  geographic raster's degrees are converted at the tile's latitude);
- hazard classes (integers, e.g. flood hazard 0 none … 3 high): the share of the
  parcel's cells in each class.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import rasterio
import shapely
from pyproj import CRS, Transformer
from rasterio.features import rasterize
from rasterio.windows import Window
from sqlalchemy import Connection, Engine, text

from geo.crs import LAMBERT93, departement_codes
from geo.ingest.common import cover, record_run
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport
from geo.ingest.vector import Stage

TILE = 1024  # cells; a tile of float64 and its label image stay under ~20 MB


@dataclass
class _Accumulator:
    """Running per-parcel statistics across tiles, indexed by parcel number."""

    index: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    count: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    minimum: list[float] = field(default_factory=list)
    maximum: list[float] = field(default_factory=list)
    slope: list[float] = field(default_factory=list)
    classes: dict[tuple[int, int], float] = field(default_factory=dict)

    def slot(self, parcel_id: str) -> int:
        if parcel_id not in self.index:
            self.index[parcel_id] = len(self.ids)
            self.ids.append(parcel_id)
            for values, start in (
                (self.count, 0.0),
                (self.total, 0.0),
                (self.minimum, math.inf),
                (self.maximum, -math.inf),
                (self.slope, 0.0),
            ):
                values.append(start)
        return self.index[parcel_id]


def _open(path: Path):
    if not Path(path).is_file():
        raise LoaderError(f"{path}: no such file")
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise LoaderError(f"{path}: not a readable raster ({exc})") from exc


def _tiles(src) -> Iterator[Window]:
    for row in range(0, src.height, TILE):
        for col in range(0, src.width, TILE):
            yield Window(col, row, min(TILE, src.width - col), min(TILE, src.height - row))


def _crs(src, path: Path) -> CRS:
    if not src.crs:
        raise LoaderError(f"{path}: the raster declares no CRS")
    return CRS.from_user_input(src.crs)


def _parcel_tiles(
    conn: Connection, src, crs: CRS, progress: Callable[[int], object] | None
) -> Iterator[tuple[Window, list[str], np.ndarray]]:
    """The raster's tiles that meet parcels, with those parcels in the raster's CRS."""
    project, to_l93 = _projector(crs)
    for window in _tiles(src):
        ids, geoms = _tile_parcels(conn, src, window, project, to_l93)
        if progress:
            progress(1)
        if ids:
            yield window, ids, geoms


def _tile_parcels(
    conn: Connection, src, window: Window, to_raster: Callable, to_l93: Transformer
) -> tuple[list[str], np.ndarray]:
    """Parcels whose box meets the tile, as geometries in the raster's CRS."""
    left, bottom, right, top = rasterio.windows.bounds(window, src.transform)
    corners = to_l93.transform(
        [left, right, right, left], [bottom, bottom, top, top]
    )  # the tile's outline in Lambert-93 (its box covers the tile)
    rows = conn.execute(
        text(
            "SELECT id, ST_AsBinary(geom) FROM parcel "
            "WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 2154)"
        ),
        {
            "x0": min(corners[0]),
            "y0": min(corners[1]),
            "x1": max(corners[0]),
            "y1": max(corners[1]),
        },
    ).all()
    if not rows:
        return [], np.array([], dtype=object)
    ids = [r[0] for r in rows]
    geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
    return ids, to_raster(geoms)


def _projector(raster_crs: CRS) -> tuple[Callable, Transformer]:
    to_raster = Transformer.from_crs(LAMBERT93, raster_crs, always_xy=True)
    to_l93 = Transformer.from_crs(raster_crs, LAMBERT93, always_xy=True)

    def project(geoms: np.ndarray) -> np.ndarray:
        if raster_crs.to_epsg() == LAMBERT93:
            return geoms
        return shapely.transform(
            geoms, lambda xy: np.column_stack(to_raster.transform(xy[:, 0], xy[:, 1]))
        )

    return project, to_l93


def _labels(geoms: np.ndarray, window: Window, src) -> np.ndarray:
    transform = rasterio.windows.transform(window, src.transform)
    shapes = ((g, i + 1) for i, g in enumerate(geoms))
    return rasterize(
        shapes,
        out_shape=(int(window.height), int(window.width)),
        transform=transform,
        fill=0,
        dtype="int32",
    )


def _representative_cells(
    geoms: np.ndarray, missing: np.ndarray, window: Window, src
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(parcel numbers, rows, cols) of the cell under each missing parcel's point, if in tile."""
    points = shapely.point_on_surface(geoms[missing])
    xs, ys = shapely.get_x(points), shapely.get_y(points)
    rows, cols = rasterio.transform.rowcol(
        rasterio.windows.transform(window, src.transform), xs, ys
    )
    rows, cols = np.asarray(rows), np.asarray(cols)
    inside = (rows >= 0) & (rows < window.height) & (cols >= 0) & (cols < window.width)
    return np.flatnonzero(missing)[inside], rows[inside], cols[inside]


def _cell_size_m(src, window: Window, crs: CRS) -> tuple[float, float]:
    dx, dy = abs(src.transform.a), abs(src.transform.e)
    if crs.is_geographic:
        lat = rasterio.windows.bounds(window, src.transform)
        middle = math.radians((lat[1] + lat[3]) / 2)
        return dx * 111_320 * math.cos(middle), dy * 110_540
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return dx * factor, dy * factor


def _read_with_halo(src, window: Window) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The tile plus one cell around it (for the slope at its edges), masked nodata as NaN."""
    col0, row0 = max(int(window.col_off) - 1, 0), max(int(window.row_off) - 1, 0)
    col1 = min(int(window.col_off + window.width) + 1, src.width)
    row1 = min(int(window.row_off + window.height) + 1, src.height)
    halo = Window(col0, row0, col1 - col0, row1 - row0)
    data = src.read(1, window=halo, masked=True).astype("float64").filled(np.nan)
    offset = (int(window.row_off) - row0, int(window.col_off) - col0)
    return data, np.isnan(data), offset


def parcel_terrain(
    engine: Engine, path: Path, *, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Elevation statistics and mean slope of every parcel under a DEM, upserted in one
    transaction into ``parcel_terrain``."""
    path = Path(path)
    report = ImportReport(kind="terrain", source=str(path))
    acc = _Accumulator()
    with _open(path) as src, engine.begin() as conn:
        crs = _crs(src, path)
        for window, ids, geoms in _parcel_tiles(conn, src, crs, progress):
            data, nodata, (r, c) = _read_with_halo(src, window)
            dx, dy = _cell_size_m(src, window, crs)
            gy, gx = np.gradient(data, dy, dx)
            slope = 100 * np.hypot(gx, gy)
            z = data[r : r + int(window.height), c : c + int(window.width)]
            s = slope[r : r + int(window.height), c : c + int(window.width)]
            labels = _labels(geoms, window, src)
            labels[np.isnan(z)] = 0
            _accumulate(acc, ids, labels, z, s)
            seen = np.bincount(labels.ravel(), minlength=len(ids) + 1)[1:] > 0
            numbers, rows, cols = _representative_cells(geoms, ~seen, window, src)
            for n, row, col in zip(numbers, rows, cols, strict=True):
                value = z[row, col]
                if not np.isnan(value) and acc.count[acc.slot(ids[n])] == 0:
                    _add(acc, ids[n], 1, value, value, value, s[row, col])
        stage = Stage(
            conn,
            "parcel_terrain",
            {
                "parcel_id": "text",
                "departement_code": "text",
                "source": "text",
                "elevation_min_m": "float8",
                "elevation_mean_m": "float8",
                "elevation_max_m": "float8",
                "slope_mean_pct": "float8",
                "cells": "int4",
            },
        )
        count = np.asarray(acc.count)
        have = count > 0
        parcel_ids = pa.array(np.asarray(acc.ids, dtype=object)[have], pa.string())
        stage.copy(
            {
                "parcel_id": parcel_ids,
                "departement_code": departement_codes(parcel_ids),
                "source": pa.array([path.name] * int(have.sum()), pa.string()),
                "elevation_min_m": pa.array(np.asarray(acc.minimum)[have]),
                "elevation_mean_m": pa.array((np.asarray(acc.total) / np.maximum(count, 1))[have]),
                "elevation_max_m": pa.array(np.asarray(acc.maximum)[have]),
                "slope_mean_pct": pa.array((np.asarray(acc.slope) / np.maximum(count, 1))[have]),
                "cells": pa.array(count[have].astype(np.int32)),
            }
        )
        report.read = len(acc.ids)
        report.inserted, report.updated = stage.merge(["parcel_id", "departement_code"])
        report.unchanged = int(have.sum()) - report.inserted - report.updated
        if (~have).any():
            report.warnings.append(f"{int((~have).sum())} parcels only over nodata cells")
        cover(conn, report, f"SELECT DISTINCT left(parcel_id, 5) FROM {stage.name}")
        record_run(conn, report, path)
    return report


def _accumulate(
    acc: _Accumulator, ids: list[str], labels: np.ndarray, z: np.ndarray, slope: np.ndarray
) -> None:
    flat = labels.ravel()
    inside = flat > 0
    lab, zv, sv = flat[inside], z.ravel()[inside], slope.ravel()[inside]
    if lab.size == 0:
        return
    order = np.argsort(lab, kind="stable")
    lab, zv, sv = lab[order], zv[order], sv[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    present = lab[starts]
    counts = np.diff(np.r_[starts, lab.size])
    sums = np.add.reduceat(zv, starts)
    mins = np.minimum.reduceat(zv, starts)
    maxs = np.maximum.reduceat(zv, starts)
    slopes = np.add.reduceat(np.nan_to_num(sv), starts)
    for label, n, total, low, high, s in zip(
        present, counts, sums, mins, maxs, slopes, strict=True
    ):
        _add(acc, ids[label - 1], n, total, low, high, s)


def _add(acc: _Accumulator, parcel_id: str, n, total, low, high, slope) -> None:
    i = acc.slot(parcel_id)
    acc.count[i] += float(n)
    acc.total[i] += float(total)
    acc.minimum[i] = min(acc.minimum[i], float(low))
    acc.maximum[i] = max(acc.maximum[i], float(high))
    acc.slope[i] += float(slope)


def parcel_hazard(
    engine: Engine,
    path: Path,
    *,
    hazard: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Share of each parcel's cells in each class of a hazard raster, upserted into
    ``parcel_hazard`` (the parcels' previous shares for this hazard are replaced)."""
    path = Path(path)
    report = ImportReport(kind=f"hazard {hazard}", source=str(path))
    acc = _Accumulator()
    with _open(path) as src, engine.begin() as conn:
        crs = _crs(src, path)
        if not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
            raise LoaderError(f"{path}: hazard classes must be integers, not {src.dtypes[0]}")
        for window, ids, geoms in _parcel_tiles(conn, src, crs, progress):
            band = src.read(1, window=window, masked=True)
            classes = band.filled(-1).astype(np.int64)
            labels = _labels(geoms, window, src)
            labels[classes < 0] = 0
            width = int(classes.max()) + 1 if classes.size else 1
            keys = labels.ravel().astype(np.int64) * max(width, 1) + np.clip(
                classes.ravel(), 0, None
            )
            keys = keys[labels.ravel() > 0]
            present, counts = np.unique(keys, return_counts=True)
            for key, n in zip(present, counts, strict=True):
                label, cls = divmod(int(key), max(width, 1))
                slot = acc.slot(ids[label - 1])
                acc.count[slot] += float(n)
                acc.classes[(slot, cls)] = acc.classes.get((slot, cls), 0.0) + float(n)
            seen = np.bincount(labels.ravel(), minlength=len(ids) + 1)[1:] > 0
            numbers, rows, cols = _representative_cells(geoms, ~seen, window, src)
            for n, row, col in zip(numbers, rows, cols, strict=True):
                cls = int(classes[row, col])
                slot = acc.slot(ids[n])
                if cls >= 0 and acc.count[slot] == 0:
                    acc.count[slot] = 1.0
                    acc.classes[(slot, cls)] = 1.0
        conn.execute(
            text("DELETE FROM parcel_hazard WHERE hazard = :h AND parcel_id = ANY(:ids)"),
            {"h": hazard, "ids": acc.ids},
        )
        stage = Stage(
            conn,
            "parcel_hazard",
            {
                "parcel_id": "text",
                "departement_code": "text",
                "hazard": "text",
                "hazard_class": "int4",
                "share": "float8",
                "source": "text",
            },
        )
        keys = sorted(acc.classes)
        parcel_ids = pa.array([acc.ids[s] for s, _ in keys], pa.string())
        stage.copy(
            {
                "parcel_id": parcel_ids,
                "departement_code": departement_codes(parcel_ids),
                "hazard": pa.array([hazard] * len(keys), pa.string()),
                "hazard_class": pa.array([c for _, c in keys], pa.int32()),
                "share": pa.array([acc.classes[k] / acc.count[k[0]] for k in keys]),
                "source": pa.array([path.name] * len(keys), pa.string()),
            }
        )
        report.read = len(acc.ids)
        report.inserted, report.updated = stage.merge(
            ["parcel_id", "hazard", "hazard_class", "departement_code"]
        )
        cover(conn, report, f"SELECT DISTINCT left(parcel_id, 5) FROM {stage.name}")
        record_run(conn, report, path)
    return report
