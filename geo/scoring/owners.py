"""Who a saved search belongs to, and whether that owner still counts.

A search belongs to the API token that saved it (``token:<id>``); the bootstrap
administrator and the command line, which have no token row, by name. A revoked token's
searches stay stored (its holder's history) but are no longer re-run nor delivered.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo.ledger.access import Principal

TOKEN_PREFIX = "token:"

# SQL over ``saved_search s``: its owner is not a revoked token
ACTIVE_OWNER_SQL = (
    "NOT EXISTS (SELECT 1 FROM api_token t WHERE s.owner = 'token:' || t.id::text "
    "AND t.revoked_at IS NOT NULL)"
)


def owner_of(principal: Principal) -> str:
    """The owner a principal's searches are saved under."""
    return f"{TOKEN_PREFIX}{principal.token_id}" if principal.token_id else principal.name


def active_owner(conn: Connection, owner: str) -> bool:
    """Whether ``owner`` is not a revoked token."""
    return bool(
        conn.execute(
            text(f"SELECT {ACTIVE_OWNER_SQL} FROM (SELECT CAST(:owner AS text) AS owner) s"),
            {"owner": owner},
        ).scalar()
    )
