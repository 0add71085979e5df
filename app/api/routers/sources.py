"""The sources Foncier feeds on and how fresh each is (`foncier sync`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.dependencies import ReadConnectionDep
from app.services.sources import sources_answer

router = APIRouter(tags=["sources"])


@router.get(
    "/sources",
    summary="Each catalogued source: publisher, licence, address, and per synced part its "
    "vintage, last success, last error and the import holding its data; and the last import "
    "of each kind, its file and date",
)
def list_sources(conn: ReadConnectionDep) -> dict[str, Any]:
    return sources_answer(conn)
