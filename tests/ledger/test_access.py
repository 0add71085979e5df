"""Tokens, roles per territory and the audit log (issue 7), through the CLI and HTTP."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app.api.main import create_app
from app.cli import main
from geo.ingest.cadastre import load_cadastre
from tests.helpers import CADASTRE_91216
from tests.helpers.ledger import authorisation

PARIS_SACLAY = "200056232"  # EPCI of 91216
ARDENNE_METROPOLE = "200041630"  # CA Ardenne Métropole (08)
PROBLEM = "application/problem+json"


@pytest.fixture
def env(fresh_engine: Engine, base_settings, monkeypatch) -> dict[str, str]:
    """The CLI and the app both on the fresh database."""
    url = fresh_engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("FONCIER_DATABASE_URL", url)
    from app.db import get_engine
    from app.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()
    yield {"FONCIER_DATABASE_URL": url}
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def token(role: str, territory: str | None = None, name: str = "test") -> str:
    args = ["token", "create", "--role", role, "--name", name]
    if territory:
        args += ["--territory", territory]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def client(env, fresh_engine: Engine, base_settings):
    load_cadastre(fresh_engine, CADASTRE_91216)
    settings = base_settings.model_copy(update={"database_url": env["FONCIER_DATABASE_URL"]})
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def create(client: TestClient, secret: str, epci: str = PARIS_SACLAY):
    body = {"name": "Usine", "epci_siren": epci, "parcel_ids": ["91216000AB0037"]}
    return client.post("/projects", json=body, headers=bearer(secret))


def set_status(client: TestClient, secret: str, project_id: int, status: str):
    return client.post(
        f"/projects/{project_id}/status",
        json={"status": status, "reason": "test"}
        | (authorisation() if status == "authorised" else {}),
        headers=bearer(secret),
    )


def test_tokens_are_stored_hashed_and_revocable(env, fresh_engine: Engine) -> None:
    secret = token("epci_editor", f"epci:{PARIS_SACLAY}", name="SIG Paris-Saclay")
    assert secret.startswith("fon_") and len(secret) > 40
    with fresh_engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_token")).mappings().all()
    assert len(rows) == 1
    assert secret not in str(dict(rows[0]))
    listed = CliRunner().invoke(main, ["token", "list"])
    assert "epci_editor" in listed.output and f"epci:{PARIS_SACLAY}" in listed.output
    assert secret not in listed.output
    revoked = CliRunner().invoke(main, ["token", "revoke", str(rows[0]["id"])])
    assert revoked.exit_code == 0
    again = CliRunner().invoke(main, ["token", "revoke", str(rows[0]["id"])])
    assert again.exit_code == 1 and "no active token" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "epci_editor"], "needs a territory"),
        (["--role", "epci_editor", "--territory", "departement:91"], "needs a territory: epci"),
        (["--role", "prefecture", "--territory", "departement:99"], "unknown departement 99"),
        (["--role", "admin", "--territory", "region:11"], "no territory"),
        (["--role", "prefecture", "--territory", "91"], "LEVEL:CODE"),
        (["--role", "mayor"], "Invalid value"),
    ],
)
def test_bad_token_requests_fail_readably(env, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["token", "create", "--name", "x", *args])
    assert result.exit_code != 0
    assert message in result.output


def test_roles_and_territories(client: TestClient) -> None:
    editor = token("epci_editor", f"epci:{PARIS_SACLAY}")
    other_editor = token("epci_editor", f"epci:{ARDENNE_METROPOLE}")
    prefecture_91 = token("prefecture", "departement:91")
    prefecture_08 = token("prefecture", "departement:08")
    region_idf = token("prefecture", "region:11")

    # 401: no token, malformed, unknown; 403: known but not allowed
    assert create(client, "").status_code == 401
    basic = client.post("/projects", json={}, headers={"Authorization": "Basic x"})
    assert basic.status_code == 401
    assert create(client, "fon_unknown").status_code == 401
    assert create(client, prefecture_91).status_code == 403
    wrong_epci = create(client, editor, epci=ARDENNE_METROPOLE)
    assert wrong_epci.status_code == 403 and wrong_epci.headers["content-type"] == PROBLEM
    assert create(client, other_editor).status_code == 403

    project = create(client, editor)
    assert project.status_code == 201
    pid = project.json()["id"]
    assert project.json()["created_by"] == "test"

    # a planned project is visible to its territory only; elsewhere it does not exist
    assert client.get(f"/projects/{pid}").status_code == 404
    assert client.get(f"/projects/{pid}", headers=bearer(other_editor)).status_code == 404
    assert client.get(f"/projects/{pid}", headers=bearer(prefecture_08)).status_code == 404
    for secret in (editor, prefecture_91, region_idf):
        assert client.get(f"/projects/{pid}", headers=bearer(secret)).status_code == 200
    assert client.get("/collections/projects/items").json()["numberMatched"] == 0
    assert set_status(client, prefecture_08, pid, "authorised").status_code == 404

    # authorising is the prefecture's act, in its own territory
    assert set_status(client, editor, pid, "authorised").status_code == 403
    assert set_status(client, region_idf, pid, "authorised").status_code == 200
    assert client.get(f"/projects/{pid}").json()["status"] == "authorised"  # now public
    assert client.get("/collections/projects/items").json()["numberMatched"] == 1
    # public now, but still outside the other territories' reach
    assert set_status(client, prefecture_08, pid, "under_construction").status_code == 403
    assert set_status(client, other_editor, pid, "under_construction").status_code == 403
    assert set_status(client, editor, pid, "under_construction").status_code == 200

    correction = {"delta_ha": -0.5, "reason": "surveyed area"}
    url = f"/projects/{pid}/corrections"
    assert client.post(url, json=correction, headers=bearer(editor)).status_code == 403
    assert client.post(url, json=correction, headers=bearer(prefecture_91)).status_code == 200

    # revoked: 401 from the next request on
    CliRunner().invoke(main, ["token", "revoke", "1"])
    assert create(client, editor).status_code == 401


def test_every_write_is_audited_with_before_and_after(client: TestClient, fresh_engine) -> None:
    admin = token("admin")
    editor = token("epci_editor", f"epci:{PARIS_SACLAY}", name="SIG Paris-Saclay")
    prefecture = token("prefecture", "departement:91", name="DDT 91")
    pid = create(client, editor).json()["id"]
    set_status(client, prefecture, pid, "authorised")
    client.post(
        f"/projects/{pid}/corrections",
        json={"delta_ha": 1.0, "reason": "survey"},
        headers=bearer(prefecture),
    )
    assert client.get("/audit", headers=bearer(editor)).status_code == 403
    assert client.get("/audit").status_code == 401
    log = client.get("/audit", headers=bearer(admin)).json()
    assert [e["action"] for e in log] == [
        "token.create",
        "token.create",
        "token.create",
        "project.create",
        "project.status",
        "project.correction",
    ]
    # each entry shows its link in the audit chain
    assert [e["seq"] for e in log] == [1, 2, 3, 4, 5, 6]
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(log, log[1:], strict=False))
    created, status, correction = log[3:]
    assert created["actor"] == "SIG Paris-Saclay" and created["role"] == "epci_editor"
    assert created["territory"] == f"epci:{PARIS_SACLAY}"
    assert created["before"] is None and created["after"]["id"] == pid
    assert status["actor"] == "DDT 91"
    assert status["before"]["status"] == "planned" and status["after"]["status"] == "authorised"
    assert status["before"]["reserved_ha"] == 0
    assert status["after"]["reserved_ha"] == pytest.approx(created["after"]["naf_ha"])
    assert correction["after"]["reserved_ha"] == pytest.approx(status["after"]["reserved_ha"] + 1.0)
    assert log[0]["actor"].startswith("cli:") and log[0]["object_type"] == "api_token"
    only = client.get(
        "/audit", params={"object_type": "project", "object_id": str(pid)}, headers=bearer(admin)
    ).json()
    assert len(only) == 3
    # the log cannot be rewritten
    with pytest.raises(DBAPIError, match="append-only"), fresh_engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    # a refused write leaves no trace but the refusal's absence
    before = len(client.get("/audit", headers=bearer(admin)).json())
    assert create(client, editor, epci=ARDENNE_METROPOLE).status_code == 403
    assert len(client.get("/audit", headers=bearer(admin)).json()) == before


def test_whose_saved_searches_a_principal_reads() -> None:
    from geo.access import PUBLIC, Principal, identified, owner_of, searches_of

    editor = Principal("ddt", "epci_editor", "epci", "200056232", token_id=7)
    admin = Principal("root", "admin")
    assert (owner_of(editor), searches_of(editor)) == ("token:7", "token:7")
    assert (owner_of(admin), searches_of(admin)) == ("root", None)
    assert not identified(PUBLIC) and identified(editor)
