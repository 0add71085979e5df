"""OGC API - Features and vector tiles, through the app (TestClient on the 91216 base)."""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import event

from app.services import features, tiles
from app.services.collections import COLLECTIONS

EPINAY_BBOX = "2.30,48.67,2.33,48.69"
# z14 tile over Épinay-sur-Orge (91216)
Z14 = (14, 8297, 5648)


def test_landing_page_is_json_for_api_clients_and_the_map_for_browsers(
    api_client: TestClient,
) -> None:
    landing = api_client.get("/", headers={"Accept": "application/json"})
    assert landing.headers["content-type"] == "application/json"
    rels = {link["rel"]: link["href"] for link in landing.json()["links"]}
    assert {"self", "service-desc", "conformance", "data", "alternate"} <= set(rels)
    assert rels["data"].endswith("/collections")
    assert api_client.get("/?f=json").json()["title"] == "Foncier"

    page = api_client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.headers["content-type"].startswith("text/html")
    assert "maplibre-gl.js" in page.text
    assert api_client.get("/static/map.js").status_code == 200


def test_conformance(api_client: TestClient) -> None:
    classes = api_client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes


def test_collections_list_every_layer_with_extent_and_links(api_client: TestClient) -> None:
    body = api_client.get("/collections").json()
    ids = [c["id"] for c in body["collections"]]
    assert ids == [
        "parcels",
        "friches",
        "economic-zones",
        "sites",
        "communes",
        "epci",
        "territoires-industrie",
        "projects",
    ]
    parcels = body["collections"][0]
    minx, miny, maxx, maxy = parcels["extent"]["spatial"]["bbox"][0]
    # Épinay-sur-Orge, in WGS84 degrees
    assert 2.29 < minx < maxx < 2.35 and 48.65 < miny < maxy < 48.69
    rels = {link["rel"] for link in parcels["links"]}
    assert {"self", "items"} <= rels
    # an empty collection has no extent rather than a wrong one
    assert "extent" not in next(c for c in body["collections"] if c["id"] == "projects")


def test_a_large_collection_takes_its_extent_from_the_planner_statistics(
    fresh_engine, monkeypatch
) -> None:
    """90 million parcels cannot be scanned within a request: past ESTIMATE_FROM_ROWS, the
    extent is the union of each partition's statistics (exact for a partition never
    analysed), which PostGIS rounds outward to float4: within a metre of the exact box."""
    from geo.ingest.cadastre import load_cadastre
    from tests.helpers import CADASTRE_91216

    load_cadastre(fresh_engine, CADASTRE_91216)
    parcels = COLLECTIONS["parcels"]
    with fresh_engine.connect() as conn:
        exact = conn.exec_driver_sql(
            "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) "
            "FROM (SELECT ST_Extent(geom)::geometry AS b FROM parcel) x"
        ).one()
        # the loader analyses the partition it fills: its statistics are there
        estimated = features.estimated_box(conn, "parcel")
        assert estimated != pytest.approx(exact, abs=1e-6)  # from the statistics
        assert estimated == pytest.approx(exact, abs=1.0)
        assert estimated[0] <= exact[0] and estimated[3] >= exact[3]  # rounded outward
        # a table never analysed: scanned
        conn.exec_driver_sql("CREATE TABLE unanalysed AS SELECT geom FROM parcel")
        assert features.estimated_box(conn, "unanalysed") == pytest.approx(exact, abs=1e-6)
        monkeypatch.setattr(features, "ESTIMATE_FROM_ROWS", 1)
        wgs84 = features.extent_wgs84(conn, parcels)
        monkeypatch.setattr(features, "ESTIMATE_FROM_ROWS", 10**12)
        # the estimated Lambert-93 box, densified then transformed, holds the exact extent
        # of the transformed parcels, within a few tens of metres of it
        tight = features.extent_wgs84(conn, parcels)
        assert wgs84[0] <= tight[0] and wgs84[1] <= tight[1]
        assert wgs84[2] >= tight[2] and wgs84[3] >= tight[3]
        assert wgs84 == pytest.approx(tight, abs=1e-3)


def test_unknown_collection_is_a_404_problem(api_client: TestClient) -> None:
    response = api_client.get("/collections/roads/items")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "parcels" in response.json()["detail"]


