"""Only what it knows: a criterion cites a source only where that source covers the parcel;
an unknown pollution gives an unknown remediation cost, never 0 €; figures from synthetic
files say so; an empty search says why; the search filters on risk plans and NAF land.

One database: the Eure (27412, parcels and buildings) and the Essonne (91216 parcels), with
sources of other départements (Ardennes friches, a Gard and a Charente-Maritime PLU) and
the demo's synthetic consumption file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo.ingest.buildings import load_buildings
from geo.ingest.cadastre import load_cadastre
from geo.ingest.consumption import load_consumption
from geo.ingest.friches import load_friches
from geo.ingest.plu import load_plu
from geo.scoring.lineage import NO_COVERING_SOURCE, NO_SOURCE_KIND
from geo.scoring.model import REMEDIATION_POLLUTED_EUR_PER_HA
from geo.scoring.refresh import refresh_scores
from geo.scoring.sites import _site_details
from tests.helpers import CADASTRE_91216, DATA, Databases, engine_for

PARCELS_27412 = DATA / "batiments" / "cadastre-27412-parcelles-trimmed.geojson.gz"
BATIMENTS_27412 = DATA / "batiments" / "cadastre-27412-batiments.geojson.gz"
FRICHES_08 = DATA / "friches" / "cartofriches-08.csv"
PLU_30014 = DATA / "plu" / "30014_PLU_20171013.zip"
PLU_17345 = DATA / "plu" / "zone_urba_DU_17345.geojson"
CONSUMPTION = DATA / "consommation" / "conso-naf-SYNTHETIQUE-2009-2023.csv"
EURE_PARCEL = "274120000A0734"
# two adjacent parcels of 91216 under synthetic friches: one whose pollution is unknown,
# one whose pollution is known
UNKNOWN, POLLUTED = "91216000AB0037", "91216000AB0038"


@pytest.fixture(scope="module")
def truth_url(databases: Databases, template_db: str) -> str:
    url = databases.create(f"{template_db}_truth", template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, PARCELS_27412)
    load_buildings(engine, BATIMENTS_27412)
    load_cadastre(engine, CADASTRE_91216)
    load_friches(engine, FRICHES_08)
    load_plu(engine, PLU_30014)
    load_plu(engine, PLU_17345)
    load_consumption(engine, CONSUMPTION)
    with engine.begin() as conn:
        for site, parcel, pollution in (
            ("SYNTH-U", UNKNOWN, None),
            ("SYNTH-P", POLLUTED, "pollution avérée"),
        ):
            conn.execute(
                text(
                    "INSERT INTO friche (site_id, name, departement_code, commune_insee, "
                    "sol_pollution_existe, geom) SELECT :site, 'friche (synthetic)', '91', "
                    "'91216', :pollution, geom FROM parcel WHERE id = :parcel"
                ),
                {"site": site, "parcel": parcel, "pollution": pollution},
            )
    refresh_scores(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def truth(truth_url: str) -> Iterator[Engine]:
    engine = engine_for(truth_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def client(base_settings, truth_url: str) -> Iterator[TestClient]:
    from app.api.main import create_app

    app = create_app(base_settings.model_copy(update={"database_url": truth_url}))
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


# -- coverage and lineage ----------------------------------------------------------------


def test_each_import_records_what_it_covers(truth: Engine) -> None:
    with truth.connect() as conn:
        runs = {
            (kind, source.rsplit("/", 1)[-1]): (deps, communes)
            for kind, source, deps, communes in conn.execute(
                text("SELECT kind, source, departements, communes FROM import_run")
            )
        }
    assert runs[("plu", PLU_30014.name)] == (["30"], ["30014"])
    assert runs[("plu", PLU_17345.name)] == (["17"], ["17345"])
    assert runs[("cadastre", PARCELS_27412.name)] == (["27"], ["27412"])
    assert runs[("batiments", BATIMENTS_27412.name)] == (["27"], ["27412"])
    friches_deps, _ = runs[("friches", FRICHES_08.name)]
    assert friches_deps == ["08"]


def test_a_criterion_cites_only_a_source_covering_the_parcel(client: TestClient) -> None:
    """The done-when check of the demo: the Eure parcel cites nothing from the Gard, the
    Charente-Maritime or the Ardennes; its unknown criteria cite none and say why."""
    score = client.get(f"/parcels/{EURE_PARCEL}/score").json()
    cited = {s["file"] for c in score["criteria"] for s in c["sources"]}
    assert cited == {PARCELS_27412.name, BATIMENTS_27412.name}
    by_name = {c["criterion"]: c for c in score["criteria"]}
    for name in ("zoning", "on_friche", "pollution"):
        assert by_name[name]["sources"] == [], name
        assert by_name[name]["no_source_reason"] == NO_COVERING_SOURCE, name
    assert by_name["motorway_distance"]["no_source_reason"] == NO_SOURCE_KIND
    assert "no_source_reason" not in by_name["site_area"]
    assert by_name["site_area"]["sources"][0]["synthetic"] is False
    # the same in a search's explanations
    page = client.get("/parcels/search", params={"commune": "27412", "limit": 5}).json()
    for feature in page["features"]:
        files = {s["file"] for c in feature["properties"]["criteria"] for s in c["sources"]}
        assert files <= {PARCELS_27412.name, BATIMENTS_27412.name}


def test_a_run_without_recorded_coverage_covers_nothing(truth: Engine) -> None:
    """An import that said nothing of its coverage (an older row) is cited nowhere; one
    recorded before communes were covers the départements it recorded."""
    from geo.scoring.lineage import lineage_for

    with truth.connect() as conn:
        conn.execute(
            text(
                "INSERT INTO import_run (kind, source, sha256, summary) "
                "VALUES ('plu', '/x/somewhere.zip', 'x', '{}')"
            )
        )
        nowhere = lineage_for(conn, ["27412"])
        conn.execute(
            text(
                "INSERT INTO import_run (kind, source, sha256, summary, departements) "
                "VALUES ('plu', '/x/older.zip', 'x', '{}', '{27}')"
            )
        )
        older = lineage_for(conn, ["27412", "91216"])
        conn.rollback()
    assert nowhere.sources("zoning", "27412") == []
    assert [s["file"] for s in older.sources("zoning", "27412")] == ["older.zip"]
    assert older.sources("zoning", "91216") == []


# -- remediation: unknown, never 0 € -------------------------------------------------------


def test_remediation_is_unknown_when_pollution_is(client: TestClient, truth: Engine) -> None:
    assert client.get(f"/parcels/{EURE_PARCEL}/score").json()["remediation_cost_eur"] is None
    unknown = client.get(f"/parcels/{UNKNOWN}/score").json()
    polluted = client.get(f"/parcels/{POLLUTED}/score").json()
    assert unknown["remediation_cost_eur"] is None
    with truth.connect() as conn:
        area = conn.execute(
            text("SELECT area_m2 / 10000 FROM parcel WHERE id = :p"), {"p": POLLUTED}
        ).scalar_one()
    assert polluted["remediation_cost_eur"] == pytest.approx(
        area * REMEDIATION_POLLUTED_EUR_PER_HA, rel=1e-3
    )


def test_a_site_with_an_unknown_parcel_has_an_unknown_cost_and_a_lower_bound(
    truth: Engine,
) -> None:
    """docs/methode.md's worked example: a site of a polluted friche parcel and a friche
    parcel of unknown pollution: total unknown, the known part a lower bound."""
    from app.presentation.ranking import _site_feature
    from geo.scoring.profiles import get_profile
    from geo.scoring.sites import RankedSite

    with truth.connect() as conn:
        ((_, _, known, complete), (_, _, alone, alone_complete)) = _site_details(
            conn, [[UNKNOWN, POLLUTED], [POLLUTED]]
        )
    assert complete is False and alone_complete is True
    assert known == pytest.approx(alone)
    site = RankedSite(1, [UNKNOWN, POLLUTED], 1.0, 50.0, "{}", 0.0, None, known, complete)
    properties = _site_feature(site, get_profile(None))["properties"]
    assert properties["remediation_cost_eur"] is None
    assert properties["remediation_cost_known_eur"] == round(known)
    assert properties["remediation_cost_complete"] is False


def test_an_unknown_remediation_is_an_empty_cell_in_the_csv(client: TestClient) -> None:
    answer = client.get(
        "/parcels/search", params={"commune": "27412", "format": "csv", "include_excluded": True}
    )
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows and {r["remediation_cost_eur"] for r in rows} == {""}


# -- synthetic data says so ---------------------------------------------------------------


def test_figures_from_synthetic_files_say_so(client: TestClient) -> None:
    imports = {i["kind"]: i for i in client.get("/sources").json()["imports"]}
    assert imports["naf-consumption"]["synthetic"] is True
    assert imports["cadastre"]["synthetic"] is False
    trajectory = client.get("/trajectories/commune/91216").json()
    assert trajectory["data"]["synthetic"] is True


def test_net_artificialisation_from_synthetic_millesimes_says_so(truth: Engine) -> None:
    from geo.ingest.ocsge import load_ocsge
    from geo.zan.artificialisation import net_artificialisation

    with truth.connect() as conn:
        assert net_artificialisation(conn, "commune", "91216")["synthetic"] is False
    for path in sorted((DATA / "ocsge").glob("*SYNTHETIQUE*.gpkg")):
        load_ocsge(truth, path)
    with truth.connect() as conn:
        measured = net_artificialisation(conn, "commune", "91216")
    assert measured["synthetic"] is True and measured["periods"]


# -- an empty search says why ----------------------------------------------------------------


def test_an_empty_search_names_the_communes_and_layers_missing(client: TestClient) -> None:
    """The EPCI of 91216 (CA Paris-Saclay? no: Cœur d'Essonne) has many communes, one with
    parcels, none with buildings: asking vacant land finds nothing, and says why."""
    epci = client.get("/communes/91216").json()["properties"]["epci_siren"]
    page = client.get("/parcels/search", params={"epci": epci, "land_use": "vacant"}).json()
    assert page["features"] == []
    why = page["why_empty"]
    assert why["communes_with_parcels_count"] == 1
    assert why["communes_without_parcels_count"] == why["communes_count"] - 1 > 0
    assert "91216" not in {c["insee"] for c in why["communes_without_parcels"]}
    layers = {layer["layer"]: layer for layer in why["layers_absent"]}
    assert layers["buildings"]["communes"] == [{"insee": "91216", "name": "Épinay-sur-Orge"}]
    land_use = {f["filter"]: f for f in why["filters"]}["land_use"]
    assert land_use["layer"] == "buildings" and land_use["without_it"] > 0
    assert "bâtiments" in why["message"] and "occupation du sol" in why["message"]
    # a search with results says nothing of the kind
    assert "why_empty" not in client.get("/parcels/search", params={"epci": epci}).json()


def test_an_empty_search_of_all_france_counts_nothing(client: TestClient) -> None:
    page = client.get("/parcels/search", params={"min_area": 900000}).json()
    assert page["features"] == []
    assert page["why_empty"]["filters"] == []
    assert "choisissez un territoire" in page["why_empty"]["message"]


def test_an_empty_site_search_says_why(client: TestClient) -> None:
    page = client.get(
        "/sites/search", params={"commune": "27412", "min_area": 500, "min_score": 99}
    ).json()
    assert page["features"] == []
    why = page["why_empty"]
    assert why["communes_without_parcels_count"] == 0
    assert {f["filter"] for f in why["filters"]} >= {"min_score"}


# -- filters that match the job -----------------------------------------------------------


def test_land_cover_tells_naf_land_from_artificialised_land(client: TestClient) -> None:
    """The friche parcels of 91216 are artificialised (no NAF consumed); the others, with
    no artificialised layer loaded, count as NAF, as in the ledger."""
    params = {"commune": "91216", "include_excluded": True, "limit": 1000}
    done = client.get("/parcels/search", params={**params, "land_cover": "artificialised"})
    assert {f["id"] for f in done.json()["features"]} == {UNKNOWN, POLLUTED}
    assert {f["properties"]["land_cover"] for f in done.json()["features"]} == {"artificialised"}
    naf = client.get("/parcels/search", params={**params, "land_cover": "naf", "limit": 10})
    assert naf.json()["features"] and all(
        f["properties"]["land_cover"] == "naf" and f["id"] not in (UNKNOWN, POLLUTED)
        for f in naf.json()["features"]
    )
    bad = client.get("/parcels/search", params={**params, "land_cover": "farmland"})
    assert bad.status_code == 422


def test_exclude_risk_drops_parcels_in_risk_plan_zones(truth: Engine) -> None:
    from geo.scoring.profiles import get_profile
    from geo.scoring.query import ParcelSearch
    from geo.scoring.search import search_parcels

    with truth.connect() as conn:
        conn.execute(
            text(
                "UPDATE parcel_features SET risk_interdiction_share = CASE parcel_id "
                "WHEN :a THEN 0.3 ELSE 0 END, risk_prescription_share = CASE parcel_id "
                "WHEN :b THEN 0.2 ELSE 0 END WHERE commune_insee = '91216'"
            ),
            {"a": UNKNOWN, "b": POLLUTED},
        )

        def found(**asked: object) -> set[str]:
            search = ParcelSearch(commune="91216", include_excluded=True, **asked)
            rows = search_parcels(conn, get_profile(None), search.filters(), limit=5000)
            return {r.row["parcel_id"] for r in rows}

        everything = found()
        no_interdiction = found(exclude_risk="interdiction")
        neither = found(exclude_risk="interdiction,prescription")
        conn.rollback()
    assert everything - no_interdiction == {UNKNOWN}
    assert everything - neither == {UNKNOWN, POLLUTED}
