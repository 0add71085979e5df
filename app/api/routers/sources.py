"""The sources Foncier feeds on and how fresh each is (`foncier sync`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.dependencies import ConnectionDep
from geo.ingest.sync import sources_state

router = APIRouter(tags=["sources"])


@router.get(
    "/sources",
    summary="Each catalogued source: publisher, licence, address, and per synced part its "
    "vintage, last success, last error and the import holding its data",
)
def read_sources(conn: ConnectionDep) -> dict[str, Any]:
    return {"sources": sources_state(conn)}
