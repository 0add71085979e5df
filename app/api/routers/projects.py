"""The industrial project ledger: recording projects and moving them along their statuses.

The bodies are strict: unknown members, booleans for numbers, numbers for
dates or booleans, NaN and infinities, blank reasons are refused with a 422 before the
ledger sees them, and the OpenAPI schema says so, so that generated clients and fuzzers
send the real shapes. The ledger itself (geo.ledger.write) checks again what needs the
database: the project's location, dates against its previous entries, the envelope.
Each route calls one use case of app.services.ledger.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from typing import Annotated, Any, Literal, NamedTuple

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query
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
from sqlalchemy import Connection

from app.api.auth import PrincipalDep, WriterDep
from app.api.dependencies import (
    DEPARTEMENT_PATTERN,
    ENVELOPE_RULESET_FIELD,
    REGION_PATTERN,
    SIREN_PATTERN,
    ConnectionDep,
    EnvelopeRulesetQuery,
    ReadConnectionDep,
    SettingsDep,
)
from app.api.errors import InvalidGeometry
from app.services import ledger
from geo.access import Principal
from geo.ledger.geometry import MAX_PARCELS, ProjectGeometry
from geo.ledger.statuses import LISTED_ONLY, STATUSES
from geo.ledger.write import KINDS, VISIBLE_CHARACTER, ProjectDraft
from geo.territories import PARCEL_ID_PATTERN

router = APIRouter(prefix="/projects", tags=["envelope"])

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
        Field(**ENVELOPE_RULESET_FIELD),
    ] = None
    occurred_on: EntryDate | None = None
    reason: Reason = "project recorded"
    pene_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The PENE of annex I (arrêté of 31 May 2024) this project is, if it is one: "
        "a PENE never draws on both the PENE forfait and the industrial envelope",
    )

    @model_validator(mode="after")
    def _one_location(self) -> ProjectCreate:
        if (self.geometry is None) == (self.parcel_ids is None):
            raise ValueError("give either geometry or parcel_ids")
        return self

    def draft(self) -> ProjectDraft:
        """The project as the ledger takes it: every member but the envelope's rule set."""
        return ProjectDraft(**{name: value for name, value in self if name != "ruleset"})


class StatusChange(_Body):
    # authorising is an administrative act: its date, its reference and its reason are
    # required and kept in the ledger entry
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"status": {"const": "authorised"}}},
            "then": {"required": ["status", "reason", "act", "occurred_on"]},
        }
    )

    # a project is planned (or listed, by a list import) when recorded, and never again
    status: Literal[tuple(s for s in STATUSES if s not in ("planned", *LISTED_ONLY))]  # type: ignore[valid-type]
    reason: Reason
    act: (
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=200, pattern=_TEXT_PATTERN),
            Field(
                description="The act that decides it (e.g. « arrêté préfectoral n° 2026-123 »): "
                "required to authorise",
                examples=["arrêté préfectoral n° 2026-123"],
            ),
        ]
        | None
    ) = None
    occurred_on: EntryDate | None = None
    overdraft: StrictBool = Field(
        default=False, description="Ask to overdraw the envelope (if its rule set allows it)"
    )

    @model_validator(mode="after")
    def _authorisation_says_its_act(self) -> StatusChange:
        if self.status == "authorised" and (self.act is None or self.occurred_on is None):
            raise ValueError("authorising needs its date (occurred_on) and its act (act)")
        return self


class Correction(_Body):
    delta_ha: Hectares
    reason: Reason
    corrects_entry_id: EntryId | None = None
    occurred_on: EntryDate | None = None
    overdraft: StrictBool = Field(
        default=False, description="Ask to overdraw the envelope (if its rule set allows it)"
    )


def project_body(body: Annotated[ProjectCreate, Body()], settings: SettingsDep) -> ProjectCreate:
    """The new project as sent, its outline within the service's vertex limit."""
    if body.geometry is not None:
        vertices = body.geometry.vertex_count()
        if vertices > settings.max_geometry_vertices:
            raise InvalidGeometry(
                f"the geometry has {vertices} vertices: at most {settings.max_geometry_vertices}"
            )
    return body


