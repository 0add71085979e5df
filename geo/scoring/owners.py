"""Whether the owner of a saved search still counts (its owner: geo.access.owner_of).

A revoked token's searches stay stored (its holder's history) but are no longer re-run nor
delivered.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# SQL over ``saved_search s``: its owner is not a revoked token
ACTIVE_OWNER_SQL = (
    "NOT EXISTS (SELECT 1 FROM api_token t WHERE s.owner = 'token:' || t.id::text "
    "AND t.revoked_at IS NOT NULL)"
)


def active_owner(conn: Connection, owner: str) -> bool:
    """Whether ``owner`` is not a revoked token."""
    return bool(
        conn.execute(
            text(f"SELECT {ACTIVE_OWNER_SQL} FROM (SELECT CAST(:owner AS text) AS owner) s"),
            {"owner": owner},
        ).scalar()
    )
