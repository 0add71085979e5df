"""Who may write: until per-territory roles exist, the holder of FONCIER_ADMIN_TOKEN."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header

from app.dependencies import SettingsDep
from app.errors import Unauthorized


def require_admin(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    """The author recorded with each write; 401 without the right bearer token."""
    if settings.admin_token is None:
        raise Unauthorized("writes are disabled: FONCIER_ADMIN_TOKEN is not set on this server")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.encode(), settings.admin_token.encode()
    ):
        raise Unauthorized("a valid bearer token is required to write")
    return settings.admin_name


AuthorDep = Annotated[str, Depends(require_admin)]