class ProjectWrite(NamedTuple):
    """A project as a writer sent it, with the connection its use case runs on."""

    conn: Connection
    principal: Principal
    draft: ProjectDraft
    ruleset: str | None


def project_write(
    # the writer first: a request without a valid token is refused before its body is read
    conn: ConnectionDep,
    principal: WriterDep,
    body: Annotated[ProjectCreate, Depends(project_body)],
) -> ProjectWrite:
    """What recording a project and previewing it both read."""
    return ProjectWrite(conn, principal, body.draft(), body.ruleset)


ProjectWriteDep = Annotated[ProjectWrite, Depends(project_write)]


@router.post(
    "",
    status_code=http_status.HTTP_201_CREATED,
    summary="Record a planned project; its NAF consumption is computed from its geometry",
)
def create_project(write: ProjectWriteDep) -> dict[str, Any]:
    return ledger.record_project(*write)


@router.post(
    "/preview",
    summary="What recording this project would do, without recording it: its NAF hectares, "
    "what it would draw on the envelope once authorised, its commune's and EPCI's "
    "trajectories before and after",
)
def preview_project(write: ProjectWriteDep) -> dict[str, Any]:
    return ledger.preview_project(*write)


@router.get("/preview", include_in_schema=False)
def preview_is_posted() -> None:
    # GET /projects/{project_id} would take this path (its id's pattern is checked after
    # routing) and answer 422: a preview is POSTed, any other method is a 405
    raise HTTPException(http_status.HTTP_405_METHOD_NOT_ALLOWED, headers={"Allow": "POST"})


@router.get("", summary="Projects with their status, by territory or status")
def list_projects(
    conn: ReadConnectionDep,
    principal: PrincipalDep,
    epci: Annotated[
        str | None, Query(pattern=SIREN_PATTERN, description="SIREN of the project's EPCI")
    ] = None,
    departement: Annotated[
        str | None, Query(pattern=DEPARTEMENT_PATTERN, description="Département code (91, 2A, 974)")
    ] = None,
    region: Annotated[
        str | None, Query(pattern=REGION_PATTERN, description="Région code (COG, e.g. 11)")
    ] = None,
    status: Annotated[
        Literal[STATUSES] | None,  # type: ignore[valid-type]
        Query(description="Current status; planned projects are shown to their territory only"),
    ] = None,
    ruleset: EnvelopeRulesetQuery = None,
) -> list[dict[str, Any]]:
    return ledger.visible_projects(
        conn,
        principal,
        epci_siren=epci,
        departement=departement,
        region=region,
        status=status,
        ruleset_id=ruleset,
    )


@router.get("/{project_id}", summary="A project, its status and every ledger entry")
def get_project(
    project_id: ProjectId, conn: ReadConnectionDep, principal: PrincipalDep
) -> dict[str, Any]:
    return ledger.readable_project(conn, principal, int(project_id))


@router.post(
    "/{project_id}/status",
    summary="Authorise (reserve), complete (consume) or abandon (release) a project",
)
def change_project_status(
    project_id: ProjectId, body: StatusChange, conn: ConnectionDep, principal: WriterDep
) -> dict[str, Any]:
    return ledger.change_status(
        conn, principal, int(project_id), body.status,
        reason=body.reason, occurred_on=body.occurred_on, overdraft=body.overdraft,
        act=body.act,
    )  # fmt: skip


@router.post("/{project_id}/corrections", summary="A compensating entry, with its reason")
def correct_project(
    project_id: ProjectId, body: Correction, conn: ConnectionDep, principal: WriterDep
) -> dict[str, Any]:
    return ledger.correct(
        conn, principal, int(project_id), body.delta_ha,
        corrects_entry_id=body.corrects_entry_id,
        reason=body.reason, occurred_on=body.occurred_on, overdraft=body.overdraft,
    )  # fmt: skip
