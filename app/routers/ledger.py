"""The industrial project ledger and the envelope reports."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi import status as http_status
from pydantic import BaseModel, Field, model_validator

from app.auth import PrincipalDep, WriterDep
from app.dependencies import PARCEL_ID_PATTERN, SIREN_PATTERN, ConnectionDep, SettingsDep
from app.errors import InvalidGeometry, NotFound
from geo import audit, charts
from geo.access import (
    Principal,
    authorise_correction,
    authorise_create,
    authorise_status,
)
from geo.envelope import (
    KINDS,
    STATUSES,
    NotFoundError,
    change_status,
    correct,
    create_project,
    envelope_report,
    get_project,
    list_projects,
    lock_envelope,
)
from geo.rulesets import get_ruleset, load_rulesets

router = APIRouter(tags=["envelope"])

RulesetQuery = Annotated[
    str | None,
    Query(description="Envelope rule set id (default: industrial-envelope-2025)"),
]
GroupBy = Literal["region", "departement", "epci", "territoire_industrie"]


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal[KINDS] = "industrial"  # type: ignore[valid-type]
    epci_siren: str = Field(pattern=SIREN_PATTERN)
    geometry: dict[str, Any] | None = Field(
        default=None, description="GeoJSON Polygon or MultiPolygon, WGS84"
    )
    parcel_ids: list[Annotated[str, Field(pattern=PARCEL_ID_PATTERN)]] | None = Field(
        default=None, min_length=1, max_length=10_000
    )
    ruleset: str | None = Field(default=None, description="Envelope the project draws on")
    occurred_on: datetime.date | None = None
    reason: str = Field(default="project recorded", min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _one_location(self) -> ProjectCreate:
        if (self.geometry is None) == (self.parcel_ids is None):
            raise ValueError("give either geometry or parcel_ids")
        return self


class StatusChange(BaseModel):
    status: Literal[STATUSES]  # type: ignore[valid-type]
    reason: str = Field(min_length=1, max_length=2000)
    occurred_on: datetime.date | None = None
    overdraft: bool = False


class Correction(BaseModel):
    delta_ha: float = Field(description="Hectares to add (negative to give back)")
    reason: str = Field(min_length=1, max_length=2000)
    corrects_entry_id: int | None = None
    occurred_on: datetime.date | None = None
    overdraft: bool = False


@router.get("/rulesets", summary="The rule sets: ZAN trajectories, envelopes, what-ifs")
def list_rulesets() -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in load_rulesets().values()]


@router.post(
    "/projects",
    status_code=http_status.HTTP_201_CREATED,
    summary="Record a planned project; its NAF consumption is computed from its geometry",
)
def post_project(
    body: Annotated[ProjectCreate, Body()],
    conn: ConnectionDep,
    principal: WriterDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    authorise_create(principal, body.epci_siren)
    if body.geometry is not None:
        vertices = count_vertices(body.geometry.get("coordinates"))
        if vertices > settings.max_geometry_vertices:
            raise InvalidGeometry(
                f"the geometry has {vertices} vertices: at most {settings.max_geometry_vertices}"
            )
    ruleset = get_ruleset(body.ruleset, kind="envelope")
    with conn.begin():
        project = create_project(
            conn,
            name=body.name,
            kind=body.kind,
            epci_siren=body.epci_siren,
            ruleset=ruleset,
            author=principal.name,
            geometry=body.geometry,
            parcel_ids=body.parcel_ids,
            occurred_on=body.occurred_on,
            reason=body.reason,
        )
        audit.record(conn, principal, "project.create", "project", project["id"], after=project)
    return project


@router.get("/projects", summary="Projects with their status, by territory or status")
def read_projects(
    conn: ConnectionDep,
    principal: PrincipalDep,
    epci: Annotated[str | None, Query(pattern=SIREN_PATTERN)] = None,
    departement: Annotated[str | None, Query(pattern=r"^[0-9][0-9AB][0-9]?$")] = None,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{2,3}$")] = None,
    status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
    ruleset: RulesetQuery = None,
) -> list[dict[str, Any]]:
    projects = list_projects(
        conn,
        epci_siren=epci,
        departement=departement,
        region=region,
        status=status,
        ruleset_id=ruleset,
    )
    return [p for p in projects if principal.may_read_project(p)]


@router.get("/projects/{project_id}", summary="A project, its status and every ledger entry")
def read_project(
    project_id: Annotated[int, Path(ge=1)], conn: ConnectionDep, principal: PrincipalDep
) -> dict[str, Any]:
    return _readable_project(conn, principal, project_id)


@router.post(
    "/projects/{project_id}/status",
    summary="Authorise (reserve), complete (consume) or abandon (release) a project",
)
def post_status(
    project_id: Annotated[int, Path(ge=1)],
    body: StatusChange,
    conn: ConnectionDep,
    principal: WriterDep,
) -> dict[str, Any]:
    with conn.begin():
        before = _locked_project(conn, principal, project_id)
        authorise_status(principal, before, body.status)
        after = change_status(
            conn,
            project_id,
            body.status,
            ruleset=_ruleset_of(before),
            author=principal.name,
            reason=body.reason,
            occurred_on=body.occurred_on,
            overdraft=body.overdraft,
        )
        audit.record(
            conn, principal, "project.status", "project", project_id,
            before=_state(before), after=_state(after),
        )  # fmt: skip
    return after


@router.post("/projects/{project_id}/corrections", summary="A compensating entry, with its reason")
def post_correction(
    project_id: Annotated[int, Path(ge=1)],
    body: Correction,
    conn: ConnectionDep,
    principal: WriterDep,
) -> dict[str, Any]:
    with conn.begin():
        before = _locked_project(conn, principal, project_id)
        authorise_correction(principal, before)
        after = correct(
            conn,
            project_id,
            body.delta_ha,
            ruleset=_ruleset_of(before),
            author=principal.name,
            reason=body.reason,
            corrects_entry_id=body.corrects_entry_id,
            occurred_on=body.occurred_on,
            overdraft=body.overdraft,
        )
        audit.record(
            conn, principal, "project.correction", "project", project_id,
            before=_state(before), after=_state(after),
        )  # fmt: skip
    return after


def count_vertices(coordinates: Any) -> int:
    """Positions in GeoJSON coordinates, however deeply nested (iteratively: no recursion
    limit to hit with a hostile body)."""
    count, stack = 0, [coordinates]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            if item and all(isinstance(v, int | float) for v in item):
                count += 1
            else:
                stack.extend(item)
    return count


def _readable_project(conn, principal: Principal, project_id: int) -> dict[str, Any]:
    """The project, or 404 when this principal may not see it (its existence included)."""
    try:
        project = get_project(conn, project_id)
    except NotFoundError:
        project = None
    if project is None or not principal.may_read_project(project):
        raise NotFound(f"no project {project_id}")
    return project


def _locked_project(conn, principal: Principal, project_id: int) -> dict[str, Any]:
    """The project as it stands once its envelope is locked: the audit's "before"."""
    project = _readable_project(conn, principal, project_id)
    lock_envelope(conn, project["ruleset_id"])
    return get_project(conn, project_id)


