"""The industrial project ledger and the envelope reports.

The bodies are strict (issue 11): unknown members, booleans for numbers, numbers for
dates or booleans, NaN and infinities, blank reasons are refused with a 422 before the
ledger sees them, and the OpenAPI schema says so, so that generated clients and fuzzers
send the real shapes. The ledger itself (geo.ledger.envelope) checks again what needs the
database: the project's location, dates against its previous entries, the envelope.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections import Counter
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi import status as http_status
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    model_validator,
)

from app.api.dependencies import PARCEL_ID_PATTERN, SIREN_PATTERN, ConnectionDep, SettingsDep
from app.api.errors import InvalidGeometry
from app.presentation import charts
from app.security import audit
from app.security.auth import PrincipalDep, WriterDep
from geo.errors import NotFound
from geo.ledger.access import (
    Principal,
    authorise_correction,
    authorise_create,
    authorise_status,
)
from geo.ledger.envelope import (
    GROUPS,
    KINDS,
    VISIBLE_CHARACTER,
    change_status,
    correct,
    create_project,
    envelope_report,
    get_project,
    list_projects,
    lock_envelope,
)
from geo.ledger.geometry import MAX_PARCELS, ProjectGeometry
from geo.ledger.statuses import STATUSES
from geo.zan.rulesets import default_ruleset_id, get_ruleset, load_rulesets

router = APIRouter(tags=["envelope"])

ENVELOPE_RULESETS = sorted(r.id for r in load_rulesets().values() if r.envelope is not None)
_RULESET_SCHEMA = {"enum": ENVELOPE_RULESETS}
_RULESET_HELP = (
    f"Envelope rule set id, one of {', '.join(ENVELOPE_RULESETS)} "
    f"(default: {default_ruleset_id('envelope')}); /rulesets describes them"
)
RulesetQuery = Annotated[
    str | None,
    Query(pattern=r"^[a-z0-9-]{1,64}$", description=_RULESET_HELP,
          json_schema_extra=_RULESET_SCHEMA),
]  # fmt: skip
GroupBy = Literal[tuple(GROUPS)]  # type: ignore[valid-type]
ProjectId = Annotated[
    str,
    Path(
        pattern=r"^[1-9][0-9]{0,9}$",
        description="A project id as /projects gives it: digits, no sign, no leading zero",
        examples=["1"],
    ),
]

# A text that says something: a visible character, no NUL byte (PostgreSQL text cannot hold
# one). The pattern is the whole rule, so that the schema says exactly what is refused.
_TEXT_PATTERN = rf"^[^\x00]*{VISIBLE_CHARACTER}[^\x00]*$"
Reason = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000, pattern=_TEXT_PATTERN),
    Field(description="Why: the decision, document or survey behind the entry (not blank)"),
]


def _iso_date(value: Any) -> Any:
    # Python-mode validation would take an integer as a Unix timestamp (0 → 1970-01-01).
    if isinstance(value, datetime.date) or (
        isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)
    ):
        return value
    raise ValueError("a date is written YYYY-MM-DD")


EntryDate = Annotated[
    datetime.date,
    BeforeValidator(_iso_date),
    Field(
        description=(
            "When it happened (default today): within the envelope's period, not after "
            "tomorrow, never before the project's previous entry"
        )
    ),
]


def _at_least_a_square_metre(value: float) -> float:
    if abs(value) < 0.0001:
        raise ValueError("a correction is at least 0.0001 ha (1 m²) either way")
    return value


Hectares = Annotated[
    float,
    Strict(),
    Field(
        ge=-100_000,
        le=100_000,
        allow_inf_nan=False,
        description=(
            "Hectares to add (negative to give back): at least 0.0001 ha (1 m²) either way, "
            "rounded to 4 decimals"
        ),
        json_schema_extra={"anyOf": [{"maximum": -0.0001}, {"minimum": 0.0001}]},
    ),
    AfterValidator(_at_least_a_square_metre),
]


def _integral(value: object) -> object:
    # JSON Schema counts 3.0 as an integer (a number whose fractional part is zero), so a
    # client may send it for an entry id; strict typing still refuses true, "3" and 3.5.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


EntryId = Annotated[int, Strict(), Field(ge=1, le=2**31 - 1), BeforeValidator(_integral)]


def _distinct(ids: list[str]) -> list[str]:
    twice = sorted(i for i, n in Counter(ids).items() if n > 1)
    if twice:
        raise ValueError(f"parcel id(s) given more than once: {', '.join(twice[:10])}")
    return ids


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectCreate(_Body):
    # exactly one of geometry and parcel_ids, said so in the schema
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["geometry"], "properties": {
                    "geometry": {"type": "object"}, "parcel_ids": {"type": "null"}}},
                {"required": ["parcel_ids"], "properties": {
                    "parcel_ids": {"type": "array"}, "geometry": {"type": "null"}}},
            ]
        }
    )  # fmt: skip

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_TEXT_PATTERN)]
    kind: Literal[KINDS] = "industrial"  # type: ignore[valid-type]
    epci_siren: str = Field(
        pattern=SIREN_PATTERN, description="SIREN of the EPCI the project lies in"
    )
    geometry: ProjectGeometry | None = None
    parcel_ids: (
        Annotated[
            list[Annotated[str, Field(pattern=PARCEL_ID_PATTERN)]],
            Field(
                min_length=1,
                max_length=MAX_PARCELS,
                json_schema_extra={"uniqueItems": True},
                description="Cadastre parcel ids (14 characters), each once, in the EPCI",
            ),
            AfterValidator(_distinct),
        ]
        | None
    ) = None
    ruleset: Annotated[
        str | None,
        Field(pattern=r"^[a-z0-9-]{1,64}$", description=_RULESET_HELP,
              json_schema_extra=_RULESET_SCHEMA),
    ] = None  # fmt: skip
    occurred_on: EntryDate | None = None
    reason: Reason = "project recorded"

    @model_validator(mode="after")
    def _one_location(self) -> ProjectCreate:
        if (self.geometry is None) == (self.parcel_ids is None):
            raise ValueError("give either geometry or parcel_ids")
        return self


class StatusChange(_Body):
    # a project is planned when recorded, and never again
    status: Literal[tuple(s for s in STATUSES if s != "planned")]  # type: ignore[valid-type]
    reason: Reason
    occurred_on: EntryDate | None = None
    overdraft: StrictBool = Field(
        default=False, description="Ask to overdraw the envelope (if its rule set allows it)"
    )


class Correction(_Body):
    delta_ha: Hectares
    reason: Reason
    corrects_entry_id: EntryId | None = None
    occurred_on: EntryDate | None = None
    overdraft: StrictBool = Field(
        default=False, description="Ask to overdraw the envelope (if its rule set allows it)"
    )


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
        vertices = body.geometry.vertex_count()
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
    epci: Annotated[
        str | None, Query(pattern=SIREN_PATTERN, description="SIREN of the project's EPCI")
    ] = None,
    departement: Annotated[
        str | None,
        Query(pattern=r"^[0-9][0-9AB][0-9]?$", description="Département code (91, 2A, 974)"),
    ] = None,
    region: Annotated[
        str | None, Query(pattern=r"^[0-9]{2,3}$", description="Région code (COG, e.g. 11)")
    ] = None,
    status: Annotated[
        Literal[STATUSES] | None,  # type: ignore[valid-type]
        Query(description="Current status; planned projects are shown to their territory only"),
    ] = None,
    ruleset: RulesetQuery = None,
) -> list[dict[str, Any]]:
    if ruleset is not None:
        get_ruleset(ruleset, kind="envelope")  # an unknown rule set is a 422, as on /envelope
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
    project_id: ProjectId, conn: ConnectionDep, principal: PrincipalDep
) -> dict[str, Any]:
    return _readable_project(conn, principal, int(project_id))


@router.post(
    "/projects/{project_id}/status",
    summary="Authorise (reserve), complete (consume) or abandon (release) a project",
)
def post_status(
    project_id: ProjectId,
    body: StatusChange,
    conn: ConnectionDep,
    principal: WriterDep,
) -> dict[str, Any]:
    return _write_project(
        conn,
        principal,
        int(project_id),
        "project.status",
        body,
        authorise=lambda before: authorise_status(principal, before, body.status),
        write=lambda pid, **entry: change_status(conn, pid, body.status, **entry),
    )


@router.post("/projects/{project_id}/corrections", summary="A compensating entry, with its reason")
def post_correction(
    project_id: ProjectId,
    body: Correction,
    conn: ConnectionDep,
    principal: WriterDep,
) -> dict[str, Any]:
    return _write_project(
        conn,
        principal,
        int(project_id),
        "project.correction",
        body,
        authorise=lambda before: authorise_correction(principal, before),
        write=lambda pid, **entry: correct(
            conn, pid, body.delta_ha, corrects_entry_id=body.corrects_entry_id, **entry
        ),
    )


def _write_project(
    conn,
    principal: Principal,
    project_id: int,
    action: str,
    body: StatusChange | Correction,
    *,
    authorise: Callable[[dict[str, Any]], None],
    write: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    """The sequence of every write to a recorded project, in one transaction: its envelope
    locked (the audit's "before" is then the state the write starts from), the principal
    authorised, the ledger entry written (``write(project_id, **entry)``), the audit
    record."""
    with conn.begin():
        before = _locked_project(conn, principal, project_id)
        authorise(before)
        after = write(
            project_id,
            ruleset=_ruleset_of(before),
            author=principal.name,
            reason=body.reason,
            occurred_on=body.occurred_on,
            overdraft=body.overdraft,
        )
        audit.record(
            conn, principal, action, "project", project_id,
            before=_state(before), after=_state(after),
        )  # fmt: skip
    return after


def _readable_project(conn, principal: Principal, project_id: int) -> dict[str, Any]:
    """The project, or 404 when this principal may not see it (its existence included)."""
    try:
        project = get_project(conn, project_id)
    except NotFound:
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
    group_by: Annotated[
        GroupBy | None, Query(description="Break the figures down by this territory level")
    ] = None,
    format: Annotated[
        Literal["json", "csv"], Query(description="json: the whole report; csv: its groups")
    ] = "json",
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
