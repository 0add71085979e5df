"""API tokens: random secrets shown once, stored as SHA-256 digests, revocable.

A token is 256 random bits, so a fast digest is enough: there is no dictionary to try,
unlike a password, and lookups stay one index probe per request.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import Connection, text

from geo.access import Principal, check_territory
from geo.errors import Invalid
from geo.territories import LEVELS

PREFIX = "fon_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_territory(territory: str | None) -> tuple[str | None, str | None]:
    """'epci:200056232' -> ('epci', '200056232')."""
    if not territory:
        return None, None
    level, sep, code = territory.partition(":")
    if not sep or not code:
        raise Invalid(f"territory must be LEVEL:CODE (e.g. epci:200056232), got {territory!r}")
    return level, code


def create_token(
    conn: Connection, *, name: str, role: str, territory: str | None, created_by: str
) -> tuple[int, str]:
    """(id, secret). The secret is not stored: this is the only time it is seen."""
    level, code = parse_territory(territory)
    check_territory(role, level, code)
    if level is not None:
        found = conn.execute(text(LEVELS[level].name_sql()), {"code": code}).first()
        if not found:
            raise Invalid(f"unknown {level} {code}")
    secret = PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        text(
            """INSERT INTO api_token (name, token_sha256, role, territory_level,
                                      territory_code, created_by)
               VALUES (:name, :digest, :role, :level, :code, :by) RETURNING id"""
        ),
        {
            "name": name,
            "digest": digest(secret),
            "role": role,
            "level": level,
            "code": code,
            "by": created_by,
        },
    ).scalar_one()
    return token_id, secret


def revoke_token(conn: Connection, token_id: int) -> bool:
    """True if the token was active and is now revoked."""
    return (
        conn.execute(
            text(
                "UPDATE api_token SET revoked_at = now() "
                "WHERE id = :id AND revoked_at IS NULL RETURNING id"
            ),
            {"id": token_id},
        ).first()
        is not None
    )


def list_tokens(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            """SELECT id, name, role, territory_level, territory_code, created_at, created_by,
                      revoked_at FROM api_token ORDER BY id"""
        )
    ).mappings()
    return [dict(r) for r in rows]


def principal_for(conn: Connection, secret: str) -> Principal | None:
    """The active token's principal, or None for an unknown or revoked token."""
    row = (
        conn.execute(
            text(
                """SELECT id AS token_id, name, role, territory_level, territory_code
               FROM api_token WHERE token_sha256 = :d AND revoked_at IS NULL"""
            ),
            {"d": digest(secret)},
        )
        .mappings()
        .first()
    )
    return None if row is None else Principal(**row)
