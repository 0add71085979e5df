"""What stands on the land (issue 14): buildings (Etalab cadastre, BD TOPO), owners (DGFiP
legal-entity file), the land-use state and owner group in the ranking, their filters, and
every criterion's lineage. Proven on the real files of ../shared/data (27412, 59025, 91)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine, text

from geo.ingest.buildings import load_buildings
from geo.ingest.cadastre import load_cadastre
from geo.ingest.errors import LoaderError
from geo.ingest.owners import load_owners, parcel_id
from geo.land.buildings import land_use_state
from geo.land.owners import owner_group
from geo.scoring.profiles import get_profile
from geo.scoring.refresh import refresh_scores
from geo.scoring.search import Filters, parcel_score, search_parcels
from tests.helpers import CADASTRE_91216, Databases, engine_for, write

SHARED = Path(os.environ.get("FONCIER_SHARED_DATA", "/work/shared/data"))
BATIMENTS = SHARED / "batiments" / "cadastre-27412-batiments.geojson"
PARCELS_27412 = SHARED / "batiments" / "cadastre-27412-parcelles-trimmed.geojson"
BDTOPO = SHARED / "batiments" / "bdtopo-batiment-59025-aubers.geojson"
OWNERS = SHARED / "proprietaires" / "PM_25_NB_910_part_006.csv"
pytestmark = pytest.mark.skipif(not BATIMENTS.is_file(), reason="shared real data not present")

HEADER = (
    "Département;Code Direction;Code Commune;Nom de la commune;Préfixe;Section;N° plan;"
    "N° voirie;Indice de répétition;Code voie MAJIC;Code voie Rivoli;Nature voie;Nom voie;"
    "Contenance;SUF;Nature culture;Contenance.1;Code droit - par;N° Majic - par;"
    "N° SIREN - par;Groupe personne - par;Forme juridique - par;"
    "Forme juridique abrégée - par;Dénomination - par"
)


def owner_row(commune: str, section: str, plan: str, right: str, siren: str, group: str,
              form: str, short: str, name: str) -> str:  # fmt: skip
    return (
        f"91;0;{commune};EPINAY-SUR-ORGE;;{section};{plan};;;;;;;1000;;T - Terre;1000;{right};"
        f"PXXXXX;{siren};{group};{form};{short};{name}"
    )


# SYNTHETIC rows in the real 2025 layout, on real 91216 parcels (the real file's communes,
# 91689/91691/91692, have no cadastre extract here).
SYNTHETIC_OWNERS = "\n".join(
    [
        HEADER,
        owner_row("216", "AB", "0037", "P - Propriétaire", "219102167", "4 - Commune", "7210",
                  "COM", "COMMUNE D EPINAY SUR ORGE"),
        owner_row("216", "AB", "0037", "G - Gérant, mandataire, gestionnaire", "123456789",
                  "0 - Personnes morales non remarquables ", "5710", "SAS", "GESTION SAS"),
        owner_row("216", "AB", "0038", "P - Propriétaire", "414803940",
                  "0 - Personnes morales non remarquables ", "6540", "SCI", "SCI TRIANGLE"),
        owner_row("216", "AB", "0039", "S - Syndic de copropriété", "999999999",
                  "0 - Personnes morales non remarquables ", "5710", "SAS", "SYNDIC SAS"),
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def land_url(databases: Databases, template_db: str, tmp_path_factory) -> str:
    """27412 parcels and buildings, BD TOPO of 59025, 91216 parcels with owners; scored."""
    url = databases.create(f"{template_db}_land", template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, PARCELS_27412)
    load_cadastre(engine, CADASTRE_91216)
    load_buildings(engine, BATIMENTS)
    load_buildings(engine, BDTOPO)
    owners = write(tmp_path_factory.mktemp("owners") / "owners.csv", SYNTHETIC_OWNERS)
    load_owners(engine, owners)
    refresh_scores(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def land(land_url: str) -> Iterator[Engine]:
    engine = engine_for(land_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def client(base_settings, land_url: str) -> Iterator[TestClient]:
    from app.api.main import create_app

    app = create_app(base_settings.model_copy(update={"database_url": land_url}))
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


# -- domain rules -------------------------------------------------------------------


def test_land_use_state_rule() -> None:
    assert land_use_state(None, None, None) is None  # no layer: unknown, never guessed
    assert land_use_state(0, 0.0, None) == "vacant"
    assert land_use_state(2, 0.05, False, 0.2) == "underused"
    assert land_use_state(1, 0.9, True, 0.2) == "underused"  # light buildings only
    assert land_use_state(3, 0.5, False, 0.2) == "built"
    assert land_use_state(3, 0.15, False, 0.1) == "built"  # the profile's threshold


@pytest.mark.parametrize(
    ("group", "form", "short", "expected"),
    [
        ("4 - Commune", "7210", "COM", "commune"),
        ("9 - Établissements publics ou organismes associés", "7348", "COAG", "epci"),
        ("3 - Département ", "7353", "SIVU", "epci"),
        ("0 - Personnes morales non remarquables ", "7364", "HOSP", "etablissement_public"),
        ("9 - Établissements publics ou organismes associés", "4110", "EPIC",
         "etablissement_public"),
        ("1 - État ", "7113", "ETAT", "etat"),
        ("2 - Région", "7230", "COLL", "region"),
        ("6 - Personnes morales représentant des sociétés d’économie mixte", "5599", "SA", "sem"),
        ("0 - Personnes morales non remarquables ", "5515", "SEM", "sem"),
        ("5 - Office HLM", "5599", "SA", "personne_morale"),
        ("0 - Personnes morales non remarquables ", "6540", "SCI", "personne_morale"),
        ("9 - Établissements publics ou organismes associés", "", "", "etablissement_public"),
    ],
)  # fmt: skip
def test_owner_groups_from_the_dgfip_codes(group: str, form: str, short: str, expected: str):
    assert owner_group(group, form, short) == expected


def test_parcel_ids_are_rebuilt_as_the_cadastre_writes_them() -> None:
    # the real file's first row; sections of one letter are left-padded with 0 (as 27412's
    # ids show: section "A" in id 274120000A1225)
    assert parcel_id("91", "0", "689", "", " C", "0034") == "916890000C0034"
    assert parcel_id("91", "0", "216", "", "AB", "37") == "91216000AB0037"
    assert parcel_id("27", "0", "412", "648", "A", "119") == "274126480A0119"


# -- loaders on the real files ------------------------------------------------------


def test_real_files_load_with_their_counts(land: Engine) -> None:
    with land.connect() as conn:
        rows = dict(
            conn.execute(
                text(
                    "SELECT source || '/' || coalesce(hard::text, '?'), count(*) FROM building "
                    "GROUP BY 1"
                )
            ).all()
        )
        uses = dict(
            conn.execute(
                text("SELECT usage, count(*) FROM building WHERE source = 'bdtopo' GROUP BY 1")
            ).all()
        )
        communes = conn.execute(text("SELECT DISTINCT commune_insee FROM building")).scalars()
        assert sorted(communes) == ["27412", "59025"]
        # the publisher's trimmed parcels (id, section, numero only) are accepted
        trimmed = conn.execute(
            text("SELECT count(*), min(prefixe) FROM parcel WHERE commune_insee = '27412'")
        ).one()
        assert trimmed == (1990, "000")
    # Etalab: type 01 1,317, type 02 280; BD TOPO: LEGER Non 1,085, Oui 170 (the files)
    assert rows == {"cadastre/true": 1317, "cadastre/false": 280, "bdtopo/true": 1085,
                    "bdtopo/false": 170}  # fmt: skip
    assert uses["industrial"] == 7 and uses["agricultural"] == 26 and uses["commercial"] == 24


def test_real_owner_file(fresh_engine: Engine) -> None:
    report = load_owners(fresh_engine, OWNERS)
    assert report.read == 1969 and not report.rejected
    assert report.tables["parcels"] == 1672
    # no cadastre of Wissous, Yerres, Les Ulis here: nothing to match, and said so
    assert report.tables["parcels matched in the loaded cadastre"] == 0
    with fresh_engine.connect() as conn:
        wissous = conn.execute(
            text("SELECT owner_group, siren, name FROM parcel_owner WHERE parcel_id = :id"),
            {"id": "916890000C0034"},
        ).one()
    assert wissous == ("commune", "219106895", "COMMUNE DE WISSOUS")


@pytest.mark.parametrize(
    ("row", "said"),
    [
        # one line of 1 MiB: read whole before (a 300 MB line took 825 MB, then a traceback)
        ("91;0;216;000;AB;0037;P;123456789;1;SA;SA;" + "x" * (1 << 20), "a line longer than"),
        # a quoted field over many short lines, past the csv module's field limit
        ('91;0;216;000;AB;0037;P;123456789;1;SA;SA;"' + "x\n" * 70_000 + '"', "not a DGFiP"),
    ],
)
def test_an_owner_file_with_a_huge_line_or_field_is_one_line_error(
    fresh_engine: Engine, tmp_path: Path, row: str, said: str
) -> None:
    from geo.ingest.owners import HEADER

    path = write(tmp_path / "owners.csv", ";".join(HEADER) + "\n" + row + "\n")
    with pytest.raises(LoaderError, match=said):
        load_owners(fresh_engine, path)


def test_a_building_on_a_parcel_makes_it_built_and_none_vacant(land: Engine) -> None:
    """The oracle: the publisher's own footprints and parcels, intersected with shapely."""
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)

    def shapes(path: Path) -> list[tuple[dict, shapely.Geometry]]:
        data = json.loads(path.read_bytes())
        return [
            (
                f["properties"],
                shapely.transform(
                    shapely.from_geojson(json.dumps(f["geometry"])),
                    lambda xy: np.column_stack(to_l93.transform(xy[:, 0], xy[:, 1])),
                ),
            )
            for f in data["features"]
        ]

    parcels = {p["id"]: g for p, g in shapes(PARCELS_27412)}
    buildings = [g for p, g in shapes(BATIMENTS) if p["type"] == "01"]
    tree = shapely.STRtree(buildings)

    def covered_share(pid: str) -> float:
        near = [buildings[i] for i in tree.query(parcels[pid], predicate="intersects")]
        return shapely.union_all(near).intersection(parcels[pid]).area / parcels[pid].area

    built, vacant = "274120000A0584", "274120000A1543"
    assert covered_share(built) > 0.9
    assert not tree.query(parcels[vacant], predicate="intersects").size
    profile = get_profile("small-industry")
    with land.connect() as conn:
        on_built = parcel_score(conn, built, profile)
        on_vacant = parcel_score(conn, vacant, profile)
    assert on_built["land_use"] == "built" and on_built["building_count"] >= 1
    assert on_built["built_share"] == pytest.approx(covered_share(built), abs=0.02)
    assert on_vacant["land_use"] == "vacant" and on_vacant["building_count"] == 0
    criterion = {c["criterion"]: c for c in on_built["criteria"]}["land_use"]
    assert criterion["value"] == "built" and criterion["points"] == -2.0
    criterion = {c["criterion"]: c for c in on_vacant["criteria"]}["land_use"]
    assert criterion["value"] == "vacant" and criterion["points"] == 2.0


