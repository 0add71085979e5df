"""The audit log: every write, who made it, when, and the object before and after.

Written in the transaction of the write it records, so that neither exists without the
other; like the ledger, it refuses updates and deletes (migration 0007).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from geo.ledger.access import Principal


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


def read_log(
    conn: Connection,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            """SELECT id, at, actor, role, territory, token_id, action, object_type, object_id,
                      before, after
               FROM audit_log
               WHERE id > :after
                 AND (CAST(:type AS text) IS NULL OR object_type = :type)
                 AND (CAST(:oid AS text) IS NULL OR object_id = :oid)
                 AND (CAST(:actor AS text) IS NULL OR actor = :actor)
               ORDER BY id LIMIT :limit"""
        ),
        {"after": after_id, "type": object_type, "oid": object_id, "actor": actor,
         "limit": limit},
    ).mappings()  # fmt: skip
    return [{**r, "at": r["at"].isoformat()} for r in rows]