def _state(project: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "reserved_ha", "consumed_ha", "naf_ha", "entries")
    state = {k: project[k] for k in keys}
    state["entries"] = len(state["entries"])
    return state


def _ruleset_of(project: dict[str, Any]):
    """The envelope a project draws on (each project names its own)."""
    return get_ruleset(project["ruleset_id"], kind="envelope")


@router.get(
    "/envelope",
    summary="Consumed, reserved and remaining hectares; by territory, monthly, projected",
    responses={
        200: {
            "description": "The report as JSON, or its groups as CSV with format=csv",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def read_envelope(
    conn: ConnectionDep,
    ruleset: RulesetQuery = None,
    group_by: GroupBy | None = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    rules = get_ruleset(ruleset, kind="envelope")
    report = envelope_report(conn, rules, group_by)
    if format == "json":
        return report
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["level", "code", "name", "reserved_ha", "consumed_ha", "ruleset"])
    national = report["national"]
    writer.writerow(
        ["national", "", "", national["reserved_ha"], national["consumed_ha"], rules.id]
    )
    for group in report.get("groups", []):
        writer.writerow(
            [
                group_by,
                group["code"],
                group["name"],
                group["reserved_ha"],
                group["consumed_ha"],
                rules.id,
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="envelope-{rules.id}.csv"'},
    )


@router.get(
    "/envelope/chart.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    summary="Burn-down of the envelope with its projection",
)
def envelope_chart(conn: ConnectionDep, ruleset: RulesetQuery = None) -> Response:
    report = envelope_report(conn, get_ruleset(ruleset, kind="envelope"))
    return Response(charts.envelope_burndown(report), media_type="image/png")
