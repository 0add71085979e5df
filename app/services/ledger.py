"""The ledger's use cases: every read and write of a project as the API (and any other
caller) performs it, with who may do it and what the audit log keeps.

A write is one transaction: the project's envelope locked and the project read once (so the
audit's "before" is the state the write starts from), the principal authorised against that
state, the ledger entry (geo.ledger.write), the audit record (app.security.audit). Nothing
here knows HTTP.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from app.security import audit
from geo.access import (
    Principal,
    authorise_correction,
    authorise_create,
    authorise_status,
)
from geo.errors import NotFound
from geo.ledger import reports, write
from geo.ledger.preview import preview
from geo.zan.rulesets import get_ruleset


def record_project(
    conn: Connection, principal: Principal, draft: write.ProjectDraft, ruleset_id: str | None
) -> dict[str, Any]:
    """A planned project recorded in its EPCI, on the envelope of ``ruleset_id`` (the
    default envelope when None), audited."""
    authorise_create(principal, draft.epci_siren)
    ruleset = get_ruleset(ruleset_id, kind="envelope")
    with conn.begin():
        project = write.create_project(conn, draft, ruleset=ruleset, author=principal.name)
        audit.record(conn, principal, "project.create", "project", project["id"], after=project)
    return project


def preview_project(
    conn: Connection, principal: Principal, draft: write.ProjectDraft, ruleset_id: str | None
) -> dict[str, Any]:
    """What recording the project would do (NAF hectares, envelope, trajectories), for
    whoever may record it; nothing is written, nothing audited."""
    authorise_create(principal, draft.epci_siren)
    ruleset = get_ruleset(ruleset_id, kind="envelope")
    return preview(conn, draft, ruleset=ruleset, zan=get_ruleset(None, kind="zan"),
                   author=principal.name)  # fmt: skip


def visible_projects(
    conn: Connection, principal: Principal, *, ruleset_id: str | None = None, **filters: Any
) -> list[dict[str, Any]]:
    """The projects matching the filters that this principal may read."""
    if ruleset_id is not None:
        get_ruleset(ruleset_id, kind="envelope")  # an unknown rule set is refused, as on reports
    projects = reports.list_projects(conn, ruleset_id=ruleset_id, **filters)
    return [p for p in projects if principal.may_read_project(p)]


def readable_project(conn: Connection, principal: Principal, project_id: int) -> dict[str, Any]:
    """The project, or NotFound when this principal may not see it (its existence included)."""
    try:
        project = reports.get_project(conn, project_id)
    except NotFound:
        project = None
    if project is None or not principal.may_read_project(project):
        raise NotFound(f"no project {project_id}")
    return project


def change_status(
    conn: Connection,
    principal: Principal,
    project_id: int,
    status: str,
    *,
    reason: str,
    occurred_on: datetime.date | None,
    overdraft: bool,
    act: str | None = None,
) -> dict[str, Any]:
    """Authorise (reserve), complete (consume) or abandon (release) a project. The act
    behind it (an arrêté's reference) heads the entry's reason, so that the ledger's
    history says it, and the audit record keeps it apart."""
    if act is not None:
        reason = f"{act.strip()} : {reason}"
    return _write(
        conn, principal, project_id, "project.status",
        authorise=lambda before: authorise_status(principal, before, status),
        book=lambda before: write.change_status(
            conn, before, status, author=principal.name,
            reason=reason, occurred_on=occurred_on, overdraft=overdraft,
        ),
        audited={"act": act} if act is not None else None,
    )  # fmt: skip


def correct(
    conn: Connection,
    principal: Principal,
    project_id: int,
    delta_ha: float,
    *,
    corrects_entry_id: int | None,
    reason: str,
    occurred_on: datetime.date | None,
    overdraft: bool,
) -> dict[str, Any]:
    """A compensating entry of delta_ha hectares, with its reason."""
    return _write(
        conn, principal, project_id, "project.correction",
        authorise=lambda before: authorise_correction(principal, before),
        book=lambda before: write.correct(
            conn, before, delta_ha, author=principal.name, corrects_entry_id=corrects_entry_id,
            reason=reason, occurred_on=occurred_on, overdraft=overdraft,
        ),
    )  # fmt: skip


def _write(
    conn: Connection,
    principal: Principal,
    project_id: int,
    action: str,
    *,
    authorise: Callable[[dict[str, Any]], None],
    book: Callable[[reports.Project], dict[str, Any]],
    audited: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Lock and read, authorise, write the entry, audit: the sequence of every write to a
    project. The project is read once, in the statement that locks its envelope, so the
    audit's "before" is the state the write starts from (``audited``: what the audit's
    "after" keeps beside the project's state)."""
    with conn.begin():
        locked = write.lock_project(conn, project_id)
        before = locked.view()
        if not principal.may_read_project(before):
            raise NotFound(f"no project {project_id}")
        authorise(before)
        after = book(locked)
        audit.record(
            conn, principal, action, "project", project_id,
            before=_state(before), after={**_state(after), **(audited or {})},
        )  # fmt: skip
    return after


def _state(project: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "reserved_ha", "consumed_ha", "naf_ha", "entries")
    state = {k: project[k] for k in keys}
    state["entries"] = len(state["entries"])
    return state
