"""Exports of searches, sites and OGC collections (app.presentation.export): CSV with its
documented columns, GeoJSON and GeoPackage read back with GDAL, same filters as the JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pyogrio
import pytest
import shapely
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
    monkeypatch.setattr("app.presentation.export.TABLE_BATCH", 50)  # several batches
    matched = _matched(scored_client, "/parcels/search", SEARCH)
    assert matched > 100  # more than one JSON page of the default size
    response = scored_client.get("/parcels/search", params={**SEARCH, "format": "gpkg"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "parcels.gpkg"
    path.write_bytes(response.content)
    info = pyogrio.read_info(path, layer="parcels")
    assert info["features"] == matched
    assert info["crs"] == "EPSG:2154"  # Lambert-93 unless crs says otherwise
    assert info["geometry_type"] == "MultiPolygon"
    assert list(info["fields"]) == ["id", *(f.name for f in PARCEL_FIELDS)]
    frame = pyogrio.read_dataframe(path, layer="parcels")
    assert frame["area_ha"].min() >= 0.2
    assert frame["id"].is_unique
    # in metres: the Lambert-93 area is the area_ha the search computed
    assert (abs(frame.geometry.area / 1e4 - frame["area_ha"]) < 1e-3).all()
    # as GDAL's own reader says it, with the CRS declared in the file
    ogrinfo = _ogrinfo(path, "parcels")
    assert "Geometry: Multi Polygon" in ogrinfo
    assert "Lambert-93" in ogrinfo and 'ID["EPSG",2154]' in ogrinfo


def _ogrinfo(path, layer: str) -> str:
    import subprocess

    return subprocess.run(
        ["ogrinfo", "-ro", "-so", str(path), layer], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize(
    ("crs", "epsg"),
    [
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:4326"),
        ("http://www.opengis.net/def/crs/EPSG/0/4326", "EPSG:4326"),
        ("[EPSG:3857]", "EPSG:3857"),
    ],
)
def test_export_crs_is_chosen_by_crs(scored_client, tmp_path, crs, epsg) -> None:
    """crs (a URI or a safe CURIE, as on the OGC items) chooses the GeoPackage's CRS and the
    CSV's x and y; both are x (longitude, easting) then y whatever the axis order."""
    params = {**SEARCH, "crs": crs}
    response = scored_client.get("/parcels/search", params={**params, "format": "gpkg"})
    assert response.status_code == 200, response.text
    path = tmp_path / "parcels.gpkg"
    path.write_bytes(response.content)
    assert pyogrio.read_info(path)["crs"] == epsg
    frame = pyogrio.read_dataframe(path)
    rows = _csv(scored_client.get("/parcels/search", params={**params, "format": "csv"}))
    by_id = {r["id"]: r for r in rows}
    for parcel_id, geometry in zip(frame["id"], frame.geometry, strict=True):
        x, y = float(by_id[parcel_id]["x"]), float(by_id[parcel_id]["y"])
        assert geometry.buffer(1e-3 if epsg == "EPSG:3857" else 1e-7).contains(shapely.Point(x, y))
    if epsg == "EPSG:4326":
        assert 2 < frame.geometry.bounds["minx"].min() < 3  # longitude first
        assert 48 < frame.geometry.bounds["miny"].min() < 49


def test_export_crs_needs_an_export_and_a_known_crs(scored_client) -> None:
    for params in ({"crs": "[EPSG:2154]"}, {"format": "gpkg", "crs": "EPSG:9999"}):
        response = scored_client.get("/parcels/search", params={**SEARCH, **params})
        assert response.status_code == 400, params
        assert "crs" in response.json()["detail"]


def _csv(response, delimiter: str = ",") -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read UTF-8
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def test_french_csv_opens_as_numbers_in_a_french_spreadsheet(scored_client) -> None:
    """csv-fr: `;` between cells, decimal comma, UTF-8 with a BOM; the same rows and
    values as the CSV."""
    plain = _csv(scored_client.get("/parcels/search", params={**SEARCH, "format": "csv"}))
    response = scored_client.get("/parcels/search", params={**SEARCH, "format": "csv-fr"})
    assert response.headers["content-disposition"] == 'attachment; filename="parcels.csv"'
    french = _csv(response, ";")
    assert len(french) == len(plain) > 100
    assert list(french[0]) == list(plain[0])
    numbers = ["area_ha", "score", "reliability", "envelope_impact_ha", "x", "y"]
    for ours, theirs in zip(french, plain, strict=True):
        assert ours["id"] == theirs["id"]
        for name in numbers:
            assert "." not in ours[name] and "e" not in ours[name].lower()
            if theirs[name]:
                assert float(ours[name].replace(",", ".")) == float(theirs[name])
        assert ours["excluded"] == theirs["excluded"]
    assert any("," in row["area_ha"] for row in french)


