"""ZAN trajectories on hand-computed cases (synthetic Cerema flows, real communes and real
territorialised targets). Each case's numbers are worked out in its comments and in
docs/methode.md."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo.errors import Invalid, NotFound
from geo.ingest.cadastre import load_cadastre
from geo.ingest.consumption import load_consumption
from geo.ingest.errors import LoaderError
from geo.ingest.zan_rules import (
    load_commune_splits,
    load_pene,
    load_pene_consumption,
    load_planning_documents,
    load_target_members,
    load_targets,
)
from geo.ledger.reports import balance
from geo.ledger.write import ProjectDraft, change_status, create_project
from geo.zan.figures import yearly_consumption
from geo.zan.rulesets import get_ruleset
from geo.zan.trajectories import trajectory
from tests.helpers import CADASTRE_91216
from tests.helpers.synthetic import cerema_consumption_csv
from tests.helpers.zan import (
    AJACCIO,
    BOGNY,
    CAS_ECOLE,
    EPINAY,
    HDF_TARGETS,
    MASSY,
    ROCHY_CONDE,
    SACLAY,
    SENLIS,
    flows,
    pene_list,
    pene_seen,
)

PARIS_SACLAY, SENLIS_SUD_OISE = "200056232", "200066975"


@pytest.fixture
def consumption(fresh_engine: Engine, tmp_path: Path) -> Engine:
    load_consumption(fresh_engine, cerema_consumption_csv(tmp_path / "c.csv", CAS_ECOLE))
    load_cadastre(fresh_engine, CADASTRE_91216)
    return fresh_engine


def zan(engine: Engine, level: str, code: str, rules: str | None = None) -> dict:
    with engine.connect() as conn:
        return trajectory(conn, level, code, get_ruleset(rules, kind="zan"))


def test_commune_on_its_way_to_exceed(consumption: Engine) -> None:
    t = zan(consumption, "commune", EPINAY)
    assert t["ruleset"]["id"] == t["default_ruleset"] == "zan-2021-2031"
    assert t["ruleset"]["sources"] and "c.csv" in t["data"]["source"]
    assert {k: t["data"][k] for k in ("vintage", "years", "provisional_year")} == {
        "vintage": 2024,
        "years": [2009, 2023],
        "provisional_year": 2023,
    }
    assert (t["years_elapsed"], t["years_left"]) == (3, 7)  # from the vintage, not a constant
    assert t["reference_ha"] == 20.0 and t["allowed_ha"] == 10.0
    assert t["consumed_ha"] == 4.5 and t["pace_ha_per_year"] == 1.5
    assert t["projection_ha"] == 4.5 + 1.5 * 7
    assert (t["share_used"], t["status"]) == (0.45, "will_exceed")
    # Île-de-France: not a SRADDET région, the national −50 % of the law
    assert t["target"]["set_by"] == {"level": "region", "code": "11"}
    assert t["target"]["origin"] == "inherited from region 11"
    assert t["target"]["legal_status"] == "law-default" and not t["target"]["regulatory"]
    assert t["commune_status"] == "unchanged"


def test_garantie_communale_floor_and_exactly_on_track(consumption: Engine) -> None:
    t = zan(consumption, "commune", SACLAY)
    assert t["allowed_ha"] == 1.0 and t["floor_applied"] == 1
    assert t["own_allowance_ha"] == 0.3
    assert t["projection_ha"] == pytest.approx(1.0)
    assert t["status"] == "on_track"  # projected exactly at the allowance
    # no planning-document import: unknown, and what the figure assumed is said
    assert t["planning_document"]["document"] == "unknown"
    assert t["planning_document"]["garantie"] is True and "assumed" in t["planning_document"]


def test_exceeded(consumption: Engine) -> None:
    t = zan(consumption, "commune", MASSY)
    assert (t["allowed_ha"], t["consumed_ha"], t["status"]) == (2.0, 2.5, "exceeded")


def test_territory_allowance_is_its_own_not_the_floored_sum(consumption: Engine) -> None:
    """Point 3. The EPCI used to show 37 ha (the floored sum of its communes) against an
    envelope of (20 + 0.6 + 4) × 0.5 = 12.3 ha: the garantie communale is counted inside the
    territory's envelope, it does not enlarge it."""
    t = zan(consumption, "epci", PARIS_SACLAY)
    assert t["communes"] == 27 and t["communes_without_data"] == 24
    assert t["reference_ha"] == pytest.approx(20 + 0.6 + 4)
    assert t["allowed_ha"] == pytest.approx(12.3)
    # 10 + 1 (Saclay's floor) + 2 + 24 communes without flows at the 1 ha floor
    assert t["communes_allowed_ha"] == pytest.approx(37.0)
    assert "own allowance" in t["allowed_basis"] or "own allowances" in t["allowed_basis"]
    assert t["consumed_ha"] == pytest.approx(4.5 + 0.3 + 2.5)
    # pace 7.3 / 3, projection 7.3 + 7.3 / 3 × 7 = 24.33 > 12.3
    assert t["projection_ha"] == pytest.approx(7.3 + 7.3 / 3 * 7, abs=1e-3)
    # 24 of its 27 communes have no consumption data: no firm status, the one of the
    # three known communes said apart
    assert t["status"] == "partial_data"
    assert t["status_of_communes_with_data"] == "will_exceed"
    children = t["children"]
    assert [c["code"] for c in children["exceeded"]] == [MASSY]
    assert [c["code"] for c in children["will_exceed"]] == [EPINAY]
    # Saclay on track; the 24 communes without consumption data are not
    assert [c["code"] for c in children["on_track"]] == [SACLAY]
    assert len(children["no_data"]) == 24


