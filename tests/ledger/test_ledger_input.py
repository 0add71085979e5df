"""Hostile input on the project ledger (issue 11, points 1, 4, 5, 6, 8, 12, 13, 14, 18; issue 13,
point 7): every answer is a problem document or the right 2xx, and a refused write leaves
nothing behind. Drawn projects need no cadastre, so most tests run on a bare clone."""

from __future__ import annotations

import datetime
import json
import math
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.security.tokens import create_token
from geo.errors import Invalid
from geo.ingest.cadastre import load_cadastre
from geo.ledger.reports import Balance, _exhaustion
from geo.ledger.write import ProjectDraft, change_status, correct, create_project
from geo.zan.rulesets import get_ruleset
from tests.helpers import CADASTRE_91216, PARIS_SACLAY, PROBLEM, engine_for
from tests.helpers.ledger import ADMIN, authorisation, make_client, square, written

ARDENNE_METROPOLE = "200041630"
INDUSTRIAL = get_ruleset("industrial-envelope-2025", kind="envelope")
# Synthetic project outlines: Longjumeau (91345, Paris-Saclay), Charleville-Mézières (08105,
# Ardenne Métropole), half in Chilly-Mazarin (Paris-Saclay) and half in Morangis (Métropole
# du Grand Paris).
LONGJUMEAU = (2.294, 48.700)
CHARLEVILLE = (4.715, 49.765)
STRADDLING = (2.320, 48.700)


@pytest.fixture
def client(fresh_engine: Engine, base_settings):
    with make_client(fresh_engine, base_settings) as c:
        yield c
    c.app.state.engine.dispose()


@pytest.fixture(scope="module")
def shared_engine(databases, template_db):
    """One clone for the tests whose every request is refused (they check nothing is
    written), with the 91216 cadastre."""
    name = f"{template_db}_hardening"
    engine = engine_for(databases.create(name, template=template_db))
    load_cadastre(engine, CADASTRE_91216)
    yield engine
    engine.dispose()
    databases.drop(name)


@pytest.fixture(scope="module")
def shared(shared_engine: Engine, base_settings):
    with make_client(shared_engine, base_settings) as c:
        yield c
    c.app.state.engine.dispose()


def token(engine: Engine, role: str, territory: str | None) -> dict[str, str]:
    with engine.begin() as conn:
        _, secret = create_token(
            conn, name=f"{role} {territory}", role=role, territory=territory, created_by="test"
        )
    return {"Authorization": f"Bearer {secret}"}