def test_parcel_search_as_csv_has_the_documented_columns(scored_client) -> None:
    response = scored_client.get("/parcels/search", params={**SEARCH, "format": "csv"})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == _matched(scored_client, "/parcels/search", SEARCH)
    assert list(rows[0]) == ["id", *(f.name for f in PARCEL_FIELDS), "x", "y"]
    # x and y: a point of the parcel, in Lambert-93 by default
    assert all(5e5 < float(r["x"]) < 8e5 and 6.7e6 < float(r["y"]) < 6.9e6 for r in rows)
    first = scored_client.get("/parcels/search", params={**SEARCH, "limit": 1}).json()
    assert rows[0]["id"] == first["features"][0]["id"]  # same order as the JSON
    assert float(rows[0]["score"]) == first["features"][0]["properties"]["score"]
    # every column is documented in the OpenAPI text of `format`
    doc = scored_client.get("/openapi.json").json()["paths"]["/parcels/search"]["get"]
    described = next(p for p in doc["parameters"] if p["name"] == "format")["description"]
    assert all(f"`{name}`" in described for name in rows[0])


def test_parcel_search_as_geojson(scored_client) -> None:
    """Features written by PostgreSQL: the CSV's columns as properties, RFC 7946 geometries
    (CRS84, outer rings counter-clockwise), in the search's order."""
    response = scored_client.get("/parcels/search", params={**SEARCH, "format": "geojson"})
    assert response.headers["content-type"].startswith("application/geo+json")
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection"
    assert body["profile"]["id"] == "small-industry"
    assert len(body["features"]) == body["numberMatched"] > 100
    first = scored_client.get("/parcels/search", params={**SEARCH, "limit": 1}).json()
    feature = body["features"][0]
    assert feature["type"] == "Feature"
    assert feature["id"] == feature["properties"]["id"] == first["features"][0]["id"]
    assert list(feature["properties"]) == ["id", *(f.name for f in PARCEL_FIELDS)]
    assert feature["properties"]["score"] == first["features"][0]["properties"]["score"]
    # the geometry the search's own page writes (lon/lat, 6 decimals, right-hand rule)
    assert feature["geometry"] == first["features"][0]["geometry"]
    assert feature["geometry"]["type"] == "MultiPolygon"
    lon, lat = feature["geometry"]["coordinates"][0][0][0]
    assert 2.0 < lon < 2.6 and 48.4 < lat < 48.9


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
    assert list(rows[0]) == ["\ufeffid", *(f.name for f in SITE_FIELDS), "x", "y"]
    info = pyogrio.read_info(path)
    assert (info["crs"], info["geometry_type"]) == ("EPSG:2154", "MultiPolygon")
    assert "Geometry: Multi Polygon" in _ogrinfo(path, "sites")
    assert rows[0]["parcels"].split(";") == sites["features"][0]["properties"]["parcels"]