def test_light_buildings_only_is_underused(land: Engine) -> None:
    with land.connect() as conn:
        pid = conn.execute(
            text(
                "SELECT parcel_id FROM parcel_features WHERE light_only AND built_share > 0.5 "
                "ORDER BY parcel_id LIMIT 1"
            )
        ).scalar_one()
        assert parcel_score(conn, pid, get_profile(None))["land_use"] == "underused"


def test_land_use_is_unknown_where_no_building_layer_covers_the_commune(land: Engine) -> None:
    with land.connect() as conn:
        row = parcel_score(conn, "91216000AB0037", get_profile(None))
    assert row["land_use"] is None and row["building_count"] is None
    assert not {c["criterion"]: c for c in row["criteria"]}["land_use"]["known"]


def test_owners_in_the_ranking(land: Engine) -> None:
    with land.connect() as conn:
        groups = dict(
            conn.execute(
                text(
                    "SELECT parcel_id, owner_group FROM parcel_features WHERE parcel_id IN "
                    "('91216000AB0037', '91216000AB0038', '91216000AB0039', '91216000AB0040')"
                )
            ).all()
        )
        other = conn.execute(
            text("SELECT owner_group FROM parcel_features WHERE commune_insee = '27412' LIMIT 1")
        ).scalar_one()
        score = parcel_score(conn, "91216000AB0037", get_profile(None))
    # the owner right wins over the manager's; a syndic's parcel and a parcel absent from
    # the file are "private or unknown"; a commune without an owner file is unknown
    assert groups["91216000AB0037"] == "commune"
    assert groups["91216000AB0038"] == "personne_morale"
    assert groups.get("91216000AB0039", "private_or_unknown") == "private_or_unknown"
    assert other is None
    assert score["owner"] == {"group": "commune", "siren": "219102167",
                              "name": "COMMUNE D EPINAY SUR ORGE"}  # fmt: skip
    criterion = {c["criterion"]: c for c in score["criteria"]}["public_owner"]
    assert criterion["value"] == "commune" and criterion["points"] == 2.0