def test_region_figures_from_its_sraddet(consumption: Engine) -> None:
    """Point 1: région 32's own target (−54.47 %, SRADDET) on its own reference, however
    many of its communes sit at the 1 ha floor; before, allowed_ha summed the floors."""
    t = zan(consumption, "region", "32")
    assert t["reference_ha"] == pytest.approx(20.0)  # Rochy-Condé 10 + Senlis 10
    assert t["allowed_ha"] == pytest.approx(20 * (1 - 0.5447))  # 9.106 ha
    assert t["target"]["origin"] == "own" and t["target"]["legal_status"] == "sraddet-adopted"
    assert t["target"]["regulatory"] and t["target"]["url"].startswith("https://")
    assert t["communes_allowed_ha"] > 3_000  # 3,700-odd communes, nearly all floored
    # consumed 0.5 + 0.3 = 0.8; pace 0.8 / 3; projection 0.8 + 0.8 / 3 × 7 = 2.667
    assert t["projection_ha"] == pytest.approx(0.8 + 0.8 / 3 * 7, abs=1e-3)
    assert (t["status"], t["status_of_communes_with_data"]) == ("partial_data", "on_track")


def test_regional_target_is_inherited(consumption: Engine) -> None:
    t = zan(consumption, "commune", ROCHY_CONDE)
    assert t["allowed_ha"] == pytest.approx(10 * (1 - 0.5447))  # 4.553 ha
    assert t["target"]["origin"] == "inherited from region 32"
    dep = zan(consumption, "departement", "60")
    # a département has no target of its own: the sum of its communes' own allowances
    assert dep["target"]["origin"] == "sum of its communes' targets"
    assert dep["allowed_ha"] == pytest.approx(10 * (1 - 0.5447) + 10 * (1 - 0.5447))
    assert dep["communes_allowed_ha"] == pytest.approx(9.106 + (dep["communes"] - 2) * 1.0)


def test_sraddet_regions_without_a_known_figure_get_the_arrete_minimum(
    consumption: Engine,
) -> None:
    rules = get_ruleset(None, kind="zan").zan
    grand_est = rules.regions["44"]
    assert (grand_est.reduction, grand_est.legal_status) == (0.545, "arrete-minimum")
    assert grand_est.date == datetime.date(2024, 5, 31)
    assert rules.regions["11"].reduction == 0.5  # Île-de-France: SDRIF-E, law default
    for overseas in ("94", "01", "02", "03", "04", "06"):
        assert rules.regions[overseas].reduction is None