def test_ogc_items_export_with_f_and_format(scored_client, tmp_path) -> None:
    box = {"bbox": "2.2,48.6,2.4,48.7"}
    matched = scored_client.get("/collections/communes/items", params=box).json()
    gpkg = scored_client.get("/collections/communes/items", params={**box, "f": "gpkg"})
    path = tmp_path / "communes.gpkg"
    path.write_bytes(gpkg.content)
    assert pyogrio.read_info(path)["features"] == matched["numberMatched"]
    assert pyogrio.read_info(path)["crs"] == "EPSG:2154"
    as_csv = scored_client.get("/collections/communes/items", params={**box, "format": "csv"})
    assert as_csv.text.count("\r\n") == 1 + matched["numberMatched"]
    # x and y: a point on each commune, in Lambert-93 as the GeoPackage
    frame = pyogrio.read_dataframe(path)
    outlines = dict(zip(frame["id"], frame.geometry, strict=True))
    for row in _csv(as_csv):
        point = shapely.Point(float(row["x"]), float(row["y"]))
        assert outlines[row["id"]].buffer(0.01).contains(point), row["id"]
    # the items' crs negotiation (Part 2) holds for the GeoJSON export too
    lambert = scored_client.get(
        "/collections/communes/items",
        params={**box, "format": "geojson", "crs": "http://www.opengis.net/def/crs/EPSG/0/2154"},
    )
    assert lambert.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/2154>"
    x, y = lambert.json()["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 5e5 < x < 8e5 and 6.7e6 < y < 6.9e6
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


@pytest.fixture
def fresh_client(base_settings: Settings, fresh_engine) -> Iterator[TestClient]:
    """The service over a private clone of the template (administrative data, no parcels)."""
    from app.api.main import create_app

    url = fresh_engine.url.render_as_string(hide_password=False)
    app = create_app(base_settings.model_copy(update={"database_url": url}))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


HOSTILE_NAMES = ['=HYPERLINK("http://x.example","x")', "+1+1", "-2+3", "@SUM(1,1)", "\tx", "\rx"]


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(fresh_client, fresh_engine):
    """OWASP's rule: a text cell starting with = + - @, tab or CR gets a leading quote;
    numbers stay numbers (a negative value is no formula)."""
    from sqlalchemy import text

    with fresh_engine.begin() as conn:
        codes = (
            conn.execute(
                text("SELECT insee FROM commune ORDER BY insee LIMIT :n"), {"n": len(HOSTILE_NAMES)}
            )
            .scalars()
            .all()
        )
        for code, name in zip(codes, HOSTILE_NAMES, strict=True):
            conn.execute(
                text("UPDATE commune SET name = :name, population = -2 WHERE insee = :code"),
                {"name": name, "code": code},
            )
    response = fresh_client.get("/collections/communes/items", params={"f": "csv", "name": "+1+1"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert [r["name"] for r in rows] == ["'+1+1"]
    french = fresh_client.get("/collections/communes/items", params={"f": "csv-fr"})
    by_name = {r["name"]: r for r in _csv(french, ";")}
    for name in HOSTILE_NAMES:
        assert by_name["'" + name]["population"] == "-2"
    everything = fresh_client.get("/collections/communes/items", params={"f": "csv"})
    by_code = {
        r["id"]: r
        for r in csv.DictReader(io.StringIO(everything.content.decode("utf-8-sig"), newline=""))
    }
    for code, name in zip(codes, HOSTILE_NAMES, strict=True):
        assert by_code[code]["name"] == "'" + name
        assert by_code[code]["population"] == "-2"  # a number, not text


def test_the_envelope_csv_neutralises_group_names_too() -> None:
    """/envelope?format=csv is written by its own table writer: the names of its groups
    (EPCI, territoires d'industrie, from imported references) follow the same rule."""
    from app.presentation.tables import envelope_csv

    report = {
        "ruleset": {"id": "industrial-envelope-2025"},
        "national": {"reserved_ha": 1.5, "consumed_ha": 0.0},
        "groups": [
            {"code": f"2000000{i:02d}", "name": name, "reserved_ha": -0.5, "consumed_ha": 0.25}
            for i, name in enumerate(HOSTILE_NAMES)
        ],
    }
    rows = list(csv.DictReader(io.StringIO(envelope_csv(report, "epci"), newline="")))
    assert [r["name"] for r in rows[1:]] == ["'" + name for name in HOSTILE_NAMES]
    assert {r["reserved_ha"] for r in rows[1:]} == {"-0.5"}  # a number, not text


def test_csv_writer_keeps_numbers_and_quotes_formulas() -> None:
    from app.presentation.export import Export, Field, prop, write_export

    fields = [Field("name", "str", "", prop("name")), Field("value", "float", "", prop("value"))]
    features = [
        {"id": "a", "properties": {"name": "@SUM(1,1)", "value": -2.5}},
        {"id": "-b", "properties": {"name": "plain - text", "value": None}},
        {"id": "c", "properties": {"name": ["-x", "y"], "value": 3}},
    ]
    with write_export("csv", Export("t", [features], fields)) as file:
        rows = list(csv.reader(io.StringIO(file.read().decode("utf-8-sig"), newline="")))
    assert rows == [
        ["id", "name", "value", "x", "y"],
        ["a", "'@SUM(1,1)", "-2.5", "", ""],
        ["'-b", "plain - text", "", "", ""],
        ["c", "'-x;y", "3", "", ""],
    ]
    with write_export("csv-fr", Export("t", [features], fields)) as file:
        text = file.read().decode("utf-8-sig")
    lines = text.splitlines()[1:]
    assert lines == ["a;'@SUM(1,1);-2,5;;", "'-b;plain - text;;;", 'c;"\'-x;y";3;;']


@pytest.mark.slow
@pytest.mark.parametrize("collection", ["epci", "territoires-industrie", "communes"])
def test_geopackage_of_features_without_geometry(
    fresh_client, fresh_engine, collection, tmp_path
) -> None:
    """Features whose geometry is null (territories whose communes are not loaded) are
    rows with a null geometry, not a 500."""
    from sqlalchemy import text

    with fresh_engine.begin() as conn:  # a commune whose boundary is not loaded
        conn.execute(text("UPDATE commune SET geom = NULL WHERE insee = '91216'"))
        conn.execute(  # a territoire d'industrie without outline nor members yet
            text(
                "INSERT INTO territoire_industrie (id, name, region_code) "
                "SELECT 'T-TEST', 'Sans contour', min(code) FROM region"
            )
        )
    full = fresh_client.get(f"/collections/{collection}/items", params={"format": "geojson"})
    features = full.json()["features"]
    assert any(f["geometry"] is None for f in features)
    response = fresh_client.get(f"/collections/{collection}/items", params={"f": "gpkg"})
    assert response.status_code == 200, response.text
    path = tmp_path / f"{collection}.gpkg"
    path.write_bytes(response.content)
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == len(features)
    nulls = {f["id"] for f in features if f["geometry"] is None}
    assert set(frame.loc[frame.geometry.isna(), "id"]) == nulls


@pytest.mark.parametrize("fmt", ["csv", "gpkg", "geojson"])
def test_a_database_failure_while_writing_is_a_problem_not_a_truncated_200(
    scored_client, monkeypatch, fmt
) -> None:
    """The export is written before its first byte is sent: a failure on a later page is
    still a problem document (it used to be a 200 cut after the CSV header)."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    import geo.scoring.export as table

    lost = OperationalError("FETCH", {}, psycopg.OperationalError("connection lost"))

    def failing(read):  # the connection lost after two pages (or lines) were read
        def reader(*args, **kwargs):
            for n, item in enumerate(read(*args, **kwargs)):
                if n == 2:
                    raise lost
                yield item

        return reader

    monkeypatch.setattr(table, "copy_out", failing(table.copy_out))
    monkeypatch.setattr(table, "row_batches", failing(table.row_batches))
    monkeypatch.setattr("app.presentation.export.TABLE_BATCH", 50)
    response = scored_client.get("/parcels/search", params={**SEARCH, "format": fmt})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]


def test_an_export_stops_when_its_client_goes(tmp_path, monkeypatch) -> None:
    """Asked before each page: once the client has gone, nothing more is read and no
    file is left."""
    import tempfile

    from app.presentation.export import ClientGone, Export, Field, prop, write_export

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    read = []

    def pages():
        for n in range(100):
            read.append(n)
            yield [
                {
                    "id": f"{n}-{i}",
                    "geometry": {"type": "Point", "coordinates": [2.3, 48.6]},
                    "properties": {"name": "x"},
                }
                for i in range(10)
            ]

    for fmt in ("csv", "geojson", "gpkg"):
        read.clear()
        export = Export("t", pages(), [Field("name", "str", "", prop("name"))])
        with pytest.raises(ClientGone):
            write_export(fmt, export, gone=lambda: len(read) > 2)
        assert len(read) == 3
        assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_files_a_killed_process_left_are_removed_at_start(
    base_settings: Settings, scored_db_url: str, tmp_path, monkeypatch
) -> None:
    """A GeoPackage is written by name; a process killed meanwhile leaves it. The next
    start removes such files, not those of a live process (another worker's)."""
    import subprocess
    import tempfile

    from app.api.main import create_app
    from app.presentation.export import export_dir

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = [export_dir() / f"foncier-export-{dead.pid}-abc.gpkg{s}" for s in ("", "-journal")]
    live = export_dir() / "foncier-export-1-abc.gpkg"  # pid 1 is alive
    for path in (*left, live):
        path.write_bytes(b"x" * 1000)
    app = create_app(base_settings.model_copy(update={"database_url": scored_db_url}))
    with TestClient(app):
        assert not any(p.exists() for p in left)
        assert live.exists()
    app.state.engine.dispose()


@pytest.mark.parametrize(
    "params",
    [
        SEARCH,
        {"commune": "91216", "profile": "logistics", "include_excluded": "true"},
        {"commune": "91216", "min_area": "0.1", "weights": '{"zoning": 2, "land_use": 1}'},
    ],
)
def test_csv_and_geopackage_columns_are_the_explained_scores(
    scored_client, tmp_path, params
) -> None:
    """The CSV's, GeoJSON's and GeoPackage's columns, computed by PostgreSQL, are every
    parcel's figures as the search's pages explain them, in the same order."""
    explained: list[dict] = []
    while True:
        page = scored_client.get(
            "/parcels/search", params={**params, "limit": 1000, "offset": len(explained)}
        ).json()["features"]
        explained += page
        if len(page) < 1000:
            break
    geojson = json.loads(
        scored_client.get("/parcels/search", params={**params, "format": "geojson"}).content
    )["features"]
    assert [f["id"] for f in geojson] == [f["id"] for f in explained]
    rows = _csv(scored_client.get("/parcels/search", params={**params, "format": "csv"}))
    gpkg = scored_client.get("/parcels/search", params={**params, "format": "gpkg"})
    path = tmp_path / "parcels.gpkg"
    path.write_bytes(gpkg.content)
    frame = pyogrio.read_dataframe(path)
    assert [r["id"] for r in rows] == [f["id"] for f in explained] == list(frame["id"])
    assert len(rows) > 50
    exported = list(geojson)
    for row, record, feature in zip(rows, frame.to_dict("records"), explained, strict=True):
        p = feature["properties"]
        points = {c["criterion"]: c["points"] for c in p["criteria"]}
        expected = {
            "commune": p["commune"],
            "commune_name": p["commune_name"],
            "area_ha": p["area_ha"],
            "zoning": p["zoning"],
            "on_friche": p["on_friche"],
            "land_use": p["land_use"],
            "owner_group": (p["owner"] or {}).get("group"),
            "owner_name": (p["owner"] or {}).get("name"),
            "score": p["score"],
            "reliability": p["reliability"],
            "excluded": p["excluded"],
            "exclusions": ";".join(e["id"] for e in p["exclusions"]),
            "envelope_impact_ha": p["envelope_impact_ha"],
            "remediation_cost_eur": p["remediation_cost_eur"],
            "profile": p["profile"],
            "model_version": p["model_version"],
            **{
                f.name: points.get(f.name.removeprefix("points_"))
                for f in PARCEL_FIELDS
                if f.name.startswith("points_")
            },
        }
        assert {k: v for k, v in exported.pop(0)["properties"].items() if k != "id"} == expected
        for field in PARCEL_FIELDS:
            want, cell, stored = expected[field.name], row[field.name], record[field.name]
            if field.kind == "float":
                assert (float(cell) if cell else None) == want, (row["id"], field.name)
                assert (None if stored != stored else stored) == want, (row["id"], field.name)
            elif field.kind == "bool":
                assert cell == ("" if want is None else str(want).lower()), field.name
            else:
                assert cell == (want or ""), (row["id"], field.name)
                assert (stored or "") == (want or ""), (row["id"], field.name)


def test_a_table_export_stops_when_its_client_goes(scored_db_url, tmp_path, monkeypatch):
    """COPY and the GeoPackage's cursor are abandoned once the client has gone: no file is
    left, and the connection is usable again once rolled back, as the export pool does
    (no COPY left running on it)."""
    import dataclasses
    import tempfile

    from sqlalchemy import text

    import app.presentation.export as export
    from app.api.routers.search import PARCEL_FIELDS
    from app.db import make_engine
    from app.services.crs import STORAGE
    from geo.scoring.export import parcel_table
    from geo.scoring.profiles import get_profile
    from geo.scoring.search import Filters

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(export, "TABLE_BATCH", 20)
    monkeypatch.setattr(export, "_LINES_BETWEEN_CHECKS", 20)
    engine = make_engine(scored_db_url)
    crs = dataclasses.replace(STORAGE, lat_first=False)
    try:
        with engine.connect() as conn:
            for fmt in ("csv", "gpkg", "geojson"):
                asked: list[int] = []

                def gone(asked: list[int] = asked) -> bool:
                    asked.append(1)
                    return len(asked) > 2

                table = parcel_table(conn, get_profile(None), Filters(commune="91216"), crs=crs)
                job = export.TableExport("parcels", table, PARCEL_FIELDS, "MultiPolygon", crs)
                with pytest.raises(export.ClientGone):
                    export.write_export(fmt, job, gone=gone)
                assert len(asked) == 3
                assert not [p for p in tmp_path.rglob("*") if p.is_file()]
                conn.rollback()
                assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
