"""OGC API conformance, requirement by requirement: each test names the abstract test it
checks (OGC API - Features Part 1: 17-069r4 annex A; Part 2: 18-058r1 annex A; Part 3:
19-079r2 annex A and CQL2 21-065r2; OGC API - Tiles: 20-057). Through the app, on the
scored 91216 base; expected answers are recomputed with SQL of their own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import OpenAPIV30SpecValidator
from sqlalchemy import Engine, text

from app.api.main import create_app
from app.api.routers.ogc import CONFORMANCE
from app.services.collections import COLLECTIONS
from app.services.crs import CRS84, CRSS
from tests.helpers import engine_for

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
EPINAY_BBOX = "2.30,48.67,2.33,48.69"
PARCEL = "91216000AB0037"
Z14 = (14, 8297, 5648)
ITEMS = "/collections/parcels/items"


@pytest.fixture(scope="module")
def db(scored_db_url: str) -> Iterator[Engine]:
    engine = engine_for(scored_db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def client(base_settings, scored_db_url: str) -> Iterator[TestClient]:
    app = create_app(base_settings.model_copy(update={"database_url": scored_db_url}))
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def sql_count(db: Engine, where: str, params: dict[str, Any] | None = None) -> int:
    """Parcels matching ``where`` over the items' own source, counted by SQL of the test."""
    with db.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM parcel p LEFT JOIN parcel_score s ON s.parcel_id = p.id "
                f"AND s.profile = 'small-industry' WHERE {where}"
            ),
            params or {},
        ).scalar_one()


def matched(client: TestClient, url: str, **params: str) -> int:
    response = client.get(url, params={"limit": 1, **params})
    assert response.status_code == 200, response.text
    return response.json()["numberMatched"]


def is_problem(response, status: int = 400) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
        and response.json()["status"] == status
    )


# ---------------------------------------------------------------- Part 1, core


def test_core_http(client: TestClient) -> None:
    """/conf/core/http: GET and HEAD answered over HTTP (the live server: test_clients)."""
    assert client.get("/").status_code == 200
    assert client.head("/conformance").status_code == 200


