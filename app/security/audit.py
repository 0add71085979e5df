"""The audit log: every write, who made it, when, and the object before and after.

Written in the transaction of the write it records, so that neither exists without the
other; like the ledger, it refuses updates and deletes (migration 0007), and the database
chains each row to the one before by their hashes (migration 0020, app.security.audit_chain).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, text

from app.api.dependencies import Digits
from app.db import wait_for_standby
from geo.access import Principal, authorise_admin


def record(
    conn: Connection,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str | int | None,
    *,
    before: Any = None,
    after: Any = None,
) -> int:
    """The audit row of the write in progress, its last step. Its commit waits for the
    synchronous standby when the service is set to (FONCIER_SYNC_LEDGER_COMMIT): every
    ledger write is audited, so this covers them all and nothing else."""
    wait_for_standby(conn)
    return conn.execute(
        text(
            """INSERT INTO audit_log (actor, role, territory, token_id, action, object_type,
                                      object_id, before, after)
               VALUES (:actor, :role, :territory, :token, :action, :type, :id,
                       CAST(:before AS jsonb), CAST(:after AS jsonb))
               RETURNING id"""
        ),
        {
            "actor": principal.name,
            "role": principal.role,
            "territory": principal.territory,
            "token": principal.token_id,
            "action": action,
            "type": object_type,
            "id": None if object_id is None else str(object_id),
            "before": None if before is None else json.dumps(before, default=str),
            "after": None if after is None else json.dumps(after, default=str),
        },
    ).scalar_one()


class AuditQuery(BaseModel):
    """What the audit log is read by: object, actor, and a page after an entry id."""

    object_type: str | None = Field(default=None, max_length=32, examples=["project"])
    object_id: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=200)
    after_id: Annotated[
        int, Field(ge=0, le=2**31 - 1, description="Entries after this id"), Digits
    ] = 0
    limit: Annotated[int, Field(ge=1, le=1000), Digits] = 100


def read_log(conn: Connection, principal: Principal, query: AuditQuery) -> list[dict[str, Any]]:
    """The entries matching the query, oldest first, each with its place and links in the
    hash chain (app.security.audit_chain): for administrators only."""
    authorise_admin(principal, "the audit log")
    rows = conn.execute(
        text(
            """SELECT id, at, actor, role, territory, token_id, action, object_type, object_id,
                      before, after, seq, prev_hash, hash
               FROM audit_log
               WHERE id > :after_id
                 AND (CAST(:object_type AS text) IS NULL OR object_type = :object_type)
                 AND (CAST(:object_id AS text) IS NULL OR object_id = :object_id)
                 AND (CAST(:actor AS text) IS NULL OR actor = :actor)
               ORDER BY id LIMIT :limit"""
        ),
        query.model_dump(),
    ).mappings()
    return [{**r, "at": r["at"].isoformat()} for r in rows]
