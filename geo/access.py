"""Who may read and write what: roles bound to a territory, and the rule for each act.
The ledger, the saved searches and the API's authentication read this module alone.

Roles:
- public: no token; reads open data (a planned project is not open data yet); writes
  nothing (the API asks who it is: 401);
- epci_editor: reads the planned projects of its EPCI, records projects of its own EPCI and
  moves them along, except authorising;
- prefecture: reads the planned projects of its département or région, authorises
  (validates) and corrects them;
- admin: everything, everywhere (tokens, the audit log included).

Any token holder keeps saved searches and reads their alerts: its own (an administrator
reads and deletes everyone's). A write on an object outside the principal's territory is
refused (Denied), and a project the principal may not read is reported as absent
(NotFound), so that its existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from geo.errors import Denied, Invalid
from geo.ledger import statuses
from geo.territories import LEVELS

Role = Literal["public", "epci_editor", "prefecture", "admin"]
ROLES: tuple[Role, ...] = ("public", "epci_editor", "prefecture", "admin")
TERRITORY_LEVELS = {"epci_editor": ("epci",), "prefecture": ("departement", "region")}
TOKEN_OWNER_PREFIX = "token:"


class OutsideTerritory(Denied):
    """A project that does not lie in the EPCI it is recorded for."""


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    territory_level: str | None = None  # epci, departement, region
    territory_code: str | None = None
    token_id: int | None = None

    @property
    def territory(self) -> str | None:
        if self.territory_level is None:
            return None
        return f"{self.territory_level}:{self.territory_code}"

    def covers(self, project: dict[str, Any]) -> bool:
        """Whether the project lies in this principal's territory."""
        if self.role == "admin":
            return True
        level = LEVELS.get(self.territory_level or "")
        column = level.project_column if level else None
        return column is not None and project.get(column) == self.territory_code

    def may_read_project(self, project: dict[str, Any]) -> bool:
        if project.get("status") in statuses.PUBLIC or self.role == "admin":
            return True
        return self.role in ("epci_editor", "prefecture") and self.covers(project)


PUBLIC = Principal(name="public", role="public")


def identified(principal: Principal) -> bool:
    """Whether the principal holds a token: anything but reading open data needs one."""
    return principal.role != "public"


def owner_of(principal: Principal) -> str:
    """The owner a principal's saved searches are kept under: the API token that saved them
    (``token:<id>``); the bootstrap administrator and the command line, which have no token
    row, by name."""
    return f"{TOKEN_OWNER_PREFIX}{principal.token_id}" if principal.token_id else principal.name


def searches_of(principal: Principal) -> str | None:
    """Whose saved searches and alerts the principal reads and deletes: its own (their
    owner); an administrator everyone's (None)."""
    return None if principal.role == "admin" else owner_of(principal)


def check_territory(role: str, level: str | None, code: str | None) -> None:
    """A role's territory must be of the right level (and absent for admin)."""
    if role not in ROLES or role == "public":
        raise Invalid(f"role must be one of epci_editor, prefecture, admin; got {role!r}")
    if role == "admin":
        if level is not None:
            raise Invalid("an admin token has no territory")
        return
    if level not in TERRITORY_LEVELS[role] or not code:
        levels = " or ".join(TERRITORY_LEVELS[role])
        raise Invalid(f"a {role} token needs a territory: {levels}:CODE")


def authorise_create(principal: Principal, epci_siren: str) -> None:
    if principal.role == "admin":
        return
    if principal.role != "epci_editor":
        raise Denied(f"role {principal.role} may not record projects")
    if principal.territory_code != epci_siren:
        raise Denied(
            f"this token records projects of EPCI {principal.territory_code} only, "
            f"not of {epci_siren}"
        )


def authorise_status(principal: Principal, project: dict[str, Any], status: str) -> None:
    """Authorising is the prefecture's act; the EPCI moves its projects along otherwise."""
    if principal.role == "admin":
        return
    allowed = ("prefecture",) if status == "authorised" else ("prefecture", "epci_editor")
    if principal.role not in allowed:
        raise Denied(f"role {principal.role} may not set a project to {status}")
    if not principal.covers(project):
        raise Denied(f"project {project['id']} is outside this token's territory")


def authorise_correction(principal: Principal, project: dict[str, Any]) -> None:
    if principal.role == "admin":
        return
    if principal.role != "prefecture":
        raise Denied(f"role {principal.role} may not correct the ledger")
    if not principal.covers(project):
        raise Denied(f"project {project['id']} is outside this token's territory")


def authorise_admin(principal: Principal, what: str) -> None:
    if principal.role != "admin":
        raise Denied(f"{what} is for administrators")