def test_items_follow_next_links_through_every_feature_once(api_client: TestClient) -> None:
    url, ids, pages = f"/collections/parcels/items?limit=1000&bbox={EPINAY_BBOX}", [], 0
    matched = None
    while url:
        body = api_client.get(url).json()
        pages += 1
        matched = body["numberMatched"] if matched is None else matched
        assert body["numberMatched"] == matched
        assert body["numberReturned"] == len(body["features"])
        ids += [f["id"] for f in body["features"]]
        url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)
    assert pages == math.ceil(matched / 1000) and pages > 1
    assert len(ids) == len(set(ids)) == matched
    assert ids == sorted(ids)


def test_items_bbox_and_property_filters(api_client: TestClient) -> None:
    everything = api_client.get("/collections/parcels/items?limit=1").json()
    assert everything["numberMatched"] == 4241
    boxed = api_client.get(f"/collections/parcels/items?limit=1&bbox={EPINAY_BBOX}").json()
    assert 0 < boxed["numberMatched"] < 4241
    section = api_client.get("/collections/parcels/items?section=AB&limit=1000").json()
    assert section["numberMatched"] == len(section["features"]) > 0
    assert {f["properties"]["section"] for f in section["features"]} == {"AB"}
    nothing = api_client.get("/collections/parcels/items?commune=08105").json()
    assert nothing["numberMatched"] == nothing["numberReturned"] == 0
    assert nothing["features"] == []


def test_features_are_wgs84_with_their_properties(api_client: TestClient) -> None:
    feature = api_client.get("/collections/parcels/items/91216000AB0037").json()
    assert feature["type"] == "Feature" and feature["id"] == "91216000AB0037"
    lon, lat = feature["geometry"]["coordinates"][0][0][0]
    assert 2.2 < lon < 2.4 and 48.6 < lat < 48.7
    assert feature["properties"]["commune"] == "91216"
    assert {link["rel"] for link in feature["links"]} == {"self", "alternate", "collection"}
    commune = api_client.get("/collections/communes/items/91216").json()
    assert commune["properties"]["name"] == "Épinay-sur-Orge"
    epci = api_client.get("/collections/epci/items/200056232").json()
    assert epci["geometry"]["type"] == "MultiPolygon"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/collections/parcels/items?colour=red", 400),
        # an invalid value is a 400 on every OGC route (Part 1, /req/core/query-param-invalid)
        ("/collections/parcels/items?limit=0", 400),
        ("/collections/parcels/items?limit=unlimited", 400),
        ("/collections/parcels/items?limit=100000", 400),
        ("/collections/parcels/items?bbox=1,2,3", 400),
        ("/collections/parcels/items?f=xml", 400),
        ("/collections/projects/items?cursor=abc", 400),
        ("/collections/parcels/items/91216000ZZ9999", 404),
        ("/collections/projects/items/abc", 404),
        ("/collections/projects/items/99999999999999999999", 404),
    ],
)
def test_bad_requests_are_problems(api_client: TestClient, url: str, status: int) -> None:
    response = api_client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


VALUE_OF_TYPE = {
    "string": "x",
    "number": "1.5",
    "integer": "2",
    "boolean": "true",
    "date": "2024-01-31",
    "date-time": "2024-01-31T12:00:00Z",
}


def test_queryables_name_the_filters(api_client: TestClient) -> None:
    for collection in COLLECTIONS.values():
        body = api_client.get(f"/collections/{collection.id}/queryables").json()
        assert set(body["properties"]) == set(collection.queryables) | {"geometry"}
        # every queryable actually filters, with a value of its type (and refuses another)
        for name in collection.queryables:
            kind = collection.type_of(name)
            value = VALUE_OF_TYPE[kind]
            response = api_client.get(f"/collections/{collection.id}/items?{name}={value}&limit=1")
            assert response.status_code == 200, (collection.id, name, response.text)
            if kind != "string":
                wrong = api_client.get(f"/collections/{collection.id}/items?{name}=x&limit=1")
                assert wrong.status_code == 400, (collection.id, name, wrong.text)


def test_every_collection_serves_items_and_tiles(api_client: TestClient) -> None:
    for collection in COLLECTIONS:
        assert api_client.get(f"/collections/{collection}/items?limit=2").status_code == 200
        tile = api_client.get(f"/tiles/{collection}/14/8297/5648.mvt")
        assert tile.status_code in (200, 204), (collection, tile.text)