def test_corsica_is_not_bound_by_the_intermediate_target(consumption: Engine) -> None:
    """Ajaccio: 10 ha of reference, the national −50 % shown as an indication: 5 ha;
    consumed 1.8 ha, pace 0.6 ha/yr, projection 1.8 + 0.6 × 7 = 6.0 ha: will exceed the
    indicative figure, which the answer says is not binding."""
    t = zan(consumption, "commune", AJACCIO)
    assert t["allowed_ha"] == pytest.approx(5.0) and t["projection_ha"] == pytest.approx(6.0)
    assert t["target"]["binding"] is False
    assert t["target"]["legal_status"] == "own-document-not-loaded"
    assert "PADDUC" in t["target"]["document"]


def test_territorialised_cascade(consumption: Engine) -> None:
    """Point 2: the real MDA cascade. Senlis inherits CC Senlis Sud Oise's −57.30 % (a PLUi
    target not yet written in its document): 10 ha × 0.427 = 4.27 ha. The EPCI's own
    allowance is its reference × (1 − 0.573) = 4.27 ha; its communes' floored sum is
    4.27 + 16 × 1 = 20.27 ha."""
    report = load_targets(consumption, HDF_TARGETS)
    assert report.read == 47 and any("SCoT" in w for w in report.warnings)
    commune = zan(consumption, "commune", SENLIS)
    assert commune["allowed_ha"] == pytest.approx(4.27)
    assert commune["target"]["origin"] == f"inherited from epci {SENLIS_SUD_OISE}"
    assert commune["target"]["regulatory"] is False
    assert "territorialisation-hauts-de-france.json" in commune["target"]["source"]
    epci = zan(consumption, "epci", SENLIS_SUD_OISE)
    assert epci["target"]["origin"] == "own" and epci["target"]["reduction"] == 0.573
    assert epci["target"]["legal_status"] == "document-proposed"
    assert epci["allowed_ha"] == pytest.approx(4.27)
    assert epci["communes_allowed_ha"] == pytest.approx(4.27 + 16)
    # consumed 0.3 ha, pace 0.1, projection 1.0 ha: on track
    assert (epci["consumed_ha"], epci["status_of_communes_with_data"]) == (0.3, "on_track")
    assert epci["status"] == "partial_data" and epci["communes_without_data"] > 0
    region = zan(consumption, "region", "32")
    assert region["target"]["source"].startswith("territorialisation imported")
    # a commune outside any EPCI target inherits the région's row of the cascade
    rochy = zan(consumption, "commune", ROCHY_CONDE)
    assert rochy["target"]["origin"] == "inherited from region 32"
    assert rochy["allowed_ha"] == pytest.approx(4.553)


def test_scot_perimeter_and_csv_targets(consumption: Engine, tmp_path: Path) -> None:
    """SCoT targets apply once their perimeter is known (synthetic perimeter file)."""
    load_targets(consumption, HDF_TARGETS)
    members = tmp_path / "perimetres-SYNTHETIQUE.csv"
    members.write_text(f"land;commune_insee\nSCOT_8;{ROCHY_CONDE}\n", encoding="utf-8")
    load_target_members(consumption, members)
    t = zan(consumption, "commune", ROCHY_CONDE)
    # SCOT_8: −25.70 % -> 10 × 0.743 = 7.43 ha
    assert t["target"]["set_by"] == {"level": "scot", "code": "8"}
    assert t["allowed_ha"] == pytest.approx(7.43)
    csv = tmp_path / "cibles-SYNTHETIQUE.csv"
    csv.write_text(
        "land;parent;reduction_pct;document;regulatory;document_url;comment\n"
        f"COMMUNE_{ROCHY_CONDE};SCOT_8;40;PLU;true;;synthetic\n",
        encoding="utf-8",
    )
    load_targets(consumption, csv)
    t = zan(consumption, "commune", ROCHY_CONDE)
    assert t["allowed_ha"] == pytest.approx(6.0) and t["target"]["origin"] == "own"
    assert t["target"]["regulatory"] is True
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "land;parent;reduction_pct;document;regulatory;document_url;comment\n"
        "COMMUNE_60542;;140;PLU;true;;\n",
        encoding="utf-8",
    )
    with pytest.raises(LoaderError, match="outside 0..100"):
        load_targets(consumption, bad)


