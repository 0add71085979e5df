"""The project ledger on hand-computed cases, the append-only rule and the race for the
last hectares."""

from __future__ import annotations

import datetime
import json
import threading
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from geo.errors import Conflict, Invalid
from geo.ingest.cadastre import load_cadastre
from geo.ingest.errors import LoaderError
from geo.ingest.friches import load_friches
from geo.ingest.zan_rules import load_pene
from geo.ledger.reports import balance, envelope_report, get_project
from geo.ledger.write import (
    EnvelopeExhausted,
    ProjectDraft,
    change_status,
    correct,
    create_project,
)
from geo.zan.rulesets import EnvelopeRules, RuleSet, get_ruleset
from tests.helpers import CADASTRE_91216, DATA, PARIS_SACLAY
from tests.helpers.ledger import square

PAYS_RETHELOIS = "200043156"
INDUSTRIAL = get_ruleset("industrial-envelope-2025", kind="envelope")


def small_envelope(total_ha: float, allow_overdraft: bool = False) -> RuleSet:
    """A synthetic envelope (same rules as the national one, a few hectares)."""
    return INDUSTRIAL.model_copy(
        update={
            "id": f"test-envelope-{int(total_ha)}-{int(allow_overdraft)}",
            "envelope": EnvelopeRules(
                total_ha=total_ha, first_year=2025, last_year=2034, allow_overdraft=allow_overdraft
            ),
        }
    )


@pytest.fixture
def ledger(fresh_engine: Engine) -> Engine:
    load_cadastre(fresh_engine, CADASTRE_91216)
    load_friches(fresh_engine, DATA / "friches" / "ardennes-friches.csv")
    load_friches(fresh_engine, DATA / "friches" / "ardennes-friches.geojson")
    return fresh_engine


def project(engine: Engine, rules: RuleSet = INDUSTRIAL, **kwargs) -> dict:
    draft = {
        "name": "Usine (synthetic)",
        "kind": "industrial",
        "epci_siren": PARIS_SACLAY,
        "parcel_ids": ["91216000AB0037"],
    } | kwargs
    with engine.begin() as conn:
        return create_project(conn, ProjectDraft(**draft), ruleset=rules, author="prefecture-91")


def status(engine: Engine, pid: int, new: str, rules: RuleSet = INDUSTRIAL, **kw) -> dict:
    with engine.begin() as conn:
        return change_status(
            conn, pid, new, ruleset=rules, author="prefecture-91", reason="test", **kw
        )


def test_naf_of_a_greenfield_project_is_its_area(ledger: Engine) -> None:
    p = project(ledger)
    c = p["naf_computation"]
    assert c["on_friche_ha"] == 0 and c["on_artificialised_ha"] == 0
    assert p["naf_ha"] == pytest.approx(p["area_ha"])
    assert p["area_ha"] == pytest.approx(25.4881, rel=0.01)  # contenance 254,881 m²
    assert (p["status"], p["commune_insee"], p["departement_code"]) == ("planned", "91216", "91")


def test_a_project_on_a_friche_consumes_nothing(ledger: Engine) -> None:
    with ledger.connect() as conn:
        outline = conn.execute(
            text(
                "SELECT ST_AsGeoJSON(ST_Transform(geom, 4326), 9) FROM friche "
                "WHERE site_id = '08362_04'"
            )
        ).scalar_one()
    # the friche is in Rethel (08362), of the CC du Pays Rethélois
    p = project(ledger, epci_siren=PAYS_RETHELOIS, parcel_ids=None, geometry=json.loads(outline))
    assert p["naf_computation"]["friche_ids"] == ["08362_04"]
    assert p["naf_ha"] == pytest.approx(0, abs=1e-3)
    assert p["naf_computation"]["on_friche_ha"] == pytest.approx(p["area_ha"], rel=1e-3)


