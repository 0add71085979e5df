"""What administrators read: the audit log of every write."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.api.dependencies import ConnectionDep
from app.security.audit import read_log
from app.security.auth import WriterDep
from geo.ledger.access import authorise_admin

router = APIRouter(tags=["administration"])


@router.get(
    "/audit",
    summary="The audit log: every write, who, when, before and after (administrators)",
)
def list_audit_entries(
    conn: ConnectionDep,
    principal: WriterDep,
    object_type: Annotated[str | None, Query(max_length=32, examples=["project"])] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**31 - 1, description="Entries after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    authorise_admin(principal, "the audit log")
    return read_log(
        conn,
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        after_id=after_id,
        limit=limit,
    )
