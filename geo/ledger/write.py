"""Writing the ledger of industrial projects drawing on an envelope (10,000 ha; the PENE
forfait): recording a project, then moving it along its statuses or correcting it.

A project is recorded once with its geometry and its NAF consumption (geo.ledger.naf).
What happens to it afterwards is a sequence of append-only entries:

    planned → authorised        reserves the project's NAF hectares
    listed → authorised         a project a text lists (PENE): its listed hectares are
                                earmarked from the start, authorising it books the difference
    authorised → under_construction
    authorised | under_construction → completed   converts the reservation into consumption
    planned | authorised | under_construction → abandoned   releases the reservation

A correction is a compensating entry (with its reason), never an edit. Every entry
says who, when and why. Writers lock the envelope's account row, so two requests
racing for the last hectares are served one after the other and the envelope is never
overdrawn, unless the rule set allows it *and* the entry asks for it.

The rules every write follows:
- a project lies in the EPCI it is recorded for: its parcels belong to the EPCI's communes,
  or its geometry lies inside the EPCI's boundary (with a tolerance), 403 otherwise; a
  geometry is also checked for shape, extent, validity and area (``geo.ledger.geometry``);
- hectares are exact decimals with four places, rounded once (``geo.ledger.naf.hectares``);
- an entry's date lies within the envelope's period, not after tomorrow (a day of
  tolerance for time zones), and never before the project's previous entry;
- every entry has a reason that is not blank.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from geo.crs import LAMBERT93
from geo.db import tile_generation
from geo.errors import Conflict, Invalid, NotFound
from geo.ledger import naf
from geo.ledger.geometry import locate
from geo.ledger.reports import ENTRY_COLUMNS, PROJECT_COLUMNS, Project, balance, project_entries
from geo.ledger.statuses import STATUSES, TRANSITIONS
from geo.zan.rulesets import RuleSet, get_ruleset

KINDS = ("industrial", "commercial", "logistics", "other")
# An entry may be dated tomorrow at the latest: the client's day may be ahead of ours.
FUTURE_TOLERANCE = datetime.timedelta(days=1)
# Larger than any envelope (France consumed about 250,000 ha of NAF land in 2011-2021).
MAX_CORRECTION_HA = 100_000


class EnvelopeExhausted(Conflict):
    """A draw on the envelope larger than what is left, without an allowed overdraft."""


# A character that shows: not a space, a control character or an invisible format character
# (soft hyphen, zero-width spaces and joiners, direction marks, word joiner, BOM). The API
# schema uses the same class, so that it says exactly what is refused.
VISIBLE_CHARACTER = r"[^\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"


def says_something(value: str) -> bool:
    """Whether a name or reason is not blank: it shows at least one character."""
    return isinstance(value, str) and re.search(VISIBLE_CHARACTER, value) is not None


def _nonblank(reason: str, what: str) -> str:
    if not says_something(reason) or "\x00" in reason:
        raise Invalid(f"{what} needs a reason that is not blank (and no NUL byte)")
    return reason


def _entry_date(
    ruleset: RuleSet, occurred_on: datetime.date | None, previous: datetime.date | None = None
) -> datetime.date:
    """The date of a new entry (today by default), checked against the envelope's period,
    tomorrow and the project's previous entry."""
    assert ruleset.envelope is not None
    today = datetime.date.today()
    on = occurred_on if occurred_on is not None else today
    if not isinstance(on, datetime.date) or isinstance(on, datetime.datetime):
        raise Invalid("occurred_on must be a date (YYYY-MM-DD)")
    first = ruleset.envelope.first_day
    last = datetime.date(ruleset.envelope.last_year, 12, 31)
    if not first <= on <= last:
        raise Invalid(
            f"occurred_on {on.isoformat()} lies outside the period of {ruleset.id} "
            f"({first.isoformat()} to {last.isoformat()})"
        )
    if on > today + FUTURE_TOLERANCE:
        raise Invalid(f"occurred_on {on.isoformat()} is in the future: the ledger records facts")
    if previous is not None and on < previous:
        raise Conflict(
            f"occurred_on {on.isoformat()} precedes the project's previous entry "
            f"({previous.isoformat()}): entries follow each other in time"
        )
    return on


