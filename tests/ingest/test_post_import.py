"""What runs after an import (geo.ingest.post_import), shared by foncier import, score
refresh and sync."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from geo.ingest.cadastre import load_cadastre
from geo.ingest.post_import import PostImport, after_import
from tests.helpers import CADASTRE_91216


def test_rescoring_needs_the_touched_communes(fresh_engine: Engine) -> None:
    with pytest.raises(ValueError, match="communes"):
        after_import(fresh_engine, "test", rescore=True)


def test_the_touched_communes_with_parcels_are_rescored(fresh_engine: Engine) -> None:
    load_cadastre(fresh_engine, CADASTRE_91216)
    said: list[str] = []
    done = after_import(
        fresh_engine, "test", communes=["91216", "91027"], rescore=True, echo=said.append
    )
    # 91027 has no parcel loaded: nothing to rescore there; no saved search: none re-run
    assert done.rescored == ["91216"]
    assert said and all(line.startswith("91216: ") for line in said)
    assert (done.alerts, done.problems, done.lines()) == ([], [], [])
    with fresh_engine.connect() as conn:
        scored = conn.execute(
            text("SELECT count(DISTINCT commune_insee) FROM parcel_score")
        ).scalar_one()
    assert scored == 1


def test_lines_say_alerts_and_searches_not_run() -> None:
    alert = {
        "change": "appeared",
        "item_id": "91216000AB0001",
        "commune_insee": "91216",
        "saved_search_id": 3,
        "saved_search_name": "Essonne",
    }
    done = PostImport(alerts=[alert], problems=["search 4: timed out"])
    assert done.lines() == [
        "alert: appeared 91216000AB0001 in 91216 (saved search 3 'Essonne')",
        "saved search not run: search 4: timed out",
    ]
