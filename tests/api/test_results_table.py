"""What the results table and its CSV say of each parcel besides its score: the commune's
name, the land use and the owner, the same in the JSON search and in its exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings

SEARCH = {"commune": "91216", "min_area": "0.2", "profile": "small-industry"}


@pytest.fixture(scope="module")
def scored_client(base_settings: Settings, scored_db_url: str) -> Iterator[TestClient]:
    from app.api.main import create_app

    app = create_app(base_settings.model_copy(update={"database_url": scored_db_url}))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_a_search_names_the_commune_land_use_and_owner_in_json_and_csv(scored_client) -> None:
    name = scored_client.get("/communes/91216").json()["properties"]["name"]
    page = scored_client.get("/parcels/search", params={**SEARCH, "limit": 50}).json()
    assert page["features"]
    for feature in page["features"]:
        assert feature["properties"]["commune_name"] == name
    response = scored_client.get("/parcels/search", params={**SEARCH, "format": "csv"})
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    columns = list(rows[0])
    assert columns[1:3] == ["commune", "commune_name"]
    assert {"land_use", "owner_group", "owner_name"} <= set(columns)
    by_id = {r["id"]: r for r in rows}
    for feature in page["features"]:
        p, row = feature["properties"], by_id[feature["id"]]
        assert row["commune_name"] == name
        assert row["land_use"] == (p["land_use"] or "")
        assert row["owner_group"] == ((p["owner"] or {}).get("group") or "")
    french = scored_client.get("/parcels/search", params={**SEARCH, "format": "csv-fr"})
    header = french.content.decode("utf-8-sig").split("\r\n")[0].split(";")
    assert header == columns
