"""What the page shows of a source is French: the producer and dataset of each criterion's
source in a dossier (geo.scoring.lineage), the producers of the "Sources et fraîcheur" panel
(geo/ingest/sources.toml) and the vintages recorded by the loaders; the machine fields
(kind, file, import run) are unchanged."""

from __future__ import annotations

import datetime
import re

import pytest

from geo.ingest.catalogue import load_catalogue
from geo.ingest.report import updated_up_to, vintage_text
from geo.scoring.lineage import DATASETS

# words that give an English sentence away (none is French)
ENGLISH = re.compile(
    r"\b(and|by|with|for|the|of|or|as|published|assembled|packaged|declared|polluted|"
    r"inventory|elevation|hazard|observatory|updated|up to)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("kind", sorted(DATASETS))
def test_a_criterion_source_is_named_in_french(kind: str) -> None:
    dataset, producer = DATASETS[kind]
    assert not ENGLISH.search(dataset), dataset
    assert not ENGLISH.search(producer), producer


def test_the_catalogue_producers_are_french() -> None:
    english = {s.id: s.producer for s in load_catalogue().values() if ENGLISH.search(s.producer)}
    assert english == {}


def test_a_vintage_is_french_old_imports_included() -> None:
    assert updated_up_to(datetime.date(2023, 2, 27)) == "mis à jour jusqu'au 27/02/2023"
    assert updated_up_to(None) is None
    # recorded in English by an older version: read in French
    assert vintage_text("updated up to 2023-02-27") == "mis à jour jusqu'au 27/02/2023"
    for kept in ("situation 2024", "OCS GE 2021 (décret 2023-1096)", None):
        assert vintage_text(kept) == kept