def test_every_criterion_names_its_source(land: Engine) -> None:
    with land.connect() as conn:
        runs = dict(conn.execute(text("SELECT kind, max(id) FROM import_run GROUP BY 1")).all())
        score = parcel_score(conn, "274120000A0584", get_profile(None))
        features = search_parcels(
            conn, get_profile(None), Filters(commune="27412", include_excluded=True), limit=5
        )
    by_name = {c["criterion"]: c for c in score["criteria"]}
    (cadastre,) = by_name["site_area"]["sources"]
    assert cadastre["import_run_id"] == min_cadastre_27(land)
    assert cadastre["producer"] == "DGFiP, Etalab"
    (buildings,) = by_name["land_use"]["sources"]
    assert buildings["import_run_id"] == runs["batiments"]
    assert buildings["vintage"] == "mis à jour jusqu'au 06/08/2018"  # French: people read it
    assert buildings["file"] == BATIMENTS.name
    assert by_name["motorway_distance"]["sources"] == []  # no layer: said, not invented
    assert by_name["zoning"]["sources"] == []
    for feature in features:
        land_use = {c["criterion"]: c for c in feature.explanation["criteria"]}["land_use"]
        assert land_use["sources"][0]["import_run_id"] == runs["batiments"]


def min_cadastre_27(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM import_run WHERE kind = 'cadastre' AND '27' = ANY(departements)")
        ).scalar_one()


