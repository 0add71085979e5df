"""The code formats: each written once (geo.territories), and every reader agrees with it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from geo.crs import departement_of
from geo.db.partitions import partition_name
from geo.ingest.vector import PARCEL_REF
from geo.territories import LEVELS, PARCEL_ID_PATTERN


@pytest.mark.parametrize("insee", ["91216", "2A004", "2B033", "97411", "98735"])
def test_a_communes_departement_is_a_departement_code(insee: str) -> None:
    assert LEVELS["commune"].is_code(insee)
    assert LEVELS["departement"].is_code(departement_of(insee))
    partition_name(departement_of(insee))


@pytest.mark.parametrize(
    ("parcel_id", "valid"),
    [
        ("91216000AB0037", True),
        ("2A004000AB0037", True),
        ("97411000AB0037", True),
        ("1A216000AB0037", False),  # no département 1A
        ("91216000AB037", False),
    ],
)
def test_one_parcel_id_format(parcel_id: str, valid: bool) -> None:
    assert bool(re.match(PARCEL_ID_PATTERN, parcel_id)) is valid
    assert bool(PARCEL_REF.match(parcel_id)) is valid


def test_the_api_reads_the_same_formats(api_client: TestClient) -> None:
    # a région code has two digits, as LEVELS says; the list of projects used to take three
    assert api_client.get("/projects", params={"region": "111"}).status_code == 422
    assert api_client.get("/parcels/1A216000AB0037").status_code == 422
    assert api_client.get("/parcels/search", params={"departement": "987"}).status_code == 200
