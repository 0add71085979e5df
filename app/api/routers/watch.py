"""Saved searches and their alerts (JSON, or an Atom feed)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi import status as http_status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.api.auth import WriterDep
from app.api.dependencies import ConnectionDep, Digits, SettingsDep, search_filters
from app.api.responses import link_to
from app.presentation.atom import alerts_feed
from app.services import watch
from geo.scoring.query import ParcelSearchBody, SiteSearchBody

router = APIRouter(tags=["alerts"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
WebhookUrl = Annotated[str, StringConstraints(max_length=2000)]


class _SearchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    webhook_url: WebhookUrl | None = None


class ParcelSearchCreate(_SearchCreate):
    kind: Literal["parcels"]
    query: ParcelSearchBody = Field(description="The filters of /parcels/search, as JSON")


class SiteSearchCreate(_SearchCreate):
    kind: Literal["sites"]
    query: SiteSearchBody = Field(description="The parameters of /sites/search, as JSON")


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
    search_filters(body.query, settings)
    return watch.save(
        conn,
        principal,
        name=body.name,
        kind=body.kind,
        query=body.query,
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