def test_garantie_only_with_a_planning_document(consumption: Engine, tmp_path: Path) -> None:
    """Point 3: an RNU commune gets no floor (Saclay: 0.3 ha, projection 1.0 ha: will
    exceed); a PLU approved after 22 August 2026 is too late; a carte communale of 2015 is in
    time."""
    docs = tmp_path / "documents-SYNTHETIQUE.csv"
    docs.write_text(
        "commune_insee;document;procedure_state;state_date\n"
        f"{SACLAY};RNU;;\n"
        f"{MASSY};PLU;approuvé;2027-01-15\n"
        f"{EPINAY};CC;approuvé;2015-06-01\n",
        encoding="utf-8",
    )
    load_planning_documents(consumption, docs)
    saclay = zan(consumption, "commune", SACLAY)
    assert saclay["allowed_ha"] == pytest.approx(0.3) and saclay["floor_applied"] == 0
    assert saclay["planning_document"]["document"] == "RNU"
    assert saclay["planning_document"]["garantie"] is False
    assert saclay["status"] == "will_exceed"
    epci = zan(consumption, "epci", PARIS_SACLAY)
    # 10 + 0.3 (RNU) + 2 (too late, own 2 ha anyway) + 24 unknown communes assumed covered
    assert epci["communes_allowed_ha"] == pytest.approx(10 + 0.3 + 2 + 24)
    assert epci["communes_without_garantie"] == 2 and epci["communes_planning_unknown"] == 24
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "commune_insee;document;procedure_state;state_date\n91534;POS;approuvé;2001-01-01\n",
        encoding="utf-8",
    )
    with pytest.raises(LoaderError, match="document must be one of"):
        load_planning_documents(consumption, bad)


def test_pene_observed_consumption_deducted_forecast_shown(
    consumption: Engine, tmp_path: Path
) -> None:
    """PENE consumption is counted nationally (loi 2023-630 art. 3): what a PENE actually
    consumed comes off the commune's flows, the list's hectares are a forecast, shown
    apart. Épinay (30 ha listed, nothing observed) keeps its 4.5 ha and will exceed: it
    used to become 4.5 − 4.5 = 0 ha and on track. Massy: flows 2.5 ha, 1.5 ha observed ->
    1.0 ha, pace 1/3, projection 1 + 7/3 = 3.333 ha against 2 ha: will exceed. Listed
    projects are `listed`, not authorised; the PENE ledger keeps 12,500 − 31.5 ha."""
    report = load_pene(consumption, pene_list(tmp_path, 1.5))
    assert report.tables["declared"] == 2
    epinay = zan(consumption, "commune", EPINAY)
    assert (epinay["pene_deducted_ha"], epinay["consumed_ha"]) == (0.0, 4.5)
    assert epinay["pene_forecast_ha"] == 30.0 and epinay["status"] == "will_exceed"
    massy = zan(consumption, "commune", MASSY)
    assert massy["pene_deducted_ha"] == 0 and massy["status"] == "exceeded"  # nothing seen yet
    load_pene_consumption(consumption, pene_seen(tmp_path))
    massy = zan(consumption, "commune", MASSY)
    assert massy["pene_deducted_ha"] == 1.5 and massy["consumed_ha"] == 1.0
    assert massy["pene_forecast_ha"] == 1.5
    assert massy["projection_ha"] == pytest.approx(1 + 7 / 3, abs=1e-4)
    assert massy["status"] == "will_exceed"
    assert massy["pene_projects"] == ["T1 Ligne test (synthetic)"]
    assert zan(consumption, "epci", PARIS_SACLAY)["pene_forecast_ha"] == 31.5
    pene = get_ruleset("pene-2021-2031", kind="envelope")
    with consumption.connect() as conn:
        assert balance(conn, pene).remaining_ha == pytest.approx(12_468.5)
        listed = (
            conn.execute(
                text(
                    "SELECT DISTINCT x.status FROM envelope_entry x JOIN pene_project p "
                    "ON p.project_id = x.project_id"
                )
            )
            .scalars()
            .all()
        )
    assert listed == ["listed"]
    # re-import: Massy's project grows to 2 ha (a correction), Épinay's leaves the list
    report = load_pene(consumption, pene_list(tmp_path, 2.0, with_epinay=False))
    assert (report.tables["corrected"], report.tables["abandoned"]) == (1, 1)
    with consumption.connect() as conn:
        assert balance(conn, pene).remaining_ha == pytest.approx(12_498.0)
    # the forfait's split (arrêté of 31 May 2024) is data of its rule set: one envelope
    assert pene.envelope is not None
    shares = {name: share.total_ha for name, share in pene.envelope.shares.items()}
    assert shares == {"sraddet-regions": 10_000, "idf-corse-outre-mer": 2_500}
    assert zan(consumption, "commune", EPINAY)["pene_forecast_ha"] == 0