def test_lineage_is_per_departement(land: Engine) -> None:
    with land.connect() as conn:
        cadastre_runs = dict(
            conn.execute(
                text("SELECT departements[1], id FROM import_run WHERE kind = 'cadastre'")
            ).all()
        )
        in_91 = parcel_score(conn, "91216000AB0037", get_profile(None))
        in_27 = parcel_score(conn, "274120000A0584", get_profile(None))
    site = {c["criterion"]: c for c in in_91["criteria"]}["site_area"]["sources"][0]
    assert site["import_run_id"] == cadastre_runs["91"]
    site = {c["criterion"]: c for c in in_27["criteria"]}["site_area"]["sources"][0]
    assert site["import_run_id"] == cadastre_runs["27"]


# -- search filters -------------------------------------------------------------------


def test_search_filters_on_land_use_built_share_and_owner(client: TestClient) -> None:
    base = {"commune": "27412", "include_excluded": "true", "limit": 1000}
    vacant = client.get("/parcels/search", params={**base, "land_use": "vacant"}).json()
    assert vacant["numberMatched"] > 0
    assert {f["properties"]["land_use"] for f in vacant["features"]} == {"vacant"}
    both = client.get("/parcels/search", params={**base, "land_use": "vacant,underused"}).json()
    built = client.get("/parcels/search", params={**base, "land_use": "built"}).json()
    total = client.get("/parcels/search", params=base).json()["numberMatched"]
    assert both["numberMatched"] + built["numberMatched"] == total
    low = client.get("/parcels/search", params={**base, "max_built_share": 0.1}).json()
    assert all(f["properties"]["built_share"] <= 0.1 for f in low["features"])
    assert 0 < low["numberMatched"] < total
    owned = client.get(
        "/parcels/search",
        params={
            "commune": "91216",
            "owner": "commune,epci",
            "include_excluded": "true",
        },  # fmt: skip
    ).json()
    assert [f["id"] for f in owned["features"]] == ["91216000AB0037"]
    assert owned["features"][0]["properties"]["owner"]["group"] == "commune"


