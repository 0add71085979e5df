"""What administrators read: the audit log of every write."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.api.auth import WriterDep
from app.api.dependencies import ConnectionDep
from app.security.audit import AuditQuery, read_log

router = APIRouter(tags=["administration"])


@router.get(
    "/audit",
    summary="The audit log: every write, who, when, before and after (administrators)",
)
def list_audit_entries(
    conn: ConnectionDep, principal: WriterDep, query: Annotated[AuditQuery, Query()]
) -> list[dict[str, Any]]:
    return read_log(conn, principal, query)


@router.get("/me", summary="Who the bearer token is: name, role and territory (the page's login)")
def read_me(principal: WriterDep) -> dict[str, Any]:
    return {
        "name": principal.name,
        "role": principal.role,
        "territory_level": principal.territory_level,
        "territory_code": principal.territory_code,
    }
