"""The audit log's hash chain: written by the database under concurrent writers, recomputed
by ``foncier audit verify``, which names the first row edited, removed or reordered in SQL,
and a published head that shows a rewrite of the whole history."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, text

from app.cli import main
from app.db import alembic_config
from app.security import audit
from app.security.audit_chain import canonical
from geo.access import Principal

ADMIN = Principal(name="cli:test", role="admin")
PREFECTURE = Principal(
    name='Préfète "91"\n(Essonne)', role="prefecture", territory_level="departement",
    territory_code="91",
)  # fmt: skip


@pytest.fixture
def env(fresh_engine: Engine, monkeypatch) -> Iterator[Engine]:
    """The CLI on the fresh database."""
    from app.db import get_engine
    from app.settings import get_settings

    monkeypatch.setenv("FONCIER_DATABASE_URL", fresh_engine.url.render_as_string(False))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield fresh_engine
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def write_rows(engine: Engine, n: int, start: int = 1) -> None:
    for i in range(start, start + n):
        with engine.begin() as conn:
            audit.record(
                conn, PREFECTURE if i % 2 else ADMIN, "project.status", "project", i,
                before={"status": "planned", "reserved_ha": Decimal("2.50"), "naf_ha": 1e-7},
                after={"status": "authorised", "reserved_ha": 3, "note": "zéro\tartif. « ZAN »"},
            )  # fmt: skip


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output.strip()


def tamper(engine: Engine, *statements: str) -> None:
    """What someone with the table owner's rights can do: lift the append-only rule, edit."""
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        for statement in statements:
            conn.execute(text(statement))
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def test_the_database_and_verify_agree_on_the_canonical_form(env: Engine) -> None:
    write_rows(env, 4)
    with env.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT a.*, a.before::text AS before, a.after::text AS after,
                          foncier_audit_canonical(a) AS sql_canonical
                   FROM audit_log a ORDER BY seq"""
            )
        ).mappings()
        for row in rows:
            assert canonical(row) == row["sql_canonical"]
    assert [r["seq"] for r in read_chain(env)] == [1, 2, 3, 4]
    code, out = run_cli("audit", "head")
    head = json.loads(out)
    assert code == 0 and head["seq"] == 4 and head["id"] == 4 and head["at"].endswith("Z")
    assert run_cli("audit", "verify") == (0, f"audit chain intact: 4 rows, head {head['hash']}")


def read_chain(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text("SELECT id, seq, prev_hash, hash FROM audit_log ORDER BY seq")
            ).mappings()
        ]


def test_an_edited_row_is_named(env: Engine) -> None:
    write_rows(env, 5)
    tamper(env, "UPDATE audit_log SET actor = 'someone else' WHERE id = 3")
    code, out = run_cli("audit", "verify")
    assert code == 1
    assert out == (
        "error: audit chain broken: row id 3 (seq 3) was changed:"
        " its content no longer matches its hash"
    )


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(env: Engine) -> None:
    write_rows(env, 5)
    tamper(
        env,
        """UPDATE audit_log SET after = '{"status": "abandoned"}' WHERE id = 3""",
        "UPDATE audit_log a SET hash = foncier_audit_hash(a.prev_hash, a) WHERE id = 3",
    )
    code, out = run_cli("audit", "verify")
    assert code == 1 and out.startswith("error: audit chain broken: row id 4 (seq 4): the row")
    assert "row id 3 precedes it now" in out


def test_a_deleted_row_is_named(env: Engine) -> None:
    write_rows(env, 5)
    tamper(env, "DELETE FROM audit_log WHERE id = 3")
    assert run_cli("audit", "verify") == (
        1,
        "error: audit chain broken: row id 4 (seq 4): the row(s) before it were removed"
        " (seq 3 missing)",
    )
    # renumbered to hide the gap, the link to the removed row still shows it
    tamper(env, "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")
    code, out = run_cli("audit", "verify")
    assert code == 1 and out.startswith("error: audit chain broken: row id 4 (seq 3): the row")


def test_swapped_rows_are_named(env: Engine) -> None:
    write_rows(env, 5)
    tamper(
        env,
        "UPDATE audit_log SET seq = -2 WHERE id = 2",
        "UPDATE audit_log SET seq = 2 WHERE id = 3",
        "UPDATE audit_log SET seq = 3 WHERE id = 2",
    )
    assert run_cli("audit", "verify") == (
        1,
        "error: audit chain broken: row id 3 (seq 2) is out of order:"
        " it was written after row id 2, now at seq 3",
    )


def test_a_forged_row_is_named(env: Engine) -> None:
    write_rows(env, 3)
    forge = """INSERT INTO audit_log (actor, role, action, object_type, seq, prev_hash, hash)
               VALUES ('forger', 'admin', 'token.create', 'api_token', {seq}, {prev}, '{h}')"""
    with env.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain"))
        conn.execute(text(forge.format(seq=0, prev="repeat('0', 64)", h="f" * 64)))
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain"))
    assert run_cli("audit", "verify") == (
        1,
        "error: audit chain broken: row id 4 (seq 0) is out of place: seq 1 expected",
    )
    tamper(env, "DELETE FROM audit_log WHERE id = 4")
    # appended with the right place and link, but a hash made up
    with env.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain"))
        prev = "(SELECT hash FROM audit_log WHERE seq = 3)"
        conn.execute(text(forge.format(seq=4, prev=prev, h="e" * 64)))
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain"))
    code, out = run_cli("audit", "verify")
    assert code == 1 and out.endswith(
        "row id 5 (seq 4) was changed: its content no longer matches its hash"
    )


def test_a_published_head_shows_a_rewritten_or_truncated_history(env: Engine, tmp_path) -> None:
    write_rows(env, 4)
    published = tmp_path / "head.json"
    published.write_text(run_cli("audit", "head")[1])
    write_rows(env, 2, start=5)  # the log goes on after publication
    code, out = run_cli("audit", "verify", "--head", str(published))
    assert code == 0 and out.startswith("audit chain intact: 6 rows")
    # the whole history rewritten with its hashes recomputed: consistent, but not the one
    # published
    tamper(
        env,
        "UPDATE audit_log SET actor = 'someone else' WHERE id = 2",
        """DO $$ DECLARE r audit_log; prev text := repeat('0', 64); BEGIN
             FOR r IN SELECT * FROM audit_log ORDER BY seq LOOP
               UPDATE audit_log SET prev_hash = prev, hash = foncier_audit_hash(prev, r)
               WHERE id = r.id RETURNING hash INTO prev;
             END LOOP; END $$""",
    )
    assert run_cli("audit", "verify")[0] == 0
    code, out = run_cli("audit", "verify", "--head", published.read_text())
    assert code == 1 and "is not in the chain: history up to it was rewritten" in out
    # a head's hash alone is enough; truncation of the rows since is seen too
    head = json.loads(published.read_text())
    with env.connect() as conn:
        current = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 4")).scalar_one()
    tamper(env, "DELETE FROM audit_log WHERE seq >= 4")
    assert run_cli("audit", "verify", "--head", current)[0] == 1
    assert run_cli("audit", "verify", "--head", "not a head")[0] == 1
    assert head["seq"] == 4


def test_concurrent_writers_keep_one_chain(fresh_engine: Engine) -> None:
    """Twelve writers at once, each in its own transaction: one chain, no gap, no fork."""
    writers, each = 12, 5
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(w: int) -> None:
        barrier.wait()
        try:
            for i in range(each):
                with fresh_engine.begin() as conn:
                    audit.record(conn, ADMIN, "search.save", "saved_search", w * 100 + i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    chain = read_chain(fresh_engine)
    assert [r["seq"] for r in chain] == list(range(1, writers * each + 1))
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(chain, chain[1:], strict=False))
    with fresh_engine.connect() as conn:
        assert verified(conn).startswith(f"audit chain intact: {writers * each} rows")


def verified(conn: Connection) -> str:
    from app.security.audit_chain import verify

    return verify(conn).message


def test_the_migration_chains_the_existing_rows(fresh_engine: Engine) -> None:
    config = alembic_config(fresh_engine.url.render_as_string(hide_password=False))
    command.downgrade(config, "0017")
    with fresh_engine.begin() as conn:
        for i in range(3):
            conn.execute(
                text(
                    """INSERT INTO audit_log (actor, role, action, object_type, object_id, after)
                       VALUES ('cli:old', 'admin', 'token.create', 'api_token', :i,
                               '{"name": "before the chain"}')"""
                ),
                {"i": str(i)},
            )
    command.upgrade(config, "head")
    assert [r["seq"] for r in read_chain(fresh_engine)] == [1, 2, 3]
    write_rows(fresh_engine, 1)
    with fresh_engine.connect() as conn:
        assert verified(conn).startswith("audit chain intact: 4 rows")


def test_concurrent_ledger_writes_are_chained(fresh_engine: Engine) -> None:
    """Eight projects authorised at once through the ledger's use cases (envelope lock, entry,
    audit row): all acknowledged, each one entry and one link of the chain."""
    from app.services import ledger
    from geo.ingest.cadastre import load_cadastre
    from geo.ledger.write import ProjectDraft
    from tests.helpers import CADASTRE_91216, PARIS_SACLAY
    from tests.helpers.ledger import square

    load_cadastre(fresh_engine, CADASTRE_91216)
    ids = []
    for i in range(8):
        draft = ProjectDraft(
            name=f"Usine {i} (synthetic)", kind="industrial", epci_siren=PARIS_SACLAY,
            geometry=square(2.290 + 0.004 * (i % 4), 48.700 - 0.004 * (i // 4), 100),
        )  # fmt: skip
        with fresh_engine.connect() as conn:
            ids.append(ledger.record_project(conn, ADMIN, draft, None)["id"])
    barrier = threading.Barrier(len(ids))
    outcomes: list[object] = []

    def authorise(pid: int) -> None:
        barrier.wait()
        try:
            with fresh_engine.connect() as conn:
                ledger.change_status(
                    conn, ADMIN, pid, "authorised", reason="race", occurred_on=None,
                    overdraft=False,
                )  # fmt: skip
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes.append(exc)

    threads = [threading.Thread(target=authorise, args=(pid,)) for pid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["ok"] * 8
    with fresh_engine.connect() as conn:
        entries = conn.execute(text("SELECT count(*) FROM envelope_entry")).scalar_one()
        assert entries == 16  # a creation and an authorisation each
        assert verified(conn).startswith("audit chain intact: 16 rows")
