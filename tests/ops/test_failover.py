"""Failover without losing an acknowledged ledger write: audited transactions wait for the
synchronous standby (FONCIER_SYNC_LEDGER_COMMIT), the service finds the writable server
through a multi-host URL, and the drill (bench/failover.py) on throwaway clusters."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, event, text

from app.api.main import create_app
from app.db import make_engine
from app.security import audit
from app.settings import DatabaseSettings
from bench import failover
from geo.access import Principal
from tests.helpers.ledger import authorisation

TOKEN = "failover-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SQUARE = failover.square(0)


def test_several_servers_go_in_the_query_of_the_url() -> None:
    # libpq's own form, which SQLAlchemy cannot read: refused at once, with the one it reads
    with pytest.raises(ValidationError, match=r"\?host=host_a:5432&host=host_b:5432"):
        DatabaseSettings(database_url="postgresql://u@host_a:5432,host_b:5432/foncier")
    url = "postgresql://u@/foncier?host=a:5432&host=b:5433&target_session_attrs=read-write"
    settings = DatabaseSettings(database_url=url)
    assert settings.url_for("other").startswith("postgresql+psycopg://u@/other?host=a")


def _synchronous_commit(conn) -> str:
    return conn.execute(text("SHOW synchronous_commit")).scalar_one()


def test_only_audited_transactions_wait_for_the_standby(fresh_engine: Engine) -> None:
    url = fresh_engine.url.render_as_string(hide_password=False)
    engine = make_engine(url, audited_commit="remote_apply")
    principal = Principal(name="test", role="admin")
    try:
        with engine.connect() as conn:
            server = _synchronous_commit(conn)
            assert server != "remote_apply"
            conn.rollback()
            with conn.begin():
                audit.record(conn, principal, "test.write", "test", 1)
                assert _synchronous_commit(conn) == "remote_apply"
            # the connection's next transactions, reads among them, as the server has it
            assert _synchronous_commit(conn) == server
    finally:
        engine.dispose()
    unset = make_engine(url)
    try:
        with unset.connect() as conn, conn.begin():
            audit.record(conn, principal, "test.write", "test", 2)
            assert _synchronous_commit(conn) == server
    finally:
        unset.dispose()


def test_ledger_writes_through_the_api_set_it_reads_do_not(
    fresh_engine: Engine, base_settings
) -> None:
    settings = base_settings.model_copy(
        update={
            "database_url": fresh_engine.url.render_as_string(hide_password=False),
            "admin_token": TOKEN,
            "sync_ledger_commit": "remote_apply",
        }
    )
    app = create_app(settings)
    statements: list[str] = []

    @event.listens_for(app.state.engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    def waiting() -> int:
        seen = sum("synchronous_commit" in s for s in statements)
        statements.clear()
        return seen

    body = {"name": "p", "kind": "industrial", "epci_siren": "200056232", "geometry": SQUARE}
    with TestClient(app) as client:
        created = client.post("/projects", json=body, headers=AUTH)
        assert created.status_code == 201, created.text
        assert waiting() == 1
        pid = created.json()["id"]
        status = {"status": "authorised", "reason": "permis accordé"} | authorisation()
        assert client.post(f"/projects/{pid}/status", json=status, headers=AUTH).is_success
        assert waiting() == 1
        assert client.get(f"/projects/{pid}", headers=AUTH).status_code == 200
        assert client.get("/envelope").status_code == 200
        assert waiting() == 0
    app.state.engine.dispose()


@pytest.mark.cluster
def test_failover_under_writes_loses_no_acknowledged_write(base_settings) -> None:
    """The drill, short: two clients, a few seconds of writes either side of the loss."""
    if not base_settings.uses_embedded_db:
        pytest.skip("FONCIER_DATABASE_URL is set: the drill makes embedded clusters")
    outcome = failover.run(before=4, after=4, clients=2, pace=0.2, detect=0.5, echo=print)
    assert outcome.acknowledged > 10
    assert outcome.found == outcome.acknowledged
    assert outcome.unexpected == []
    assert outcome.audit_intact and outcome.audit_matches, outcome
    assert outcome.unavailable_s < 15
