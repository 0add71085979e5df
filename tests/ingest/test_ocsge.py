"""IGN OCS GE: the loader (the artificialisation product's GeoPackage, or a plain
OCCUPATION_SOL layer) and net artificialisation between two millésimes.

No real delivery is available offline: the files are SYNTHETIC, built in IGN's schema as
MTES-MCT/sparte reads it (data/ocsge/README.md, tests/helpers/synthetic.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.api.main import create_app
from geo.errors import Invalid
from geo.ingest.errors import LoaderError
from geo.ingest.ocsge import load_ocsge
from geo.zan.artificialisation import classify, net_artificialisation
from tests.helpers.cli import foncier
from tests.helpers.ocsge import DELIVERY, EPINAY, epinay_outline
from tests.helpers.synthetic import ocsge_artif_gpkg


def load_both(engine: Engine) -> None:
    for path in DELIVERY.values():
        load_ocsge(engine, path)


def measure(engine: Engine, level: str = "commune", code: str = EPINAY, **kw: Any) -> dict:
    with engine.connect() as conn:
        return net_artificialisation(conn, level, code, **kw)


def test_ign_delivery_gives_the_net_artificialisation(fresh_engine: Engine) -> None:
    """A field built on (+1 ha) and a car park turned into a wood (0.25 ha): net 0.75 ha,
    the artificial stock going from 0.75 to 1.5 ha; a 400 m² building IGN classes below
    the nomenclature's threshold (crit_seuil) is not counted."""
    report = load_ocsge(fresh_engine, DELIVERY[2021])
    assert (report.read, report.inserted, report.tables["artificialised polygons"]) == (5, 5, 2)
    assert report.vintage == "OCS GE 2021 (ign-artif)" and report.departements == {"91"}
    load_ocsge(fresh_engine, DELIVERY[2024])
    answer = measure(fresh_engine)
    (period,) = answer["periods"]
    assert period == {
        "from": 2021,
        "to": 2024,
        "artificialised_ha": 1.0,
        "renaturalised_ha": 0.25,
        "net_artificialisation_ha": 0.75,
        "artificial_ha": {"2021": 0.75, "2024": 1.5},
        "communes": 1,
        "classification": ["ign-artif"],
    }
    assert answer["target"] is None and "aucun objectif 2031-2041" in answer["target_note"]
    assert answer["ruleset"]["id"] == "zan-2031-2041" and answer["ruleset"]["in_force"] is False
    # an EPCI sums its measured communes and lists the others with their reason
    epci = measure(fresh_engine, "epci", "200056232")
    assert epci["periods"][0]["net_artificialisation_ha"] == 0.75
    assert epci["periods"][0]["communes"] == 1
    reasons = {c["reason"] for c in epci["communes_not_measured"]}
    assert reasons == {"OCS GE 2021 and 2024 cover less than 95% of its outline"}


def test_without_the_artif_field_the_matrix_classifies(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    """A plain OCS GE layer (no artif): Foncier's couverture × usage matrix, which cannot
    apply the threshold, so the 400 m² building counts: 0.79 ha instead of 0.75."""
    outline = epinay_outline(fresh_engine)
    for m in (2021, 2024):
        path = tmp_path / f"OCS-GE_OCCUPATION_SOL_SYNTHETIQUE_D091_{m}-01-01.gpkg"
        report = load_ocsge(fresh_engine, ocsge_artif_gpkg(path, m, outline, with_artif=False))
        assert report.vintage == f"OCS GE {m} (cs-us-matrix)"
        assert "couverture × usage matrix" in report.warnings[0]
    (period,) = measure(fresh_engine)["periods"]
    assert period["net_artificialisation_ha"] == 0.79
    assert period["classification"] == ["cs-us-matrix"]


def test_a_delivery_replaces_the_same_millesime(fresh_engine: Engine) -> None:
    load_ocsge(fresh_engine, DELIVERY[2021])
    load_ocsge(fresh_engine, DELIVERY[2021])
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ocsge_polygon")).scalar_one() == 5
        assert conn.execute(text("SELECT count(*) FROM ocsge_delivery")).scalar_one() == 1
    answer = measure(fresh_engine)
    assert answer["periods"] == []
    assert answer["communes_not_measured"] == [
        {"insee": EPINAY, "reason": "fewer than two OCS GE millésimes imported"}
    ]


def test_millesimes_asked_for(fresh_engine: Engine) -> None:
    load_both(fresh_engine)
    assert measure(fresh_engine, first=2021, last=2024)["periods"][0]["net_artificialisation_ha"]
    assert measure(fresh_engine, first=2018, last=2024)["periods"] == []
    with pytest.raises(Invalid):
        measure(fresh_engine, first=2024, last=2021)


def test_bad_files_are_refused_whole(fresh_engine: Engine, tmp_path: Path) -> None:
    seven = tmp_path / "OCS-GE_2-0_ARTIFICIALISATION_GPKG_LAMB93_D091_2021-01-01.7z"
    seven.write_bytes(b"7z\xbc\xaf\x27\x1c")
    with pytest.raises(LoaderError, match="extract its GeoPackage"):
        load_ocsge(fresh_engine, seven)
    import geopandas as gpd

    frame = gpd.read_file(DELIVERY[2021])
    frame.loc[0, "artif"] = "peut-être"
    bad = tmp_path / "bad-SYNTHETIQUE.gpkg"
    frame.to_file(bad, layer="artif_2021_91", driver="GPKG")
    with pytest.raises(LoaderError, match="artif neither 'artif' nor 'non artif': 1"):
        load_ocsge(fresh_engine, bad)
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ocsge_polygon")).scalar_one() == 0


@pytest.mark.parametrize(
    ("code_cs", "code_us", "artificial"),
    [
        ("CS1.1.1.1", "US5", True),  # built
        ("CS1.1.1.2", "US4.1.1", True),  # road
        ("CS1.1.2.1", "US1.3", False),  # extraction in operation: natural bare surface
        ("CS1.1.2.1", "US2", True),  # stabilised, industrial yard
        ("CS2.2.1", "US5", True),  # lawn of a house
        ("CS2.2.1", "US6.1", True),  # building site
        ("CS2.2.1", "US1.1", False),  # field
        ("CS2.1.1.1", "US5", False),  # wood in town
        ("CS1.2.2", "US6.3", False),  # water
    ],
)
def test_couverture_usage_matrix(code_cs: str, code_us: str, artificial: bool) -> None:
    assert classify(code_cs, code_us) is artificial


@pytest.mark.slow
def test_cli_and_route(fresh_engine: Engine, base_settings: Any) -> None:
    for path in DELIVERY.values():
        run = foncier(fresh_engine, "import", "ocsge", str(path))
        assert run.returncode == 0, run.stderr
        assert "ocsge: read 5" in run.stdout
    settings = base_settings.model_copy(
        update={"database_url": fresh_engine.url.render_as_string(hide_password=False)}
    )
    app = create_app(settings)
    with TestClient(app) as client:
        answer = client.get(f"/trajectories/commune/{EPINAY}/net-artificialisation")
        asked = client.get(
            f"/trajectories/commune/{EPINAY}/net-artificialisation",
            params={"from": 2021, "to": 2024},
        )
        unknown = client.get("/trajectories/commune/91999/net-artificialisation")
    app.state.engine.dispose()
    assert answer.status_code == 200, answer.text
    assert answer.json()["periods"][0]["net_artificialisation_ha"] == 0.75
    assert asked.json()["periods"] == answer.json()["periods"]
    assert unknown.status_code == 404
