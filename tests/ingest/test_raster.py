"""Per-parcel raster statistics on synthetic GeoTIFFs (marked synthetic) over the real
91216 parcels: a tilted plane whose slope is known, and a two-class hazard map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin
from sqlalchemy import Engine, text

from geo.ingest import raster
from geo.ingest.cadastre import load_cadastre
from geo.ingest.errors import LoaderError
from geo.ingest.raster import parcel_hazard, parcel_terrain
from tests.helpers import CADASTRE_91216

# Épinay-sur-Orge in Lambert-93, with a margin
X0, Y0, X1, Y1 = 648_000, 6_839_500, 652_000, 6_843_500
GX, GY = 0.02, 0.01  # the plane rises 2 cm per metre eastwards, 1 cm northwards
SLOPE_PCT = 100 * np.hypot(GX, GY)


def plane(x, y):
    return 50 + GX * (np.asarray(x) - X0) + GY * (np.asarray(y) - Y0)


def write_tif(path: Path, data: np.ndarray, transform, crs: str, nodata=None) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=data.shape[0],
        width=data.shape[1],
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(data, 1)
        dst.update_tags(note="synthetic test raster")
    return path


def l93_plane_tif(path: Path, cell: float = 5.0) -> Path:
    cols, rows = int((X1 - X0) / cell), int((Y1 - Y0) / cell)
    xs = X0 + (np.arange(cols) + 0.5) * cell
    ys = Y1 - (np.arange(rows) + 0.5) * cell
    return write_tif(
        path, plane(*np.meshgrid(xs, ys)), from_origin(X0, Y1, cell, cell), "EPSG:2154"
    )


@pytest.fixture
def parcels(fresh_engine: Engine) -> Engine:
    load_cadastre(fresh_engine, CADASTRE_91216)
    return fresh_engine


def stats(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.parcel_id, elevation_min_m, elevation_mean_m, elevation_max_m, "
                "slope_mean_pct, cells, ST_X(ST_Centroid(p.geom)), ST_Y(ST_Centroid(p.geom)), "
                "p.area_m2 FROM parcel_terrain t JOIN parcel p ON p.id = t.parcel_id"
            )
        ).all()
    return {r[0]: r[1:] for r in rows}


def test_elevation_and_slope_of_a_plane(parcels: Engine, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(raster, "TILE", 256)  # parcels straddle tiles
    report = parcel_terrain(parcels, l93_plane_tif(tmp_path / "dem.tif"))
    assert report.read == report.inserted == 4241
    result = stats(parcels)
    big = {k: v for k, v in result.items() if v[7] > 2000}
    assert len(big) > 100
    for low, mean, high, slope, cells, cx, cy, area in big.values():
        assert low <= mean <= high
        # the mean of a plane over the cells is the plane at their centre of mass
        assert mean == pytest.approx(float(plane(cx, cy)), abs=0.3)
        assert slope == pytest.approx(SLOPE_PCT, rel=1e-6)
        assert cells == pytest.approx(area / 25, rel=0.1)
    # tiny parcels without a cell centre still get the cell under them
    assert min(v[4] for v in result.values()) >= 1


def test_any_crs(parcels: Engine, tmp_path: Path) -> None:
    """The same plane sampled on a WGS84 grid gives the same parcel statistics."""
    parcel_terrain(parcels, l93_plane_tif(tmp_path / "l93.tif"))
    l93 = stats(parcels)
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)
    lon0, lat0, lon1, lat1 = 2.28, 48.65, 2.36, 48.70
    step = 0.00006  # ~4.4 m by 6.7 m
    lons = lon0 + (np.arange(int((lon1 - lon0) / step)) + 0.5) * step
    lats = lat1 - (np.arange(int((lat1 - lat0) / step)) + 0.5) * step
    lon, lat = np.meshgrid(lons, lats)
    x, y = to_l93.transform(lon, lat)
    write_tif(tmp_path / "wgs84.tif", plane(x, y), from_origin(lon0, lat1, step, step), "EPSG:4326")
    parcel_terrain(parcels, tmp_path / "wgs84.tif")
    wgs84 = stats(parcels)
    big = [k for k, v in l93.items() if v[7] > 2000]
    for k in big:
        assert wgs84[k][1] == pytest.approx(l93[k][1], abs=0.3)
        # slope from degrees converted at the tile's latitude: within 2 %
        assert wgs84[k][3] == pytest.approx(SLOPE_PCT, rel=0.02)


def test_hazard_shares(parcels: Engine, tmp_path: Path) -> None:
    cell, middle = 5.0, 650_000
    cols, rows = int((X1 - X0) / cell), int((Y1 - Y0) / cell)
    xs = X0 + (np.arange(cols) + 0.5) * cell
    classes = np.where(xs < middle, 3, 0).astype("uint8")
    grid = np.tile(classes, (rows, 1))
    path = write_tif(tmp_path / "flood.tif", grid, from_origin(X0, Y1, cell, cell), "EPSG:2154")
    report = parcel_hazard(parcels, path, hazard="flood")
    assert report.read == 4241
    with parcels.connect() as conn:
        shares = dict(
            conn.execute(
                text("SELECT parcel_id, share FROM parcel_hazard WHERE hazard_class = 3")
            ).all()
        )
        geoms = dict(conn.execute(text("SELECT id, ST_AsBinary(geom) FROM parcel")).all())
        sums = conn.execute(
            text(
                "SELECT min(s), max(s) FROM "
                "(SELECT sum(share) AS s FROM parcel_hazard GROUP BY parcel_id) t"
            )
        ).one()
    assert sums == pytest.approx((1.0, 1.0))
    west = shapely.box(X0, Y0, middle, Y1)
    checked = 0
    for pid, wkb in geoms.items():
        g = shapely.from_wkb(bytes(wkb))
        if g.area < 2000:
            continue
        expected = g.intersection(west).area / g.area
        assert shares.get(pid, 0.0) == pytest.approx(expected, abs=0.05)
        checked += 1
    assert checked > 100
    again = parcel_hazard(parcels, path, hazard="flood")
    assert again.inserted == report.inserted  # replaced, not duplicated
    with parcels.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM parcel_hazard")).scalar_one() == report.inserted
        )


def test_not_a_raster(parcels: Engine, tmp_path: Path) -> None:
    path = tmp_path / "x.tif"
    path.write_text("nope")
    with pytest.raises(LoaderError, match="not a readable raster"):
        parcel_terrain(parcels, path)