def test_lifecycle_reserves_converts_and_releases(ledger: Engine) -> None:
    a = project(ledger)
    naf = a["naf_ha"]
    status(ledger, a["id"], "authorised")
    with ledger.connect() as conn:
        assert balance(conn, INDUSTRIAL).reserved_ha == Decimal(str(naf))  # exact decimals
    status(ledger, a["id"], "under_construction")
    done = status(ledger, a["id"], "completed")
    assert (done["reserved_ha"], done["consumed_ha"]) == (0, pytest.approx(naf))
    b = project(ledger, parcel_ids=["91216000AB0025"])
    status(ledger, b["id"], "authorised")
    dropped = status(ledger, b["id"], "abandoned")
    assert (dropped["status"], dropped["reserved_ha"]) == ("abandoned", 0)
    with ledger.connect() as conn:
        total = balance(conn, INDUSTRIAL)
    assert (total.reserved_ha, total.consumed_ha) == (0, Decimal(str(naf)))
    assert total.remaining_ha == 10_000 - Decimal(str(naf))
    with pytest.raises(Conflict, match="is completed: it cannot become authorised"):
        status(ledger, a["id"], "authorised")


def test_corrections_are_compensating_entries(ledger: Engine) -> None:
    p = project(ledger)
    status(ledger, p["id"], "authorised")
    done = status(ledger, p["id"], "completed")
    completed_entry = done["entries"][-1]["id"]
    with ledger.begin() as conn:
        fixed = correct(
            conn,
            p["id"],
            -0.5,
            ruleset=INDUSTRIAL,
            author="prefecture-91",
            reason="surface au permis modificatif",
            corrects_entry_id=completed_entry,
        )
    assert fixed["consumed_ha"] == pytest.approx(p["naf_ha"] - 0.5)
    last = fixed["entries"][-1]
    assert (last["kind"], last["corrects_entry_id"], last["recorded_by"]) == (
        "correction",
        completed_entry,
        "prefecture-91",
    )
    assert len(fixed["entries"]) == 4  # planned, authorised, completed, correction
    # nothing is ever changed or deleted
    for statement in (
        "UPDATE envelope_entry SET reason = 'x'",
        "DELETE FROM envelope_entry",
        "UPDATE project SET naf_ha = 0",
    ):
        with pytest.raises(IntegrityError, match="append-only"), ledger.begin() as conn:
            conn.execute(text(statement))


def test_the_envelope_is_never_overdrawn(ledger: Engine) -> None:
    rules = small_envelope(28)
    first = project(ledger, rules)  # 25.7 ha; the second parcel is 3.2 ha
    status(ledger, first["id"], "authorised", rules)
    second = project(ledger, rules, parcel_ids=["91216000AB0025"])
    with pytest.raises(EnvelopeExhausted, match="ha left; the rule set does not allow overdrafts"):
        status(ledger, second["id"], "authorised", rules)
    assert get_project_status(ledger, second["id"]) == "planned"


def test_overdraft_needs_the_rule_set_and_the_entry(ledger: Engine) -> None:
    rules = small_envelope(10, allow_overdraft=True)
    p = project(ledger, rules)
    with pytest.raises(EnvelopeExhausted, match="the entry does not ask for an overdraft"):
        status(ledger, p["id"], "authorised", rules)
    ok = status(ledger, p["id"], "authorised", rules, overdraft=True)
    assert ok["entries"][-1]["overdraft"] is True


