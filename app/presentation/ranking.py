"""Ranked parcels and candidate sites as GeoJSON FeatureCollections (RFC 7946): the
geometry as PostGIS wrote it, the properties the score's explanation."""

from __future__ import annotations

import json
from typing import Any

from geo.db.count import Matched
from geo.scoring.model import MODEL_VERSION, Profile
from geo.scoring.search import RankedParcel
from geo.scoring.sites import RankedSite


def parcels_collection(
    parcels: list[RankedParcel],
    profile: Profile,
    matched: Matched,
    links: list[dict[str, Any]],
    why_empty: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A page of ranked parcels (geo.scoring.search.search_parcels); an empty search says
    why (geo.scoring.empty)."""
    return {
        "type": "FeatureCollection",
        "profile": {"id": profile.id, "name": profile.name, "weights": profile.weights},
        **matched.members(),
        "numberReturned": len(parcels),
        "links": links,
        "features": [_parcel_feature(parcel) for parcel in parcels],
        **({"why_empty": why_empty} if why_empty is not None else {}),
    }


def _parcel_feature(parcel: RankedParcel) -> dict[str, Any]:
    row = parcel.row
    return {
        "type": "Feature",
        "id": row["parcel_id"],
        "geometry": None if row["geometry"] is None else json.loads(row["geometry"]),
        "properties": {
            "id": row["parcel_id"],
            "commune": row["commune_insee"],
            "commune_name": row["commune_name"],
            "area_ha": round(row["area_ha"], 4),
            "zoning": row["zoning_class"],
            "on_friche": row["on_friche"],
            **parcel.explanation,
        },
    }


def sites_collection(
    sites: list[RankedSite], profile: Profile, why_empty: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Candidate sites, best first (geo.scoring.sites.search_sites)."""
    return {
        "type": "FeatureCollection",
        "profile": {"id": profile.id, "name": profile.name},
        "numberReturned": len(sites),
        "features": [_site_feature(site, profile) for site in sites],
        **({"why_empty": why_empty} if why_empty is not None else {}),
    }


def _site_feature(site: RankedSite, profile: Profile) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": f"site-{site.rank}",
        "geometry": json.loads(site.outline),
        "properties": {
            "rank": site.rank,
            "profile": profile.id,
            "model_version": MODEL_VERSION,
            "area_ha": round(site.area_ha, 4),
            "score": round(site.score, 2) if site.score is not None else None,
            "parcel_count": len(site.parcel_ids),
            "parcels": site.parcel_ids,
            "envelope_impact_ha": round(site.envelope_impact_ha, 4),
            # null ("inconnu") when a parcel's pollution is unknown; the known parcels' sum
            # is then a lower bound
            "remediation_cost_eur": _euros(site.remediation_cost_eur),
            "remediation_cost_known_eur": _euros(site.remediation_cost_known_eur),
            "remediation_cost_complete": site.remediation_cost_complete,
        },
    }


def _euros(value: float | None) -> int | None:
    return None if value is None else round(value)