@dataclass(frozen=True)
class ProjectDraft:
    """A project as its author describes it, before the ledger locates and measures it.

    ``geometry`` is GeoJSON (a dict, or a model of ``geo.ledger.geometry``); exactly one of
    it and ``parcel_ids`` is given."""

    name: str
    kind: str
    epci_siren: str
    geometry: Any = None
    parcel_ids: list[str] | None = None
    occurred_on: datetime.date | None = None
    reason: str = "project recorded"
    # the PENE of annex I the project is, if it is one (see _check_single_draw)
    pene_id: str | None = None


def create_project(
    conn: Connection, draft: ProjectDraft, *, ruleset: RuleSet, author: str
) -> dict[str, Any]:
    """Record a planned project, with its NAF consumption and how it was computed; it must
    lie in the EPCI ``draft.epci_siren`` (OutsideTerritory otherwise)."""
    _check_new_project(draft.name, draft.kind, ruleset, draft.reason)
    if (draft.geometry is None) == (not draft.parcel_ids):
        raise Invalid("give either a geometry or parcel ids")
    on = _entry_date(ruleset, draft.occurred_on)
    _check_single_draw(conn, ruleset, draft.pene_id)
    epci = draft.epci_siren
    if not conn.execute(text("SELECT 1 FROM epci WHERE siren = :s"), {"s": epci}).first():
        raise Invalid(f"unknown EPCI {epci}")
    location = locate(conn, epci, geometry=draft.geometry, parcel_ids=draft.parcel_ids)
    measured, computation = naf.naf_consumption(conn, location.geom)
    first = location.communes[0] if location.communes else (None, None, None)
    new = _NewProject(
        name=draft.name, kind=draft.kind, ruleset_id=ruleset.id, epci_siren=epci,
        commune_insee=first[0], departement_code=first[1], region_code=first[2],
        communes=list(dict.fromkeys(row[0] for row in location.communes)),
        area_ha=measured["area_ha"], naf_ha=measured["naf_ha"], naf_computation=computation,
        parcel_ids=sorted(draft.parcel_ids) if draft.parcel_ids else None,
        created_by=author, geom=location.geom, pene_id=draft.pene_id,
    )  # fmt: skip
    # a planned project holds nothing yet: its status entry draws no hectares
    return _record(conn, ruleset, new, "planned", Decimal(0), on, reason=draft.reason)


@dataclass(frozen=True)
class Placement:
    """Where a project without an outline lies: its first commune and that commune's EPCI,
    département and région, and all its communes."""

    commune_insee: str
    epci_siren: str
    departement_code: str
    region_code: str
    communes: list[str]


def record_listed_project(
    conn: Connection,
    *,
    name: str,
    ruleset: RuleSet,
    location: Placement,
    hectares: float,
    computation: dict[str, Any],
    author: str,
    occurred_on: datetime.date,
    reason: str,
    kind: str = "other",
    pene_id: str | None = None,
) -> dict[str, Any]:
    """Record a project known by the hectares a text lists for it, not by an outline (the
    PENE of annex I of the arrêté of 31 May 2024): its area and NAF hectares are those
    hectares, its geometry is empty. It is ``listed``, its hectares earmarked on the
    envelope: a list is not an authorisation (the arrêté does not authorise a project).

    A listed project has neither a geometry nor parcels, and needs neither: the text that
    lists it locates it (``location``) and measures it (``hectares``)."""
    _check_new_project(name, kind, ruleset, reason)
    on = _entry_date(ruleset, occurred_on)
    _check_single_draw(conn, ruleset, pene_id)
    listed = naf.hectares(hectares)
    new = _NewProject(
        name=name, kind=kind, ruleset_id=ruleset.id, epci_siren=location.epci_siren,
        commune_insee=location.commune_insee, departement_code=location.departement_code,
        region_code=location.region_code, communes=location.communes,
        area_ha=listed, naf_ha=listed,
        naf_computation={"area_ha": round(hectares, 4), "naf_ha": round(hectares, 4),
                         **computation},
        parcel_ids=None, created_by=author, geom=None, pene_id=pene_id,
    )  # fmt: skip
    return _record(conn, ruleset, new, "listed", listed, on, reason=reason)


def _check_new_project(name: str, kind: str, ruleset: RuleSet, reason: str) -> None:
    """What a new project must say before the database is asked anything."""
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}")
    if ruleset.envelope is None:
        raise Invalid(f"rule set {ruleset.id} has no envelope")
    eligible = ruleset.envelope.eligible_kinds
    if eligible is not None and kind not in eligible:
        raise Invalid(
            f"a {kind} project cannot draw on {ruleset.id}: its text lets only "
            f"{', '.join(eligible)} projects draw on it"
        )
    if not says_something(name) or "\x00" in name:
        raise Invalid("a project needs a name that is not blank")
    _nonblank(reason, "recording a project")


