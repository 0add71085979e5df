"""The API behind the DDT (prefecture) agent's journey: a territory's trajectory dossier,
the envelope dashboard (its legal status, every Territoire d'industrie, projects on the
map), authorising a project with its date, act and reason, and a project previewed
before it is recorded."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.api.main import create_app
from app.security.tokens import create_token
from geo.ingest.cadastre import load_cadastre
from geo.ingest.consumption import load_consumption
from geo.ingest.territoires import load_territoires_industrie
from tests.helpers import CADASTRE_91216, DATA
from tests.helpers.ledger import authorisation
from tests.helpers.synthetic import cerema_consumption_csv, random_flows

TOKEN = "test-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
EPCI = "200056232"  # CA Communauté Paris-Saclay
PARCEL = "91216000AB0037"


@pytest.fixture
def engine(fresh_engine: Engine, tmp_path: Path) -> Engine:
    load_cadastre(fresh_engine, CADASTRE_91216)
    flows = random_flows(["91216", "91534", "91377"])
    load_consumption(fresh_engine, cerema_consumption_csv(tmp_path / "c.csv", flows))
    return fresh_engine


@pytest.fixture
def client(engine: Engine, base_settings):
    settings = base_settings.model_copy(
        update={
            "database_url": engine.url.render_as_string(hide_password=False),
            "admin_token": TOKEN,
            "admin_name": "admin-test",
        }
    )
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def bearer(engine: Engine, role: str, territory: str | None) -> dict[str, str]:
    with engine.begin() as conn:
        _, secret = create_token(
            conn, name=f"{role} test", role=role, territory=territory, created_by="test"
        )
    return {"Authorization": f"Bearer {secret}"}


# --- the trajectory dossier ----------------------------------------------------------------


def test_dossier_of_an_epci_lists_its_communes_with_their_own_status(client: TestClient) -> None:
    dossier = client.get(f"/trajectories/epci/{EPCI}/dossier")
    assert dossier.status_code == 200, dossier.text
    d = dossier.json()
    assert d["reference"]["years"] == [2011, 2020]
    assert d["reference"]["ha"] == d["reference_ha"]
    assert d["target"]["origin"] and "regulatory" in d["target"]
    for figure in ("allowed_ha", "consumed_ha", "pace_ha_per_year", "projection_ha", "status"):
        assert figure in d
    # three communes have data, the others none: the status says so
    assert d["status"] == "partial_data"
    source = d["source"]
    assert source["vintage"] and source["file"] == "c.csv" and source["synthetic"] is False
    assert "2021-1104" in d["legal_basis"]["text"]
    members = {m["insee"]: m for m in d["member_communes"]}
    assert len(members) == d["communes"]
    assert members["91216"]["status"] in ("on_track", "will_exceed", "exceeded")
    assert sum(m["status"] == "no_data" for m in members.values()) == d["communes_without_data"]
    assert sum(d["member_communes_by_status"].values()) == d["communes"]
    assert d["parents"][0]["level"] == "departement" and d["parents"][0]["code"] == "91"


def test_dossier_of_a_commune_goes_up_to_its_epci(client: TestClient) -> None:
    d = client.get("/trajectories/commune/91216/dossier").json()
    assert [p["level"] for p in d["parents"]] == ["epci", "departement", "region"]
    assert d["parents"][0]["code"] == EPCI
    assert [m["insee"] for m in d["member_communes"]] == ["91216"]
    assert d["target"]["origin"].startswith("inherited from")
    assert d["target"]["regulatory"] is False  # an inherited target is not its own rule


def test_dossier_of_a_departement_and_of_a_region(client: TestClient) -> None:
    for level, code in (("departement", "91"), ("region", "11")):
        d = client.get(f"/trajectories/{level}/{code}/dossier").json()
        assert d["status"] == "partial_data"
        assert len(d["member_communes"]) == d["communes"] > 3
        assert d["children"]  # the next level down, grouped by status


def test_dossier_says_a_synthetic_source(engine: Engine, client: TestClient) -> None:
    load_consumption(engine, DATA / "consommation" / "conso-naf-SYNTHETIQUE-2009-2023.csv")
    d = client.get(f"/trajectories/epci/{EPCI}/dossier").json()
    assert d["source"]["synthetic"] is True and "synthetic" in d["source"]["note"]


def test_a_prefecture_opens_any_commune_of_its_departement(
    engine: Engine, client: TestClient
) -> None:
    prefecture = bearer(engine, "prefecture", "departement:91")
    with engine.connect() as conn:
        communes = conn.execute(
            text("SELECT insee FROM commune WHERE departement_code = '91' ORDER BY insee LIMIT 5")
        ).scalars()
        for insee in communes:
            answer = client.get(f"/trajectories/commune/{insee}/dossier", headers=prefecture)
            assert answer.status_code == 200, answer.text


def test_dossier_of_an_unknown_territory_is_a_problem(client: TestClient) -> None:
    assert client.get("/trajectories/epci/999999999/dossier").status_code == 404
    assert client.get("/trajectories/planet/1/dossier").status_code == 422


def today() -> str:
    return datetime.date.today().isoformat()


# --- authorising: its date, its act, its reason ----------------------------------------------


def new_project(client: TestClient, headers: dict[str, str] = ADMIN, **extra) -> dict:
    body = {"name": "Usine", "epci_siren": EPCI, "parcel_ids": [PARCEL]} | extra
    response = client.post("/projects", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_authorising_needs_its_date_and_act(engine: Engine, client: TestClient) -> None:
    prefecture = bearer(engine, "prefecture", "departement:91")
    pid = new_project(client)["id"]
    url = f"/projects/{pid}/status"
    whole = {"status": "authorised", "reason": "PC accordé", "act": "arrêté préfectoral n° 2026-17",
             "occurred_on": today()}  # fmt: skip
    for missing in ("act", "occurred_on", "reason"):
        body = {k: v for k, v in whole.items() if k != missing}
        refused = client.post(url, json=body, headers=prefecture)
        assert refused.status_code == 422, (missing, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    blank = client.post(url, json=whole | {"act": "  "}, headers=prefecture)
    assert blank.status_code == 422
    assert client.get(f"/projects/{pid}", headers=prefecture).json()["status"] == "planned"
    # the act and the reason in the ledger's history, the act in the audit record
    done = client.post(url, json=whole, headers=prefecture)
    assert done.status_code == 200, done.text
    last = done.json()["entries"][-1]
    assert last["status"] == "authorised" and last["occurred_on"] == today()
    assert last["reason"] == "arrêté préfectoral n° 2026-17 : PC accordé"
    with engine.connect() as conn:
        after = conn.execute(
            text(
                "SELECT after FROM audit_log WHERE action = 'project.status' "
                "ORDER BY id DESC LIMIT 1"
            )
        ).scalar_one()
    assert after["act"] == "arrêté préfectoral n° 2026-17" and after["status"] == "authorised"
    # moving along afterwards needs no act
    started = client.post(url, json={"status": "under_construction", "reason": "chantier"},
                          headers=prefecture)  # fmt: skip
    assert started.status_code == 200, started.text


# --- the envelope's dashboard ------------------------------------------------------------------


def test_every_territoire_d_industrie_listed_with_the_envelope_standing(
    engine: Engine, client: TestClient
) -> None:
    load_territoires_industrie(
        engine, DATA / "territoires-industrie" / "territoires-industrie-anct.geojson.gz"
    )
    with engine.begin() as conn:
        ti = conn.execute(
            text(
                "UPDATE epci SET territoire_industrie_id = "
                "(SELECT id FROM territoire_industrie ORDER BY id LIMIT 1) "
                "WHERE siren = :s RETURNING territoire_industrie_id"
            ),
            {"s": EPCI},
        ).scalar_one()
    pid = new_project(client)["id"]
    body = {"status": "authorised", "reason": "PC"} | authorisation()
    naf = client.post(f"/projects/{pid}/status", json=body, headers=ADMIN).json()["naf_ha"]
    answer = client.get("/envelope/territoires-industrie")
    assert answer.status_code == 200, answer.text
    d = answer.json()
    assert d["count"] == len(d["territories"]) == 149
    drawing = [t for t in d["territories"] if t["reserved_ha"] or t["consumed_ha"]]
    assert [t["id"] for t in drawing] == [ti] and drawing[0]["reserved_ha"] == naf
    assert sum(r["territories"] for r in d["by_region"]) == 149
    assert sum(r["territories_drawing"] for r in d["by_region"]) == 1
    assert all(t["region_name"] for t in d["territories"])
    standing = d["legal_standing"]
    assert standing["legal_status"] == "bill" and standing["in_force"] is False
    assert "simplification" in standing["legal_basis"] and standing["sources"]


# --- a project previewed before it is recorded -------------------------------------------------


def written(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("project", "envelope_entry", "audit_log")
        )  # type: ignore[return-value]


def test_a_preview_says_what_recording_would_do_and_writes_nothing(
    engine: Engine, client: TestClient
) -> None:
    editor = bearer(engine, "epci_editor", f"epci:{EPCI}")
    body = {"name": "Usine", "epci_siren": EPCI, "parcel_ids": [PARCEL, "91216000AB0025"]}
    before = written(engine)
    answer = client.post("/projects/preview", json=body, headers=editor)
    assert answer.status_code == 200, answer.text
    p = answer.json()
    assert written(engine) == before and p["written"] is False
    assert p["commune_insee"] == "91216" and p["naf_ha"] > 0
    assert p["envelope"]["draws_ha"] == p["naf_ha"]
    assert p["envelope"]["after"]["remaining_ha"] == pytest.approx(
        p["envelope"]["before"]["remaining_ha"] - p["naf_ha"], abs=1e-4
    )
    commune, epci = p["trajectories"]
    assert (commune["level"], commune["code"]) == ("commune", "91216")
    assert (epci["level"], epci["code"]) == ("epci", EPCI)
    for t in (commune, epci):  # the envelope is not in force: its projects count locally
        assert t["after"]["consumed_ha"] == pytest.approx(
            t["before"]["consumed_ha"] + p["naf_ha"], abs=1e-3
        )
        assert t["before"]["status"] and t["after"]["status"]
    # the same figures as recording it
    recorded = client.post("/projects", json=body, headers=editor).json()
    assert recorded["naf_ha"] == p["naf_ha"] and recorded["area_ha"] == p["area_ha"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM project")).scalar_one() == before[0] + 1


def test_a_preview_needs_the_right_to_record(engine: Engine, client: TestClient) -> None:
    body = {"name": "Usine", "epci_siren": EPCI, "parcel_ids": [PARCEL]}
    before = written(engine)
    assert client.post("/projects/preview", json=body).status_code == 401
    prefecture = bearer(engine, "prefecture", "departement:91")
    assert client.post("/projects/preview", json=body, headers=prefecture).status_code == 403
    other = bearer(engine, "epci_editor", "epci:200057859")
    assert client.post("/projects/preview", json=body, headers=other).status_code == 403
    editor = bearer(engine, "epci_editor", f"epci:{EPCI}")
    bad = client.post("/projects/preview", json=body | {"parcel_ids": []}, headers=editor)
    assert bad.status_code == 422
    elsewhere = body | {"parcel_ids": ["91027000AB0001"]}
    assert client.post("/projects/preview", json=elsewhere, headers=editor).status_code in (
        403,
        404,
        422,
    )
    assert written(engine) == before


def test_the_preview_route_allows_post_only(client: TestClient) -> None:
    # /projects/{project_id} is digits: /projects/preview is not one of its paths
    refused = client.request("OPTIONS", "/projects/preview")
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    assert client.get("/projects/preview").headers["allow"] == "POST"
    project = client.request("DELETE", "/projects/12")
    assert project.status_code == 405 and project.headers["allow"] == "GET, HEAD"
