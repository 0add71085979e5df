"""The root: the map page for browsers, the OGC API landing page for JSON clients."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from app.api.dependencies import SettingsDep
from app.api.responses import json_with_links
from app.api.routers.ogc import get_landing_page
from app.presentation.export import MAX_EXPORT_FEATURES
from app.settings import PROJECT_DIR
from geo.scoring.model import CRITERIA
from geo.scoring.profiles import DEFAULT_PROFILE, load_profiles

router = APIRouter()

STATIC_DIR = PROJECT_DIR / "app" / "static"


def wants_json(request: Request, f: str | None) -> bool:
    if f is not None:
        return f == "json"
    accept = request.headers.get("accept", "")
    # Browsers ask for text/html first; API clients (GDAL, curl -H) for JSON.
    return "text/html" not in accept and ("json" in accept or accept in ("", "*/*"))


@router.get(
    "/",
    tags=["OGC API - Features"],
    summary="Landing page: the map (HTML) or the OGC API - Features landing page (JSON)",
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def get_home(
    request: Request,
    f: Annotated[Literal["json", "html"] | None, Query(description="json or html")] = None,
):
    if wants_json(request, f):
        return json_with_links(get_landing_page(request))
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/favicon.ico", include_in_schema=False)
def get_favicon() -> FileResponse:
    """The icon a browser asks for by itself on a page that names none (a JSON document,
    the TileJSON opened from the page's developer links): Foncier's own, not a 404."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


# The filters of /parcels/search the page does not draw itself (territory, paging, sort,
# profile and weights have their own controls); any other parameter becomes a form field,
# so a filter added to the API (land_use, owner…) appears on the page with no change. The
# output CRS is not a filter: the map draws WGS84 (a Lambert-93 answer would land off it).
_PAGE_OWN_PARAMETERS = {
    "commune", "epci", "territoire_industrie", "departement", "bbox", "limit", "offset",
    "sort", "format", "profile", "weights", "include_excluded", "crs",
}  # fmt: skip


def _search_filters(request: Request) -> list[dict[str, Any]]:
    operation = request.app.openapi()["paths"]["/parcels/search"]["get"]
    filters = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "query" or parameter["name"] in _PAGE_OWN_PARAMETERS:
            continue
        schema = parameter.get("schema", {})
        options = schema.get("anyOf", [schema])
        enum = next((o["enum"] for o in options if "enum" in o), None)
        kinds = {o.get("type") for o in options} - {"null", None}
        filters.append(
            {
                "name": parameter["name"],
                "type": "enum" if enum else ("number" if kinds & {"number", "integer"}
                                             else "boolean" if "boolean" in kinds else "string"),
                "enum": enum,
                "minimum": next((o["minimum"] for o in options if "minimum" in o), None),
                "maximum": next((o["maximum"] for o in options if "maximum" in o), None),
                "description": parameter.get("description", ""),
            }
        )  # fmt: skip
    return filters


@router.get("/page/config", summary="What the map page needs to draw itself", tags=["page"])
def page_config(request: Request, settings: SettingsDep) -> dict[str, Any]:
    basemap = None
    if settings.basemap_kind != "none":
        basemap = {
            "kind": settings.basemap_kind,
            "url": settings.basemap_url,
            "attribution": settings.basemap_attribution,
            # the aerial imagery, a second raster background (same attribution: IGN)
            "aerial_url": settings.basemap_aerial_url or None,
        }
    return {
        "basemap": basemap,
        "state_deployment": settings.state_deployment,
        "profiles": [
            {"id": p.id, "name": p.name, "weights": p.weights} for p in load_profiles().values()
        ],
        "default_profile": DEFAULT_PROFILE,
        "criteria": [{"name": c.name, "label": c.label} for c in CRITERIA],
        "search_filters": _search_filters(request),
        "max_export_features": MAX_EXPORT_FEATURES,
    }
