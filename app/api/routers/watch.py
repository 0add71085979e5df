"""Saved searches and their alerts (JSON, or an Atom feed)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi import status as http_status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from app.api.dependencies import (
    DEPARTEMENT_PATTERN,
    INSEE_PATTERN,
    SIREN_PATTERN,
    ConnectionDep,
    Digits,
    SettingsDep,
)
from app.api.errors import InvalidParameter
from app.api.responses import link_to
from app.presentation.atom import alerts_feed
from app.security.auth import WriterDep
from app.services import watch
from geo.land.zoning import CLASSES as ZONING_CLASSES
from geo.scoring.profiles import load_profiles
from geo.scoring.search import MAX_GAP_M, MAX_SITE_AREA_HA
from geo.territories import LEVELS

router = APIRouter(tags=["alerts"])

# the code formats of geo.territories.LEVELS
Insee = Annotated[str, StringConstraints(pattern=INSEE_PATTERN)]
Siren = Annotated[str, StringConstraints(pattern=SIREN_PATTERN)]
Dep = Annotated[str, StringConstraints(pattern=DEPARTEMENT_PATTERN)]
TerritoireIndustrie = Annotated[
    str, StringConstraints(pattern=LEVELS["territoire_industrie"].pattern)
]
# Literal[tuple] is Literal of its items: the known profiles, documented as an enum.
Profile = Literal[tuple(sorted(load_profiles()))]  # type: ignore[valid-type]
Hectares = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class _Territory(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    commune: Insee | None = None
    epci: Siren | None = None
    territoire_industrie: TerritoireIndustrie | None = None
    departement: Dep | None = None
    bbox: (
        Annotated[
            list[Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]],
            Field(min_length=4, max_length=4, description="[minLon, minLat, maxLon, maxLat]"),
        ]
        | None
    ) = None
    min_score: Score | None = None
    profile: Profile | None = None


class ParcelQuery(_Territory):
    min_area: Hectares | None = None
    max_area: Hectares | None = None
    zoning: Literal[ZONING_CLASSES] | None = None  # type: ignore[valid-type]
    on_friche: StrictBool | None = None
    include_excluded: StrictBool = False


class SiteQuery(_Territory):
    min_area: Annotated[float, Field(gt=0, le=MAX_SITE_AREA_HA, allow_inf_nan=False)]
    gap: Annotated[float, Field(ge=0, le=MAX_GAP_M, allow_inf_nan=False)] = 0
    limit: Annotated[int, Field(ge=1, le=200)] = 20


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
WebhookUrl = Annotated[str, StringConstraints(max_length=2000)]


class _SearchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    webhook_url: WebhookUrl | None = None


class ParcelSearchCreate(_SearchCreate):
    kind: Literal["parcels"]
    query: ParcelQuery = Field(description="The parameters of /parcels/search, as JSON")


class SiteSearchCreate(_SearchCreate):
    kind: Literal["sites"]
    query: SiteQuery = Field(description="The parameters of /sites/search, as JSON")


SavedSearchCreate = Annotated[ParcelSearchCreate | SiteSearchCreate, Field(discriminator="kind")]


@router.post(
    "/saved-searches",
    status_code=http_status.HTTP_201_CREATED,
    summary="Save a parcel or site search: re-run after each import or sync, its new and "
    "lost matches become alerts (and webhook calls, signed with the secret given here once)",
)
def post_saved_search(
    body: Annotated[SavedSearchCreate, Body()],
    conn: ConnectionDep,
    principal: WriterDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    query = body.query.model_dump(exclude_none=True, exclude_defaults=True)
    if not any(query.get(k) for k in ("commune", "epci", "territoire_industrie",
                                      "departement", "bbox")):  # fmt: skip
        raise InvalidParameter(
            "a saved search needs a territory (commune, epci, territoire_industrie, "
            "departement or bbox)"
        )
    if body.query.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = body.query.bbox
        if not (min_lon < max_lon and min_lat < max_lat):
            raise InvalidParameter("bbox must be [minLon, minLat, maxLon, maxLat], min below max")
        if max(max_lon - min_lon, max_lat - min_lat) > settings.max_bbox_degrees:
            raise InvalidParameter(f"bbox sides are at most {settings.max_bbox_degrees} degrees")
    return watch.save(
        conn,
        principal,
        name=body.name,
        kind=body.kind,
        query=query,
        webhook_url=body.webhook_url,
        budget_s=settings.site_search_seconds,
        quota=settings.saved_search_quota,
        webhook_policy=settings.webhook_policy(),
    )


@router.get("/saved-searches", summary="Your saved searches (an administrator: all)")
def read_saved_searches(conn: ConnectionDep, principal: WriterDep) -> list[dict[str, Any]]:
    return watch.searches(conn, principal)


@router.delete(
    "/saved-searches/{search_id}",
    status_code=http_status.HTTP_204_NO_CONTENT,
    summary="Delete a saved search and its alerts",
)
def remove_saved_search(
    search_id: Annotated[int, Path(ge=1, le=2**31 - 1), Digits],
    conn: ConnectionDep,
    principal: WriterDep,
) -> Response:
    watch.delete(conn, principal, search_id)
    return Response(status_code=http_status.HTTP_204_NO_CONTENT)


@router.get(
    "/alerts",
    summary="Alerts of your saved searches, oldest first after the alert after_id: JSON, or "
    "Atom with format=atom (or Accept: application/atom+xml); a full page links to the next",
    responses={200: {"content": {"application/atom+xml": {}}}},
)
def read_alerts(
    request: Request,
    conn: ConnectionDep,
    principal: WriterDep,
    after_id: Annotated[
        int,
        Query(
            ge=0,
            le=2**31 - 1,
            description="The last alert id already seen: the alerts after it, oldest first",
        ),
        Digits,
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000), Digits] = 100,
    format: Literal["json", "atom"] | None = None,
) -> Any:
    alerts = watch.alerts(conn, principal, after_id=after_id, limit=limit)
    # the cursor to poll with next time: the last id seen (the same when nothing is new)
    cursor = alerts[-1]["id"] if alerts else after_id
    self_url = link_to(request)
    # a full page: more may be waiting now
    next_url = link_to(request, after_id=cursor) if len(alerts) == limit else None
    accept = request.headers.get("accept", "")
    if format == "atom" or (format is None and "application/atom+xml" in accept):
        feed = alerts_feed(
            alerts,
            self_url=self_url,
            next_url=next_url,
            feed_id=f"urn:foncier:alerts:{watch.owner_of(principal)}",
        )
        return Response(feed, media_type="application/atom+xml")
    links = [{"rel": "self", "href": self_url, "type": "application/json"}]
    if next_url:
        links.append({"rel": "next", "href": next_url, "type": "application/json"})
    return {"alerts": alerts, "next_after_id": cursor, "links": links}
