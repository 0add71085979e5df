"""The administrative reference loader on the real Etalab and boundary files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo.ingest.admin import load_admin
from geo.ingest.errors import LoaderError
from tests.helpers import DATA, write


def scalar(engine: Engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_reference_counts(fresh_engine: Engine) -> None:
    # Loaded once into the template by conftest; check what it holds.
    assert scalar(fresh_engine, "SELECT count(*) FROM departement") == 109
    assert scalar(fresh_engine, "SELECT count(*) FROM epci") == 1255
    # 34,969 communes actuelles + 45 arrondissements municipaux (déléguées and
    # associées share their parent's code and are not separate communes).
    assert scalar(fresh_engine, "SELECT count(*) FROM commune") == 34969 + 45
    assert scalar(fresh_engine, "SELECT count(*) FROM region WHERE geom IS NOT NULL") == 13
    assert scalar(fresh_engine, "SELECT count(*) FROM departement WHERE geom IS NOT NULL") == 96


def test_commune_links(fresh_engine: Engine) -> None:
    with fresh_engine.connect() as conn:
        row = conn.execute(
            text(
                """SELECT c.name, c.departement_code, c.region_code, e.name, ST_SRID(c.geom),
                          ST_Area(c.geom) / 10000
                   FROM commune c JOIN epci e ON e.siren = c.epci_siren WHERE insee = '91216'"""
            )
        ).one()
    name, dep, reg, epci, srid, area_ha = row
    assert (name, dep, reg, epci, srid) == (
        "Épinay-sur-Orge",
        "91",
        "11",
        "CA Communauté Paris-Saclay",
        2154,
    )
    assert 400 < area_ha < 480  # INSEE: 4.4 km²


def test_arrondissements_belong_to_their_commune_and_epci(fresh_engine: Engine) -> None:
    with fresh_engine.connect() as conn:
        parent, epci = conn.execute(
            text("SELECT parent_insee, epci_siren FROM commune WHERE insee = '13201'")
        ).one()
        metropole = conn.execute(
            text("SELECT epci_siren FROM commune WHERE insee = '13055'")
        ).scalar_one()
    assert parent == "13055"
    assert epci == metropole is not None


def test_merged_commune_boundaries_attached_to_successor(fresh_engine: Engine) -> None:
    # The 2018 boundaries of 08042, 08079 and 08152 belong to commune nouvelle 08173 now.
    with fresh_engine.connect() as conn:
        parts = conn.execute(
            text("SELECT ST_NumGeometries(geom), ST_Area(geom) FROM commune WHERE insee = '08173'")
        ).one()
    assert parts[1] > 0
    report = load_admin(fresh_engine, DATA / "admin")
    assert any("08042→08173" in w and "08079→08173" in w for w in report.warnings)


def test_reload_is_idempotent(fresh_engine: Engine) -> None:
    before = scalar(fresh_engine, "SELECT count(*) FROM commune")
    load_admin(fresh_engine, DATA / "admin")
    assert scalar(fresh_engine, "SELECT count(*) FROM commune") == before
    assert scalar(fresh_engine, "SELECT count(*) FROM commune_former_code") == 4240


def test_bad_file_writes_nothing(fresh_engine: Engine, tmp_path: Path) -> None:
    for name in ("departements.json", "epci.json", "contours-regions.geojson"):
        shutil.copy(DATA / "admin" / name, tmp_path / name)
    write(tmp_path / "communes.json", '[{"code": "99999", "nom": "Nulle part"')
    with pytest.raises(LoaderError, match="communes.json: not valid JSON"):
        load_admin(fresh_engine, tmp_path)
    assert scalar(fresh_engine, "SELECT count(*) FROM import_run") == 1  # the template's own


def test_entry_without_departement_is_rejected(fresh_engine: Engine, tmp_path: Path) -> None:
    for name in ("departements.json", "epci.json"):
        shutil.copy(DATA / "admin" / name, tmp_path / name)
    write(tmp_path / "communes.json", '[{"code": "91216", "nom": "X", "type": "commune-actuelle"}]')
    with pytest.raises(LoaderError, match="'91216' lacks departement, region"):
        load_admin(fresh_engine, tmp_path)
    assert (
        scalar(fresh_engine, "SELECT name FROM commune WHERE insee = '91216'") == "Épinay-sur-Orge"
    )
