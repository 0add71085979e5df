"""Economic zones: the CNIG standard's own example files, synthetic files in the same
format (marked as such), and the art. L318-8-2 vacancy rule on hand-built histories."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo.ingest.errors import LoaderError
from geo.ingest.zae import load_economic_sites, load_site_eco, load_terrain_eco
from geo.land.zae import vacancy_rates
from tests.helpers import DATA, write

SITE_ECO = DATA / "zae" / "site-eco-exemple-cnig.csv"
TERRAIN_ECO = DATA / "zae" / "terrain-eco-exemple-cnig.csv"
TERRAIN_HEADER = TERRAIN_ECO.read_text(encoding="utf-8").splitlines()[0]
# A real-size unit in Lambert-93 (the standard's example outline is an 81 m² sliver).
SQUARE = json.dumps(
    {
        "type": "Polygon",
        "coordinates": [
            [
                [650000, 6980000],
                [650100, 6980000],
                [650100, 6980100],
                [650000, 6980100],
                [650000, 6980000],
            ]
        ],
    }
).replace('"', '""')


def terrain_row(terr_id: str, etat: str, observed: str, site: str = "SYNTH_SITE") -> str:
    """One TERRAIN-ECO row in the standard's column order (synthetic values)."""
    values = {
        "terr_id": terr_id,
        "site_id": site,
        "terr_refcad": "80024000ZO0030",
        "terr_surf_brute": "1",
        "terr_utile": "oui",
        "terr_identif_date": "2020-01-01",
        "terr_actu_date": observed,
        "terr_maitrise_fonc": "privée",
        "terr_stade_amngt": "viabilisé et aménagé",
        "terr_stade_comm": "disponible",
        "terr_etat_occup": etat,
        "terr_usage": "bâti productif",
        "terr_url_cartofriches": "",
        "terr_geomsurf": f'"{SQUARE}"',
        "terr_cle_en_main": "non",
        "terr_acquereur": "",
        "terr_cession_date": "",
        "terr_vente_montant": "",
        "terr_m2_prix": "",
    }
    return ";".join(values[name] for name in TERRAIN_HEADER.split(";"))


def terrain_file(tmp_path: Path, name: str, rows: list[str]) -> Path:
    return write(tmp_path / name, "\n".join([TERRAIN_HEADER, *rows]) + "\n")


def test_site_eco_example_of_the_standard(fresh_engine: Engine) -> None:
    report = load_site_eco(fresh_engine, SITE_ECO)
    assert (report.read, report.inserted) == (1, 1)
    # The example's ring is not closed (…589.70 vs …589.707): closed and counted.
    assert report.repaired == 1
    assert any("differs from the declared surface" in w for w in report.warnings)
    with fresh_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT kind, surf_brute_ha, declared_vacancy_rate, label_cle_en_main, "
                "voca_industrielle, reseau_fret_ferroviaire, epci_siren, ST_SRID(geom) "
                "FROM economic_site"
            )
        ).one()
    assert row == ("zae", 37.2, 0.13, True, True, False, "200071223", 2154)


def test_terrain_eco_example_links_parcels_and_records_its_state(fresh_engine: Engine) -> None:
    report = load_terrain_eco(fresh_engine, TERRAIN_ECO)
    assert (report.read, report.inserted) == (1, 1)
    assert report.tables["economic_land_unit_parcel links"] == 3
    assert any("not loaded yet" in w for w in report.warnings)  # its SITE-ECO is not
    with fresh_engine.connect() as conn:
        state = conn.execute(
            text("SELECT observed_on, etat_occup FROM economic_land_unit_state")
        ).one()
    assert state == (datetime.date(2023, 8, 29), "occupé")
    again = load_terrain_eco(fresh_engine, TERRAIN_ECO)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    assert again.tables["new occupation observations"] == 0


