"""Friches, BASOL and PLU loaders on the real files of data/, and broken copies of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo.ingest.errors import LoaderError
from geo.ingest.friches import load_friches
from geo.ingest.plu import load_plu
from geo.ingest.pollution import load_basol
from tests.helpers import DATA, write

CARTOFRICHES = DATA / "friches" / "cartofriches-08.csv"
ARDENNES_CSV = DATA / "friches" / "ardennes-friches.csv"
ARDENNES_GEOJSON = DATA / "friches" / "ardennes-friches.geojson"
BASOL = DATA / "pollution" / "basol-sample.geojson"
PLU = DATA / "plu" / "zone_urba_DU_17345.geojson"


def one(engine: Engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).one()


# -- friches ----------------------------------------------------------------------


def test_cartofriches_csv(fresh_engine: Engine) -> None:
    report = load_friches(fresh_engine, CARTOFRICHES)
    assert (report.read, report.inserted, report.rejected) == (27, 27, {})
    row = one(
        fresh_engine,
        """SELECT commune_insee_source, commune_insee, departement_code, site_statut,
                  unite_fonciere_surface_m2, identified_on, ST_SRID(geom_point),
                  ST_X(geom_point), geom IS NULL
           FROM friche WHERE site_id = '08417_15773'""",
    )
    # "8417" lost its leading zero in the export; "10/10/2022" is a French date.
    assert row[:6] == ("08417", "08417", "08", "friche potentielle", 14226, _date(2022, 10, 10))
    assert row[6] == 2154 and 800_000 < row[7] < 900_000  # Lambert-93 metres
    assert row[8]  # no outline in this export (geomsurf = NA)
    links = one(fresh_engine, "SELECT count(*) FROM friche_parcel WHERE site_id = '08417_15773'")
    assert links == (5,)  # 08460000AC0010|…|08460000AC0124


def test_observatory_csv_and_geojson_complete_each_other(fresh_engine: Engine) -> None:
    load_friches(fresh_engine, ARDENNES_CSV)
    assert one(fresh_engine, "SELECT count(*), count(geom) FROM friche") == (164, 0)
    report = load_friches(fresh_engine, ARDENNES_GEOJSON)
    assert (report.inserted, report.updated) == (0, 164)
    assert report.repaired == 1  # one self-intersecting outline in the real file
    count, outlines, typed, valid = one(
        fresh_engine,
        "SELECT count(*), count(geom), count(site_type), bool_and(ST_IsValid(geom)) FROM friche",
    )
    assert (count, outlines, typed, valid) == (164, 164, 164, True)
    # The outline's area agrees with the observatory's own computed surface.
    area, surf_calc = one(
        fresh_engine, "SELECT area_m2, 5726 FROM friche WHERE site_id = '08362_04'"
    )
    assert area == pytest.approx(surf_calc, rel=0.01)
    again = load_friches(fresh_engine, ARDENNES_GEOJSON)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 164)
    # The two files name some sites differently: the CSV's attributes are kept.
    assert one(fresh_engine, "SELECT name FROM friche WHERE site_id = '08362_04'") == (
        "Point P et Docks de l’Oise – secteur gare",
    )


def test_observatory_files_in_the_other_order_give_the_same_sites(fresh_engine: Engine) -> None:
    load_friches(fresh_engine, ARDENNES_GEOJSON)
    load_friches(fresh_engine, ARDENNES_CSV)
    first = one(fresh_engine, "SELECT md5(string_agg(f::text, '' ORDER BY site_id)) FROM friche f")
    load_friches(fresh_engine, ARDENNES_GEOJSON)
    assert load_friches(fresh_engine, ARDENNES_CSV).unchanged == 164
    assert (
        one(fresh_engine, "SELECT md5(string_agg(f::text, '' ORDER BY site_id)) FROM friche f")
        == first
    )
    assert one(fresh_engine, "SELECT name FROM friche WHERE site_id = '08362_04'") == (
        "Point P et Docks de l’Oise – secteur gare",
    )


def test_friche_reports_values_outside_the_standard(fresh_engine: Engine, tmp_path: Path) -> None:
    lines = ARDENNES_CSV.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("friche ferroviaire", "friche imaginaire")
    report = load_friches(fresh_engine, write(tmp_path / "f.csv", "\n".join(lines)))
    assert any(
        "site_type: values outside the standard" in w and "friche imaginaire" in w
        for w in report.warnings
    )
    assert not any("friche d’équipement public" in w for w in report.warnings)


def test_friche_bad_wkt_writes_nothing(fresh_engine: Engine, tmp_path: Path) -> None:
    lines = ARDENNES_CSV.read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace("Point (", "Point ((")
    with pytest.raises(LoaderError, match="geompoint.*does not parse"):
        load_friches(fresh_engine, write(tmp_path / "f.csv", "\n".join(lines)))
    assert one(fresh_engine, "SELECT count(*) FROM friche") == (0,)


def test_friche_swapped_coordinates_are_caught(fresh_engine: Engine, tmp_path: Path) -> None:
    lines = ARDENNES_CSV.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("Point (4.", "Point (49.").replace(" 49.", " 4.", 1)
    with pytest.raises(LoaderError, match="outside metropolitan France"):
        load_friches(fresh_engine, write(tmp_path / "f.csv", "\n".join(lines)))
    assert one(fresh_engine, "SELECT count(*) FROM friche") == (0,)


def test_friche_without_site_id_rejects_the_file(fresh_engine: Engine, tmp_path: Path) -> None:
    lines = ARDENNES_CSV.read_text(encoding="utf-8").splitlines()
    lines[2] = "," + lines[2].split(",", 1)[1]
    with pytest.raises(LoaderError, match="missing site_id: 1"):
        load_friches(fresh_engine, write(tmp_path / "f.csv", "\n".join(lines)))


def test_friche_missing_column(fresh_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="missing column"):
        load_friches(fresh_engine, write(tmp_path / "f.csv", "a;b\n1;2\n"))


def test_a_csv_header_longer_than_any_real_one_is_refused(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    """The header line is read with a bound (a file of one 400 MB line took 2.3 GB before
    being refused): past it, refused by name, the line never held whole."""
    huge = "site_id;" + "x" * (1 << 20) + "\n1;2\n"
    with pytest.raises(LoaderError, match="header line longer than"):
        load_friches(fresh_engine, write(tmp_path / "f.csv", huge))


# -- BASOL --------------------------------------------------------------------------


def test_basol_messy_attributes(fresh_engine: Engine) -> None:
    report = load_basol(fresh_engine, BASOL)
    assert (report.read, report.inserted) == (40, 40)
    row = one(
        fresh_engine,
        "SELECT commune_insee, departement_code, ST_X(geom_point), ST_Y(geom_point) "
        "FROM polluted_site WHERE id = '60.0126'",
    )
    # code_insee "60542 (832 habitants)"; the file's Lambert-93 point kept as is.
    assert row == ("60542", "60", 641904.8, 6922007.6)
    # 80.011 in the file is BASOL 80.0110
    assert one(fresh_engine, "SELECT count(*) FROM polluted_site WHERE id = '80.0110'") == (1,)
    with fresh_engine.connect() as conn:
        links = conn.execute(
            text("SELECT parcel_id FROM polluted_site_parcel WHERE site_id = '44.0094'")
        ).scalars()
        # section O, numbers 254, 370, 998 and 356 in Ancenis (44003)
        assert set(links) == {
            "440030000O0254",
            "440030000O0370",
            "440030000O0998",
            "440030000O0356",
        }


def test_basol_reimport_is_idempotent(fresh_engine: Engine) -> None:
    load_basol(fresh_engine, BASOL)
    again = load_basol(fresh_engine, BASOL)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 40)
    assert one(fresh_engine, "SELECT count(*) FROM polluted_site") == (40,)


def test_basol_point_missing_rejects_the_file(fresh_engine: Engine, tmp_path: Path) -> None:
    data = json.loads(BASOL.read_bytes())
    data["features"][7]["geometry"] = None
    with pytest.raises(LoaderError, match="feature without geometry: 1"):
        load_basol(fresh_engine, write(tmp_path / "b.geojson", json.dumps(data)))
    assert one(fresh_engine, "SELECT count(*) FROM polluted_site") == (0,)


# -- PLU ----------------------------------------------------------------------------


def test_plu_zones_are_classified(fresh_engine: Engine) -> None:
    report = load_plu(fresh_engine, PLU)
    assert (report.read, report.inserted) == (39, 39)
    with fresh_engine.connect() as conn:
        classes = dict(
            conn.execute(text("SELECT libelle, zoning_class FROM plu_zone GROUP BY 1, 2")).all()
        )
        commune, srid = conn.execute(
            text("SELECT min(commune_insee), min(ST_SRID(geom)) FROM plu_zone")
        ).one()
    assert classes["Ux"] == "activity"
    assert classes["A"] == classes["Ap"] == "agricultural"
    assert classes["N"] == classes["Np"] == "natural"
    assert classes["Ub"] == "housing"  # "Secteur d'habitat contemporain…"
    assert (commune, srid) == ("17345", 2154)  # from partition DU_17345


def test_plu_broken_file(fresh_engine: Engine, tmp_path: Path) -> None:
    data = json.loads(PLU.read_bytes())
    for feature in data["features"]:
        feature["properties"].pop("typezone")
    with pytest.raises(LoaderError, match="missing propert.*typezone"):
        load_plu(fresh_engine, write(tmp_path / "p.geojson", json.dumps(data)))


def _date(y: int, m: int, d: int):
    import datetime

    return datetime.date(y, m, d)
