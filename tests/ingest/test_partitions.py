"""Parcels are partitioned by département; new départements are bulk-loaded."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo.db.partitions import partition_name
from geo.ingest.cadastre import load_cadastre
from tests.helpers import CADASTRE_91216, write

REAL = json.loads(CADASTRE_91216.read_bytes())


def partitions(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        names = (
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'parcel'::regclass ORDER BY 1"
                )
            )
            .scalars()
            .all()
        )
        return {n: conn.execute(text(f"SELECT count(*) FROM {n}")).scalar_one() for n in names}


def as_commune(feature: dict, commune: str) -> dict:
    f = copy.deepcopy(feature)
    f["properties"]["commune"] = commune
    f["id"] = f["properties"]["id"] = commune + f["id"][5:]
    return f


def test_partition_names() -> None:
    assert partition_name("91") == "parcel_d91"
    assert partition_name("2A") == "parcel_d2a"
    assert partition_name("971") == "parcel_d971"
    with pytest.raises(ValueError):
        partition_name("91; DROP TABLE parcel")


def test_first_load_creates_an_indexed_partition(fresh_engine: Engine) -> None:
    load_cadastre(fresh_engine, CADASTRE_91216)
    assert partitions(fresh_engine) == {"parcel_d91": 4241}
    with fresh_engine.connect() as conn:
        indexes = (
            conn.execute(text("SELECT indexdef FROM pg_indexes WHERE tablename = 'parcel_d91'"))
            .scalars()
            .all()
        )
        plan = "\n".join(
            conn.execute(
                text("EXPLAIN SELECT * FROM parcel WHERE departement_code = '91' AND id = 'x'")
            ).scalars()
        )
    assert any("USING gist (geom)" in i for i in indexes)
    assert any("(commune_insee)" in i for i in indexes)
    assert any("UNIQUE" in i and "(id, departement_code)" in i for i in indexes)
    assert "parcel_d91" in plan and "Index" in plan


def test_a_file_spanning_two_departements(fresh_engine: Engine, tmp_path: Path) -> None:
    features = REAL["features"][:30] + [as_commune(f, "08105") for f in REAL["features"][30:50]]
    path = write(
        tmp_path / "two.json", json.dumps({"type": "FeatureCollection", "features": features})
    )
    assert load_cadastre(fresh_engine, path).inserted == 50
    assert partitions(fresh_engine) == {"parcel_d08": 20, "parcel_d91": 30}


def test_next_commune_of_a_loaded_departement(fresh_engine: Engine, tmp_path: Path) -> None:
    load_cadastre(fresh_engine, CADASTRE_91216)
    other = [as_commune(f, "91201") for f in REAL["features"][:25]]
    path = write(
        tmp_path / "91201.json", json.dumps({"type": "FeatureCollection", "features": other})
    )
    report = load_cadastre(fresh_engine, path)
    assert (report.inserted, report.updated) == (25, 0)
    assert partitions(fresh_engine) == {"parcel_d91": 4266}


def test_concurrent_imports_of_the_same_file_do_not_duplicate(fresh_engine: Engine) -> None:
    reports, errors = [], []

    def run() -> None:
        try:
            reports.append(load_cadastre(fresh_engine, CADASTRE_91216))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # One import created the partition; the other waited on the département's lock.
    assert sorted((r.inserted, r.unchanged) for r in reports) == [(0, 4241), (4241, 0)]
    assert partitions(fresh_engine) == {"parcel_d91": 4241}
