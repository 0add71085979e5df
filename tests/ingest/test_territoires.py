"""Territoires d'industrie loader, on synthetic files in the documented format."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo.ingest.errors import LoaderError
from geo.ingest.territoires import load_territoires_industrie
from tests.helpers import write

PARIS_SACLAY, GRAND_PARIS_SUD, ARDENNE_METROPOLE = "200056232", "200059228", "200041630"


def members(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text(
                    "SELECT siren, territoire_industrie_id FROM epci "
                    "WHERE territoire_industrie_id IS NOT NULL"
                )
            ).all()
        )


def test_load_both_layouts(fresh_engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "ti.csv",
        "ti_id;ti_nom;region;epci_siren\n"
        f"TI-11-01;Essonne (synthetic);11;{PARIS_SACLAY}|{GRAND_PARIS_SUD}\n"
        f"TI-44-01;Ardennes (synthetic);44;{ARDENNE_METROPOLE}\n"
        "TI-44-01;Ardennes (synthetic);44;999999999\n",
    )
    report = load_territoires_industrie(fresh_engine, path)
    assert (report.read, report.inserted) == (2, 2)
    assert members(fresh_engine) == {
        PARIS_SACLAY: "TI-11-01",
        GRAND_PARIS_SUD: "TI-11-01",
        ARDENNE_METROPOLE: "TI-44-01",
    }
    assert report.warnings == [
        "1 member SIREN unknown to the EPCI and commune reference, kept as members, "
        "not linked to an EPCI: 999999999 (TI-44-01)"
    ]
    with fresh_engine.connect() as conn:  # reported, never dropped
        kept = conn.execute(
            text("SELECT territoire_industrie_id, resolved_as FROM territoire_industrie_member "
                 "WHERE siren = '999999999'")
        ).one()  # fmt: skip
    assert tuple(kept) == ("TI-44-01", "unknown")


def test_reimport_replaces_membership(fresh_engine: Engine, tmp_path: Path) -> None:
    first = write(
        tmp_path / "a.csv",
        f"ti_id,ti_nom,region,epci_siren\nT1,X,11,{PARIS_SACLAY}|{GRAND_PARIS_SUD}\n",
    )
    second = write(tmp_path / "b.csv", f"ti_id,ti_nom,region,epci_siren\nT1,X,11,{PARIS_SACLAY}\n")
    load_territoires_industrie(fresh_engine, first)
    report = load_territoires_industrie(fresh_engine, second)
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 1)
    assert members(fresh_engine) == {PARIS_SACLAY: "T1"}


def test_an_epci_in_two_territories_is_refused(fresh_engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "ti.csv",
        f"ti_id;ti_nom;region;epci_siren\nA;A;11;{PARIS_SACLAY}\nB;B;11;{PARIS_SACLAY}\n",
    )
    with pytest.raises(LoaderError, match=f"EPCI {PARIS_SACLAY} is in two territoires"):
        load_territoires_industrie(fresh_engine, path)
    assert members(fresh_engine) == {}


def test_unknown_region_is_refused(fresh_engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "ti.csv", f"ti_id;ti_nom;region;epci_siren\nA;A;99;{PARIS_SACLAY}\n")
    with pytest.raises(LoaderError, match="unknown région code"):
        load_territoires_industrie(fresh_engine, path)
