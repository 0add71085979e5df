"""One bbox filter with one meaning: /parcels and /parcels/search select the same parcels.

/parcels/search used to test bounding boxes only (&&), so a box in the empty corner of a
parcel's bounding box returned that parcel there, and not from /parcels.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.api.main import create_app
from app.settings import Settings
from tests.helpers import engine_for


@pytest.fixture(scope="module")
def scored_client(base_settings: Settings, scored_db_url: str) -> Iterator[TestClient]:
    app = create_app(base_settings.model_copy(update={"database_url": scored_db_url}))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_a_box_in_the_empty_corner_of_a_parcel_does_not_select_it(
    scored_client: TestClient, scored_db_url: str
) -> None:
    engine = engine_for(scored_db_url)
    with engine.connect() as conn:
        # a scored, eligible parcel whose bounding box has an empty corner (5 m clear of it)
        parcel_id, lon, lat = conn.execute(
            text(
                """SELECT p.id, ST_X(pt), ST_Y(pt) FROM parcel p
                   JOIN parcel_score s ON s.parcel_id = p.id AND NOT s.excluded
                   CROSS JOIN LATERAL (SELECT ST_Transform(ST_PointOnSurface(
                       ST_Difference(ST_Envelope(p.geom), ST_Buffer(p.geom, 5))), 4326) AS pt) c
                   WHERE ST_Area(ST_Difference(ST_Envelope(p.geom), ST_Buffer(p.geom, 5))) > 50
                   ORDER BY p.id LIMIT 1"""
            )
        ).one()
    engine.dispose()
    d = 0.00001  # about a metre
    bbox = f"{lon - d},{lat - d},{lon + d},{lat + d}"
    listed = scored_client.get("/parcels", params={"bbox": bbox, "limit": 100})
    searched = scored_client.get(
        "/parcels/search", params={"bbox": bbox, "limit": 100, "include_excluded": "true"}
    )
    assert listed.status_code == searched.status_code == 200, searched.text
    listed_ids = {f["id"] for f in listed.json()["features"]}
    searched_ids = {f["id"] for f in searched.json()["features"]}
    assert parcel_id not in listed_ids
    assert parcel_id not in searched_ids
    assert searched_ids <= listed_ids
