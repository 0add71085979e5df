"""Writing the ledger: each write locks its envelope once and reads its project once, both
ways of recording a project go through the same insert, and a listed project is recorded
by its own rule rather than by passing for one given by parcels."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event, text

from app.services import ledger
from geo.access import Principal
from geo.errors import Invalid
from geo.ingest.cadastre import load_cadastre
from geo.ledger.reports import get_project
from geo.ledger.write import Placement, ProjectDraft, create_project, record_listed_project
from geo.zan.rulesets import get_ruleset
from tests.helpers import CADASTRE_91216

PARIS_SACLAY = "200056232"
ADMIN = Principal(name="prefecture-test", role="admin")


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the engine runs inside the block."""
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def locks(seen: list[str]) -> list[str]:
    return [s for s in seen if re.search(r"\bFOR UPDATE\b", s)]


def project_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if re.search(r"\bFROM project\b", s) and s.startswith("SELECT")]


@pytest.fixture
def engine(fresh_engine: Engine) -> Engine:
    load_cadastre(fresh_engine, CADASTRE_91216)
    return fresh_engine


def draft(**kwargs) -> ProjectDraft:
    return ProjectDraft(
        **{"name": "Usine (synthetic)", "kind": "industrial", "epci_siren": PARIS_SACLAY,
           "parcel_ids": ["91216000AB0037"]} | kwargs
    )  # fmt: skip


def test_a_write_locks_its_envelope_once_and_reads_its_project_once(engine: Engine) -> None:
    with engine.connect() as conn:
        created = ledger.record_project(conn, ADMIN, draft(), None)
    pid = created["id"]
    with engine.connect() as conn, statements(engine) as seen:
        authorised = ledger.change_status(
            conn, ADMIN, pid, "authorised", reason="PC accordé", occurred_on=None, overdraft=False
        )
    assert len(locks(seen)) == 1 and len(project_reads(seen)) == 1, seen
    with engine.connect() as conn, statements(engine) as seen:
        corrected = ledger.correct(
            conn, ADMIN, pid, -0.5, corrects_entry_id=authorised["entries"][-1]["id"],
            reason="permis modificatif", occurred_on=None, overdraft=False,
        )  # fmt: skip
    assert len(locks(seen)) == 1 and len(project_reads(seen)) == 1, seen
    # the answer, built from the project as read and the entry as written, is what a read
    # of the project says afterwards
    with engine.connect() as conn:
        assert corrected == get_project(conn, pid)
    assert corrected["reserved_ha"] == pytest.approx(created["naf_ha"] - 0.5)
    assert [e["kind"] for e in corrected["entries"]] == ["status", "status", "correction"]


def test_recording_reads_nothing_back(engine: Engine) -> None:
    with engine.connect() as conn, statements(engine) as seen:
        created = ledger.record_project(conn, ADMIN, draft(), None)
    inserts = [s for s in seen if s.startswith("INSERT INTO project ")]
    assert len(inserts) == 1 and not project_reads(seen), seen
    with engine.connect() as conn:
        assert created == get_project(conn, created["id"])


def test_a_listed_project_is_recorded_by_its_own_rule(engine: Engine) -> None:
    """A project a text lists has neither geometry nor parcels: the same insert records it,
    empty outline, its listed hectares earmarked under the envelope's lock."""
    pene = get_ruleset("pene-2021-2031", kind="envelope")
    with engine.begin() as conn, statements(engine) as seen:
        listed = record_listed_project(
            conn, name="Gigafactory (synthetic)", ruleset=pene,
            location=Placement("91216", PARIS_SACLAY, "91", "11", ["91216"]),
            hectares=12.34567, computation={"rule": "listed"}, author="import",
            occurred_on=datetime.date(2024, 5, 31), reason="arrêté du 31 mai 2024",
        )  # fmt: skip
    assert len([s for s in seen if s.startswith("INSERT INTO project ")]) == 1
    assert len(locks(seen)) == 1
    assert (listed["status"], listed["parcel_ids"]) == ("listed", None)
    assert listed["reserved_ha"] == listed["naf_ha"] == listed["area_ha"] == 12.3457
    with engine.connect() as conn:
        assert listed == get_project(conn, listed["id"])
        assert conn.execute(
            text("SELECT ST_IsEmpty(geom) FROM project WHERE id = :p"), {"p": listed["id"]}
        ).scalar_one()
    with pytest.raises(Invalid, match="either a geometry or parcel ids"), engine.begin() as conn:
        create_project(conn, draft(parcel_ids=None), ruleset=pene, author="x")