def test_race_for_the_last_hectares(ledger: Engine) -> None:
    """Eight requests authorise ~3 ha projects at once on a 10 ha envelope."""
    rules = small_envelope(10)
    # two rows of four squares, all in Paris-Saclay (Longjumeau, Chilly-Mazarin, Champlan)
    squares = [square(2.290 + 0.004 * (i % 4), 48.700 - 0.004 * (i // 4), 173.2) for i in range(8)]
    ids = [project(ledger, rules, parcel_ids=None, geometry=g)["id"] for g in squares]
    barrier = threading.Barrier(len(ids))
    outcomes: list[str] = []

    def authorise(pid: int) -> None:
        barrier.wait()
        try:
            status(ledger, pid, "authorised", rules)
            outcomes.append("ok")
        except EnvelopeExhausted:
            outcomes.append("refused")

    threads = [threading.Thread(target=authorise, args=(pid,)) for pid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with ledger.connect() as conn:
        total = balance(conn, rules)
    assert outcomes.count("ok") == 3 and outcomes.count("refused") == 5
    assert total.reserved_ha <= 10 and float(total.reserved_ha) == pytest.approx(9, rel=0.02)


def test_report_by_territory_series_and_alerts(ledger: Engine) -> None:
    rules = small_envelope(50)
    a = project(ledger, rules, occurred_on=datetime.date(2025, 6, 2))
    status(ledger, a["id"], "authorised", rules, occurred_on=datetime.date(2025, 7, 10))
    status(ledger, a["id"], "completed", rules, occurred_on=datetime.date(2026, 2, 1))
    with ledger.connect() as conn:
        report = envelope_report(conn, rules, "departement", today=datetime.date(2026, 7, 1))
    naf = a["naf_ha"]
    assert report["national"]["consumed_ha"] == pytest.approx(naf, abs=1e-3)
    assert report["groups"] == [
        {
            "code": "91",
            "name": "Essonne",
            "reserved_ha": 0.0,
            "consumed_ha": pytest.approx(naf, abs=1e-3),
        }
    ]
    assert [m["month"] for m in report["monthly"]] == ["2025-06-01", "2025-07-01", "2026-02-01"]
    assert report["alerts"] == [
        {"threshold": 0.5, "reached": True, "since": "2025-07-01"},
        {"threshold": 0.8, "reached": False, "since": None},
        {"threshold": 1.0, "reached": False, "since": None},
    ]
    # 25.7 ha drawn in 546 days since 1 January 2025: the rest lasts ~530 more days
    projection = report["projection"]
    assert (
        projection["exhaustion_date"]
        == (
            datetime.date(2026, 7, 1) + datetime.timedelta(days=(50 - naf) / (naf / 546))
        ).isoformat()
    )
    assert projection["before_end_of_period"] is True


def get_project_status(engine: Engine, pid: int) -> str:
    with engine.connect() as conn:
        return get_project(conn, pid)["status"]


# -- who may draw on the industrial envelope, and when ---------------------------------------


@pytest.mark.parametrize("kind", ["commercial", "logistics", "other"])
def test_only_industrial_projects_draw_on_the_industrial_envelope(
    ledger: Engine, kind: str
) -> None:
    """Amendment n° 1814 (projet de loi de simplification de la vie économique) names
    "projets industriels": a commercial, logistics or other project is refused."""
    with pytest.raises(Invalid, match=f"a {kind} project cannot draw on industrial-envelope-2025"):
        project(ledger, kind=kind, occurred_on=datetime.date(2025, 6, 2))
    with ledger.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM project")).scalar_one() == 0


def test_no_entry_before_the_envelope_opens(ledger: Engine) -> None:
    """Nothing is drawn on a measure before it was made public (27 May 2025)."""
    with pytest.raises(Invalid, match="outside the period"):
        project(ledger, occurred_on=datetime.date(2025, 5, 26))
    assert project(ledger, occurred_on=datetime.date(2025, 5, 27))["status"] == "planned"


def test_a_pene_never_draws_on_both_envelopes(ledger: Engine, tmp_path) -> None:
    """A PENE listed in annex I draws on the PENE forfait: declaring it on the industrial
    envelope is a conflict; a PENE already drawn on the industrial envelope cannot be
    listed on the forfait (the list import is refused); abandoned, it can."""
    listed = tmp_path / "pene-SYNTHETIQUE.csv"
    listed.write_text("pene_id;name;commune_insee;hectares\nT1;Usine (synthetic);91216;3\n")
    load_pene(ledger, listed)
    with pytest.raises(Conflict, match="PENE T1 already draws on pene-2021-2031"):
        project(ledger, pene_id="T1", occurred_on=datetime.date(2025, 6, 2))
    first = project(ledger, pene_id="T2", occurred_on=datetime.date(2025, 6, 2))
    both = tmp_path / "pene-2-SYNTHETIQUE.csv"
    both.write_text(
        "pene_id;name;commune_insee;hectares\nT1;Usine (synthetic);91216;3\n"
        "T2;Autre usine (synthetic);91216;2\n"
    )
    with pytest.raises(LoaderError, match="PENE T2: PENE T2 already draws on industrial"):
        load_pene(ledger, both)
    status(ledger, first["id"], "abandoned", occurred_on=datetime.date(2025, 6, 3))
    assert load_pene(ledger, both).tables["declared"] == 1


def test_a_pene_list_with_a_field_too_long_for_csv_is_one_line_error(
    fresh_engine: Engine, tmp_path
) -> None:
    """A field past the csv module's limit (128 KiB) ended in a _csv.Error traceback."""
    path = tmp_path / "pene.csv"
    path.write_text("pene_id;name;commune_insee;hectares\nP1;" + "x" * 200_000 + ";91216;1\n")
    with pytest.raises(LoaderError, match="cannot read"):
        load_pene(fresh_engine, path)
