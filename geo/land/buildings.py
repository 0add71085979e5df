"""What stands on a parcel: its buildings, and the land-use state the ranking reads.

Sources (loaded by geo.ingest.buildings):

- Etalab cadastre ``batiments`` (DGFiP PCI vector, cadastre.data.gouv.fr): footprints with
  ``type`` 01 "bâti dur" (hard) or 02 "bâti léger" (light: sheds, lean-tos, greenhouses);
- IGN BD TOPO ``BATIMENT``: footprints with ``LEGER`` (Oui/Non) and ``USAGE1`` (Résidentiel,
  Industriel, Agricole, Commercial et services…), kept as ``usage``.

Per parcel the score refresh (geo.scoring.refresh) counts, in PostGIS, the buildings whose
point on surface (stored at import, ``building.geom_point``) lies on the parcel, and sums
their footprints. A building drawn across a boundary thus counts once, wholly, on the parcel
under its point on surface (nearly always the one holding most of it): a point-in-polygon
test per building instead of a polygon intersection, which keeps the refresh of a million
parcels within its minute (bench/README.md). The built share is capped at 1.

Land-use state, for a profile's threshold ``t`` (``underused_built_share`` in the scoring
profile, default ``DEFAULT_UNDERUSED_SHARE``):

- ``vacant``: no building on the parcel;
- ``underused``: built share (footprint / parcel area) under ``t``, or only light buildings;
- ``built``: anything else.

Unknown (no criterion, never guessed) where no building layer covers the parcel's commune.
"""

from __future__ import annotations

from typing import Any

STATES = ("vacant", "underused", "built")
DEFAULT_UNDERUSED_SHARE = 0.2

# BD TOPO USAGE1 values -> Foncier's building use
USAGES = {
    "Résidentiel": "residential",
    "Industriel": "industrial",
    "Agricole": "agricultural",
    "Commercial et services": "commercial",
    "Annexe": "annex",
    "Religieux": "religious",
    "Sportif": "sport",
    "Indifférencié": "undifferentiated",
    "Indifférenciée": "undifferentiated",
}
# Etalab cadastre ``type``
HARD, LIGHT = "01", "02"


def land_use_state(
    building_count: int | None,
    built_share: float | None,
    light_only: bool | None,
    threshold: float = DEFAULT_UNDERUSED_SHARE,
) -> str | None:
    """vacant / underused / built, or None when no building layer covers the parcel."""
    if building_count is None:
        return None
    if building_count == 0:
        return "vacant"
    if light_only or (built_share or 0.0) < threshold:
        return "underused"
    return "built"


def land_use_of(features: dict[str, Any], threshold: float) -> str | None:
    return land_use_state(
        features.get("building_count"),
        features.get("built_share"),
        features.get("light_only"),
        threshold,
    )


def land_use_sql(alias: str, threshold: float) -> str:
    """The same rule over a parcel_features row ``alias``."""
    t = float(threshold)
    return (
        f"(CASE WHEN {alias}.building_count IS NULL THEN NULL"
        f" WHEN {alias}.building_count = 0 THEN 'vacant'"
        f" WHEN {alias}.light_only OR coalesce({alias}.built_share, 0) < {t} THEN 'underused'"
        f" ELSE 'built' END)"
    )