def test_parcel_tile_decodes_to_the_parcels_it_covers(api_client: TestClient) -> None:
    response = api_client.get("/tiles/parcels/{}/{}/{}.mvt".format(*Z14))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["content-encoding"] == "gzip"  # TestClient asks for gzip
    assert "max-age=300" in response.headers["cache-control"]
    layers = mapbox_vector_tile.decode(response.content)
    features = layers["parcels"]["features"]
    ids = {f["properties"]["id"] for f in features}
    assert "91216000AB0037" in ids
    # The tile holds exactly the parcels whose box meets the (buffered) tile: compare
    # with the items in the tile's WGS84 bounds.
    z, x, y = Z14
    west, east = x / 2**z * 360 - 180, (x + 1) / 2**z * 360 - 180
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / 2**z))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / 2**z))))
    inside = api_client.get(
        f"/collections/parcels/items?limit=1000&bbox={west},{south},{east},{north}"
    ).json()
    assert inside["numberMatched"] <= len(features) <= inside["numberMatched"] * 1.2
    assert {"commune", "section", "numero", "area_m2"} <= set(features[0]["properties"])


def test_a_first_page_holding_every_match_is_its_own_count(api_client: TestClient) -> None:
    """A small box's first page says numberMatched without running a count (a map's small
    boxes are most requests); a page with more after it still counts."""
    statements: list[str] = []

    def seen(conn, cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = api_client.app.state.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", seen)
    try:
        small = api_client.get(
            "/collections/parcels/items?limit=100&bbox=2.3263,48.6820,2.3269,48.6825"
        )
        assert 0 < small.json()["numberReturned"] == small.json()["numberMatched"] < 100
        assert not [s for s in statements if "count(" in s]
        full = api_client.get(f"/collections/parcels/items?limit=2&bbox={EPINAY_BBOX}").json()
        assert full["numberMatched"] > full["numberReturned"] == 2
        assert [s for s in statements if "count(" in s]
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_tiles_cache_and_empty_tiles(api_client: TestClient) -> None:
    url = "/tiles/parcels/{}/{}/{}.mvt".format(*Z14)
    etag = api_client.get(url).headers["etag"]
    again = api_client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # parcels are not served below z13, and the sea off Brittany has none
    assert api_client.get("/tiles/parcels/10/518/353.mvt").status_code == 204
    assert api_client.get("/tiles/parcels/14/7800/5600.mvt").status_code == 204
    assert api_client.get("/tiles/parcels/3/8/0.mvt").status_code == 404
    assert api_client.get("/tiles/parcels/17/0/0.mvt").status_code == 422


def test_uncompressed_tile_when_the_client_does_not_ask_for_gzip(api_client: TestClient) -> None:
    url = "/tiles/parcels/{}/{}/{}.mvt".format(*Z14)
    plain = api_client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = api_client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    # httpx decodes transparently; the wire size is in the header
    assert zipped.content == plain.content
    assert int(zipped.headers["content-length"]) < 0.7 * len(plain.content)
    # two representations, two entity tags (RFC 9110 §8.8.3), and caches told so
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert zipped.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
    stale = {"Accept-Encoding": "identity", "If-None-Match": zipped.headers["etag"]}
    assert api_client.get(url, headers=stale).status_code == 200
    unchanged = api_client.get(url, headers={"If-None-Match": zipped.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.headers["vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip", True),
        ("GZIP, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0.000, *", False),
        ("*;q=0", False),
        ("identity", False),
        ("gzip;q=oops", False),
        ("", False),
    ],
)
def test_tile_encoding_follows_the_accept_encoding_weights(
    api_client: TestClient, header: str, gzip: bool
) -> None:
    """app.api.responses.accepts_gzip: names compared without case, q=0 refuses."""
    url = "/tiles/parcels/{}/{}/{}.mvt".format(*Z14)
    response = api_client.get(url, headers={"Accept-Encoding": header})
    assert response.status_code == 200
    assert (response.headers.get("content-encoding") == "gzip") is gzip


def test_tilejson(api_client: TestClient) -> None:
    body = api_client.get("/tiles/parcels/tilejson.json").json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"][0].endswith("/tiles/parcels/{z}/{x}/{y}.mvt")
    assert body["minzoom"] == 13 and body["maxzoom"] == 16
    assert body["vector_layers"][0]["id"] == "parcels"
    assert "score" in body["vector_layers"][0]["fields"]
    assert 2.2 < body["bounds"][0] < body["bounds"][2] < 2.4


def _tile_url(z: int) -> str:
    """A tile of zoom ``z`` over the demo's parcels: Z14, its parent or a child of it."""
    z14, x14, y14 = Z14
    x, y = (x14 >> (z14 - z), y14 >> (z14 - z)) if z < z14 else (x14, y14)
    if z > z14:  # a child near the middle of the z14 tile
        x, y = (c * 2 ** (z - z14) + 2 ** (z - z14) // 2 for c in (x14, y14))
    return f"/tiles/parcels/{z}/{x}/{y}.mvt"


def _tile_shapes(api_client: TestClient, url: str) -> dict[str, BaseGeometry]:
    layer = mapbox_vector_tile.decode(api_client.get(url).content)["parcels"]
    return {f["properties"]["id"]: shape(f["geometry"]) for f in layer["features"]}


def _drawn_alike(
    drawn: dict[str, BaseGeometry], reference: dict[str, BaseGeometry], units: float
) -> None:
    """The same parcels, each within ``units`` grid units of its reference drawing, but
    for slivers a grid unit wide whose snapped shape differs (under 1 % of them)."""
    # a sliver collapsing on the grid may be dropped by one drawing and not the other:
    # nowhere more than 0.75 units from its edge, so under 1.5 units wide
    slivers = drawn.keys() ^ reference.keys()
    assert all((drawn.get(k) or reference[k]).buffer(-0.75).is_empty for k in slivers), slivers
    both = drawn.keys() & reference.keys()
    apart = [k for k in both if drawn[k].hausdorff_distance(reference[k]) > units]
    assert len(both) > 20 and len(slivers) + len(apart) <= len(both) / 100, apart


@pytest.fixture
def uncached(api_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiles made anew at each request: the tests below compare how the code draws them."""
    monkeypatch.setattr(api_client.app.state.tile_cache, "max_bytes", 0)  # type: ignore[attr-defined]


@pytest.mark.usefixtures("uncached")
@pytest.mark.parametrize("z", [13, 14, 15, 16])
def test_affine_tiles_match_the_exact_projection(
    api_client: TestClient, monkeypatch: pytest.MonkeyPatch, z: int
) -> None:
    """From z13 a tile's geometries go to Web Mercator by one affine map
    (app.services.tiles.AFFINE_FROM_ZOOM): each parcel drawn within two grid units (1/8 of
    a pixel) of where ST_Transform puts it."""
    affine = _tile_shapes(api_client, _tile_url(z))
    monkeypatch.setattr(tiles, "AFFINE_FROM_ZOOM", 99)
    _drawn_alike(affine, _tile_shapes(api_client, _tile_url(z)), units=2)


@pytest.mark.usefixtures("uncached")
@pytest.mark.parametrize("z", [13, 14, 15])
def test_simplified_tiles_match_the_full_outlines(
    api_client: TestClient, monkeypatch: pytest.MonkeyPatch, z: int
) -> None:
    """Below z16 parcels are simplified by half a grid unit before ST_AsMVTGeom
    (app.services.tiles.simplify_tolerance_m): with the grid's own rounding, each stays
    within 1.5 grid units of its full outline drawn on the same grid, with fewer vertices."""
    simplified = _tile_shapes(api_client, _tile_url(z))
    monkeypatch.setattr(tiles, "SIMPLIFIED_BELOW_ZOOM", 0)
    full = _tile_shapes(api_client, _tile_url(z))
    _drawn_alike(simplified, full, units=1.5)

    def vertices(shapes: dict[str, BaseGeometry]) -> int:
        return sum(len(shapely.get_coordinates(g)) for g in shapes.values())

    assert vertices(simplified) < vertices(full)


@pytest.mark.usefixtures("uncached")
def test_simplification_is_half_a_grid_unit_and_spares_the_last_zoom(
    api_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half a grid unit on the ground at 46° N (0.21 m at z14, halving with each zoom); z16
    tiles, magnified by clients beyond it, keep every vertex the grid keeps, so that
    neighbours simplified each on its own never part."""
    assert tiles.simplify_tolerance_m(14) == pytest.approx(0.2074, abs=1e-4)
    assert tiles.simplify_tolerance_m(13) == pytest.approx(2 * tiles.simplify_tolerance_m(14))
    url = _tile_url(16)
    served = api_client.get(url).content
    monkeypatch.setattr(tiles, "SIMPLIFIED_BELOW_ZOOM", 0)
    assert api_client.get(url).content == served


def test_tile_affine_fit_across_france() -> None:
    """The fit's own error against PROJ, over tiles and their buffers from Brittany to
    Corsica: below 0.61 grid units at z13, halving with each zoom."""
    to_mercator = Transformer.from_crs(2154, 3857, always_xy=True)
    to_l93 = Transformer.from_crs(3857, 2154, always_xy=True)
    for lon, lat in [(-4.5, 48.4), (3.06, 50.63), (7.7, 48.6), (9.0, 42.0), (-1.5, 43.4)]:
        for z in (13, 14, 16):
            n = 2**z
            x = int((lon + 180) / 360 * n)
            y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
            size = tiles.WEB_MERCATOR_WORLD_M / n
            unit = size / tiles.EXTENT
            xmin = -tiles.WEB_MERCATOR_WORLD_M / 2 + x * size - 64 * unit
            ymax = tiles.WEB_MERCATOR_WORLD_M / 2 - y * size + 64 * unit
            grid = np.linspace(0, size + 128 * unit, 25)
            mx, my = (a.ravel() for a in np.meshgrid(xmin + grid, ymax - grid))
            lx, ly = to_l93.transform(mx, my)
            c = tiles.lambert93_to_tile_affine(z, x, y)
            fx = c["a"] * lx + c["b"] * ly + c["xoff"]
            fy = c["d"] * lx + c["e"] * ly + c["yoff"]
            assert np.allclose(to_mercator.transform(lx, ly), (mx, my), atol=1e-3)
            worst = np.hypot(fx - mx, fy - my).max() / unit
            assert worst < 0.61 / 2 ** (z - 13) + 0.01, (lon, lat, z, worst)


_JSON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
}


def test_each_collection_has_a_schema_its_queryables_and_features_agree_with(
    api_client: TestClient,
) -> None:
    """/collections/{id}/schema (Part 5) types every property, marks the id and the
    geometry by x-ogc-role; the queryables give the same schema for the same names; the
    describedby GeoJSON schema nests the same properties; the features' values have the
    types announced (or are null)."""
    for collection in COLLECTIONS.values():
        described = api_client.get(f"/collections/{collection.id}").json()
        links = {
            (link["rel"], link["href"].split("/collections/")[-1]) for link in described["links"]
        }
        assert ("describedBy", f"{collection.id}/schema/geojson") in links
        assert ("describedby", f"{collection.id}/schema") in links
        response = api_client.get(f"/collections/{collection.id}/schema")
        assert response.headers["content-type"] == "application/schema+json"
        schema = response.json()["properties"]
        assert schema["id"]["x-ogc-role"] == "id"
        assert schema["geometry"]["x-ogc-role"] == "primary-geometry"
        assert set(schema) == {"id", "geometry", *collection.properties}
        queryables = api_client.get(f"/collections/{collection.id}/queryables").json()
        for name in collection.queryables:
            assert queryables["properties"][name] == schema[name], (collection.id, name)
        geojson = api_client.get(f"/collections/{collection.id}/schema/geojson").json()
        nested = geojson["properties"]["properties"]["properties"]
        assert nested == {n: s for n, s in schema.items() if n not in ("id", "geometry")}
        features = api_client.get(f"/collections/{collection.id}/items?limit=200").json()
        for feature in features["features"]:
            for name, value in feature["properties"].items():
                kind = schema[name].get("type")
                if value is not None and kind in _JSON_TYPES:
                    assert isinstance(value, _JSON_TYPES[kind]), (collection.id, name, value)
                    assert kind == "boolean" or not isinstance(value, bool)


def test_openapi_is_served_with_the_media_type_the_landing_page_announces(
    api_client: TestClient,
) -> None:
    landing = api_client.get("/?f=json").json()
    desc = next(link for link in landing["links"] if link["rel"] == "service-desc")
    response = api_client.get("/openapi.json")
    assert response.headers["content-type"] == desc["type"]
    document = response.json()  # JSON all the same (Swagger UI at /docs parses it)
    for path in ("/collections/{collectionId}/items", "/parcels", "/parcels/search"):
        (limit,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "limit"]
        assert limit["schema"]["maximum"] == 1000 and limit["schema"]["default"] == 100, path


def test_links_are_repeated_as_link_headers_and_spelt_one_way(api_client: TestClient) -> None:
    """OGC API - Common: the links of the landing page, the collections, a collection, items
    and an item are also HTTP Link headers; `self` and `next` encode parameters alike."""
    for path in (
        "/?f=json",
        "/collections",
        "/collections/parcels",
        "/collections/parcels/items?limit=2&filter=contenance_m2 > 500",
        "/collections/parcels/items/91216000AB0037",
    ):
        response = api_client.get(path)
        header = response.headers["link"]
        for link in response.json()["links"]:
            assert f'<{link["href"]}>; rel="{link["rel"]}"' in header, (path, link)
    page = api_client.get(
        "/collections/parcels/items", params={"limit": 2, "filter": "contenance_m2 > 500"}
    ).json()
    links = {link["rel"]: link["href"] for link in page["links"]}
    assert links["self"].endswith("items?limit=2&filter=contenance_m2%20%3E%20500")
    assert links["next"].startswith(links["self"] + "&cursor=")