# land_use and owner are lists the schema states (a pattern over the domain's values): a
# value outside it is a 422, as any value outside its declared range.
@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"land_use": "empty"}, 422),
        ({"land_use": ""}, 422),
        ({"land_use": "vacant,,built"}, 422),
        ({"owner": "mairie"}, 422),
        ({"owner": "commune;epci"}, 422),
        ({"max_built_share": "1.5"}, 422),
        ({"max_built_share": "-0.1"}, 422),
        ({"max_built_share": "abc"}, 422),
        ({"land_use": "x" * 300}, 422),
    ],
)
def test_bad_filter_values_are_problems(client: TestClient, params: dict, status: int) -> None:
    response = client.get("/parcels/search", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


# -- broken copies: one line, nothing written ---------------------------------------


def _broken(tmp_path: Path, real: Path, how: str) -> Path:
    data = real.read_bytes()
    if how == "truncated":
        return write(tmp_path / real.name, data[: len(data) // 2])
    if how == "html":
        return write(tmp_path / real.name, "<!DOCTYPE html><html><body>404 Not Found</body></html>")
    if how == "gz-truncated":
        return write(tmp_path / (real.name + ".gz"), gzip.compress(data)[:5000])
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["truncated", "html", "gz-truncated"])
@pytest.mark.parametrize("real", [BATIMENTS, BDTOPO], ids=["etalab", "bdtopo"])
def test_broken_building_files_write_nothing(
    fresh_engine: Engine, tmp_path: Path, real: Path, how: str
) -> None:
    with pytest.raises(LoaderError) as caught:
        load_buildings(fresh_engine, _broken(tmp_path, real, how))
    assert "\n" not in str(caught.value)
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM building")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM import_run")).scalar_one() == 1  # admin