def test_vacancy_needs_two_years_at_1_january(fresh_engine: Engine, tmp_path: Path) -> None:
    # Three inventories of the same (synthetic) ZAE, as an EPCI would send them.
    inventories = {
        "2022": [
            terrain_row("C", "vacant", "2022-01-01"),
            terrain_row("E", "friche", "2020-03-01"),
        ],
        "2023": [
            terrain_row("A", "vacant", "2023-06-01"),
            terrain_row("C", "occupé", "2023-01-01"),
            terrain_row("D", "occupé", "2023-06-01"),
        ],
        "2023b": [terrain_row("C", "inoccupé", "2023-06-01")],
        "2024": [terrain_row("B", "vacant", "2024-06-01")],
        "2025": [terrain_row("A", "vacant", "2025-06-01")],
    }
    for name, rows in inventories.items():
        load_terrain_eco(fresh_engine, terrain_file(tmp_path, f"{name}.csv", rows))
    with fresh_engine.connect() as conn:

        def vacant(year: int) -> tuple[int, int, int]:
            (rate,) = vacancy_rates(conn, datetime.date(year, 1, 1))
            return rate.units, rate.vacant_units, rate.unknown_units

        # 2026: A (vacant since at least 2023-06), C (again since 2023-06, after a use),
        # E (friche since at least 2020); B seen vacant first in 2024-06: since when is
        # unknown, so not counted vacant, and not counted used either; D is used.
        assert vacant(2026) == (5, 3, 1)
        # 2025: threshold 2023-01-01. E only; A and B first seen vacant after it (unknown),
        # C's run began in June 2023 after a use (known: not yet two years).
        assert vacant(2025) == (5, 1, 2)
        # 2027: B's run (2024-06) is now two years old too: every duration is known.
        (rate,) = vacancy_rates(conn, datetime.date(2027, 1, 1))
        assert (rate.vacant_units, rate.basis, rate.rate) == (4, "computed", 0.8)
        # Units not yet observed do not count: only C (used again on 2023-01-01) and E.
        assert vacant(2023) == (2, 1, 0)
        # 2025 has two unknown durations and no declared rate for this synthetic site:
        # the bounds, 1/5 to 3/5
        (rate,) = vacancy_rates(conn, datetime.date(2025, 1, 1))
        assert (rate.basis, rate.rate, rate.bounds) == ("bounds", None, (0.2, 0.6))
        with pytest.raises(ValueError, match="1 January"):
            vacancy_rates(conn, datetime.date(2026, 6, 1))


