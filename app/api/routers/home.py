"""The root: the map page for browsers, the OGC API landing page for JSON clients."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse

from app.api.routers.ogc import get_landing_page
from app.settings import PROJECT_DIR

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
        return JSONResponse(get_landing_page(request))
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")