def _check_single_draw(conn: Connection, ruleset: RuleSet, pene_id: str | None) -> None:
    """A project never draws on two envelopes that exclude each other (the PENE forfait and
    the industrial envelope): a PENE already recorded on one, and not abandoned, is refused
    on the other; on the industrial envelope, a PENE listed in annex I is refused too."""
    assert ruleset.envelope is not None
    if pene_id is None or not ruleset.envelope.exclusive_with:
        return
    if not says_something(pene_id) or len(pene_id) > 32:
        raise Invalid("pene_id must be 1 to 32 characters")
    others = ruleset.envelope.exclusive_with
    drawn = conn.execute(
        text(
            """SELECT p.id, p.ruleset_id FROM project p
               WHERE (p.pene_id = :pene OR p.id IN (
                          SELECT project_id FROM pene_project WHERE pene_id = :pene))
                 AND p.ruleset_id = ANY(CAST(:others AS text[]))
                 AND coalesce((SELECT (array_agg(x.status ORDER BY x.id DESC)
                                  FILTER (WHERE x.status IS NOT NULL))[1]
                               FROM envelope_entry x WHERE x.project_id = p.id), '')
                     <> 'abandoned'
               LIMIT 1"""
        ),
        {"pene": pene_id, "others": others},
    ).first()
    if drawn is not None:
        raise Conflict(
            f"PENE {pene_id} already draws on {drawn[1]} (project {drawn[0]}): a project "
            f"never draws on both {drawn[1]} and {ruleset.id}"
        )
    if (
        "pene-2021-2031" in others
        and conn.execute(
            text("SELECT 1 FROM pene_project WHERE pene_id = :pene LIMIT 1"), {"pene": pene_id}
        ).first()
    ):
        raise Conflict(
            f"PENE {pene_id} is listed in annex I of the arrêté of 31 May 2024: it draws on "
            f"the PENE forfait, never also on {ruleset.id}"
        )


@dataclass(frozen=True)
class _NewProject:
    """A project's row as the ledger records it, however it was described."""

    name: str
    kind: str
    ruleset_id: str
    epci_siren: str
    commune_insee: str | None
    departement_code: str | None
    region_code: str | None
    communes: list[str]
    area_ha: Decimal
    naf_ha: Decimal
    naf_computation: dict[str, Any]
    parcel_ids: list[str] | None
    created_by: str
    geom: Any  # EWKB; None for a project known by its listed hectares only
    pene_id: str | None


_INSERT_PROJECT = f"""
INSERT INTO project (name, kind, ruleset_id, epci_siren, commune_insee, communes,
                     departement_code, region_code, area_ha, naf_ha, naf_computation,
                     parcel_ids, created_by, geom, pene_id)
VALUES (:name, :kind, :ruleset_id, :epci_siren, :commune_insee, CAST(:communes AS jsonb),
        :departement_code, :region_code, :area_ha, :naf_ha, CAST(:naf_computation AS jsonb),
        CAST(:parcel_ids AS jsonb), :created_by,
        -- a project without an outline has an empty one
        coalesce(CAST(:geom AS geometry), ST_GeomFromText('MULTIPOLYGON EMPTY', {LAMBERT93})),
        :pene_id)
RETURNING {", ".join(PROJECT_COLUMNS)}, ST_AsEWKB(geom) AS outline"""


def _record(
    conn: Connection,
    ruleset: RuleSet,
    new: _NewProject,
    status: str,
    reserved: Decimal,
    on: datetime.date,
    *,
    reason: str,
) -> dict[str, Any]:
    """The one insert of a project, and its first entry: its status, with the hectares it
    holds from the start. An entry that draws hectares is booked under the envelope's lock;
    one that draws none only needs the account to exist."""
    if reserved > 0:
        lock_envelope(conn, ruleset.id)
    else:
        _account(conn, ruleset.id)
    values = asdict(new)
    for column in ("communes", "naf_computation", "parcel_ids"):
        values[column] = None if values[column] is None else json.dumps(values[column])
    row = dict(conn.execute(text(_INSERT_PROJECT), values).mappings().one())
    project = Project(row, (), outline=bytes(row.pop("outline")))
    zero = Decimal(0)
    entry = _Entry("status", status, reserved, zero, on, new.created_by, reason)
    return _book(conn, ruleset, project, entry)