def refused(response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert fragment in response.json()["detail"], response.json()["detail"]


def drawn(geometry: dict, epci: str = PARIS_SACLAY, **extra) -> dict:
    return {"name": "Usine (synthetic)", "epci_siren": epci, "geometry": geometry} | extra


def record(client: TestClient, body: dict, headers=ADMIN) -> dict:
    response = client.post("/projects", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def move(client: TestClient, pid: int, status: str, headers=ADMIN, **extra) -> dict:
    body = {"status": status, "reason": "test"} | extra
    if status == "authorised":
        body = authorisation() | body
    response = client.post(f"/projects/{pid}/status", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# -- 1. the projection when little is drawn ------------------------------------------------


def test_a_slow_pace_is_an_answer_not_a_500(client: TestClient) -> None:
    """One 1-ha project authorised on each envelope: the pace (under 1 ha a year) would empty
    them in thousands of years, a date past year 9999."""
    for ruleset in ("industrial-envelope-2025", "pene-2021-2031"):
        body = drawn(square(*LONGJUMEAU, 100), ruleset=ruleset, occurred_on="2025-06-02")
        move(client, record(client, body)["id"], "authorised", occurred_on="2025-07-07")
        report = client.get("/envelope", params={"ruleset": ruleset})
        assert report.status_code == 200, report.text
        projection = report.json()["projection"]
        assert projection["outlook"] == "not_before_end_of_period"
        assert (projection["exhaustion_date"], projection["before_end_of_period"]) == (None, False)
        assert 0 < projection["pace_ha_per_year"] < 1
        chart = client.get("/envelope/chart.png", params={"ruleset": ruleset})
        assert chart.status_code == 200 and chart.content[:4] == b"\x89PNG"
    # what the map's gauge reads (app/static/map.js, showEnvelope)
    report = client.get("/envelope").json()
    national = report["national"]
    for key in ("consumed_ha", "reserved_ha", "remaining_ha", "total_ha"):
        assert isinstance(national[key], float)
    assert national["reserved_ha"] == pytest.approx(1.0, rel=0.01)
    assert isinstance(report["ruleset"]["name"], str) and len(report["period"]) == 2


@pytest.mark.parametrize(
    ("drawn_ha", "today", "outlook", "date"),
    [
        ("0.0001", datetime.date(2026, 1, 1), "not_before_end_of_period", None),
        ("0", datetime.date(2026, 1, 1), "nothing_drawn", None),
        # 584 days since the envelope opened (27 May 2025), as many again
        ("5000", datetime.date(2027, 1, 1), "before_end_of_period", "2028-08-07"),
        ("10000", datetime.date(2027, 1, 1), "exhausted", "2027-01-01"),
        ("1", datetime.date(2035, 6, 1), "period_ended", None),
    ],
)
def test_exhaustion_outlooks(drawn_ha: str, today, outlook: str, date: str | None) -> None:
    total = Balance(Decimal(10_000), Decimal(drawn_ha), Decimal(0))
    projection = _exhaustion(INDUSTRIAL, total, today)
    assert (projection["outlook"], projection["exhaustion_date"]) == (outlook, date)
    assert projection["end_of_period"] == "2030-12-31"  # the first decade (amendment n° 1814)


# -- 4. a project lies in the EPCI it is recorded for ---------------------------------------


def test_a_project_lies_in_its_epci(shared: TestClient, shared_engine: Engine) -> None:
    saclay = token(shared_engine, "epci_editor", f"epci:{PARIS_SACLAY}")
    ardenne = token(shared_engine, "epci_editor", f"epci:{ARDENNE_METROPOLE}")
    before = written(shared_engine)
    in_ardennes = square(*CHARLEVILLE, 200)
    # a square in the Ardennes recorded for Paris-Saclay, by its editor or by an admin
    for headers in (saclay, ADMIN):
        response = shared.post("/projects", json=drawn(in_ardennes), headers=headers)
        refused(response, 403, f"outside EPCI {PARIS_SACLAY} (0% of its area inside")
    # half in the Métropole du Grand Paris
    straddling = shared.post("/projects", json=drawn(square(*STRADDLING, 300)), headers=saclay)
    refused(straddling, 403, f"outside EPCI {PARIS_SACLAY}")
    # parcels of Épinay-sur-Orge (Paris-Saclay) recorded by Ardenne Métropole
    parcels = {"name": "x", "epci_siren": ARDENNE_METROPOLE, "parcel_ids": ["91216000AB0037"]}
    refused(shared.post("/projects", json=parcels, headers=ardenne), 403, "91216000AB0037")
    # the whole of France
    france = {"type": "Polygon", "coordinates": [[[-4.8, 42.3], [8.2, 42.3], [8.2, 51.0],
                                                  [-4.8, 51.0], [-4.8, 42.3]]]}  # fmt: skip
    refused(shared.post("/projects", json=drawn(france), headers=saclay), 422, "0.01 to 1,000 ha")
    assert written(shared_engine) == before


def test_the_boundary_tolerance(client: TestClient, fresh_engine: Engine) -> None:
    """The demo boundaries are simplified: the parcel that overhangs Paris-Saclay's boundary
    most (by about 38 m), drawn as a geometry, is still in Paris-Saclay; the same parcel
    moved 100 m further out is not."""
    load_cadastre(fresh_engine, CADASTRE_91216)
    with fresh_engine.connect() as conn:
        found, moved = conn.execute(
            text(
                """WITH worst AS (
                       SELECT p.geom, ST_Centroid(ST_Difference(p.geom, o.geom)) AS out,
                              o.geom AS outline
                       FROM parcel p, epci_outline o WHERE o.siren = :s AND ST_Area(p.geom) > 1000
                       ORDER BY ST_Area(ST_Difference(p.geom, o.geom)) DESC LIMIT 1
                   ), away AS (  -- outwards: from the nearest point of the boundary
                       SELECT geom, ST_Azimuth(ST_ClosestPoint(outline, out), out) AS a
                       FROM worst
                   )
                   SELECT ST_AsGeoJSON(ST_Transform(geom, 4326), 9),
                          ST_AsGeoJSON(ST_Transform(
                              ST_Translate(geom, 100 * sin(a), 100 * cos(a)), 4326), 9)
                   FROM away"""
            ),
            {"s": PARIS_SACLAY},
        ).one()
    assert record(client, drawn(json.loads(found)))["epci_siren"] == PARIS_SACLAY
    out = client.post("/projects", json=drawn(json.loads(moved)), headers=ADMIN)
    refused(out, 403, f"outside EPCI {PARIS_SACLAY}")


# -- 5. planned projects are drafts ----------------------------------------------------------


def test_planned_projects_stay_out_of_the_public_report(client: TestClient) -> None:
    planned = record(client, drawn(square(*LONGJUMEAU, 150), occurred_on="2025-06-02"))
    for group_by in ("departement", "epci", "territoire_industrie"):
        report = client.get("/envelope", params={"group_by": group_by}).json()
        assert report["groups"] == [] and report["monthly"] == []
    move(client, planned["id"], "authorised", occurred_on="2025-07-07")
    report = client.get("/envelope", params={"group_by": "departement"}).json()
    assert [g["code"] for g in report["groups"]] == ["91"]
    assert [m["month"] for m in report["monthly"]] == ["2025-06-01", "2025-07-01"]


# -- 6 and issue 13.7. project geometries ----------------------------------------------------

RING = [[2.29, 48.70], [2.295, 48.70], [2.295, 48.703], [2.29, 48.703], [2.29, 48.70]]


def polygon(ring) -> dict:
    return {"type": "Polygon", "coordinates": [ring]}


def shifted(dx: float, dy: float) -> list[list[float]]:
    return [[x + dx, y + dy] for x, y in RING]


BAD_GEOMETRIES = {
    "3D positions": (polygon([[x, y, 80.0] for x, y in RING]), "at most 2 items"),
    "4D positions": (polygon([[x, y, 80.0, 0.0] for x, y in RING]), "at most 2 items"),
    "mixed positions": (polygon([RING[0] + [80.0], *RING[1:]]), "at most 2 items"),
    "1-D positions": (polygon([[x] for x, _ in RING]), "Field required"),
    "no coordinates": ({"type": "Polygon"}, "coordinates: Field required"),
    "string coordinates": (
        {"type": "Polygon", "coordinates": json.dumps([RING])},
        "valid list",
    ),
    "empty coordinates": ({"type": "Polygon", "coordinates": []}, "at least 1 item"),
    "null coordinates": ({"type": "Polygon", "coordinates": None}, "valid list"),
    "true coordinates": ({"type": "Polygon", "coordinates": True}, "valid list"),
    "boolean longitude": (polygon([[True, 48.7], *RING[1:-1], [True, 48.7]]), "valid number"),
    "1e300": (polygon([[1e300, 48.7], *RING[1:-1], [1e300, 48.7]]), "less than or equal to 180"),
    "latitude 95": (polygon(shifted(0, 46.3)), "less than or equal to 90"),
    "longitude 200": (polygon(shifted(197.7, 0)), "less than or equal to 180"),
    "Lambert-93 metres": (
        polygon([[652000, 6860000], [652300, 6860000], [652300, 6860300], [652000, 6860000]]),
        "less than or equal to 180",
    ),
    "swapped lon/lat": (polygon([[y, x] for x, y in RING]), "not in metropolitan France"),
    "open Atlantic": (polygon(shifted(-12.0, -3.0)), "not in metropolitan France"),
    "whole of France": (
        polygon([[-4.8, 42.3], [8.2, 42.3], [8.2, 51.0], [-4.8, 51.0], [-4.8, 42.3]]),
        "a project is 0.01 to 1,000 ha",
    ),
    "1 m²": (polygon([[2.29, 48.7], [2.29001, 48.7], [2.29001, 48.70001], [2.29, 48.7]]), "0.01"),
    "La Réunion": (polygon(shifted(53.2, -69.7)), "EPSG:2975"),
    "Guyane": (polygon(shifted(-55.0, -43.7)), "EPSG:2972"),
    "Mayotte": (polygon(shifted(42.9, -61.5)), "EPSG:4471"),
    "Martinique": (polygon(shifted(-63.3, -34.1)), "EPSG:5490"),
    "bow tie": (
        polygon([[2.29, 48.70], [2.295, 48.703], [2.295, 48.70], [2.29, 48.703], [2.29, 48.70]]),
        "Self-intersection",
    ),
    "open ring": (polygon(RING[:-1] + [[2.291, 48.70]]), "end on the position it starts"),
    "two-position ring": (polygon(RING[:2]), "at least 4 items"),
    "a point": ({"type": "Point", "coordinates": [2.29, 48.7]}, "does not match"),
    "no type": ({"coordinates": [RING]}, "Unable to extract tag"),
    "crs member": (polygon(RING) | {"crs": {"type": "name"}}, "Extra inputs"),
    "a list": ([RING], "valid dictionary"),
}


@pytest.mark.parametrize("case", list(BAD_GEOMETRIES))
def test_bad_geometries_are_422_with_the_reason(
    shared: TestClient, shared_engine: Engine, case: str
) -> None:
    geometry, reason = BAD_GEOMETRIES[case]
    before = written(shared_engine)
    refused(shared.post("/projects", json=drawn(geometry), headers=ADMIN), 422, reason)
    assert written(shared_engine) == before


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1" + "0" * 400])
def test_non_finite_coordinates_are_422(shared: TestClient, literal: str) -> None:
    body = json.dumps(drawn(polygon(RING))).replace("2.29,", f"{literal},", 1)
    response = shared.post(
        "/projects", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text


def test_string_coordinates_do_not_skip_the_vertex_limit(shared: TestClient) -> None:
    ring = [[2.29 + 1e-7 * i, 48.70] for i in range(30_000)] + [[2.29, 48.701], [2.29, 48.70]]
    body = drawn({"type": "Polygon", "coordinates": json.dumps([ring])})
    refused(shared.post("/projects", json=body, headers=ADMIN), 422, "valid list")


def test_geometry_errors_reach_callers_of_the_domain(fresh_engine: Engine) -> None:
    with pytest.raises(Invalid, match="EPSG:2975"), fresh_engine.begin() as conn:
        create_project(
            conn, ProjectDraft("x", "industrial", PARIS_SACLAY, polygon(shifted(53.2, -69.7))),
            ruleset=INDUSTRIAL, author="test",
        )  # fmt: skip


# -- 8. entry dates --------------------------------------------------------------------------


def test_entry_dates_lie_in_the_period_and_in_order(client: TestClient, fresh_engine) -> None:
    body = drawn(square(*LONGJUMEAU, 120))
    for bad, reason in (
        ("0001-01-01", "outside the period"),
        ("9999-12-31", "outside the period"),
        ("2024-12-31", "outside the period"),
        # before the measure was made public (27 May 2025): the envelope opens then
        ("2025-05-26", "outside the period"),
        ((datetime.date.today() + datetime.timedelta(days=20)).isoformat(), "in the future"),
        (0, "YYYY-MM-DD"),
        (20250601, "YYYY-MM-DD"),
        ("2025-02-30", "date"),
        ("2025-6-1", "YYYY-MM-DD"),
    ):
        response = client.post("/projects", json=body | {"occurred_on": bad}, headers=ADMIN)
        refused(response, 422, reason)
    assert written(fresh_engine) == (0, 0, 0)
    pid = record(client, body | {"occurred_on": "2025-06-02"})["id"]
    before = client.post(
        f"/projects/{pid}/status",
        json={"status": "authorised", "reason": "PC", "occurred_on": "2025-05-30", "act": "n° 1"},
        headers=ADMIN,
    )
    refused(before, 409, "precedes the project's previous entry (2025-06-02)")
    move(client, pid, "authorised", occurred_on="2025-06-02")  # the same day is in order
    late = client.post(
        f"/projects/{pid}/status",
        json={"status": "completed", "reason": "DAACT", "occurred_on": "1900-01-01"},
        headers=ADMIN,
    )
    refused(late, 422, "outside the period")
    correction = client.post(
        f"/projects/{pid}/corrections",
        json={"delta_ha": 0.5, "reason": "survey", "occurred_on": "2025-06-01"},
        headers=ADMIN,
    )
    refused(correction, 409, "precedes")
    assert written(fresh_engine) == (1, 2, 2)


# -- 12 and 13. strict bodies ----------------------------------------------------------------


def test_ledger_bodies_are_strict(client: TestClient, fresh_engine: Engine) -> None:
    pid = record(client, drawn(square(*LONGJUMEAU, 120), occurred_on="2025-06-02"))["id"]
    move(client, pid, "authorised")
    before = written(fresh_engine)
    url = f"/projects/{pid}/corrections"
    for body, reason in (
        ({"delta_ha": True, "reason": "x"}, "valid number"),
        ({"delta_ha": "1.5", "reason": "x"}, "valid number"),
        ({"delta_ha": -0.0, "reason": "x"}, "at least 0.0001 ha"),
        ({"delta_ha": 1e-320, "reason": "x"}, "at least 0.0001 ha"),
        ({"delta_ha": 0.00004, "reason": "x"}, "at least 0.0001 ha"),
        ({"delta_ha": 1e300, "reason": "x"}, "less than or equal to 100000"),
        ({"delta_ha": 1, "reason": "x", "overdraft": 0}, "valid boolean"),
        ({"delta_ha": 1, "reason": "x", "overdraft": "true"}, "valid boolean"),
        ({"delta_ha": 1, "reason": "x", "corrects_entry_id": True}, "valid integer"),
        ({"delta_ha": 1, "reason": "x", "corrects_entry_id": 2.5}, "valid integer"),
        ({"delta_ha": 1, "reason": "x", "corrects_entry_id": "2"}, "valid integer"),
        ({"delta_ha": 1, "reason": "x", "by": "someone"}, "Extra inputs"),
        ({"delta_ha": 1, "reason": "   "}, "reason"),
        ({"delta_ha": 1, "reason": "\t\n"}, "reason"),
        ({"delta_ha": 1, "reason": "\u200b\u2060"}, "reason"),  # invisible
        ({"delta_ha": 1, "reason": "\u00ad\ufeff"}, "reason"),
    ):
        refused(client.post(url, json=body, headers=ADMIN), 422, reason)
    # a NUL character is refused before any body model, for every route (app/api/limits.py)
    refused(
        client.post(url, json={"delta_ha": 1, "reason": "nul\x00byte"}, headers=ADMIN), 400, "NUL"
    )
    for literal in ("NaN", "Infinity", "-Infinity"):
        raw = f'{{"delta_ha": {literal}, "reason": "x"}}'
        response = client.post(
            url, content=raw, headers={**ADMIN, "Content-Type": "application/json"}
        )
        refused(response, 422, "finite number")
    assert written(fresh_engine) == before
    # JSON Schema's integers include 2.0 (schemathesis sends it): an entry id, not a 422
    entry = client.get(f"/projects/{pid}", headers=ADMIN).json()["entries"][-1]["id"]
    fixed = {"delta_ha": 0.5, "reason": "survey", "corrects_entry_id": float(entry)}
    assert client.post(url, json=fixed, headers=ADMIN).status_code == 200
    before = written(fresh_engine)
    status_url = f"/projects/{pid}/status"
    for body, reason in (
        ({"status": "completed", "reason": " "}, "reason"),
        ({"status": "completed", "reason": ""}, "reason"),
        ({"status": "completed", "reason": "x", "overdraft": 0}, "valid boolean"),
        ({"status": "completed", "reason": "x", "occurred_on": 0}, "YYYY-MM-DD"),
        ({"status": True, "reason": "x"}, "status"),
    ):
        refused(client.post(status_url, json=body, headers=ADMIN), 422, reason)
    blank_name = drawn(square(*LONGJUMEAU, 120)) | {"name": "  "}
    refused(client.post("/projects", json=blank_name, headers=ADMIN), 422, "name")
    assert written(fresh_engine) == before


def test_the_domain_refuses_what_the_api_refuses(fresh_engine: Engine) -> None:
    with fresh_engine.begin() as conn:
        draft = ProjectDraft(
            "x", "industrial", PARIS_SACLAY, square(*LONGJUMEAU, 120),
            occurred_on=datetime.date(2025, 6, 2),
        )  # fmt: skip
        pid = create_project(conn, draft, ruleset=INDUSTRIAL, author="test")["id"]
        change_status(conn, pid, "authorised", ruleset=INDUSTRIAL, author="t", reason="PC")
    for delta in (float("nan"), float("inf"), True, -0.0, 1e-320, "1"):
        with pytest.raises(Invalid), fresh_engine.begin() as conn:
            correct(conn, pid, delta, ruleset=INDUSTRIAL, author="t", reason="x")  # type: ignore[arg-type]
    for reason in ("", "   ", "\n", "\u200b"):
        with pytest.raises(Invalid, match="reason"), fresh_engine.begin() as conn:
            change_status(conn, pid, "completed", ruleset=INDUSTRIAL, author="t", reason=reason)
    with pytest.raises(Invalid, match="overdraft"), fresh_engine.begin() as conn:
        change_status(
            conn, pid, "completed", ruleset=INDUSTRIAL, author="t", reason="x", overdraft=0
        )  # type: ignore[arg-type]


def test_state_conflicts_are_409(client: TestClient, fresh_engine: Engine) -> None:
    """What the project's state forbids is a conflict, not a malformed request."""
    pid = record(client, drawn(square(*LONGJUMEAU, 120), occurred_on="2025-06-02"))["id"]
    held = client.post(
        f"/projects/{pid}/corrections", json={"delta_ha": 1, "reason": "x"}, headers=ADMIN
    )
    refused(held, 409, "is planned: it holds nothing to correct")
    move(client, pid, "authorised")
    below = client.post(
        f"/projects/{pid}/corrections", json={"delta_ha": -50, "reason": "x"}, headers=ADMIN
    )
    refused(below, 409, "below zero")
    move(client, pid, "abandoned")
    again = client.post(
        f"/projects/{pid}/status",
        json={"status": "authorised", "reason": "x"} | authorisation(),
        headers=ADMIN,
    )
    refused(again, 409, "is abandoned: it cannot become authorised")
    planned = client.post(
        f"/projects/{pid}/status", json={"status": "planned", "reason": "x"}, headers=ADMIN
    )
    refused(planned, 422, "body.status")  # never a target: the schema says so
    assert written(fresh_engine) == (1, 3, 3)


# -- 14. exact hectares ----------------------------------------------------------------------


def test_hectares_are_exact_decimals(client: TestClient, fresh_engine: Engine) -> None:
    """Projects authorised, corrected by tenths and released in an interleaved order leave
    exactly nothing reserved: no 2.7e-14, no -0.0."""
    ids = []
    for i, side in enumerate((250.3, 131.9, 97.3)):
        where = (LONGJUMEAU[0] + 0.004 * i, LONGJUMEAU[1])
        ids.append(record(client, drawn(square(*where, side), occurred_on="2025-06-02"))["id"])
    for pid in ids:
        move(client, pid, "authorised")
    for pid, delta in zip(ids, (0.1, 0.2, 0.7), strict=True):
        fixed = client.post(
            f"/projects/{pid}/corrections", json={"delta_ha": delta, "reason": "survey"},
            headers=ADMIN,
        )  # fmt: skip
        assert fixed.status_code == 200, fixed.text
    move(client, ids[0], "completed")
    move(client, ids[1], "abandoned")
    move(client, ids[2], "abandoned")
    national = client.get("/envelope").json()["national"]
    assert national["reserved_ha"] == 0.0 and math.copysign(1, national["reserved_ha"]) == 1
    consumed = client.get(f"/projects/{ids[0]}").json()["consumed_ha"]
    assert national["consumed_ha"] == consumed
    assert Decimal(str(national["remaining_ha"])) == 10_000 - Decimal(str(consumed))
    for p in client.get("/projects").json():
        for key in ("area_ha", "naf_ha", "reserved_ha", "consumed_ha"):
            assert round(p[key], 4) == p[key] and math.copysign(1, p[key]) == 1
    with fresh_engine.connect() as conn:
        types = conn.execute(
            text(
                """SELECT DISTINCT data_type, numeric_precision, numeric_scale
                   FROM information_schema.columns
                   WHERE (table_name, column_name) IN (('project', 'area_ha'),
                         ('project', 'naf_ha'), ('envelope_entry', 'reserved_delta_ha'),
                         ('envelope_entry', 'consumed_delta_ha'))"""
            )
        ).all()
    assert types == [("numeric", 14, 4)]


# -- 18. rule sets, parcel ids, project ids --------------------------------------------------


def test_rule_sets_are_checked_alike(shared: TestClient) -> None:
    for url in ("/projects", "/envelope"):
        refused(shared.get(url, params={"ruleset": "bogus"}), 422, "unknown rule set 'bogus'")
        refused(shared.get(url, params={"ruleset": "zan-2021-2031"}), 422, "no envelope rules")
        assert shared.get(url, params={"ruleset": "pene-2021-2031"}).status_code == 200
    schema = shared.get("/openapi.json").json()
    for path in ("/projects", "/envelope", "/envelope/chart.png"):
        (param,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "ruleset"]
        enum = param["schema"]["enum"]
        assert enum == ["industrial-envelope-2025", "pene-2021-2031"]


def test_parcel_ids_are_distinct_and_bounded(shared: TestClient, shared_engine: Engine) -> None:
    before = written(shared_engine)
    body = {"name": "x", "epci_siren": PARIS_SACLAY}
    twice = shared.post(
        "/projects", json=body | {"parcel_ids": ["91216000AB0037"] * 2}, headers=ADMIN
    )
    refused(twice, 422, "given more than once: 91216000AB0037")
    copies = shared.post(
        "/projects", json=body | {"parcel_ids": ["91216000AB0037"] * 10_000}, headers=ADMIN
    )
    refused(copies, 422, "at most 1000 items")
    many = [f"91216000AB{i:04d}" for i in range(1, 1_002)]
    refused(shared.post("/projects", json=body | {"parcel_ids": many}, headers=ADMIN), 422, "1000")
    assert written(shared_engine) == before


def test_project_ids_are_canonical(client: TestClient) -> None:
    pid = record(client, drawn(square(*LONGJUMEAU, 120)))["id"]
    assert pid == 1 and client.get("/projects/1", headers=ADMIN).status_code == 200
    for raw in ("01", "%201", "1%20", "+1", "1.0", "1e0", "0x1", "١", "0", "-1", "99999999999"):
        got = client.get(f"/projects/{raw}", headers=ADMIN)
        assert got.status_code in (404, 422), (raw, got.status_code)
        assert got.headers["content-type"] == PROBLEM
        for action, body in (("status", {"status": "abandoned", "reason": "x"}),
                             ("corrections", {"delta_ha": 1.0, "reason": "x"})):  # fmt: skip
            posted = client.post(f"/projects/{raw}/{action}", json=body, headers=ADMIN)
            assert posted.status_code in (404, 422), (raw, action, posted.status_code)
    assert client.get("/projects/1", headers=ADMIN).json()["status"] == "planned"
