"""The Cerema NAF consumption loader, on synthetic files in Cerema's exact format."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo.ingest.consumption import load_consumption
from geo.ingest.errors import LoaderError
from tests.helpers.synthetic import cerema_consumption_csv, random_flows


def rows(engine: Engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_load_flows_by_destination(fresh_engine: Engine, tmp_path: Path) -> None:
    flows = random_flows(["91216", "08105"])
    flows["91216"][2015] = {"act": 1200, "hab": 800, "rou": 50}
    path = cerema_consumption_csv(tmp_path / "conso_com.csv", flows)
    report = load_consumption(fresh_engine, path)
    assert report.read == report.inserted == 2 * 15  # commune-years 2009..2023
    assert report.tables["communes"] == 2
    assert "vintage 2024: flows 2009-2023, 2023 provisional" in report.warnings
    (row,) = rows(
        fresh_engine,
        "SELECT total_m2, activity_m2, housing_m2, road_m2, mixed_m2, commune_insee, "
        "departement_code FROM naf_consumption WHERE commune_insee = '91216' AND year = 2015",
    )
    assert row == (2050.0, 1200.0, 800.0, 50.0, 0.0, "91216", "91")
    # "8105" lost its leading zero in the file (idcom written as a number)
    assert rows(
        fresh_engine, "SELECT count(*) FROM naf_consumption WHERE commune_insee = '08105'"
    ) == [(15,)]
    (vintage,) = rows(
        fresh_engine,
        "SELECT vintage, first_year, last_year, provisional_year FROM naf_consumption_vintage",
    )
    assert vintage == (2024, 2009, 2023, 2023)


def test_destinations_that_do_not_sum_are_reported(fresh_engine: Engine, tmp_path: Path) -> None:
    flows = random_flows(["91216"])
    flows["91216"][2019] = {"act": 100, "hab": 100, "total": 500}
    report = load_consumption(fresh_engine, cerema_consumption_csv(tmp_path / "c.csv", flows))
    (warning,) = [w for w in report.warnings if "do not sum" in w]
    assert (
        "1 commune-years" in warning and "91216 2019: total 500 m², destinations 200 m²" in warning
    )
    # the reference total naf11art21 still matches (it was built from the totals)
    assert not any(w.startswith("naf11art21") for w in report.warnings)
    assert report.inserted == 15  # reported, not rejected


def test_vintages_side_by_side_and_reimport(fresh_engine: Engine, tmp_path: Path) -> None:
    older = cerema_consumption_csv(
        tmp_path / "v2023.csv", random_flows(["91216"], 1), last_year=2022
    )
    newer = cerema_consumption_csv(tmp_path / "v2024.csv", random_flows(["91216"], 2))
    load_consumption(fresh_engine, older)
    load_consumption(fresh_engine, newer)
    assert rows(
        fresh_engine, "SELECT vintage, count(*) FROM naf_consumption GROUP BY 1 ORDER BY 1"
    ) == [(2023, 14), (2024, 15)]
    again = load_consumption(fresh_engine, newer)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 15)


def test_merged_commune_code_is_mapped_and_reported(fresh_engine: Engine, tmp_path: Path) -> None:
    report = load_consumption(
        fresh_engine, cerema_consumption_csv(tmp_path / "c.csv", random_flows(["91182"]))
    )
    assert any("91182→91228" in w for w in report.warnings)
    assert rows(
        fresh_engine, "SELECT DISTINCT commune_insee_source, commune_insee FROM naf_consumption"
    ) == [("91182", "91228")]


def test_not_a_consumption_file(fresh_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("idcom;foo\n91216;1\n")
    with pytest.raises(LoaderError, match="no annual flow column"):
        load_consumption(fresh_engine, path)


def test_non_numeric_flow_writes_nothing(fresh_engine: Engine, tmp_path: Path) -> None:
    path = cerema_consumption_csv(tmp_path / "c.csv", random_flows(["91216", "08105"]))
    text_ = path.read_text().replace(";1990;", ";12a;", 1)
    path.write_text(
        text_ if text_ != path.read_text() else text_.replace("\n91216;", "\n91216;", 1)
    )
    lines = path.read_text().splitlines()
    cells = lines[2].split(";")
    cells[7] = "beaucoup"
    lines[2] = ";".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LoaderError, match="not a number"):
        load_consumption(fresh_engine, path)
    assert rows(fresh_engine, "SELECT count(*) FROM naf_consumption") == [(0,)]
