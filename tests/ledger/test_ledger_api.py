"""The ledger, envelope and trajectory endpoints, through HTTP."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.api.main import create_app
from geo.ingest.cadastre import load_cadastre
from geo.ingest.consumption import load_consumption
from tests.helpers import CADASTRE_91216
from tests.helpers.ledger import authorisation
from tests.helpers.synthetic import cerema_consumption_csv, random_flows

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROBLEM = "application/problem+json"


@pytest.fixture
def client(fresh_engine: Engine, base_settings, tmp_path: Path):
    load_cadastre(fresh_engine, CADASTRE_91216)
    flows = random_flows(["91216", "91534", "91377"])
    load_consumption(fresh_engine, cerema_consumption_csv(tmp_path / "c.csv", flows))
    settings = base_settings.model_copy(
        update={
            "database_url": fresh_engine.url.render_as_string(hide_password=False),
            "admin_token": TOKEN,
            "admin_name": "prefecture-test",
        }
    )
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def new_project(client: TestClient, **extra) -> dict:
    body = {
        "name": "Usine (synthetic)",
        "kind": "industrial",
        "epci_siren": "200056232",
        "parcel_ids": ["91216000AB0037"],
    } | extra
    response = client.post("/projects", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()


def test_writes_need_the_token(client: TestClient) -> None:
    body = {"name": "x", "epci_siren": "200056232", "parcel_ids": ["91216000AB0037"]}
    missing = client.post("/projects", json=body)
    assert missing.status_code == 401 and missing.headers["content-type"] == PROBLEM
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = client.post("/projects", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_project_lifecycle_over_http(client: TestClient) -> None:
    project = new_project(client)
    assert project["status"] == "planned" and project["created_by"] == "prefecture-test"
    assert project["naf_computation"]["rule"].startswith("NAF = area")
    pid = project["id"]
    authorised = client.post(
        f"/projects/{pid}/status",
        json={"status": "authorised", "reason": "PC accordé"} | authorisation(),
        headers=AUTH,
    ).json()
    assert authorised["reserved_ha"] == pytest.approx(project["naf_ha"])
    refused = client.post(
        f"/projects/{pid}/status", json={"status": "planned", "reason": "x"}, headers=AUTH
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    envelope = client.get("/envelope", params={"group_by": "epci"}).json()
    assert envelope["ruleset"]["id"] == "industrial-envelope-2025"
    # the envelope's text is a bill, not in force, and the answer says so and as of when
    assert envelope["ruleset"]["legal_status"] == "bill"
    assert envelope["ruleset"]["in_force"] is False
    assert envelope["ruleset"]["status_as_of"] == "2026-01-20"
    rulesets = {r["id"]: r for r in client.get("/rulesets").json()}
    assert (rulesets["zan-2021-2031"]["legal_status"], rulesets["zan-2021-2031"]["in_force"]) == (
        "law",
        True,
    )
    assert rulesets["industrial-envelope-2025"]["envelope"]["eligible_kinds"] == ["industrial"]
    assert envelope["groups"][0]["code"] == "200056232"
    assert envelope["national"]["reserved_ha"] == pytest.approx(project["naf_ha"], abs=1e-3)
    table = list(
        csv.reader(
            io.StringIO(
                client.get("/envelope", params={"format": "csv", "group_by": "region"}).text
            )
        )
    )
    assert table[0][:3] == ["level", "code", "name"] and table[2][1:3] == ["11", "Île-de-France"]
    assert client.get(f"/projects/{pid}").json()["entries"][-1]["reason"].endswith(" : PC accordé")


def test_bad_bodies_are_problems(client: TestClient) -> None:
    both = client.post("/projects", json={"name": "x", "epci_siren": "200056232"}, headers=AUTH)
    assert both.status_code == 422 and both.headers["content-type"] == PROBLEM
    unknown = client.post(
        "/projects",
        json={"name": "x", "epci_siren": "200056232", "parcel_ids": ["91216000ZZ9999"]},
        headers=AUTH,
    )
    assert unknown.status_code == 422 and "unknown parcel" in unknown.json()["detail"]
    assert client.get("/projects/999").status_code == 404
    assert client.get("/envelope", params={"ruleset": "nope"}).status_code == 422


def test_envelope_exhausted_is_409(client: TestClient) -> None:
    # PENE envelope: 12,500 ha; a correction asking for 13,000 ha more overdraws it
    project = new_project(client, ruleset="pene-2021-2031")
    client.post(
        f"/projects/{project['id']}/status",
        json={"status": "authorised", "reason": "x"} | authorisation(),
        headers=AUTH,
    )
    response = client.post(
        f"/projects/{project['id']}/corrections",
        json={"delta_ha": 13_000, "reason": "erreur"},
        headers=AUTH,
    )
    assert response.status_code == 409 and "ha left" in response.json()["detail"]


def test_trajectory_and_charts(client: TestClient) -> None:
    t = client.get("/trajectories/epci/200056232").json()
    assert t["ruleset"]["id"] == t["default_ruleset"] == "zan-2021-2031"
    assert t["communes"] == 27 and set(t["children"]) == {
        "exceeded",
        "will_exceed",
        "on_track",
        "partial_data",
        "no_data",
    }
    # the communes without consumption data are listed as such, never "on track"
    assert len(t["children"]["no_data"]) == t["communes_without_data"] > 0
    assert all(c["status"] == "no_data" for c in t["children"]["no_data"])
    assert t["status"] == "partial_data"
    what_if = client.get(
        "/trajectories/epci/200056232", params={"ruleset": "zan-whatif-tolerance-30"}
    )
    assert what_if.json()["allowed_ha"] == pytest.approx(t["allowed_ha"] * 1.3)
    for url in ("/trajectories/commune/91216/chart.png", "/envelope/chart.png"):
        png = client.get(url)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n" and len(png.content) > 5000
    assert client.get("/trajectories/planet/1").status_code == 422
    assert client.get("/trajectories/epci/999999999").status_code == 404


def test_projects_list_filters(client: TestClient) -> None:
    a = new_project(client)
    new_project(client, parcel_ids=["91216000AB0025"])
    client.post(
        f"/projects/{a['id']}/status",
        json={"status": "authorised", "reason": "x"} | authorisation(),
        headers=AUTH,
    )
    everything = client.get("/projects", params={"departement": "91"}, headers=AUTH).json()
    assert [p["status"] for p in everything] == ["authorised", "planned"]
    # a planned project is the EPCI's draft, not open data
    public = client.get("/projects", params={"departement": "91"}).json()
    assert [p["status"] for p in public] == ["authorised"]
    authorised = client.get("/projects", params={"status": "authorised"}).json()
    assert [p["id"] for p in authorised] == [a["id"]]
    assert client.get("/projects", params={"departement": "08"}).json() == []
    assert client.get("/projects", params={"status": "flying"}).status_code == 422
