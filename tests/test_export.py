"""Exports of searches, sites and OGC collections (app.presentation.export): CSV with its
documented columns, GeoJSON and GeoPackage read back with GDAL, same filters as the JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pyogrio
import pytest
from fastapi.testclient import TestClient

from app.api.routers.search import PARCEL_FIELDS, SITE_FIELDS
from app.settings import Settings

SEARCH = {"commune": "91216", "min_area": "0.2", "profile": "small-industry"}


@pytest.fixture(scope="module")
def scored_client(base_settings: Settings, scored_db_url: str) -> Iterator[TestClient]:
    from app.api.main import create_app

    app = create_app(base_settings.model_copy(update={"database_url": scored_db_url}))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def _matched(client: TestClient, path: str, params: dict) -> int:
    return client.get(path, params={**params, "limit": 1}).json()["numberMatched"]


def test_parcel_search_as_geopackage_holds_every_match(
    scored_client, tmp_path, monkeypatch
) -> None:
    import app.api.routers.search as scoring

    monkeypatch.setattr(scoring, "EXPORT_PAGE", 50)  # several pages appended to the file
    matched = _matched(scored_client, "/parcels/search", SEARCH)
    assert matched > 100  # more than one JSON page of the default size
    response = scored_client.get("/parcels/search", params={**SEARCH, "format": "gpkg"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "parcels.gpkg"
    path.write_bytes(response.content)
    info = pyogrio.read_info(path, layer="parcels")
    assert info["features"] == matched
    assert info["crs"] == "EPSG:4326"
    assert info["geometry_type"] == "MultiPolygon"
    assert list(info["fields"]) == ["id", *(f.name for f in PARCEL_FIELDS)]
    frame = pyogrio.read_dataframe(path, layer="parcels")
    assert frame["area_ha"].min() >= 0.2
    assert frame["id"].is_unique


def test_parcel_search_as_csv_has_the_documented_columns(scored_client) -> None:
    response = scored_client.get("/parcels/search", params={**SEARCH, "format": "csv"})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == _matched(scored_client, "/parcels/search", SEARCH)
    assert list(rows[0]) == ["id", *(f.name for f in PARCEL_FIELDS)]
    first = scored_client.get("/parcels/search", params={**SEARCH, "limit": 1}).json()
    assert rows[0]["id"] == first["features"][0]["id"]  # same order as the JSON
    assert float(rows[0]["score"]) == first["features"][0]["properties"]["score"]
    # every column is documented in the OpenAPI text of `format`
    doc = scored_client.get("/openapi.json").json()["paths"]["/parcels/search"]["get"]
    described = next(p for p in doc["parameters"] if p["name"] == "format")["description"]
    assert all(f"`{name}`" in described for name in rows[0])


def test_parcel_search_as_geojson(scored_client) -> None:
    response = scored_client.get("/parcels/search", params={**SEARCH, "format": "geojson"})
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == body["numberMatched"] > 100
    assert body["features"][0]["properties"]["criteria"]


def test_sites_export(scored_client, tmp_path) -> None:
    params = {"commune": "91216", "min_area": "2", "limit": "5"}
    sites = scored_client.get("/sites/search", params=params).json()
    response = scored_client.get("/sites/search", params={**params, "format": "gpkg"})
    path = tmp_path / "sites.gpkg"
    path.write_bytes(response.content)
    assert pyogrio.read_info(path)["features"] == sites["numberReturned"] > 0
    rows = list(
        csv.DictReader(
            io.StringIO(scored_client.get("/sites/search", params={**params, "format": "csv"}).text)
        )
    )
    assert list(rows[0]) == ["\ufeffid", *(f.name for f in SITE_FIELDS)]
    assert rows[0]["parcels"].split(";") == sites["features"][0]["properties"]["parcels"]


def test_ogc_items_export_with_f_and_format(scored_client, tmp_path) -> None:
    box = {"bbox": "2.2,48.6,2.4,48.7"}
    matched = scored_client.get("/collections/communes/items", params=box).json()
    gpkg = scored_client.get("/collections/communes/items", params={**box, "f": "gpkg"})
    path = tmp_path / "communes.gpkg"
    path.write_bytes(gpkg.content)
    assert pyogrio.read_info(path)["features"] == matched["numberMatched"]
    as_csv = scored_client.get("/collections/communes/items", params={**box, "format": "csv"})
    assert as_csv.text.count("\r\n") == 1 + matched["numberMatched"]
    full = scored_client.get("/collections/communes/items", params={**box, "format": "geojson"})
    assert len(full.json()["features"]) == matched["numberMatched"]
    # f=json and f=geojson stay the paged OGC answer
    paged = scored_client.get("/collections/communes/items", params={**box, "f": "geojson"})
    assert "links" in paged.json()


def test_bad_export_requests_are_problems(scored_client, monkeypatch) -> None:
    assert scored_client.get("/parcels/search", params={"format": "xlsx"}).status_code == 422
    assert scored_client.get("/collections/communes/items", params={"f": "shp"}).status_code == 400
    import app.api.routers.search as scoring

    monkeypatch.setattr(scoring, "MAX_EXPORT_FEATURES", 10)
    response = scored_client.get("/parcels/search", params={**SEARCH, "format": "csv"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "at most 10" in response.json()["detail"]
