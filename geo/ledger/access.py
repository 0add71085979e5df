"""Who may do what: roles bound to a territory, and the rule for each write.

Roles (issue 7):
- public: no token; reads open data (a planned project is not open data yet);
- epci_editor: records projects of its own EPCI and moves them along, except authorising;
- prefecture: reads everything, authorises (validates) and corrects the projects of its
  département or région;
- admin: everything, everywhere.

A write on an object outside the principal's territory is refused (403), and a project the
principal may not read is reported as absent (404), so that its existence does not leak.
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
