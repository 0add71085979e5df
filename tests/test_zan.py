"""ZAN trajectories on hand-computed cases (synthetic Cerema flows, real communes)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from geo.envelope import change_status, create_project
from geo.loaders.cadastre import load_cadastre
from geo.loaders.consumption import load_consumption
from geo.rulesets import get_ruleset
from geo.zan import TerritoryNotFound, trajectory
from tests.conftest import CADASTRE_91216
from tests.synthetic import cerema_consumption_csv

EPINAY, SACLAY, MASSY = "91216", "91534", "91377"  # members of CA Paris-Saclay (27 communes)
ROCHY_CONDE = "60542"  # Oise, Hauts-de-France: SRADDET target −54.47 %
PARIS_SACLAY = "200056232"


def flows(reference_per_year: float, period: dict[int, float]) -> dict[int, dict[str, float]]:
    """m² per year: the reference years evenly, then the given period years."""
    years = {y: {"act": reference_per_year} for y in range(2011, 2021)}
    years.update({y: {"hab": v} for y, v in period.items()})
    return years


@pytest.fixture
def consumption(fresh_engine: Engine, tmp_path: Path) -> Engine:
    data = {
        # 20 ha of reference -> 10 ha allowed; 1.5 ha/yr since 2021 -> 15 ha projected
        EPINAY: flows(20_000, {2021: 15_000, 2022: 15_000, 2023: 15_000}),
        # 0.6 ha of reference -> 0.3 ha, raised to the 1 ha floor; 0.1 ha/yr -> 1.0 ha
        SACLAY: flows(600, {2021: 1_000, 2022: 1_000, 2023: 1_000}),
        # 4 ha of reference -> 2 ha allowed; 2.5 ha already consumed
        MASSY: flows(4_000, {2021: 25_000}),
        ROCHY_CONDE: flows(10_000, {2022: 5_000}),
    }
    load_consumption(fresh_engine, cerema_consumption_csv(tmp_path / "c.csv", data))
    load_cadastre(fresh_engine, CADASTRE_91216)
    return fresh_engine


def zan(engine: Engine, level: str, code: str, rules: str | None = None) -> dict:
    with engine.connect() as conn:
        return trajectory(conn, level, code, get_ruleset(rules, kind="zan"))


def test_commune_on_its_way_to_exceed(consumption: Engine) -> None:
    t = zan(consumption, "commune", EPINAY)
    assert t["ruleset"]["id"] == t["default_ruleset"] == "zan-2021-2031"
    assert t["data"] == {"vintage": 2024, "years": [2009, 2023], "provisional_year": 2023}
    assert (t["years_elapsed"], t["years_left"]) == (3, 7)  # from the vintage, not a constant
    assert t["reference_ha"] == 20.0 and t["allowed_ha"] == 10.0
    assert t["consumed_ha"] == 4.5 and t["pace_ha_per_year"] == 1.5
    assert t["projection_ha"] == 4.5 + 1.5 * 7
    assert (t["share_used"], t["status"]) == (0.45, "will_exceed")


def test_garantie_communale_floor_and_exactly_on_track(consumption: Engine) -> None:
    t = zan(consumption, "commune", SACLAY)
    assert t["allowed_ha"] == 1.0 and t["floor_applied"] == 1
    assert t["projection_ha"] == pytest.approx(1.0)
    assert t["status"] == "on_track"  # projected exactly at the allowance


def test_exceeded(consumption: Engine) -> None:
    t = zan(consumption, "commune", MASSY)
    assert (t["allowed_ha"], t["consumed_ha"], t["status"]) == (2.0, 2.5, "exceeded")


def test_floor_is_applied_per_commune_before_aggregation(consumption: Engine) -> None:
    t = zan(consumption, "epci", PARIS_SACLAY)
    # 10 + 1 (Saclay's floor) + 2 + 24 communes without flows at the 1 ha floor
    assert t["communes"] == 27 and t["communes_without_data"] == 24
    assert t["allowed_ha"] == 10 + 1 + 2 + 24
    assert t["reference_ha"] == pytest.approx(20 + 0.6 + 4)
    # aggregating first would have given max((20 + 0.6 + 4) / 2, 1) = 12.3 ha
    assert t["consumed_ha"] == pytest.approx(4.5 + 0.3 + 2.5)
    children = t["children"]
    assert [c["code"] for c in children["exceeded"]] == [MASSY]
    assert [c["code"] for c in children["will_exceed"]] == [EPINAY]
    assert len(children["on_track"]) == 25


def test_regional_target_is_inherited(consumption: Engine) -> None:
    t = zan(consumption, "commune", ROCHY_CONDE)
    assert t["allowed_ha"] == pytest.approx(10 * (1 - 0.5447))
    dep = zan(consumption, "departement", "60")
    # every commune of the Oise inherits the région's target (or the 1 ha floor)
    assert dep["communes"] > 600
    assert dep["allowed_ha"] == pytest.approx(10 * (1 - 0.5447) + (dep["communes"] - 1) * 1.0)


def test_what_if_rule_sets(consumption: Engine) -> None:
    tolerance = zan(consumption, "commune", EPINAY, "zan-whatif-tolerance-30")
    assert tolerance["allowed_ha"] == pytest.approx(13.0)
    assert tolerance["ruleset"]["legal_status"] == "proposal"
    later = zan(consumption, "commune", EPINAY, "zan-whatif-2034")
    assert (later["period"], later["years_left"]) == ([2021, 2033], 10)
    assert later["projection_ha"] == pytest.approx(4.5 + 1.5 * 10)


def authorised_project(engine: Engine, envelope: str) -> dict:
    """A synthetic industrial project on parcel AB 37 of Épinay, authorised in March 2025."""
    rules = get_ruleset(envelope, kind="envelope")
    with engine.begin() as conn:
        project = create_project(
            conn,
            name="Usine (synthetic)",
            kind="industrial",
            epci_siren=PARIS_SACLAY,
            ruleset=rules,
            author="test",
            parcel_ids=["91216000AB0037"],
            # planned before it is authorised: an entry never precedes the previous one
            occurred_on=datetime.date(2025, 1, 6),
        )
        return change_status(
            conn,
            project["id"],
            "authorised",
            ruleset=rules,
            author="test",
            reason="permis de construire",
            occurred_on=datetime.date(2025, 3, 1),
        )


def test_declared_projects_count_until_they_reach_the_data(consumption: Engine) -> None:
    naf = authorised_project(consumption, "industrial-envelope-2025")["naf_ha"]
    assert naf == pytest.approx(25.5, rel=0.02)  # parcel AB 37: 254,881 m² of contenance
    t = zan(consumption, "commune", EPINAY)
    assert t["declared_projects_ha"] == pytest.approx(naf, abs=1e-3)
    assert t["consumed_ha"] == pytest.approx(4.5 + naf, abs=1e-3)
    assert t["status"] == "exceeded"
    weighted = zan(consumption, "commune", EPINAY, "zan-whatif-weights")
    assert weighted["declared_projects_ha"] == pytest.approx(naf * 0.5, abs=1e-3)


def test_pene_projects_do_not_count_locally(consumption: Engine) -> None:
    authorised_project(consumption, "pene-2021-2031")
    assert zan(consumption, "commune", EPINAY)["declared_projects_ha"] == 0


def test_unknown_territory(consumption: Engine) -> None:
    with pytest.raises(TerritoryNotFound):
        zan(consumption, "epci", "999999999")
