"""Black-box tests of the read endpoints, through HTTP, on the demo data."""

from __future__ import annotations

import re

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box, shape

PROBLEM = "application/problem+json"
GEOJSON = "application/geo+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"] and body["title"]
    return body


def test_health(api_client: TestClient) -> None:
    response = api_client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["postgis"].startswith("3.")


def test_health_is_503_when_the_database_is_down(base_settings) -> None:
    from app.api.main import create_app

    # Nothing listens on port 9 of the loopback.
    down = base_settings.model_copy(
        update={"database_url": "postgresql://postgres@127.0.0.1:9/foncier"}
    )
    with TestClient(create_app(down)) as client:
        assert_problem(client.get("/health"), 503)
        assert_problem(client.get("/parcels/91216000AB0037"), 503)


def test_commune(api_client: TestClient) -> None:
    response = api_client.get("/communes/91216")
    assert response.status_code == 200
    assert response.headers["content-type"] == GEOJSON
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == "91216"
    props = feature["properties"]
    assert props["name"] == "Épinay-sur-Orge"
    assert props["epci_siren"] == "200056232"
    assert props["parcel_count"] == 4241
    lon, lat = shape(feature["geometry"]).representative_point().coords[0]
    assert 2.2 < lon < 2.4 and 48.6 < lat < 48.7  # WGS84, longitude first


def test_commune_without_boundary_has_null_geometry(api_client: TestClient) -> None:
    feature = api_client.get("/communes/01001").json()
    assert feature["geometry"] is None
    assert feature["properties"]["departement"] == "Ain"


def test_epci_with_members(api_client: TestClient) -> None:
    feature = api_client.get("/epci/200056232").json()
    props = feature["properties"]
    assert props["name"] == "CA Communauté Paris-Saclay"
    assert props["member_count"] == len(props["members"]) == 27
    assert {"insee": "91216", "name": "Épinay-sur-Orge"}.items() <= next(
        m for m in props["members"] if m["insee"] == "91216"
    ).items()
    assert props["geometry_complete"] is True
    outline = shape(feature["geometry"])
    commune = shape(api_client.get("/communes/91216").json()["geometry"])
    assert outline.buffer(1e-6).contains(commune)


def test_parcel(api_client: TestClient) -> None:
    feature = api_client.get("/parcels/91216000AB0037").json()
    assert feature["id"] == "91216000AB0037"
    props = feature["properties"]
    assert props["contenance_m2"] == 254881
    assert props["area_m2"] == pytest.approx(254881, rel=0.02)
    # 6 decimals at most (RFC 7946 advice; ~0.1 m)
    text = str(feature["geometry"]["coordinates"])
    assert not re.search(r"\.\d{7,}", text)


def test_all_parcels_of_the_commune_by_pages(api_client: TestClient) -> None:
    ids: list[str] = []
    url: str | None = "/parcels?commune=91216&limit=1000"
    while url:
        page = api_client.get(url)
        assert page.headers["content-type"] == GEOJSON
        body = page.json()
        assert body["numberMatched"] == 4241
        assert body["numberReturned"] == len(body["features"])
        ids += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(ids) == len(set(ids)) == 4241
    assert ids == sorted(ids)


def test_bbox_filter(api_client: TestClient) -> None:
    bbox = (2.315, 48.670, 2.325, 48.675)
    body = api_client.get(
        "/parcels", params={"bbox": ",".join(map(str, bbox)), "limit": 1000}
    ).json()
    assert 0 < body["numberReturned"] == body["numberMatched"] < 4241
    area = box(*bbox)
    geoms = [shape(f["geometry"]) for f in body["features"]]
    assert all(g.intersects(area.buffer(1e-5)) for g in geoms)
    # and the parcels left out do not intersect the box
    everything = api_client.get("/parcels", params={"commune": "91216", "limit": 1000, "offset": 0})
    assert everything.status_code == 200
    returned = {f["id"] for f in body["features"]}
    missed = [
        f
        for f in everything.json()["features"]
        if f["id"] not in returned and shape(f["geometry"]).intersects(area.buffer(-1e-5))
    ]
    assert missed == []


def test_empty_page(api_client: TestClient) -> None:
    body = api_client.get("/parcels?commune=91216&offset=5000").json()
    assert body["features"] == [] and body["numberMatched"] == 4241
    assert [link["rel"] for link in body["links"]] == ["self", "prev"]


def test_unknown_ids_are_404_problems(api_client: TestClient) -> None:
    assert (
        "91216000ZZ9999" in assert_problem(api_client.get("/parcels/91216000ZZ9999"), 404)["detail"]
    )
    assert_problem(api_client.get("/communes/99999"), 404)
    assert_problem(api_client.get("/epci/999999999"), 404)
    assert_problem(api_client.get("/no/such/route"), 404)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/parcels?bbox=1,2,3", 400),
        ("/parcels?bbox=a,b,c,d", 400),
        ("/parcels?bbox=48.6,2.3,48.7,2.4", 200),  # swapped but still a valid lon/lat box
        ("/parcels?bbox=2.4,48.6,2.3,48.7", 400),
        ("/parcels?bbox=200,48,201,49", 400),
        ("/parcels?limit=0", 422),
        ("/parcels?limit=100000", 400),
        ("/parcels?offset=-1", 422),
        ("/parcels?commune=9121", 422),
        ("/parcels/123", 422),
        ("/communes/ABCDE", 422),
        ("/epci/12", 422),
    ],
)
def test_bad_parameters_are_problems(api_client: TestClient, url: str, status: int) -> None:
    response = api_client.get(url)
    if status == 200:
        assert response.json()["numberMatched"] == 0
    else:
        body = assert_problem(response, status)
        assert body["detail"]


def test_problems_carry_a_stable_code(api_client: TestClient) -> None:
    """The machine word a client maps to its own language (the page's French)."""
    assert assert_problem(api_client.get("/parcels/91216000ZZ9999"), 404)["code"] == "not_found"
    assert assert_problem(api_client.get("/parcels?bbox=1,2,3"), 400)["code"] == "invalid_parameter"
    invalid = assert_problem(api_client.get("/parcels?commune=9121"), 422)
    assert invalid["code"] == "invalid_request" and invalid["errors"][0]["location"]


def test_openapi_documents_the_endpoints(api_client: TestClient) -> None:
    paths = api_client.get("/openapi.json").json()["paths"]
    assert {
        "/health",
        "/communes/{insee}",
        "/epci/{siren}",
        "/parcels",
        "/parcels/{parcel_id}",
    } <= set(paths)
    assert api_client.get("/docs").status_code == 200


def test_geometry_is_valid_geojson(api_client: TestClient) -> None:
    feature = api_client.get("/parcels/91216000AB0037").json()
    assert shapely.is_valid(shape(feature["geometry"]))
