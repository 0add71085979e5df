"""Query parameters parsed once, so that handlers stay short."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy import Connection

from app.api.errors import InvalidParameter
from app.services.features import COLLECTIONS, Collection
from app.settings import Settings
from geo.db.bbox import BBox
from geo.errors import NotFound
from geo.zan.rulesets import default_ruleset_id, load_rulesets

INSEE_PATTERN = r"^[0-9][0-9AB][0-9]{3}$"
SIREN_PATTERN = r"^[0-9]{9}$"
PARCEL_ID_PATTERN = r"^[0-9][0-9AB][0-9]{3}[0-9]{3}[0-9A-Z]{2}[0-9]{4}$"
DEPARTEMENT_PATTERN = r"^[0-9][0-9AB][0-9]?$"
RULESET_ID_PATTERN = r"^[a-z0-9-]{1,64}$"

# An envelope rule set, as a query parameter (reports, projects) or a body member (a new
# project): its values and default documented from the rule sets themselves.
ENVELOPE_RULESETS = sorted(r.id for r in load_rulesets().values() if r.envelope is not None)
ENVELOPE_RULESET_FIELD = {
    "pattern": RULESET_ID_PATTERN,
    "description": (
        f"Envelope rule set id, one of {', '.join(ENVELOPE_RULESETS)} "
        f"(default: {default_ruleset_id('envelope')}); /rulesets describes them"
    ),
    "json_schema_extra": {"enum": ENVELOPE_RULESETS},
}
EnvelopeRulesetQuery = Annotated[str | None, Query(**ENVELOPE_RULESET_FIELD)]


def get_connection(request: Request) -> Iterator[Connection]:
    """One pooled connection per request, from the engine the app was built with."""
    with request.app.state.engine.connect() as conn:
        yield conn


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


ConnectionDep = Annotated[Connection, Depends(get_connection)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def bbox_query(
    settings: SettingsDep,
    bbox: Annotated[
        str | None,
        Query(
            description="WGS84 longitude/latitude box: minLon,minLat,maxLon,maxLat",
            examples=["2.30,48.67,2.33,48.69"],
        ),
    ] = None,
) -> BBox | None:
    if bbox is None:
        return None
    try:
        values = tuple(float(v) for v in bbox.split(","))
    except ValueError:
        raise InvalidParameter(
            f"bbox must be four numbers separated by commas, got {bbox!r}"
        ) from None
    if len(values) != 4:
        raise InvalidParameter(
            f"bbox must have 4 numbers (minLon,minLat,maxLon,maxLat), got {len(values)}"
        )
    min_lon, min_lat, max_lon, max_lat = values
    if not (
        -180 <= min_lon <= 180
        and -180 <= max_lon <= 180
        and -90 <= min_lat <= 90
        and -90 <= max_lat <= 90
    ):
        raise InvalidParameter(
            "bbox is out of longitude/latitude range: is it in WGS84, lon first?"
        )
    if min_lon >= max_lon or min_lat >= max_lat:
        raise InvalidParameter(
            "bbox minimum must be below its maximum (minLon,minLat,maxLon,maxLat)"
        )
    limit = settings.max_bbox_degrees
    if max_lon - min_lon > limit or max_lat - min_lat > limit:
        raise InvalidParameter(
            f"bbox spans {max_lon - min_lon:g}° by {max_lat - min_lat:g}°: at most {limit:g}° "
            "a side; filter by territory for larger areas"
        )
    return values  # type: ignore[return-value]


MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def page_size_query(
    settings: SettingsDep,
    limit: Annotated[
        int | None, Query(ge=1, description="Page size (default and maximum are settings)")
    ] = None,
) -> int:
    """The one page-size check: the settings' default, at most their maximum."""
    limit = settings.default_page_size if limit is None else limit
    if limit > settings.max_page_size:
        raise InvalidParameter(f"limit must not exceed {settings.max_page_size}")
    return limit


PageSizeDep = Annotated[int, Depends(page_size_query)]


def page_query(
    limit: PageSizeDep,
    # bounded: PostgreSQL's OFFSET is a bigint, and no collection holds a billion rows
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Number of features to skip")
    ] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


BBoxDep = Annotated[BBox | None, Depends(bbox_query)]
PageDep = Annotated[Page, Depends(page_query)]


def collection_path(
    collection_id: Annotated[
        str, Path(examples=["parcels"], description="A collection id, as in /collections")
    ],
) -> Collection:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise NotFound(
            f"no collection {collection_id!r}; the collections are {', '.join(COLLECTIONS)}"
        ) from None


CollectionDep = Annotated[Collection, Depends(collection_path)]