def test_pene_list_refuses_bad_input(consumption: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("pene_id;name;commune_insee;hectares\nT1;x;99999;1\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="unknown commune"):
        load_pene(consumption, bad)
    bad.write_text("pene_id;name;commune_insee;hectares\nT1;x;91377;13000\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="more than the forfait"):
        load_pene(consumption, bad)


def test_what_if_rule_sets(consumption: Engine) -> None:
    tolerance = zan(consumption, "commune", EPINAY, "zan-whatif-tolerance-30")
    assert tolerance["allowed_ha"] == pytest.approx(13.0)
    # a provision of the projet de loi de simplification voted at first reading, not in force
    assert tolerance["ruleset"]["legal_status"] == "bill"
    assert tolerance["ruleset"]["in_force"] is False


def test_milestone_moved_to_2034_stretches_the_allowance_too(consumption: Engine) -> None:
    """Point 6: 13 years counted, so 13 years' worth of allowance: 20 × 13/10 × 0.5 = 13 ha
    (it used to stay 10 ha); projection 4.5 + 1.5 × 10 = 19.5 ha."""
    later = zan(consumption, "commune", EPINAY, "zan-whatif-2034")
    assert (later["period"], later["years_left"]) == ([2021, 2033], 10)
    assert later["allowance_window_factor"] == 1.3
    assert later["allowed_ha"] == pytest.approx(13.0)
    assert later["projection_ha"] == pytest.approx(4.5 + 1.5 * 10)


def authorised_project(
    engine: Engine,
    envelope: str,
    parcels: tuple[str, ...] = ("91216000AB0037",),
    epci: str = PARIS_SACLAY,
    on: datetime.date = datetime.date(2025, 6, 1),
) -> dict:
    """A synthetic industrial project (default: parcel AB 37 of Épinay), authorised."""
    rules = get_ruleset(envelope, kind="envelope")
    with engine.begin() as conn:
        draft = ProjectDraft(
            "Usine (synthetic)", "industrial", epci, parcel_ids=list(parcels), occurred_on=on
        )
        project = create_project(conn, draft, ruleset=rules, author="test")
        return change_status(
            conn,
            project["id"],
            "authorised",
            ruleset=rules,
            author="test",
            reason="permis de construire",
            occurred_on=on,
        )


def test_industrial_projects_count_locally_while_the_envelope_is_not_in_force(
    consumption: Engine,
) -> None:
    """The industrial envelope's text is not promulgated (a bill): under current law an
    industrial project counts against its commune (Épinay 4.5 + 25.5 = 30 ha, exceeded).
    Only the what-if of the envelope in force keeps it out of local trajectories."""
    naf = authorised_project(consumption, "industrial-envelope-2025")["naf_ha"]
    assert naf == pytest.approx(25.5, rel=0.02)  # parcel AB 37: 254,881 m² of contenance
    t = zan(consumption, "commune", EPINAY)
    assert t["declared_projects_ha"] == pytest.approx(naf, abs=1e-3)
    assert t["status"] == "exceeded"
    in_force = zan(consumption, "commune", EPINAY, "zan-whatif-envelope-in-force")
    assert in_force["declared_projects_ha"] == 0 and in_force["consumed_ha"] == 4.5
    assert in_force["status"] == "will_exceed"
    assert in_force["ruleset"]["legal_status"] == "bill"
    assert in_force["ruleset"]["in_force"] is False
    # Intercommunalités de France's proposal: industry counted locally, at half
    weighted = zan(consumption, "commune", EPINAY, "zan-whatif-weights")
    assert weighted["declared_projects_ha"] == pytest.approx(naf * 0.5, abs=1e-3)
    industrial = get_ruleset("industrial-envelope-2025", kind="envelope")
    assert (industrial.legal_status, industrial.in_force) == ("bill", False)
    assert any("amendement n° 1814" in s for s in industrial.sources)
    # TRACE is a proposition de loi: never the basis of this measure
    assert "TRACE" not in industrial.legal_basis
    assert not any("TRACE" in s for s in industrial.sources)


def test_pene_projects_do_not_count_locally(consumption: Engine) -> None:
    authorised_project(consumption, "pene-2021-2031")
    assert zan(consumption, "commune", EPINAY)["declared_projects_ha"] == 0
    assert zan(consumption, "commune", EPINAY)["declared_projects_ha"] == 0


def test_declared_project_counts_until_the_data_covers_its_completion(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    """Point 9: vintage 2026 (flows to 2025). A project authorised in June 2025, within the
    data's last year, is not in the flows until it is built: it counts (it used to be
    dropped because it was authorised before the end of the data). Completed in 2025, it is
    in the flows and stops counting."""
    data = {EPINAY: flows(20_000, {2021: 15_000})}
    load_consumption(fresh_engine, cerema_consumption_csv(tmp_path / "c.csv", data, last_year=2025))
    load_cadastre(fresh_engine, CADASTRE_91216)
    project = authorised_project(fresh_engine, "industrial-envelope-2025")
    t = zan(fresh_engine, "commune", EPINAY, None)
    assert t["data"]["years"] == [2009, 2025]
    assert t["declared_projects_ha"] == pytest.approx(project["naf_ha"], abs=1e-3)
    rules = get_ruleset("industrial-envelope-2025", kind="envelope")
    with fresh_engine.begin() as conn:
        change_status(
            conn,
            project["id"],
            "completed",
            ruleset=rules,
            author="test",
            reason="achèvement",
            occurred_on=datetime.date(2025, 11, 1),
        )
    t = zan(fresh_engine, "commune", EPINAY, None)
    assert t["declared_projects_ha"] == 0


def test_arrondissements_count_in_their_commune(fresh_engine: Engine, tmp_path: Path) -> None:
    """Defect 7 of issue 11: a project on parcel 75118000AA0001 (Paris 18e) counts in
    Paris' trajectory; flows given for an arrondissement code count in Paris too."""
    parcel = tmp_path / "cadastre-75118-SYNTHETIQUE.json"
    lon, lat, d = 2.344, 48.892, 0.0015
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    parcel.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": "75118000AA0001",
                        "properties": {
                            "id": "75118000AA0001",
                            "commune": "75118",
                            "prefixe": "000",
                            "section": "AA",
                            "numero": "0001",
                            "contenance": 18400,
                        },
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    load_cadastre(fresh_engine, parcel)
    data = {"75118": flows(1_000, {2021: 2_000}), "75056": flows(5_000, {2021: 3_000})}
    load_consumption(fresh_engine, cerema_consumption_csv(tmp_path / "c.csv", data))
    project = authorised_project(
        fresh_engine, "industrial-envelope-2025", ("75118000AA0001",), "200054781"
    )
    assert project["commune_insee"] == "75118"
    t = zan(fresh_engine, "commune", "75056", None)
    assert project["naf_ha"] > 1
    assert t["declared_projects_ha"] == pytest.approx(project["naf_ha"], abs=1e-4)
    assert t["reference_ha"] == pytest.approx(6.0)  # 0.5 + 5 ha (arrondissement + commune)
    assert t["consumed_data_ha"] == pytest.approx(0.5)
    with fresh_engine.connect() as conn:
        assert dict(yearly_consumption(conn, "commune", "75056"))[2021] == pytest.approx(0.5)


def test_commune_changes(fresh_engine: Engine, tmp_path: Path) -> None:
    """Point 8. Source 60054 (Les Hauts-Talican before its split) holds 10 ha of reference;
    split into 60054 Beaumont-les-Nonains (42.24 %) and 60694 Les Hauts-Talican (57.76 %,
    the area shares Mon Diagnostic Artificialisation uses): 4.224 and 5.776 ha. Bogny-sur-
    Meuse (08081) sums its own row and those of 08253 and 08108 (merged): 3 × 1 ha."""
    data = {
        "60054": flows(10_000, {2021: 1_000}),
        BOGNY: flows(1_000, {}),
        "08253": flows(1_000, {}),
        "08108": flows(1_000, {}),
    }
    load_consumption(fresh_engine, cerema_consumption_csv(tmp_path / "c.csv", data))
    splits = tmp_path / "scissions-SYNTHETIQUE.csv"
    splits.write_text(
        "source_insee;commune_insee;share;effective_on\n"
        "60054;60054;0.4224;2024-01-01\n60054;60694;0.5776;2024-01-01\n",
        encoding="utf-8",
    )
    load_commune_splits(fresh_engine, splits)
    beaumont = zan(fresh_engine, "commune", "60054")
    talican = zan(fresh_engine, "commune", "60694")
    assert beaumont["reference_ha"] == pytest.approx(4.224)
    assert talican["reference_ha"] == pytest.approx(5.776)
    assert talican["consumed_data_ha"] == pytest.approx(0.05776, abs=1e-4)
    assert beaumont["commune_status"] == talican["commune_status"] == "split"
    bogny = zan(fresh_engine, "commune", BOGNY)
    assert bogny["reference_ha"] == pytest.approx(3.0) and bogny["commune_status"] == "merged"
    other = zan(fresh_engine, "commune", "08105")
    assert other["commune_status"] == "missing_from_source"
    sablons = zan(fresh_engine, "epci", "246000582")
    assert sablons["communes_split"] == 2
    assert sablons["reference_ha"] == pytest.approx(10.0)  # shared, not duplicated
    # a vintage in the new geography (rows for both communes) is not split again
    data["60694"] = flows(2_000, {})
    load_consumption(fresh_engine, cerema_consumption_csv(tmp_path / "d.csv", data))
    assert zan(fresh_engine, "commune", "60054")["reference_ha"] == pytest.approx(10.0)
    assert zan(fresh_engine, "commune", "60694")["commune_status"] == "unchanged"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "source_insee;commune_insee;share;effective_on\n60054;60054;0.5;\n60054;60694;0.4;\n",
        encoding="utf-8",
    )
    with pytest.raises(LoaderError, match="add up to 1"):
        load_commune_splits(fresh_engine, bad)


def test_unknown_territory(consumption: Engine) -> None:
    with pytest.raises(NotFound):
        zan(consumption, "epci", "999999999")


@pytest.mark.slow
def test_command_line_imports(fresh_engine: Engine, tmp_path: Path) -> None:
    from tests.helpers.cli import foncier

    ok = foncier(fresh_engine, "import", "zan-targets", str(HDF_TARGETS))
    assert ok.returncode == 0, ok.stderr
    assert "zan-targets: read 47" in ok.stdout and "SCoT" in ok.stdout
    bad = tmp_path / "pene.csv"
    bad.write_text("pene_id;name;commune_insee;hectares\nT1;x;91377;abc\n", encoding="utf-8")
    result = foncier(fresh_engine, "import", "pene", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {bad}: row 2: hectares 'abc' is not a number"
    missing = foncier(fresh_engine, "import", "planning-documents", str(tmp_path / "none.csv"))
    assert missing.stderr.strip() == f"error: {tmp_path / 'none.csv'}: no such file"


def test_split_shared_by_area_when_no_share_is_given(fresh_engine: Engine, tmp_path: Path) -> None:
    """A split file without shares shares the source's flows by the resulting communes'
    areas (boundaries of the Ardennes are loaded; those of the Oise are not)."""
    from sqlalchemy import text

    data = {"08081": flows(10_000, {})}
    load_consumption(fresh_engine, cerema_consumption_csv(tmp_path / "c.csv", data))
    splits = tmp_path / "scissions-SYNTHETIQUE.csv"
    splits.write_text(
        "source_insee;commune_insee;share;effective_on\n08081;08081;;\n08081;08105;;\n",
        encoding="utf-8",
    )
    load_commune_splits(fresh_engine, splits)
    with fresh_engine.connect() as conn:
        areas = dict(
            conn.execute(
                text("SELECT insee, ST_Area(geom) FROM commune WHERE insee IN ('08081', '08105')")
            ).all()
        )
    share = areas["08105"] / (areas["08081"] + areas["08105"])
    assert zan(fresh_engine, "commune", "08105")["reference_ha"] == pytest.approx(
        10 * share, abs=1e-4
    )
    assert zan(fresh_engine, "commune", "08081")["reference_ha"] == pytest.approx(
        10 * (1 - share), abs=1e-4
    )
    splits.write_text(
        "source_insee;commune_insee;share;effective_on\n60054;60054;;\n60054;60694;;\n",
        encoding="utf-8",
    )
    with pytest.raises(LoaderError, match="boundaries of 60054, 60694 are not all loaded"):
        load_commune_splits(fresh_engine, splits)


THELLOISE = "200067973"  # CC Thelloise: 41 communes


def test_scot_sees_its_own_trajectory(consumption: Engine, tmp_path: Path) -> None:
    """A real SCoT's member list: the SCoT of the CC Thelloise covers its 41 communes (its
    revision arrêtée on 10 July 2025, cdce18.cnce.fr); the perimeter file is written from the
    EPCI's communes in the reference data. /trajectories/scot/{code} answers with its 41
    communes, its name, and the target its communes inherit (no SCoT target imported: the
    région's). An unknown SCoT is not found."""
    with consumption.connect() as conn:
        members = (
            conn.execute(
                text(
                    "SELECT insee FROM commune WHERE epci_siren = :e AND kind = 'commune-actuelle'"
                ),
                {"e": THELLOISE},
            )
            .scalars()
            .all()
        )
    assert len(members) == 41
    perimeter = tmp_path / "scot-thelloise.csv"
    perimeter.write_text(
        "land;commune_insee;land_name\n"
        + "".join(f"SCOT_THELLOISE;{insee};SCoT de la CC Thelloise\n" for insee in members),
        encoding="utf-8",
    )
    load_target_members(consumption, perimeter)
    t = zan(consumption, "scot", "THELLOISE")
    assert t["territory"]["name"] == "SCoT de la CC Thelloise"
    assert t["communes"] == 41 and t["communes_without_data"] == 41
    assert t["target"]["targets_of_its_communes"] == [{"level": "region", "code": "32"}]
    assert sum(len(v) for v in t["children"].values()) == 41
    with pytest.raises(NotFound):
        zan(consumption, "scot", "NOWHERE")


def test_second_decade_is_net_artificialisation_and_refused_without_ocsge(
    consumption: Engine,
) -> None:
    """From 2031 the unit is net artificialisation on OCS GE, and the decade's figure is the
    regional plans': with neither loaded, a trajectory under zan-2031-2041 is refused with
    its reason, never computed from the consumption flows."""
    with pytest.raises(Invalid, match="OCS GE"):
        zan(consumption, "commune", EPINAY, "zan-2031-2041")
    rules = get_ruleset("zan-2031-2041", kind="zan")
    assert (rules.legal_status, rules.in_force, rules.zan.unit) == (
        "law",
        False,
        "net_artificialisation",
    )
    assert rules.zan.reduction is None and rules.zan.garantie_communale_ha == 0
