"""Who is calling: a bearer token resolved to a principal (role + territory), or the public.

401 means "who are you?" (no token for a write, an unknown or revoked token); 403 means
"not you" (geo.access refuses the act for this role or territory).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header

from app.api.dependencies import ConnectionDep, SettingsDep
from app.api.errors import Unauthorized
from app.security.tokens import principal_for
from geo.access import PUBLIC, Principal, identified


def current_principal(
    settings: SettingsDep,
    conn: ConnectionDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    if authorization is None:
        return PUBLIC
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    # FONCIER_ADMIN_TOKEN: the bootstrap administrator, before any token is created.
    if settings.admin_token is not None and hmac.compare_digest(
        secret.encode(), settings.admin_token.encode()
    ):
        return Principal(name=settings.admin_name, role="admin")
    principal = principal_for(conn, secret)
    # End the lookup's implicit transaction: the handler opens its own.
    conn.rollback()
    if principal is None:
        raise Unauthorized("unknown or revoked token")
    return principal


def require_writer(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not identified(principal):
        raise Unauthorized("a bearer token is required to write")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
WriterDep = Annotated[Principal, Depends(require_writer)]