def _account(conn: Connection, ruleset_id: str) -> None:
    conn.execute(
        text("INSERT INTO envelope_account (ruleset_id) VALUES (:r) ON CONFLICT DO NOTHING"),
        {"r": ruleset_id},
    )


def lock_envelope(conn: Connection, ruleset_id: str) -> None:
    """Serialise the writers of one envelope until the transaction ends."""
    _account(conn, ruleset_id)
    conn.execute(
        text("SELECT 1 FROM envelope_account WHERE ruleset_id = :r FOR UPDATE"), {"r": ruleset_id}
    )


# The project, read in the statement that locks its envelope's account row. The row never
# changes, so reading it with the lock is safe; its entries are read by the next statement,
# which sees every entry committed before the lock was granted.
_LOCK_PROJECT = f"""
SELECT {", ".join(f"p.{column}" for column in PROJECT_COLUMNS)}, ST_AsEWKB(p.geom) AS outline
FROM project p JOIN envelope_account a ON a.ruleset_id = p.ruleset_id
WHERE p.id = :p
FOR UPDATE OF a"""


def lock_project(conn: Connection, project_id: int) -> Project:
    """Lock the envelope a project draws on until the transaction ends, and read the project
    as it then stands: the one read of a write. A caller that checks something against the
    project (who may write it) passes what this returns to :func:`change_status` or
    :func:`correct`, which then read nothing more of it."""
    row = conn.execute(text(_LOCK_PROJECT), {"p": project_id}).mappings().first()
    if row is None:
        raise NotFound(f"no project {project_id}")
    project = dict(row)
    outline = bytes(project.pop("outline"))
    return Project(project, project_entries(conn, project_id), outline=outline, locked=True)


def _locked(
    conn: Connection, project: int | Project, ruleset: RuleSet | None
) -> tuple[Project, RuleSet]:
    """The project locked (read now, or as the caller locked it) and the envelope it draws on."""
    if isinstance(project, Project):
        if not project.locked:
            raise ValueError("a project is written as lock_project read it")
    else:
        project = lock_project(conn, project)
    drawn_on = project.row["ruleset_id"]
    if ruleset is None:
        ruleset = get_ruleset(drawn_on, kind="envelope")
    elif drawn_on != ruleset.id:
        raise Invalid(f"project {project.id} draws on {drawn_on}, not {ruleset.id}")
    return project, ruleset


def change_status(
    conn: Connection,
    project: int | Project,
    new_status: str,
    *,
    ruleset: RuleSet | None = None,
    author: str,
    reason: str,
    occurred_on: datetime.date | None = None,
    overdraft: bool = False,
) -> dict[str, Any]:
    """Move a project (its id, or as :func:`lock_project` read it) along its lifecycle,
    reserving, converting or releasing hectares. ``ruleset``, when given, must be the
    envelope the project draws on."""
    if new_status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}")
    if not isinstance(overdraft, bool):
        raise Invalid("overdraft must be true or false")
    _nonblank(reason, "a status change")
    before, ruleset = _locked(conn, project, ruleset)
    allowed = TRANSITIONS.get(before.status or "", ())
    if new_status not in allowed:
        raise Conflict(
            f"project {before.id} is {before.status}: it cannot become {new_status} "
            f"(allowed: {', '.join(allowed) or 'none'})"
        )
    on = _entry_date(ruleset, occurred_on, before.last_on)
    reserved, consumed = Decimal(0), Decimal(0)
    if new_status == "authorised":
        # a listed project already holds its listed hectares: book the difference
        reserved = before.row["naf_ha"] - before.reserved_ha
    elif new_status == "completed":
        reserved, consumed = -before.reserved_ha, before.reserved_ha
    elif new_status == "abandoned":
        reserved = -before.reserved_ha
    return _book(
        conn, ruleset, before,
        _Entry("status", new_status, reserved, consumed, on, author, reason, overdraft),
    )  # fmt: skip