def test_bdtopo_without_a_commune_column_takes_the_parcel_under_it(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    data = json.loads(BDTOPO.read_bytes())
    data["features"] = data["features"][:20]
    for feature in data["features"]:
        feature["properties"] = {
            k: v for k, v in feature["properties"].items() if k.upper() not in ("INSEE_COM",
                                                                               "INSEE_COM_")
        }  # fmt: skip
    path = write(tmp_path / "bdtopo-no-commune.geojson", json.dumps(data))
    # neither a commune outline of the Nord nor a parcel of Aubers is loaded: refused
    with pytest.raises(LoaderError, match="20 of 20 buildings rejected.*no commune"):
        load_buildings(fresh_engine, path)
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM building")).scalar_one() == 0


def test_gzipped_file_and_reimport_replace_the_communes_buildings(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    load_buildings(fresh_engine, BATIMENTS)
    packed = write(tmp_path / "batiments-27412.json.gz", gzip.compress(BATIMENTS.read_bytes()))
    again = load_buildings(fresh_engine, packed)
    assert again.read == 1597 and again.tables["replaced (same source, same communes)"] == 1597
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM building")).scalar_one() == 1597


def test_building_statistics_follow_either_import_order(fresh_engine: Engine) -> None:
    """Counted at import (parcel_building): buildings loaded before their parcels are
    counted when the parcels arrive, and a second import of either recounts, not adds."""
    built, vacant = "274120000A0584", "274120000A1543"

    def counts() -> dict[str, int]:
        with fresh_engine.connect() as conn:
            rows = conn.execute(text("SELECT parcel_id, building_count FROM parcel_building")).all()
        return dict(rows)

    first = load_buildings(fresh_engine, BATIMENTS)
    assert first.tables["parcels with a building"] == 0 and counts() == {}  # no parcel yet
    load_cadastre(fresh_engine, PARCELS_27412)
    after_parcels = counts()
    assert after_parcels[built] >= 1 and vacant not in after_parcels
    again = load_buildings(fresh_engine, BATIMENTS)
    assert again.tables["parcels with a building"] == len(after_parcels)
    assert counts() == after_parcels
    refresh_scores(fresh_engine, commune="27412")
    with fresh_engine.connect() as conn:
        state = dict(
            conn.execute(
                text(
                    "SELECT parcel_id, building_count FROM parcel_features "
                    "WHERE parcel_id IN (:b, :v)"
                ),
                {"b": built, "v": vacant},
            ).all()
        )
    assert state == {built: after_parcels[built], vacant: 0}


def test_a_parcel_file_is_not_a_building_file(fresh_engine: Engine) -> None:
    with pytest.raises(LoaderError, match="neither an Etalab cadastre batiments"):
        load_buildings(fresh_engine, PARCELS_27412)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("truncated", "line 1002 has 10 fields"),
        ("html", "not a ';'-separated DGFiP file"),
        ("header", "missing column"),
    ],
)
def test_broken_owner_files_write_nothing(
    fresh_engine: Engine, tmp_path: Path, content: str, message: str
) -> None:
    text_ = OWNERS.read_text(encoding="utf-8")
    if content == "truncated":
        lines = text_.splitlines()
        body = "\n".join(lines[:1001] + [";".join(lines[1001].split(";")[:10])])
    elif content == "html":
        body = "<html><head><title>data.gouv.fr</title></head><body>Erreur</body></html>"
    else:
        body = text_.replace("N° SIREN - par", "SIREN", 1)
    path = write(tmp_path / "pm.csv", body)
    with pytest.raises(LoaderError, match=message):
        load_owners(fresh_engine, path)
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcel_owner")).scalar_one() == 0


@pytest.mark.slow
def test_cli_imports_and_refuses_with_one_line(fresh_engine: Engine, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FONCIER_DATABASE_URL": fresh_engine.url.render_as_string(hide_password=False),
    }

    def foncier(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", "import", *args],
            capture_output=True,
            text=True,
            env=env,
        )

    ok = foncier("batiments", str(BATIMENTS))
    assert ok.returncode == 0, ok.stderr
    assert "batiments: read 1597, written 1597" in ok.stdout
    owners = foncier("proprietaires", str(OWNERS))
    assert owners.returncode == 0 and "parcels matched in the loaded cadastre: 0" in owners.stdout
    bad = foncier("bdtopo", str(_broken(tmp_path, BDTOPO, "truncated")))
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in bad.stderr


def test_owner_zip_in_windows_1252_or_not_text(fresh_engine: Engine, tmp_path: Path) -> None:
    """The publisher's zip (synthetic packaging of the real part), re-encoded as the
    vintages before 2024 were: read the same; a member that is not text is refused in one
    line, nothing written."""
    import zipfile

    archive_path = tmp_path / "PM_23_NB_910.zip"
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("PM_23_NB_910.txt", OWNERS.read_text(encoding="utf-8").encode("cp1252"))
        archive.writestr("notice.pdf", b"%PDF-1.4 not read")
    report = load_owners(fresh_engine, archive_path)
    assert report.read == 1969 and report.vintage == "situation 2023"
    with fresh_engine.connect() as conn:
        name = conn.execute(
            text("SELECT name FROM parcel_owner WHERE parcel_id = '916890000C0034'")
        ).scalar_one()
    assert name == "COMMUNE DE WISSOUS"
    binary = tmp_path / "binary.zip"
    with zipfile.ZipFile(binary, "w") as archive:
        archive.writestr("PM_25_NB_910.csv", b"a;b\n\x81\x8d\x8f\x90\x9d;x\n")
    with pytest.raises(LoaderError, match="neither UTF-8 nor Windows-1252") as refused:
        load_owners(fresh_engine, binary)
    assert "\n" not in str(refused.value)