def test_single_snapshot_uses_the_declared_rate_and_stock_is_not_vacancy(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    """Point 10 of issue 13: one inventory of 4 units of the CNIG example site (declared
    rate 13 %): a unit vacant since its first (and only) observation could be vacant for
    years; the computed rate would read 0 % for two years, so the EPCI's declared 13 % is
    used, and said to be. A lot never occupied ("inoccupé", on sale) is stock: 1 of 4."""
    load_site_eco(fresh_engine, SITE_ECO)
    site = "80024_SITE-ECO_00001"
    rows = [
        terrain_row("S1", "vacant", "2025-06-01", site),
        terrain_row("S2", "inoccupé", "2025-06-01", site),
        terrain_row("S3", "occupé", "2025-06-01", site),
        terrain_row("S4", "occupé", "2025-06-01", site),
    ]
    load_terrain_eco(fresh_engine, terrain_file(tmp_path, "snapshot.csv", rows))
    with fresh_engine.connect() as conn:
        (rate,) = vacancy_rates(conn, datetime.date(2026, 1, 1))
        assert (rate.units, rate.vacant_units, rate.unknown_units, rate.stock_units) == (
            4,
            0,
            1,
            1,
        )
        assert (rate.basis, rate.rate) == ("declared", 0.13)
        assert "site_taux_vacance" in rate.explained()
        # two years on, the vacant unit's duration is known: computed, 1 of 4; the lot
        # never occupied is still stock, not vacancy
        (later,) = vacancy_rates(conn, datetime.date(2028, 1, 1))
        assert (later.basis, later.rate, later.stock_units) == ("computed", 0.25, 1)


def test_vacant_units_must_have_stayed_unoccupied_over_the_two_years(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    """Art. L318-8-2: units no longer used by a CFE activity for two years at 1 January
    "et qui sont restées inoccupées au cours de la même période". Two inventories (June 2025,
    June 2027) and one update (September 2026) of 4 synthetic units: S1 vacant at both
    inventories; S2 vacant in 2025, occupied again in September 2026, vacant in 2027; S3 and
    S4 used. At 1 January 2028 only S1 counts: S2 was occupied within the two years, its
    vacancy restarts in June 2027. Rate computed: 1 / 4 = 25 %."""
    inventories = {
        "2025": [
            terrain_row("S1", "vacant", "2025-06-01"),
            terrain_row("S2", "vacant", "2025-06-01"),
            terrain_row("S3", "occupé", "2025-06-01"),
            terrain_row("S4", "occupé", "2025-06-01"),
        ],
        "2026": [terrain_row("S2", "occupé", "2026-09-01")],
        "2027": [
            terrain_row("S1", "vacant", "2027-06-01"),
            terrain_row("S2", "vacant", "2027-06-01"),
            terrain_row("S3", "occupé", "2027-06-01"),
            terrain_row("S4", "occupé", "2027-06-01"),
        ],
    }
    for name, rows in inventories.items():
        load_terrain_eco(fresh_engine, terrain_file(tmp_path, f"{name}.csv", rows))
    with fresh_engine.connect() as conn:
        (rate,) = vacancy_rates(conn, datetime.date(2028, 1, 1))
    assert (rate.units, rate.vacant_units, rate.unknown_units) == (4, 1, 0)
    assert (rate.basis, rate.rate) == ("computed", 0.25)


def test_terrain_eco_without_state_is_rejected(fresh_engine: Engine, tmp_path: Path) -> None:
    row = terrain_row("X", "", "2024-01-01")
    with pytest.raises(LoaderError, match="missing terr_etat_occup: 1"):
        load_terrain_eco(fresh_engine, terrain_file(tmp_path, "bad.csv", [row]))
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM economic_land_unit")).scalar_one() == 0


def test_commercial_zones_geojson(fresh_engine: Engine, tmp_path: Path) -> None:
    # Synthetic, in the simple documented format.
    zone = {
        "type": "Feature",
        "properties": {
            "id": "CZ-91-1",
            "nom": "Zone commerciale (synthetic)",
            "insee": "91216",
            "taux_vacance": "12,5",
        },
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[2.31, 48.67], [2.32, 48.67], [2.32, 48.675], [2.31, 48.67]]],
        },
    }
    path = write(
        tmp_path / "cz.geojson", json.dumps({"type": "FeatureCollection", "features": [zone]})
    )
    report = load_economic_sites(fresh_engine, path, kind="commercial_zone")
    assert report.inserted == 1
    with fresh_engine.connect() as conn:
        kind, rate, commercial, area = conn.execute(
            text("SELECT kind, declared_vacancy_rate, voca_commerciale, area_m2 FROM economic_site")
        ).one()
    assert (kind, rate, commercial) == ("commercial_zone", 0.125, True)
    # a right triangle of 0.01° of longitude (735 m at 48.67°N) by 0.005° of latitude (556 m)
    assert area == pytest.approx(735 * 556 / 2, rel=0.01)


def test_sites_cles_en_main_csv(fresh_engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "scem.csv",
        "id;nom;insee;surface_ha;geom\n"
        "SCEM-1;Site clé en main (synthetic);8105;12;"
        "POLYGON ((4.70 49.76, 4.71 49.76, 4.71 49.77, 4.70 49.77, 4.70 49.76))\n",
    )
    report = load_economic_sites(fresh_engine, path, kind="site_cle_en_main")
    assert report.inserted == 1
    with fresh_engine.connect() as conn:
        row = conn.execute(
            text("SELECT label_cle_en_main, commune_insee, departement_code FROM economic_site")
        ).one()
    assert row == (True, "08105", "08")


def test_unknown_kind(fresh_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="unknown kind"):
        load_economic_sites(fresh_engine, tmp_path / "x.csv", kind="mall")