def test_core_root_op_and_root_success(client: TestClient) -> None:
    """/conf/core/root-op, /conf/core/root-success: the landing page links to the API
    definition, the conformance declaration and the collections."""
    body = client.get("/", headers={"Accept": "application/json"}).json()
    rels = {link["rel"]: link for link in body["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert all("href" in link for link in body["links"])


def test_core_api_definition_op_and_success(client: TestClient) -> None:
    """/conf/core/api-definition-op, api-definition-success: the service-desc link answers."""
    rels = {lk["rel"]: lk["href"] for lk in client.get("/?f=json").json()["links"]}
    path = "/" + rels["service-desc"].split("/", 3)[3]
    response = client.get(path)
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.0")


def test_core_conformance_op_and_success(client: TestClient) -> None:
    """/conf/core/conformance-op, conformance-success: every class declared is one we test."""
    classes = client.get("/conformance").json()["conformsTo"]
    assert classes == CONFORMANCE
    for part in ("core", "geojson", "oas30"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{part}" in classes


def test_core_fc_md_op_success_links_items_extent(client: TestClient) -> None:
    """/conf/core/fc-md-op, fc-md-success, fc-md-links, fc-md-items, fc-md-extent."""
    body = client.get("/collections").json()
    assert "self" in {lk["rel"] for lk in body["links"]}
    assert [c["id"] for c in body["collections"]] == list(COLLECTIONS)
    for described in body["collections"]:
        rels = {lk["rel"]: lk["href"] for lk in described["links"]}
        assert rels["items"].endswith(f"/collections/{described['id']}/items")
        assert described["itemType"] == "feature"
    parcels = body["collections"][0]
    assert parcels["extent"]["spatial"]["crs"] == CRS84
    minx, miny, maxx, maxy = parcels["extent"]["spatial"]["bbox"][0]
    assert 2.29 < minx < maxx < 2.35 and 48.65 < miny < maxy < 48.69


def test_core_sfc_md_op_and_success(client: TestClient) -> None:
    """/conf/core/sfc-md-op, sfc-md-success: one collection as in the list."""
    listed = client.get("/collections").json()["collections"][0]
    assert client.get("/collections/parcels").json() == listed
    assert is_problem(client.get("/collections/roads"), 404)


def test_core_fc_op_and_fc_response(client: TestClient) -> None:
    """/conf/core/fc-op, fc-response: a FeatureCollection of features."""
    response = client.get(ITEMS, params={"limit": 3})
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 3
    assert all(f["type"] == "Feature" for f in body["features"])


def test_core_fc_limit_definition_and_response(client: TestClient) -> None:
    """/conf/core/fc-limit-definition, fc-limit-response: limit is an integer in the
    definition, at most that many features come back, a value out of range is a 400."""
    operation = client.get("/openapi.json").json()["paths"]["/collections/{collectionId}/items"]
    limit = next(p for p in operation["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["type"] == "integer" and limit["schema"]["minimum"] == 1
    assert len(client.get(ITEMS, params={"limit": 7}).json()["features"]) == 7
    assert is_problem(client.get(ITEMS, params={"limit": 0}))


def test_core_fc_bbox_definition_and_response(client: TestClient, db: Engine) -> None:
    """/conf/core/fc-bbox-definition, fc-bbox-response: 4 or 6 numbers; the features whose
    geometry intersects the box, as PostGIS says."""
    operation = client.get("/openapi.json").json()["paths"]["/collections/{collectionId}/items"]
    bbox = next(p for p in operation["get"]["parameters"] if p["name"] == "bbox")
    assert (bbox["schema"]["minItems"], bbox["schema"]["maxItems"]) == (4, 6)
    assert bbox["style"] == "form" and bbox["explode"] is False
    expected = sql_count(
        db,
        "ST_Intersects(p.geom, ST_Transform(ST_MakeEnvelope(2.30, 48.67, 2.33, 48.69, 4326), "
        "2154))",
    )
    assert 0 < matched(client, ITEMS, bbox=EPINAY_BBOX) == expected
    # six numbers: the vertical range is ignored by 2D features
    assert matched(client, ITEMS, bbox="2.30,48.67,-10,2.33,48.69,10") == expected


def test_core_fc_time_definition_and_response(client: TestClient) -> None:
    """/conf/core/fc-time-definition, fc-time-response: datetime is a parameter; instants
    and intervals are understood, a malformed one is a 400."""
    for value in ("2024-01-31", "2024-01-31T12:00:00Z", "../2024-01-31", "2020-01-01/.."):
        assert client.get("/collections/friches/items", params={"datetime": value}).is_success
    # parcels carry no time: datetime does not filter them
    assert matched(client, ITEMS, datetime="2024-01-31") == 4241
    for bad in ("yesterday", "2024-13-45", "2024-02-01/2024-01-01", "../.."):
        assert is_problem(client.get(ITEMS, params={"datetime": bad})), bad


def test_core_fc_links_timestamp_numbers(client: TestClient) -> None:
    """/conf/core/fc-links, fc-timeStamp, fc-numberMatched, fc-numberReturned."""
    body = client.get(ITEMS, params={"limit": 10, "bbox": EPINAY_BBOX}).json()
    rels = {lk["rel"]: lk for lk in body["links"]}
    assert rels["self"]["type"] == "application/geo+json" and "next" in rels
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", body["timeStamp"])
    assert body["numberReturned"] == len(body["features"]) == 10
    assert body["numberMatched"] > 10


def test_core_f_op_and_f_success(client: TestClient) -> None:
    """/conf/core/f-op, f-success: one feature by its id, with its links."""
    feature = client.get(f"{ITEMS}/{PARCEL}").json()
    assert feature["id"] == PARCEL and feature["type"] == "Feature"
    assert {lk["rel"] for lk in feature["links"]} == {"self", "alternate", "collection"}


def test_core_query_param_unknown(client: TestClient) -> None:
    """/conf/core/query-param-unknown: an unknown parameter is a 400."""
    assert is_problem(client.get(ITEMS, params={"colour": "red"}))


@pytest.mark.parametrize(
    "query",
    [
        "limit=unlimited",
        "limit=0",
        "limit=100000",
        "bbox=1,2,3",
        "bbox=a,b,c,d",
        "bbox=2.33,48.67,2.30,48.69",
        "datetime=soon",
        "crs=EPSG:2154",
        "bbox-crs=http://www.opengis.net/def/crs/EPSG/0/9999",
        "filter=score >",
        "filter-lang=sql",
        "f=xml",
        "score=high",
    ],
)
def test_core_query_param_invalid(client: TestClient, query: str) -> None:
    """/conf/core/query-param-invalid: an invalid value is a 400 problem, never a 422."""
    response = client.get(f"{ITEMS}?{query}")
    assert is_problem(response), (query, response.status_code, response.text)


def test_core_query_param_invalid_on_every_ogc_route(client: TestClient) -> None:
    """/conf/core/query-param-invalid: on the other OGC routes too (tiles included)."""
    assert is_problem(client.get(f"{ITEMS}/{PARCEL}?crs=nope"))
    assert is_problem(client.get("/collections/parcels/tiles/WebMercatorQuad/17/0/0"))
    assert is_problem(client.get("/collections/parcels/items?limit=-1"))


def test_core_crs84(client: TestClient) -> None:
    """/conf/core/crs84: without crs, geometries are CRS84 longitude/latitude."""
    feature = client.get(f"{ITEMS}/{PARCEL}").json()
    lon, lat = feature["geometry"]["coordinates"][0][0][0]
    assert 2.2 < lon < 2.4 and 48.6 < lat < 48.7


def test_geojson_definition_and_content(client: TestClient) -> None:
    """/conf/geojson/definition, /conf/geojson/content: application/geo+json documents."""
    items = client.get(ITEMS, params={"limit": 2})
    one = client.get(f"{ITEMS}/{PARCEL}")
    for response in (items, one):
        assert response.headers["content-type"] == "application/geo+json"
    assert items.json()["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_oas30_definition_and_completeness(client: TestClient) -> None:
    """/conf/oas30/oas-definition-1, -2, oas-impl, completeness, exceptions: a valid
    OpenAPI 3.0 document that describes every OGC resource, and 400 (not 422) for them."""
    document = client.get("/openapi.json").json()
    assert document["openapi"] == "3.0.3"
    errors = [e.message for e in OpenAPIV30SpecValidator(document).iter_errors()]
    assert errors == []
    paths = document["paths"]
    for path in (
        "/conformance",
        "/collections",
        "/collections/{collectionId}",
        "/collections/{collectionId}/items",
        "/collections/{collectionId}/items/{featureId}",
        "/collections/{collectionId}/queryables",
        "/collections/{collectionId}/tiles",
        "/collections/{collectionId}/tiles/{tileMatrixSetId}",
        "/tileMatrixSets",
    ):
        assert "get" in paths[path], path
    items = paths["/collections/{collectionId}/items"]["get"]
    assert "400" in items["responses"] and "422" not in items["responses"]
    names = {p["name"] for p in items["parameters"]}
    assert {"bbox", "limit", "datetime", "crs", "bbox-crs", "filter", "filter-lang"} <= names


# ---------------------------------------------------------------- Part 2, CRS


def test_crs_collection_crs_list_and_storage_crs(client: TestClient) -> None:
    """Part 2 /conf/crs/fc-md-crs-list, fc-md-storageCrs: the CRS offered, CRS84 first,
    and Lambert-93 as the storage CRS."""
    for described in client.get("/collections").json()["collections"]:
        assert described["crs"] == list(CRSS) and described["crs"][0] == CRS84
        assert described["storageCrs"] == f"{EPSG}2154"


@pytest.mark.parametrize(
    ("crs", "srid", "lat_first"),
    [(CRS84, 4326, False), (f"{EPSG}4326", 4326, True), (f"{EPSG}2154", 2154, False),
     (f"{EPSG}3857", 3857, False), ("[EPSG:2154]", 2154, False)],
)  # fmt: skip
def test_crs_fc_crs_action_and_content_crs_header(
    client: TestClient, db: Engine, crs: str, srid: int, lat_first: bool
) -> None:
    """/conf/crs/fc-crs-action, /conf/crs/ogc-crs-header: geometries in the CRS asked for
    (EPSG:4326 latitude first), said by Content-Crs; on items and on one feature."""
    with db.connect() as conn:
        x, y = conn.execute(
            text(
                "SELECT ST_X(pt), ST_Y(pt) FROM (SELECT ST_Transform(ST_PointN("
                "ST_ExteriorRing(ST_GeometryN(geom, 1)), 1), :srid) AS pt FROM parcel "
                "WHERE id = :id) p"
            ),
            {"srid": srid, "id": PARCEL},
        ).one()
    expected = (y, x) if lat_first else (x, y)
    one = client.get(f"{ITEMS}/{PARCEL}", params={"crs": crs})
    page = client.get(ITEMS, params={"crs": crs, "limit": 1, "section": "AB"})
    uri = CRSS[crs].uri if crs in CRSS else f"{EPSG}{srid}"
    for response in (one, page):
        assert response.headers["content-crs"] == f"<{uri}>"
    first = one.json()["geometry"]["coordinates"][0][0][0]
    assert first == pytest.approx(expected, abs=1e-5 if srid == 4326 else 0.01)


@pytest.mark.parametrize(
    ("bbox_crs", "bbox"),
    [
        (f"{EPSG}4326", "48.67,2.30,48.69,2.33"),
        (CRS84, EPINAY_BBOX),
    ],
)
def test_crs_bbox_crs_action(client: TestClient, bbox_crs: str, bbox: str) -> None:
    """/conf/crs/fc-bbox-crs-action: the same box in CRS84 and in EPSG:4326 (lat/lon)
    selects the same features."""
    assert matched(client, ITEMS, bbox=bbox, **{"bbox-crs": bbox_crs}) == matched(
        client, ITEMS, bbox=EPINAY_BBOX
    )


def test_crs_bbox_crs_in_lambert93_and_web_mercator(client: TestClient, db: Engine) -> None:
    """/conf/crs/fc-bbox-crs-action: projected boxes, against PostGIS's own answer."""
    with db.connect() as conn:
        box = conn.execute(
            text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT "
                "ST_Expand(ST_Envelope(geom), 50) AS b FROM parcel WHERE id = :id) e"
            ),
            {"id": PARCEL},
        ).one()
    expected = sql_count(
        db,
        "ST_Intersects(p.geom, ST_MakeEnvelope(:a, :b, :c, :d, 2154))",
        dict(zip("abcd", box, strict=True)),
    )
    value = ",".join(f"{v:.2f}" for v in box)
    assert 1 < matched(client, ITEMS, bbox=value, **{"bbox-crs": f"{EPSG}2154"}) == expected
    assert matched(
        client, ITEMS, bbox="255000,6200000,260000,6210000", **{"bbox-crs": f"{EPSG}3857"}
    ) == sql_count(
        db,
        "ST_Intersects(p.geom, ST_Transform(ST_Segmentize(ST_MakeEnvelope(255000, 6200000, "
        "260000, 6210000, 3857), 1000), 2154))",
    )


def test_crs_invalid_crs_and_bbox_crs(client: TestClient) -> None:
    """/conf/crs/fc-crs-valid-value, fc-bbox-crs-valid-value: other CRS are a 400."""
    for params in (
        {"crs": "http://www.opengis.net/def/crs/EPSG/0/27572"},
        {"crs": "EPSG:2154"},
        {"crs": "x" * 150},
        {"bbox": EPINAY_BBOX, "bbox-crs": "urn:ogc:def:crs:EPSG::4326"},
        # a CRS84 box read as Lambert-93 metres falls outside France
        {"bbox": EPINAY_BBOX, "bbox-crs": f"{EPSG}2154"},
        # the south pole has no image in Lambert-93
        {"bbox": "0,-90,0.1,-89.9"},
        {"bbox": "-90,0,-89.9,0.1", "bbox-crs": f"{EPSG}4326"},
    ):
        assert is_problem(client.get(ITEMS, params=params)), params


# ---------------------------------------------------------------- Part 3, queryables


def test_queryables_op_success_and_link(client: TestClient) -> None:
    """/conf/queryables/get-queryables-op, -success, get-queryables-link: a JSON Schema of
    the properties a filter may name, typed, with the geometry."""
    described = client.get("/collections/parcels").json()
    rel = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
    assert any(lk["rel"] == rel for lk in described["links"])
    response = client.get("/collections/parcels/queryables")
    assert response.headers["content-type"] == "application/schema+json"
    body = response.json()
    assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert body["properties"]["score"]["type"] == "number"
    assert body["properties"]["commune"]["type"] == "string"
    assert body["properties"]["geometry"]["format"] == "geometry-any"


def test_queryables_query_parameters(client: TestClient, db: Engine) -> None:
    """/conf/queryables-query-parameters: ?name=value, typed."""
    assert matched(client, ITEMS, section="AB") == sql_count(db, "p.section = 'AB'")
    assert matched(client, ITEMS, excluded="true") == sql_count(db, "s.excluded")


# ---------------------------------------------------------------- Part 3, filter + CQL2

# (CQL2 text, the same as CQL2 JSON, the SQL of the test selecting the same parcels)
CASES = [
    ("commune = '91216'", {"op": "=", "args": [{"property": "commune"}, "91216"]}, "TRUE"),
    ("section <> 'AB'", {"op": "<>", "args": [{"property": "section"}, "AB"]},
     "p.section <> 'AB'"),
    ("score >= 60", {"op": ">=", "args": [{"property": "score"}, 60]},
     "round(s.score * 10) / 10 >= 60"),
    ("area_m2 < 100", {"op": "<", "args": [{"property": "area_m2"}, 100]},
     "round(p.area_m2 * 10) / 10 < 100"),
    ("score BETWEEN 40 AND 50",
     {"op": "between", "args": [{"property": "score"}, 40, 50]},
     "round(s.score * 10) / 10 BETWEEN 40 AND 50"),
    ("section IN ('AB', 'AC', 'ZZ')",
     {"op": "in", "args": [{"property": "section"}, ["AB", "AC", "ZZ"]]},
     "p.section IN ('AB', 'AC', 'ZZ')"),
    ("numero LIKE '00_7'", {"op": "like", "args": [{"property": "numero"}, "00_7"]},
     "p.numero LIKE '00_7'"),
    ("score IS NULL", {"op": "isNull", "args": [{"property": "score"}]}, "s.score IS NULL"),
    ("NOT (section = 'AB') AND (score > 50 OR excluded = TRUE)",
     {"op": "and", "args": [
         {"op": "not", "args": [{"op": "=", "args": [{"property": "section"}, "AB"]}]},
         {"op": "or", "args": [
             {"op": ">", "args": [{"property": "score"}, 50]},
             {"op": "=", "args": [{"property": "excluded"}, True]}]}]},
     "NOT p.section = 'AB' AND (round(s.score * 10) / 10 > 50 OR s.excluded)"),
    ("S_INTERSECTS(geometry, BBOX(2.30, 48.67, 2.33, 48.69))",
     {"op": "s_intersects",
      "args": [{"property": "geometry"}, {"bbox": [2.30, 48.67, 2.33, 48.69]}]},
     "ST_Intersects(p.geom, ST_Transform(ST_Segmentize(ST_MakeEnvelope(2.30, 48.67, 2.33, 48.69,"
     " 4326), 0.01), 2154))"),
    ("S_WITHIN(geometry, POLYGON((2.30 48.67, 2.33 48.67, 2.33 48.69, 2.30 48.69, 2.30 48.67)))",
     {"op": "s_within", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [
         [[2.30, 48.67], [2.33, 48.67], [2.33, 48.69], [2.30, 48.69], [2.30, 48.67]]]}]},
     "ST_Within(p.geom, ST_Transform(ST_SetSRID(ST_GeomFromText('POLYGON((2.30 48.67, 2.33 "
     "48.67, 2.33 48.69, 2.30 48.69, 2.30 48.67))'), 4326), 2154))"),
    ("S_DWITHIN(geometry, POINT(2.315 48.68), 200)",
     {"op": "s_dwithin", "args": [{"property": "geometry"},
                                  {"type": "Point", "coordinates": [2.315, 48.68]}, 200]},
     "ST_DWithin(p.geom, ST_Transform(ST_SetSRID(ST_MakePoint(2.315, 48.68), 4326), 2154), "
     "200)"),
]  # fmt: skip


@pytest.mark.parametrize(("cql_text", "cql_json", "where"), CASES, ids=[c[0] for c in CASES])
def test_filter_cql2_text_and_json(
    client: TestClient, db: Engine, cql_text: str, cql_json: dict, where: str
) -> None:
    """Part 3 /conf/filter/filter-param, filter-lang-param, /conf/features-filter/response;
    CQL2 /conf/basic-cql2, advanced-comparison-operators, basic-spatial-functions,
    spatial-functions, cql2-text, cql2-json: each operator selects what SQL selects."""
    expected = sql_count(db, where)
    as_text = matched(client, ITEMS, filter=cql_text)
    as_json = matched(client, ITEMS, filter=json.dumps(cql_json), **{"filter-lang": "cql2-json"})
    explicit = matched(client, ITEMS, filter=cql_text, **{"filter-lang": "cql2-text"})
    assert as_text == as_json == explicit == expected


def test_filter_property_property_and_mixed_parameters(client: TestClient, db: Engine) -> None:
    """/conf/property-property; /conf/filter/mixing-expressions: a filter, bbox and a
    queryable parameter together are ANDed."""
    assert matched(client, ITEMS, filter="contenance_m2 > area_m2") == sql_count(
        db, "p.contenance > round(p.area_m2 * 10) / 10"
    )
    assert matched(client, ITEMS, filter="score > 30", bbox=EPINAY_BBOX, section="AB") == sql_count(
        db,
        "round(s.score * 10) / 10 > 30 AND p.section = 'AB' AND ST_Intersects(p.geom, "
        "ST_Transform(ST_Segmentize(ST_MakeEnvelope(2.30, 48.67, 2.33, 48.69, 4326), 0.01), "
        "2154))",
    )


def test_filter_crs(client: TestClient) -> None:
    """/conf/filter/filter-crs-param: the filter's geometries in Lambert-93 or lat/lon."""
    base = matched(client, ITEMS, filter="S_INTERSECTS(geometry, BBOX(2.30,48.67,2.33,48.69))")
    lat_lon = matched(
        client,
        ITEMS,
        filter="S_INTERSECTS(geometry, BBOX(48.67,2.30,48.69,2.33))",
        **{"filter-crs": f"{EPSG}4326"},
    )
    assert lat_lon == base
    lambert = matched(
        client,
        ITEMS,
        filter="S_DWITHIN(geometry, POINT(643000 6843000), 300)",
        **{"filter-crs": f"{EPSG}2154"},
    )
    assert lambert >= 0


@pytest.mark.parametrize(
    ("value", "lang", "said"),
    [
        ("score >", "cql2-text", "not valid cql2-text"),
        ("{", "cql2-json", "not valid cql2-json"),
        ("colour = 'red'", "cql2-text", "not a queryable"),
        ("score = 'high'", "cql2-text", "expected a number"),
        ("commune = 91216", "cql2-text", "expected a string"),
        ("CASEI(commune) = '91216'", "cql2-text", "not supported"),
        ("NOT " * 2040 + "score = 1", "cql2-text", "nested"),
        ("x" * 9000, "cql2-text", "at most"),
        ("section IN (" + ",".join(["'A'"] * 1500) + ")", "cql2-text", "at most 1000"),
        ("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "cql2-text", "not valid"),
        ("S_INTERSECTS(geometry, POINT(200 100))", "cql2-text", "outside"),
        ("S_INTERSECTS(geometry, POLYGON((0 0, 1 1)))", "cql2-text", "not a valid geometry"),
        ("S_INTERSECTS(geometry, BBOX(3, 48, 2, 49))", "cql2-text", "minimum"),
        ("S_DWITHIN(geometry, POINT(2.3 48.6), 1e9)", "cql2-text", "distance"),
        ("S_INTERSECTS(commune, POINT(2.3 48.6))", "cql2-text", "applies to the geometry"),
        ("geometry = 'x'", "cql2-text", "spatial functions"),
        ("score LIKE 'x%'", "cql2-text", "LIKE"),
        ("'; DROP TABLE parcel; --' = commune", "cql2-text", "parcel"),
        # PostgreSQL refuses such a pattern: said before it is asked
        ("numero LIKE 'ab\\'", "cql2-text", "escape character"),
        ("S_INTERSECTS(geometry, POINT(0 -90.5))", "cql2-text", "outside"),
        # empty and degenerate geometries: the parser's own refusals (a bare Exception for
        # POINT EMPTY), GEOS's (a one-point line) and ours are all a 400 saying why
        ("S_INTERSECTS(geometry, POINT EMPTY)", "cql2-text", "position must contain"),
        ("S_DWITHIN(geometry, POINT EMPTY, 10)", "cql2-text", "position must contain"),
        ("S_INTERSECTS(geometry, GEOMETRYCOLLECTION(POINT EMPTY))", "cql2-text", "position"),
        ("S_INTERSECTS(geometry, LINESTRING(2.3 48.6))", "cql2-text", "not a valid geometry"),
        ("S_INTERSECTS(geometry, LINESTRING EMPTY)", "cql2-text", "empty"),
        ("S_INTERSECTS(geometry, GEOMETRYCOLLECTION EMPTY)", "cql2-text", "empty"),
        ("S_INTERSECTS(geometry, POINT(NaN 1))", "cql2-text", "not valid cql2-text"),
        ("S_INTERSECTS(geometry, POINT(1e400 1))", "cql2-text", "not valid cql2-text"),
        ("S_INTERSECTS(geometry, POINT(" + "9" * 40 + " 1))", "cql2-text", "outside"),
        (
            '{"op": "s_intersects", "args": '
            '[{"property": "geometry"}, {"type": "Point", "coordinates": []}]}',
            "cql2-json",
            "not valid cql2-json",
        ),
        (
            '{"op": "s_intersects", "args": '
            '[{"property": "geometry"}, {"type": "LineString", "coordinates": [[2.3, 48.6]]}]}',
            "cql2-json",
            "not a valid geometry",
        ),
        (
            '{"op": "s_intersects", "args": '
            '[{"property": "geometry"}, {"bbox": [NaN, 48, 3, 49]}]}',
            "cql2-json",
            "not valid cql2-json",
        ),
        (
            '{"op": "s_dwithin", "args": [{"property": "geometry"}, '
            '{"type": "Point", "coordinates": [2.3, 48.6]}, 10, ["km"]]}',
            "cql2-json",
            "units",
        ),
    ],
)
def test_filter_invalid_is_a_clear_400(
    client: TestClient, value: str, lang: str, said: str
) -> None:
    """/conf/filter/filter-param (invalid): a 400 saying why; hostile filters never 5xx."""
    response = client.get(ITEMS, params={"filter": value, "filter-lang": lang, "limit": 1})
    if said == "parcel":  # a string literal is a value, bound, never SQL
        assert response.status_code == 200 and response.json()["numberMatched"] == 0
        return
    assert is_problem(response), (value[:80], response.status_code, response.text[:300])
    assert said in response.json()["detail"], response.json()["detail"]


def test_filter_hostile_parses_do_not_kill_the_server(client: TestClient) -> None:
    """The Rust parser recurses per nesting level: its own big-stack thread keeps deep
    (but short) filters from overflowing a request thread's stack."""
    for depth in (500, 2000, 4000):
        # parentheses alone nest nothing once parsed: answered
        deep = "(" * depth + "score = 1" + ")" * depth
        assert client.get(ITEMS, params={"filter": deep}).status_code == 200
        # NOT, function calls and unary minus do nest: refused past MAX_DEPTH
        nots = "NOT " * (depth // 2) + "score = 1"
        assert is_problem(client.get(ITEMS, params={"filter": nots}))
        calls = "S_INTERSECTS(geometry, " * (depth // 30) + "POINT(2 48)" + ")" * (depth // 30)
        assert is_problem(client.get(ITEMS, params={"filter": calls}))
    minus = client.get(ITEMS, params={"filter": "score = " + "-" * 8000 + "1"})
    assert minus.status_code in (200, 400)
    wide = client.get(ITEMS, params={"filter": " OR ".join(["section = 'AB'"] * 400)})
    assert wide.status_code == 200
    assert client.get(ITEMS, params={"limit": 1}).status_code == 200


# ---------------------------------------------------------------- OGC API - Tiles


def test_tiles_tilematrixset(client: TestClient) -> None:
    """Tiles /conf/tilematrixset, TMS /conf/json-tilematrixset: WebMercatorQuad."""
    landing = client.get("/?f=json").json()
    rel = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
    assert any(
        lk["rel"] == rel and lk["href"].endswith("/tileMatrixSets") for lk in landing["links"]
    )
    listed = client.get("/tileMatrixSets").json()["tileMatrixSets"]
    assert [t["id"] for t in listed] == ["WebMercatorQuad"]
    tms = client.get("/tileMatrixSets/WebMercatorQuad").json()
    assert tms["crs"] == f"{EPSG}3857"
    z0, z14 = tms["tileMatrices"][0], tms["tileMatrices"][14]
    assert z0["scaleDenominator"] == pytest.approx(559082264.0287178)
    assert z0["pointOfOrigin"] == pytest.approx([-20037508.3427892, 20037508.3427892])
    assert z14["matrixWidth"] == z14["matrixHeight"] == 2**14
    assert is_problem(client.get("/tileMatrixSets/WorldCRS84Quad"), 404)


def test_tiles_tilesets_list_and_tileset(client: TestClient) -> None:
    """Tiles /conf/tilesets-list, /conf/tileset, /conf/geodata-tilesets."""
    described = client.get("/collections/parcels").json()
    tiles_rel = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
    assert any(lk["rel"] == tiles_rel for lk in described["links"])
    tilesets = client.get("/collections/parcels/tiles").json()["tilesets"]
    assert tilesets[0]["dataType"] == "vector"
    assert tilesets[0]["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    tileset = client.get("/collections/parcels/tiles/WebMercatorQuad").json()
    template = next(lk for lk in tileset["links"] if lk["rel"] == "item")
    assert template["templated"] is True
    assert template["href"].endswith(
        "/collections/parcels/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"
    )
    assert tileset["layers"][0]["id"] == "parcels"
    assert tileset["tileMatrixSetLimits"][0]["tileMatrix"] == "13"
    assert is_problem(client.get("/collections/parcels/tiles/WorldCRS84Quad"), 404)


def test_tiles_core_and_mvt(client: TestClient) -> None:
    """Tiles /conf/core, /conf/mvt: {tileMatrix}/{tileRow}/{tileCol} is z/y/x, the same
    tile as /tiles/{id}/{z}/{x}/{y}.mvt."""
    z, x, y = Z14
    ogc = client.get(f"/collections/parcels/tiles/WebMercatorQuad/{z}/{y}/{x}")
    xyz = client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt")
    assert ogc.status_code == 200
    assert ogc.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert ogc.content == xyz.content
    ids = {
        f["properties"]["id"] for f in mapbox_vector_tile.decode(ogc.content)["parcels"]["features"]
    }
    assert PARCEL in ids
    # row and column swapped name another (empty) tile
    assert client.get(f"/collections/parcels/tiles/WebMercatorQuad/{z}/{x}/{y}").status_code in (
        204,
        404,
    )
    assert is_problem(client.get("/collections/parcels/tiles/WebMercatorQuad/3/8/0"), 404)


def test_core_fc_time_response_on_a_temporal_collection(base_settings, fresh_engine) -> None:
    """/conf/core/fc-time-response: only the features whose time meets the datetime
    instant or interval. The Ardennes friches file has no update dates: some are set here
    (synthetic dates, marked as such), the rest stay null and match no datetime."""
    from geo.ingest.friches import load_friches
    from tests.helpers import DATA

    load_friches(fresh_engine, DATA / "friches" / "ardennes-friches.geojson")
    with fresh_engine.begin() as conn:
        ids = list(conn.execute(text("SELECT site_id FROM friche ORDER BY site_id")).scalars())
        for site_id, day in zip(ids[:12], ["2020-06-01"] * 5 + ["2023-01-15"] * 7, strict=True):
            conn.execute(
                text("UPDATE friche SET updated_on = :d WHERE site_id = :id"),
                {"d": day, "id": site_id},
            )
    url = fresh_engine.url.render_as_string(hide_password=False)
    app = create_app(base_settings.model_copy(update={"database_url": url}))
    items = "/collections/friches/items"
    with TestClient(app) as c:
        assert matched(c, items) == len(ids) > 12
        assert matched(c, items, datetime="2020-06-01") == 5
        assert matched(c, items, datetime="2021-01-01/..") == 7
        assert matched(c, items, datetime="../2021-01-01") == 5
        assert matched(c, items, datetime="2020-01-01/2023-12-31") == 12
        assert matched(c, items, datetime="2019-01-01T00:00:00Z/2019-12-31T00:00:00Z") == 0
        # and within a CQL2 filter on the same property
        assert matched(c, items, filter="updated_on > DATE('2021-01-01')") == 7
    app.state.engine.dispose()
