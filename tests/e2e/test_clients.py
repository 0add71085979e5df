"""Real clients against the service under uvicorn: GDAL's OGC API - Features driver (Debian's
ogr2ogr, and the GDAL of the pyogrio wheel), QGIS headless, and the map page in headless
Chromium. `./dev test` installs them (gdal-bin, qgis, chromium, npm)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.api.main import create_app
from app.services.collections import COLLECTIONS
from app.settings import PROJECT_DIR, Settings
from geo.scoring.profiles import get_profile
from tests.helpers import engine_for, running_server

pytestmark = pytest.mark.clients

SCREENSHOT = PROJECT_DIR / "tests" / "output" / "map.png"
DOCS_SCREENSHOT = PROJECT_DIR / "tests" / "output" / "docs.png"


def _require(tool: str, how: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: {how} (./dev test installs it when run as root)")
    return path


def _count(scored_db_url: str, sql: str) -> int:
    engine = engine_for(scored_db_url)
    with engine.connect() as conn:
        count = conn.execute(text(sql)).scalar_one()
    engine.dispose()
    return count


def test_ogc_core_http_over_a_real_socket(live_server: str) -> None:
    """OGC API - Features Part 1, /conf/core/http: HTTP 1.1 on the wire (uvicorn)."""
    import httpx

    with httpx.Client() as http:
        response = http.get(f"{live_server}/conformance")
    assert response.http_version == "HTTP/1.1" and response.status_code == 200


def test_gdal_lists_the_collections(live_server: str) -> None:
    ogrinfo = _require("ogrinfo", "apt-get install gdal-bin")
    out = subprocess.run(
        [ogrinfo, "-ro", f"OAPIF:{live_server}/"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    layers = re.findall(r"^\d+: (\S+)", out.stdout, re.MULTILINE)
    assert layers == list(COLLECTIONS)


@pytest.mark.parametrize(
    ("collection", "page_size", "count_sql"),
    [
        ("parcels", 500, "SELECT count(*) FROM parcel"),
        ("communes", 1000, "SELECT count(*) FROM commune"),
    ],
)
def test_gdal_reads_every_feature_of_a_collection(
    live_server: str, scored_db_url: str, collection: str, page_size: int, count_sql: str
) -> None:
    """ogr2ogr pages through the `next` links and writes every feature exactly once."""
    ogr2ogr = _require("ogr2ogr", "apt-get install gdal-bin")
    out_dir = PROJECT_DIR / "tests" / "output"
    out_dir.mkdir(exist_ok=True)
    target = out_dir / f"oapif-{collection}.geojson"
    target.unlink(missing_ok=True)
    run = subprocess.run(
        [ogr2ogr, "-f", "GeoJSON", str(target), f"OAPIF:{live_server}/", collection,
         "-oo", f"PAGE_SIZE={page_size}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    features = json.loads(target.read_text())["features"]
    expected = _count(scored_db_url, count_sql)
    assert expected > page_size  # several pages
    ids = [f["properties"]["id"] for f in features]
    assert len(ids) == len(set(ids)) == expected


# A CQL2 filter GDAL and QGIS can express as a -where / subset string, and its SQL
CLIENT_FILTER = "score >= 60 AND section = 'AB'"
CLIENT_FILTER_SQL = """SELECT p.id FROM parcel p JOIN parcel_score s ON s.parcel_id = p.id
    AND s.profile = 'small-industry' WHERE round(s.score * 10) / 10 >= 60
    AND p.section = 'AB' ORDER BY p.id"""


def _ids(scored_db_url: str, sql: str) -> list[str]:
    engine = engine_for(scored_db_url)
    with engine.connect() as conn:
        ids = list(conn.execute(text(sql)).scalars())
    engine.dispose()
    return ids


# How GDAL names the declared types of app.services.collections (`ogrinfo -so`)
GDAL_TYPES = {
    "string": "String",
    "integer": "Integer",
    "number": "Real",
    "boolean": "Integer(Boolean)",
    "date": "Date",
    "date-time": "DateTime",
    "array": "String",
}


def test_gdal_types_every_field_from_the_collection_schema(live_server: str) -> None:
    """Debian's GDAL 3.6 reads each collection's describedBy JSON Schema (instead of
    guessing from a first page, where a null number becomes text, and an empty collection
    has no field at all): every property gets its declared type."""
    ogrinfo = _require("ogrinfo", "apt-get install gdal-bin")
    run = subprocess.run(
        [ogrinfo, "-ro", "-so", "-al", f"OAPIF:{live_server}/", "--config", "CPL_DEBUG", "ON"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr.count("OAPIF: Using JSON schema") == len(COLLECTIONS), run.stderr[-3000:]
    layers = re.split(r"^Layer name: ", run.stdout, flags=re.MULTILINE)[1:]
    for text_of_layer in layers:
        name = text_of_layer.split()[0]
        fields = dict(re.findall(r"^(\w+): (\S+) \(", text_of_layer, re.MULTILINE))
        collection = COLLECTIONS[name]
        expected = {p: GDAL_TYPES[collection.type_of(p)] for p in collection.properties}
        assert {p: fields.get(p) for p in expected} == expected, name
    assert len(layers) == len(COLLECTIONS)


def test_gdal_filters_and_writes_numbers_as_numbers(
    live_server: str, scored_db_url: str, tmp_path: Path
) -> None:
    """`ogrinfo -where "contenance_m2 > 5000"` works on the OAPIF layer (the filter goes to
    the server), and ogr2ogr writes contenance_m2 as an integer column."""
    ogrinfo = _require("ogrinfo", "apt-get install gdal-bin")
    ogr2ogr = _require("ogr2ogr", "apt-get install gdal-bin")
    where = "contenance_m2 > 5000"
    info = subprocess.run(
        [ogrinfo, "-ro", "-so", "-where", where, f"OAPIF:{live_server}/", "parcels"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert info.returncode == 0 and "Type mismatch" not in info.stderr, info.stderr
    expected = _count(scored_db_url, "SELECT count(*) FROM parcel WHERE contenance > 5000")
    assert f"Feature Count: {expected}" in info.stdout and expected > 0
    target = tmp_path / "parcels.gpkg"
    run = subprocess.run(
        [ogr2ogr, "-f", "GPKG", str(target), f"OAPIF:{live_server}/", "parcels",
         "-where", where, "-oo", "PAGE_SIZE=1000"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    written = subprocess.run(
        [ogrinfo, "-ro", "-so", str(target), "parcels"], capture_output=True, text=True
    ).stdout
    assert "contenance_m2: Integer " in written and "score: Real " in written, written
    assert f"Feature Count: {expected}" in written


def test_ogr2ogr_pushes_a_where_down_as_a_filter(live_server: str, scored_db_url: str) -> None:
    """Debian's ogr2ogr (GDAL 3.6) sends -where to the server as ?filter=… (GDAL names the
    text encoding cql-text, its draft name) and writes the features the filter selects."""
    ogr2ogr = _require("ogr2ogr", "apt-get install gdal-bin")
    target = PROJECT_DIR / "tests" / "output" / "oapif-filtered.geojson"
    target.parent.mkdir(exist_ok=True)
    target.unlink(missing_ok=True)
    run = subprocess.run(
        [ogr2ogr, "-f", "GeoJSON", str(target), f"OAPIF:{live_server}/", "parcels",
         "-where", CLIENT_FILTER, "--config", "CPL_DEBUG", "ON"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    fetched = [line for line in run.stderr.splitlines() if "/collections/parcels/items?" in line]
    # every page GDAL fetched carried the filter: nothing was filtered on the client
    assert fetched and all("filter=" in line for line in fetched[1:]), fetched
    assert "Full filter will be evaluated on client side" not in run.stderr
    ids = sorted(f["properties"]["id"] for f in json.loads(target.read_text())["features"])
    expected = _ids(scored_db_url, CLIENT_FILTER_SQL)
    assert ids == expected and expected


def test_gdal_reads_a_lambert93_layer_with_a_filter_pushed_down(
    live_server: str, scored_db_url: str
) -> None:
    """GDAL 3.12 (pyogrio's wheel) asks for Lambert-93 (crs=…/2154) and pushes the -where
    down: the coordinates are PostGIS's Lambert-93 ones, the features the filter's."""
    script = (
        "import sys, pyogrio\n"
        "pyogrio.set_gdal_config_options({'CPL_DEBUG': 'ON'})\n"
        "df = pyogrio.read_dataframe(sys.argv[1], layer='parcels', where=sys.argv[2], "
        "CRS='EPSG:2154')\n"
        "first = df.sort_values('id').iloc[0]\n"
        "x, y = first.geometry.geoms[0].exterior.coords[0]\n"
        "print(df.crs.to_epsg(), ','.join(sorted(df['id'])), x, y)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, f"OAPIF:{live_server}/", CLIENT_FILTER],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "crs=http" in run.stderr and "filter=" in run.stderr, run.stderr[-3000:]
    assert "evaluated on client side" not in run.stderr
    epsg, ids, x, y = run.stdout.split()
    expected = _ids(scored_db_url, CLIENT_FILTER_SQL)
    assert epsg == "2154" and ids.split(",") == expected
    engine = engine_for(scored_db_url)
    with engine.connect() as conn:
        x0, y0 = conn.execute(
            text(
                "SELECT ST_X(pt), ST_Y(pt) FROM (SELECT ST_PointN(ST_ExteriorRing("
                "ST_GeometryN(geom, 1)), 1) AS pt FROM parcel WHERE id = :id) p"
            ),
            {"id": expected[0]},
        ).one()
    engine.dispose()
    assert (float(x), float(y)) == pytest.approx((x0, y0), abs=0.01)


def test_qgis_loads_a_collection_and_a_filtered_layer(
    live_server: str, scored_db_url: str, tmp_path: Path
) -> None:
    """QGIS (Debian's qgis, headless offscreen) opens the parcels with its OAPIF provider,
    then the same layer with a subset string."""
    _require("qgis", "apt-get install qgis")
    script = PROJECT_DIR / "tests" / "e2e" / "clients" / "qgis_oapif.py"
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    run = subprocess.run(
        ["/usr/bin/python3", str(script), live_server, CLIENT_FILTER],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["valid"] and result["count"] == _count(
        scored_db_url, "SELECT count(*) FROM parcel"
    )
    # the count QGIS shows is numberMatched: exact past 10,000 too (35,014 communes)
    communes = result["communes"]
    assert (
        communes["valid"]
        and communes["count"] == _count(scored_db_url, "SELECT count(*) FROM commune") > 10_000
    )
    # QGIS 3.22 types fields from the first page (it reads no schema): numbers stay numbers
    assert communes["types"]["population"] == "Integer"
    assert {result["types"][n] for n in ("contenance_m2", "area_m2", "score")} <= {
        "Integer",
        "Real",
    }
    assert result["crs"] == "EPSG:4326"
    assert {"id", "commune", "section", "score"} <= set(result["fields"])
    assert result["subset_ok"]
    assert result["filtered_ids"] == _ids(scored_db_url, CLIENT_FILTER_SQL)
    lon, lat = result["first_point"]
    assert 2.2 < lon < 2.4 and 48.6 < lat < 48.7


@pytest.mark.browser
def test_map_page_in_headless_chromium(live_server: str, scored_db_url: str) -> None:
    """Loads the map on a parcel, waits for its tiles, clicks it and reads its dossier."""
    node = _require("node", "apt-get install nodejs npm")
    _require("chromium", "apt-get install chromium")
    spec = PROJECT_DIR / "web" / "tests" / "map.spec.mjs"
    if not (PROJECT_DIR / "web" / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is missing: npm ci --prefix web")
    parcel = "91216000AB0037"
    engine = engine_for(scored_db_url)
    with engine.connect() as conn:
        lon, lat, score = conn.execute(
            text(
                """SELECT ST_X(pt), ST_Y(pt), s.score FROM (
                       SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS pt FROM parcel
                       WHERE id = :id) p, parcel_score s
                   WHERE s.parcel_id = :id AND s.profile = 'small-industry'"""
            ),
            {"id": parcel},
        ).one()
    engine.dispose()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    run = subprocess.run(
        [node, str(spec), live_server, parcel, str(lon), str(lat), str(SCREENSHOT)],
        capture_output=True, text=True, timeout=120, cwd=spec.parent,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr + run.stdout
    result = json.loads(run.stdout)
    assert result["rendered"]["parcels"] > 10
    panel = result["panel"]
    assert f"parcelle {parcel}" in panel["parcel"]
    assert f"Score {score:.1f}".replace(".", ",") in panel["parcel"]
    # header + every criterion of the map's profile, known or not
    assert panel["criteriaRows"] == 1 + len(get_profile("small-industry").criteria())
    assert "CA Communauté Paris-Saclay" in panel["trajectory"]
    assert SCREENSHOT.stat().st_size > 10_000


@pytest.mark.browser
def test_a_map_on_another_origin_draws_foncier_parcels(
    live_server: str, scored_db_url: str
) -> None:
    """A MapLibre page served from another origin (the browser test's own server, another
    port of the loopback) draws parcels from Foncier's TileJSON and tiles and reads its OGC
    items: cross-origin requests Chromium lets through only with Foncier's CORS headers."""
    node = _require("node", "apt-get install nodejs npm")
    _require("chromium", "apt-get install chromium")
    if not (PROJECT_DIR / "web" / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is missing: npm ci --prefix web")
    engine = engine_for(scored_db_url)
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(pt), ST_Y(pt) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), "
                "4326) AS pt FROM parcel WHERE id = '91216000AB0037') p"
            )
        ).one()
    engine.dispose()
    spec = PROJECT_DIR / "web" / "tests" / "cors.spec.mjs"
    run = subprocess.run(
        [node, str(spec), live_server, str(lon), str(lat)],
        capture_output=True, text=True, timeout=120, cwd=spec.parent,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr + run.stdout
    result = json.loads(run.stdout)
    assert result["rendered"] > 10 and result["items"] > 0
    assert result["site"] != live_server and result["allowed"] == ["*"]


@pytest.fixture(scope="module")
def docs_server(demo_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(demo_db_url, tmp_path_factory.mktemp("docs") / "uvicorn.log") as base:
        yield base


@pytest.mark.browser
def test_docs_page_offline_in_headless_chromium(docs_server: str, demo_db_url: str) -> None:
    """/docs with every request to another host than the service refused: Swagger UI comes
    from the service's own static files and lists every operation of the schema."""
    node = _require("node", "apt-get install nodejs npm")
    _require("chromium", "apt-get install chromium")
    if not (PROJECT_DIR / "web" / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is missing: npm ci --prefix web")
    spec = PROJECT_DIR / "web" / "tests" / "docs.spec.mjs"
    DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
    DOCS_SCREENSHOT.unlink(missing_ok=True)
    run = subprocess.run(
        [node, str(spec), docs_server, str(DOCS_SCREENSHOT)],
        capture_output=True, text=True, timeout=120, cwd=spec.parent,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr + run.stdout
    result = json.loads(run.stdout)
    schema = create_app(Settings(database_url=demo_db_url)).openapi()
    expected = sorted(
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
    )
    assert sorted(result["operations"]) == expected
    assert result["title"].startswith("Foncier")
    assert result["refused"] == []  # nothing asked of the internet
    assert DOCS_SCREENSHOT.stat().st_size > 10_000
