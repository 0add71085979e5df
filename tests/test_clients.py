"""Real clients against the service under uvicorn: GDAL's OGC API - Features driver, and
the map page in headless Chromium. `./dev test` installs both (gdal-bin, chromium, npm)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from app.api.main import create_app
from app.services.features import COLLECTIONS
from app.settings import PROJECT_DIR, Settings
from geo.scoring.profiles import get_profile
from tests.conftest import engine_for, running_server

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


def test_map_page_in_headless_chromium(live_server: str, scored_db_url: str) -> None:
    """Loads the map on a parcel, waits for its tiles, clicks it and reads the panels."""
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
    assert f"Parcelle {parcel}" in panel["parcel"]
    assert f"Score {score:.1f}".replace(".", ",") in panel["parcel"]
    # header + every criterion of the default profile, known or not
    assert panel["criteriaRows"] == 1 + len(get_profile(None).criteria())
    assert "CA Communauté Paris-Saclay" in panel["trajectory"]
    assert "10 000 ha" in panel["envelope"].replace("\u202f", " ")
    assert SCREENSHOT.stat().st_size > 10_000


@pytest.fixture(scope="module")
def docs_server(demo_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(demo_db_url, tmp_path_factory.mktemp("docs") / "uvicorn.log") as base:
        yield base


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