def correct(
    conn: Connection,
    project: int | Project,
    delta_ha: float | Decimal,
    *,
    ruleset: RuleSet | None = None,
    author: str,
    reason: str,
    corrects_entry_id: int | None = None,
    occurred_on: datetime.date | None = None,
    overdraft: bool = False,
) -> dict[str, Any]:
    """A compensating entry: adds ``delta_ha`` (negative to give back) to what the project
    holds now, its reservation while authorised or under construction, its consumption
    once completed. ``delta_ha`` is rounded to the ledger's four decimals
    (``geo.ledger.naf.hectares``); a correction that rounds to nothing is refused."""
    _nonblank(reason, "a correction")
    if isinstance(delta_ha, bool) or not isinstance(delta_ha, int | float | Decimal):
        raise Invalid("delta_ha must be a number of hectares")
    if not isinstance(overdraft, bool):
        raise Invalid("overdraft must be true or false")
    delta = naf.hectares(delta_ha)
    if delta == 0:
        raise Invalid(
            f"a correction of {delta_ha!r} ha is nothing at the ledger's precision "
            f"({naf.HECTARE_PLACES} ha)"
        )
    if abs(delta) > MAX_CORRECTION_HA:
        raise Invalid(f"a correction is at most {MAX_CORRECTION_HA:,} ha either way")
    before, ruleset = _locked(conn, project, ruleset)
    if before.status in ("listed", "authorised", "under_construction"):
        reserved, consumed = delta, Decimal(0)
        held = before.reserved_ha
    elif before.status == "completed":
        reserved, consumed = Decimal(0), delta
        held = before.consumed_ha
    else:
        raise Conflict(f"project {before.id} is {before.status}: it holds nothing to correct")
    if held + delta < 0:
        raise Conflict(f"the correction would leave the project below zero ({held} ha held)")
    if corrects_entry_id is not None and all(e["id"] != corrects_entry_id for e in before.entries):
        raise Invalid(f"entry {corrects_entry_id} is not an entry of project {before.id}")
    on = _entry_date(ruleset, occurred_on, before.last_on)
    return _book(
        conn, ruleset, before,
        _Entry("correction", None, reserved, consumed, on, author, reason, overdraft,
               corrects=corrects_entry_id),
    )  # fmt: skip


@dataclass(frozen=True)
class _Entry:
    """A ledger entry as written: hectares reserved and consumed (either way), when, who, why."""

    kind: str  # status | correction
    status: str | None
    reserved: Decimal
    consumed: Decimal
    occurred_on: datetime.date
    author: str
    reason: str
    overdraft: bool = False
    corrects: int | None = None


def _guard(conn: Connection, ruleset: RuleSet, drawn_ha: Decimal, overdraft: bool) -> None:
    """Refuse an entry that would overdraw the envelope (the account row is locked)."""
    if drawn_ha <= 0:
        return
    remaining = balance(conn, ruleset).remaining_ha
    if drawn_ha <= remaining:
        return
    assert ruleset.envelope is not None
    if overdraft and ruleset.envelope.allow_overdraft:
        return
    why = (
        "the rule set does not allow overdrafts"
        if not ruleset.envelope.allow_overdraft
        else "the entry does not ask for an overdraft"
    )
    raise EnvelopeExhausted(
        f"{ruleset.id}: {drawn_ha:.4f} ha asked, {max(remaining, Decimal(0)):.4f} ha left; {why}"
    )


_INSERT_ENTRY = f"""
INSERT INTO envelope_entry (ruleset_id, project_id, kind, status, reserved_delta_ha,
                            consumed_delta_ha, occurred_on, recorded_by, reason, overdraft,
                            corrects_entry_id)
VALUES (:r, :p, :kind, :status, :reserved, :consumed, :occurred_on, :author, :reason,
        :overdraft, :corrects)
RETURNING {", ".join(ENTRY_COLUMNS)}"""


def _book(conn: Connection, ruleset: RuleSet, project: Project, entry: _Entry) -> dict[str, Any]:
    """Write an entry the envelope can afford (the account row is locked), then answer the
    project as it now stands: as read, with the entry written."""
    _guard(conn, ruleset, entry.reserved + entry.consumed, entry.overdraft)
    written = (
        conn.execute(text(_INSERT_ENTRY), {"r": ruleset.id, "p": project.id, **asdict(entry)})
        .mappings()
        .one()
    )
    # the project's tile shows its status: its commune's tiles are made anew
    commune = project.row["commune_insee"] or ""
    tile_generation.bump(conn, [commune], around=project.outline)
    return Project(project.row, (*project.entries, dict(written))).view()
