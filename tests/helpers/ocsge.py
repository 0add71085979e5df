"""IGN OCS GE test inputs: the SYNTHETIC deliveries of data/ocsge, Épinay-sur-Orge's outline."""

from __future__ import annotations

from typing import Any

import shapely
from sqlalchemy import Engine, text

from app.settings import PROJECT_DIR

OCSGE = PROJECT_DIR / "data" / "ocsge"
DELIVERY = {
    m: OCSGE / f"OCS-GE_ARTIFICIALISATION_SYNTHETIQUE_GPKG_LAMB93_D091_{m}-01-01.gpkg"
    for m in (2021, 2024)
}
EPINAY = "91216"


def epinay_outline(engine: Engine) -> Any:
    with engine.connect() as conn:
        wkb = conn.execute(
            text("SELECT ST_AsBinary(geom) FROM commune WHERE insee = :c"), {"c": EPINAY}
        ).scalar_one()
    return shapely.from_wkb(bytes(wkb))
