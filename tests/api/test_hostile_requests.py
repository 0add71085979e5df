"""Hostile requests on the read routes (issue 11): each answers a problem document or the
right 2xx, never a 5xx, fast, and never reflects what the client claims to be."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.api.main import create_app
from app.settings import Settings
from geo.ingest.cadastre import load_cadastre
from tests.helpers import CADASTRE_91216
from tests.helpers.ledger import authorisation

PROBLEM = "application/problem+json"


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


@pytest.fixture(scope="module")
def scored_client(base_settings: Settings, scored_db_url: str) -> Iterator[TestClient]:
    app = create_app(base_settings.model_copy(update={"database_url": scored_db_url}))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def patient_client(base_settings: Settings, scored_db_url: str) -> Iterator[TestClient]:
    """The scored demo with the longest site-search budget: for what is not about time (a
    loaded machine can take more than the default 3 s over a whole commune)."""
    settings = {"database_url": scored_db_url, "site_search_seconds": 60}
    app = create_app(base_settings.model_copy(update=settings))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


# 2. custom weights reach the sites' score as numbers of one kind


@pytest.mark.parametrize(
    "weights", ['{"size_fit": 2}', '{"zoning": 2, "on_friche": 2, "size_fit": 1}']
)
def test_custom_weights_on_sites(patient_client: TestClient, weights: str) -> None:
    response = patient_client.get(
        "/sites/search", params={"commune": "91216", "min_area": 5, "weights": weights}
    )
    assert response.status_code == 200, response.text
    sites = response.json()["features"]
    assert sites and all(isinstance(s["properties"]["score"], float) for s in sites)


def test_the_openapi_example_weights_are_accepted(scored_client: TestClient) -> None:
    schema = scored_client.get("/openapi.json").json()
    (weights,) = [
        p for p in schema["paths"]["/sites/search"]["get"]["parameters"] if p["name"] == "weights"
    ]
    example = weights["content"]["application/json"]["example"]
    response = scored_client.get(
        "/sites/search",
        params={"commune": "91216", "min_area": 2, "weights": json.dumps(example)},
    )
    assert response.status_code == 200, response.text


# 3. weights of the wrong shape


@pytest.mark.parametrize(
    ("weights", "status"),
    [
        ('{"zoning": "abc"}', 422),
        ('{"zoning": [1]}', 422),
        ('{"zoning": null}', 422),
        ('{"zoning": true}', 422),
        ('{"zoning": {"a": 1}}', 422),
        ('{"zoning": NaN}', 422),
        ("[" * 5000, 422),  # over the parameter's length
        ("[" * 490 + "]" * 490, 400),  # nested, within it: not an object
        ('{"zoning": ' * 300 + "1" + "}" * 300, 422),
    ],
)
def test_malformed_weights_are_problems(api_client: TestClient, weights: str, status: int) -> None:
    for url in ("/parcels/search", "/parcels/91216000AB0037/score"):
        assert problem(api_client.get(url, params={"weights": weights}), status)["detail"]


# 9. site searches are bounded in work and time


@pytest.mark.parametrize(
    "params",
    [
        {"epci": "200056232", "min_area": 20, "gap": 500},
        {"epci": "200056232", "min_area": 1e300, "gap": 500},
        {"epci": "200056232", "min_area": 20, "gap": 100},
        {"commune": "91216", "min_area": 500, "gap": 100},
        {"commune": "91216", "min_area": 1000, "gap": 100},
        {"commune": "91216", "min_area": "inf"},
        {"commune": "91216", "min_area": "nan"},
        {"commune": "91216", "min_area": 5, "gap": "nan"},
    ],
)
def test_site_searches_answer_within_seconds(scored_client: TestClient, params: dict) -> None:
    start = time.monotonic()
    response = scored_client.get("/sites/search", params=params)
    elapsed = time.monotonic() - start
    assert response.status_code in (200, 422), response.text
    assert response.headers["content-type"] in ("application/json", PROBLEM)
    assert elapsed < 5, f"{params}: {elapsed:.1f} s"


# 10. NUL characters, refused once for every route


@pytest.mark.parametrize(
    "url",
    [
        "/parcels?commune=91216%00",
        "/parcels/search?territoire_industrie=a%00b",
        "/collections/friches/items?site_type=%00",
        "/collections/friches/items/x%00y",
        "/collections/friches/items?cursor=%00",
        "/trajectories/epci/2000%00",
        "/projects?ruleset=%00",
        "/no/such/%00",
        "/parcels?%00=1",
    ],
)
def test_nul_in_the_url_is_a_400(api_client: TestClient, url: str) -> None:
    assert "NUL" in problem(api_client.get(url), 400)["detail"]


def test_nul_in_a_body_string_is_a_400(base_settings: Settings, demo_db_url: str) -> None:
    token = "hardening-admin-token-0123456789"
    app = create_app(
        base_settings.model_copy(update={"database_url": demo_db_url, "admin_token": token})
    )
    body = '{"name": "Usine\\u0000", "epci_siren": "200056232", "parcel_ids": ["91216000AB0037"]}'
    with TestClient(app) as client:
        response = client.post(
            "/projects",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        # an escaped backslash before "u0000" is text, not a NUL: it gets to validation
        escaped = client.post(
            "/projects",
            content='{"name": "a\\\\u0000", "epci_siren": "x"}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    app.state.engine.dispose()
    assert "NUL" in problem(response, 400)["detail"]
    assert problem(escaped, 422)["detail"]


# 11. offsets past PostgreSQL's bigint


@pytest.mark.parametrize("url", ["/parcels", "/parcels/search"])
def test_huge_offsets_are_problems(api_client: TestClient, url: str) -> None:
    problem(api_client.get(url, params={"offset": "10000000000000000000"}), 422)
    assert api_client.get(url, params={"offset": 1_000_000_000}).status_code == 200


# 15. 405 names the allowed methods; HEAD is GET without the body


def test_405_carries_allow(api_client: TestClient) -> None:
    response = api_client.delete("/parcels/91216000AB0037")
    problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD"
    # several routes on one path: every one of their methods
    both = api_client.put("/projects")
    problem(both, 405)
    assert both.headers["allow"] == "GET, HEAD, POST"
    # and on the routes the schema does not document
    docs = api_client.post("/docs")
    problem(docs, 405)
    assert docs.headers["allow"] == "GET, HEAD"


def test_head_on_get_routes(api_client: TestClient) -> None:
    for url in ("/parcels/91216000AB0037", "/parcels?limit=2", "/conformance", "/health"):
        get, head = api_client.get(url), api_client.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
    missing = api_client.head("/parcels/91216000ZZ9999")
    assert missing.status_code == 404 and missing.content == b""


# 16. links never follow the Host header


EVIL = {"Host": "evil.example"}


def _hrefs(body) -> list[str]:
    found = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key in ("href", "$id") and isinstance(value, str):
                found.append(value)
            else:
                found += _hrefs(value)
    elif isinstance(body, list):
        for value in body:
            found += _hrefs(value)
    return found


LINKED = [
    "/?f=json",
    "/collections",
    "/collections/parcels",
    "/collections/parcels/queryables",
    "/collections/parcels/items?limit=2",
    "/collections/communes/items/91216",
    "/parcels?commune=91216&limit=2&offset=2",
    "/parcels/search?commune=91216&limit=2",
]


@pytest.mark.parametrize("url", LINKED)
def test_links_without_a_public_url_use_the_servers_address(
    api_client: TestClient, url: str
) -> None:
    # the test client's socket is "testserver", port 80; the Host header says otherwise
    hrefs = _hrefs(api_client.get(url, headers=EVIL).json())
    assert hrefs and all(h.startswith("http://testserver/") for h in hrefs), hrefs


def test_links_and_tilejson_use_the_public_url(base_settings: Settings, demo_db_url: str) -> None:
    public = "https://foncier.example.fr/api"
    app = create_app(
        base_settings.model_copy(update={"database_url": demo_db_url, "public_url": public})
    )
    with TestClient(app) as client:
        bodies = [client.get(url, headers=EVIL).json() for url in LINKED]
        tilejson = client.get("/tiles/parcels/tilejson.json", headers=EVIL).json()
    app.state.engine.dispose()
    for url, body in zip(LINKED, bodies, strict=True):
        hrefs = _hrefs(body)
        assert hrefs and all(h.startswith(public + "/") for h in hrefs), (url, hrefs)
    next_link = next(link for link in bodies[6]["links"] if link["rel"] == "next")
    assert next_link["href"] == f"{public}/parcels?commune=91216&limit=2&offset=4"
    assert tilejson["tiles"] == [f"{public}/tiles/parcels/{{z}}/{{x}}/{{y}}.mvt"]


def test_tilejson_and_redirects_ignore_the_host(api_client: TestClient) -> None:
    tilejson = api_client.get("/tiles/parcels/tilejson.json", headers=EVIL).json()
    assert tilejson["tiles"] == ["http://testserver/tiles/parcels/{z}/{x}/{y}.mvt"]
    for url in ("/parcels/", "/collections/", "/static"):
        response = api_client.get(url, headers=EVIL, follow_redirects=False)
        assert "evil" not in response.headers.get("location", ""), url
        assert response.status_code == 404


def test_the_tilejson_template_is_no_tile(api_client: TestClient) -> None:
    """A client (schemathesis's stateful phase did) may request the TileJSON template as it
    is: "{z}" names no tile, a 404 like a tile out of range, not a schema-valid 422."""
    template = api_client.get("/tiles/parcels/tilejson.json").json()["tiles"][0]
    path = template.removeprefix("http://testserver")
    for url in (path, "/tiles/parcels/-1/0/0.mvt", "/tiles/parcels/14/8/x.mvt"):
        response = api_client.get(url)
        assert response.status_code == 404, (url, response.status_code)
        assert response.headers["content-type"] == "application/problem+json"


def test_public_url_setting_is_checked() -> None:
    with pytest.raises(ValueError, match="public_url"):
        Settings(public_url="javascript:alert(1)")


# 17. If-None-Match as RFC 9110 compares


def test_if_none_match_weak_lists_and_star(api_client: TestClient) -> None:
    url = "/tiles/parcels/14/8297/5650.mvt"
    etag = api_client.get(url).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', f'"a",W/{etag} ', "*"):
        response = api_client.get(url, headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.headers["etag"] == etag
    assert api_client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


# 18. one feature, one address


@pytest.mark.parametrize(
    "url",
    [
        "/parcels/%2091216000AB0037",
        "/parcels/91216000AB0037%0A",
        "/parcels/91216000ab0037",
        "/communes/091216",
        "/communes/91216%0A",
        "/communes/%2091216",
        "/epci/0200056232",
        "/epci/200056232%20",
    ],
)
def test_non_canonical_ids_do_not_resolve(api_client: TestClient, url: str) -> None:
    assert api_client.get(url).status_code in (404, 422)


def test_non_canonical_integer_feature_ids(base_settings: Settings, fresh_engine: Engine) -> None:
    load_cadastre(fresh_engine, CADASTRE_91216)
    token = "hardening-admin-token-0123456789"
    auth = {"Authorization": f"Bearer {token}"}
    url = fresh_engine.url.render_as_string(hide_password=False)
    app = create_app(base_settings.model_copy(update={"database_url": url, "admin_token": token}))
    with TestClient(app) as client:
        body = {"name": "Usine", "epci_siren": "200056232", "parcel_ids": ["91216000AB0037"]}
        pid = client.post("/projects", json=body, headers=auth).json()["id"]
        status = {"status": "authorised", "reason": "PC accordé"} | authorisation()
        assert client.post(f"/projects/{pid}/status", json=status, headers=auth).is_success
        assert client.get(f"/collections/projects/items/{pid}").status_code == 200
        for alias in (f"0{pid}", f"%20{pid}", f"+{pid}", f"{pid}%0A", f"{pid}_0"):
            assert client.get(f"/collections/projects/items/{alias}").status_code == 404, alias
            assert client.get(f"/collections/projects/items?cursor={alias}").status_code == 400
        assert client.get("/collections/projects/items/%EF%BC%91").status_code == 404
    app.state.engine.dispose()


def test_a_walk_past_its_deadline_stops() -> None:
    from geo.scoring.sites import Parcel, WalkTooLong, grow_sites

    # one long strip, every neighbour known from the start: no lookup to count
    strip = {f"{i:03}": Parcel(f"{i:03}", 50.0, 1.0) for i in range(300)}
    for i in range(299):
        strip[f"{i:03}"].neighbours.add(f"{i + 1:03}")
        strip[f"{i + 1:03}"].neighbours.add(f"{i:03}")
    assert len(grow_sites(strip, 100, deadline=time.monotonic() + 60)) == 3
    with pytest.raises(WalkTooLong):
        grow_sites(strip, 100, deadline=time.monotonic() - 1)


# Integer parameters take an integer as JSON writes one: pydantic's lax mode alone would
# read "0.0", "+1", " 1", "1_000" and "01" as integers, which the schema says they are not.


@pytest.fixture(scope="module")
def admin_client(base_settings: Settings, demo_db_url: str) -> Iterator[TestClient]:
    """The demo base with an administrator token (only read here)."""
    token = "hardening-admin-token-0123456789"
    update = {"database_url": demo_db_url, "admin_token": token}
    app = create_app(base_settings.model_copy(update=update))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client
    app.state.engine.dispose()


@pytest.mark.parametrize(
    ("url", "name", "good"),
    [
        ("/audit", "after_id", "0"),
        ("/audit", "limit", "5"),
        ("/alerts", "after_id", "0"),
        ("/alerts", "limit", "5"),
        ("/parcels", "offset", "0"),
        ("/parcels", "limit", "5"),
        ("/parcels/search?commune=91216", "offset", "0"),
        ("/collections/parcels/items", "limit", "5"),
        ("/places?q=paray", "limit", "5"),
        ("/sites/search?commune=91216&min_area=50", "limit", "5"),
        ("/trajectories/commune/91216", "vintage", "2023"),
    ],
)
def test_integer_parameters_refuse_other_numbers(
    admin_client: TestClient, url: str, name: str, good: str
) -> None:
    sep = "&" if "?" in url else "?"
    accepted = admin_client.get(f"{url}{sep}{name}={good}")
    # (a trajectory without consumption data is a 422 about the data, not the parameter)
    assert accepted.status_code == 200 or "errors" not in accepted.json(), accepted.text
    for bad in (f"{good}.0", f"%2B{good}", f"%20{good}", f"0{good}", f"{good}_0", "1e1"):
        response = admin_client.get(f"{url}{sep}{name}={bad}")
        assert response.status_code in (400, 422), (bad, response.status_code)
        assert response.json()["errors"][0]["location"] == ["query", name], response.text


def test_tile_path_integers_are_digits(api_client: TestClient) -> None:
    tiles = "/collections/parcels/tiles/WebMercatorQuad"
    assert api_client.get(f"{tiles}/14/5648/8297").status_code in (200, 204)
    # the routes take digits only ({z:int}): no other number reaches them
    for bad in ("14.0/5648/8297", "14/5648/8297.0", "14/+5648/8297", "14/-1/8297"):
        assert api_client.get(f"{tiles}/{bad}").status_code in (400, 404), bad


def test_integer_parameters_keep_their_documented_range(api_client: TestClient) -> None:
    """The range stays in the schema as minimum/maximum (a fuzzer sends what it allows)."""
    spec = api_client.get("/openapi.json").json()["paths"]
    ranged = {
        ("/places", "limit"): (1, 20),
        ("/alerts", "after_id"): (0, 2**31 - 1),
        ("/audit", "after_id"): (0, 2**31 - 1),
        ("/parcels", "offset"): (0, 1_000_000_000),
        ("/sites/search", "limit"): (1, 200),
    }
    for (path, name), (low, high) in ranged.items():
        (schema,) = [p["schema"] for p in spec[path]["get"]["parameters"] if p["name"] == name]
        assert (schema.get("minimum"), schema.get("maximum")) == (low, high), (path, schema)
    delete = spec["/saved-searches/{search_id}"]["delete"]["parameters"][0]["schema"]
    assert delete["minimum"] == 1 and "ge" not in delete


@pytest.mark.parametrize(
    "bbox",
    ["nan,48.6,2.4,48.7", "2.3,48.6,inf,48.7", "1e400,48.6,2.4,48.7", "2.3,48.6,2.3,48.6",
     "2.4,48.7,2.3,48.6", ",,,", "2.3,48.6,2.4,1" + "0" * 400, "２.3,48.6,2.4,48.7"],
)  # fmt: skip
def test_degenerate_boxes_are_problems(api_client: TestClient, bbox: str) -> None:
    """Empty, inverted, non-finite or unreadable boxes: a problem on every route, never a
    5xx (as the CQL2 BBOX, tests/ogc/test_ogc_conformance.py)."""
    for url in ("/parcels", "/parcels/search", "/sites/search?min_area=1",
                "/collections/parcels/items"):  # fmt: skip
        response = api_client.get(url, params={"bbox": bbox})
        assert response.status_code in (400, 422), (url, response.status_code)
        assert response.headers["content-type"] == PROBLEM


def test_numbers_are_written_in_ascii(api_client: TestClient) -> None:
    """float() reads any script's digits: a number parameter takes ASCII ones only."""
    items = "/collections/parcels/items"
    for value in ("５０", "٥٠", "5_0", " 50", "nan"):
        problem(api_client.get(items, params={"area_m2": value}), 400)
    assert api_client.get(items, params={"area_m2": "5e1"}).status_code == 200
