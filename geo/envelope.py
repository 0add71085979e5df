"""The ledger of industrial projects drawing on a national envelope (10,000 ha, PENE).

A project is recorded once with its geometry and its NAF consumption, computed in
PostGIS: its area minus its parts on friches or on already artificialised land (those
consume nothing: that is the point of reconversion). What happens to it afterwards is
a sequence of append-only entries:

    planned → authorised        reserves the project's NAF hectares
    authorised → under_construction
    authorised | under_construction → completed   converts the reservation into consumption
    planned | authorised | under_construction → abandoned   releases the reservation

A correction is a compensating entry (with its reason), never an edit. Every entry
says who, when and why. Writers lock the envelope's account row, so two requests
racing for the last hectares are served one after the other and the envelope is never
overdrawn, unless the rule set allows it *and* the entry asks for it.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo.crs import LAMBERT93, WGS84
from geo.rulesets import RuleSet, default_ruleset_id

STATUSES = ("planned", "authorised", "under_construction", "completed", "abandoned")
KINDS = ("industrial", "commercial", "logistics", "other")
# status -> statuses it may move to
TRANSITIONS = {
    "planned": ("authorised", "abandoned"),
    "authorised": ("under_construction", "completed", "abandoned"),
    "under_construction": ("completed", "abandoned"),
    "completed": (),
    "abandoned": (),
}


class LedgerError(ValueError):
    """A ledger write that cannot be done (the message says why)."""

    status = 422


class NotFoundError(LedgerError):
    status = 404


class EnvelopeExhausted(LedgerError):
    status = 409


@dataclass(frozen=True)
class Balance:
    total_ha: float
    reserved_ha: float
    consumed_ha: float

    @property
    def remaining_ha(self) -> float:
        return self.total_ha - self.reserved_ha - self.consumed_ha

    def as_dict(self) -> dict[str, float]:
        return {
            "total_ha": self.total_ha,
            "consumed_ha": round(self.consumed_ha, 4),
            "reserved_ha": round(self.reserved_ha, 4),
            "remaining_ha": round(self.remaining_ha, 4),
            "share_used": round((self.reserved_ha + self.consumed_ha) / self.total_ha, 6),
        }


# The NAF computation, all in Lambert-93 hectares, shown with every project.
_EMPTY = f"'SRID={LAMBERT93};POLYGON EMPTY'::geometry"
_NAF = f"""
WITH p AS (SELECT CAST(:geom AS geometry) AS geom),
friches AS (
    SELECT coalesce(ST_Union(ST_Intersection(f.geom, p.geom)), {_EMPTY}) AS g,
           coalesce(array_agg(f.site_id ORDER BY f.site_id), '{{}}') AS ids
    FROM friche f, p WHERE f.geom && p.geom AND ST_Intersects(f.geom, p.geom)
),
artificial AS (
    SELECT coalesce(ST_Union(ST_Intersection(a.geom, p.geom)), {_EMPTY}) AS g
    FROM artificialised_land a, p WHERE a.geom && p.geom AND ST_Intersects(a.geom, p.geom)
)
SELECT ST_Area(p.geom) / 10000 AS area_ha,
       ST_Area(friches.g) / 10000 AS on_friche_ha,
       friches.ids AS friche_ids,
       ST_Area(ST_Difference(artificial.g, friches.g)) / 10000 AS on_artificialised_ha,
       ST_Area(ST_Difference(p.geom, ST_Union(friches.g, artificial.g))) / 10000 AS naf_ha
FROM p, friches, artificial
"""

# The communes a project touches, the one it overlaps most first (boundaries known).
_LOCATE = """
WITH p AS (SELECT CAST(:geom AS geometry) AS geom)
SELECT c.insee, c.departement_code, c.region_code
FROM commune c, p
WHERE c.geom && p.geom AND ST_Intersects(c.geom, p.geom)
  AND ST_Area(ST_Intersection(c.geom, p.geom)) > 0
ORDER BY ST_Area(ST_Intersection(c.geom, p.geom)) DESC
"""


def _geometry_from_parcels(conn: Connection, parcel_ids: list[str]) -> tuple[str, str | None]:
    rows = conn.execute(
        text(
            "SELECT ST_AsEWKB(ST_Multi(ST_Union(geom))), count(*), min(commune_insee) "
            "FROM parcel WHERE id = ANY(:ids)"
        ),
        {"ids": parcel_ids},
    ).one()
    ewkb, found, commune = rows
    if found != len(set(parcel_ids)):
        known = set(
            conn.execute(text("SELECT id FROM parcel WHERE id = ANY(:ids)"), {"ids": parcel_ids})
            .scalars()
            .all()
        )
        missing = sorted(set(parcel_ids) - known)
        raise LedgerError(f"unknown parcel id(s): {', '.join(missing[:10])}")
    return bytes(ewkb).hex(), commune


def _geometry_from_geojson(conn: Connection, geometry: dict[str, Any]) -> str:
    if geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise LedgerError("the project geometry must be a GeoJSON Polygon or MultiPolygon")
    row = conn.execute(
        text(
            f"""SELECT ST_IsValid(g), ST_IsValidReason(g),
                       ST_AsEWKB(ST_Multi(ST_Transform(ST_SetSRID(g, {WGS84}), {LAMBERT93})))
                FROM (SELECT ST_GeomFromGeoJSON(:g) AS g) s"""
        ),
        {"g": json.dumps(geometry)},
    ).one()
    if not row[0]:
        raise LedgerError(f"invalid project geometry: {row[1]}")
    return bytes(row[2]).hex()


def create_project(
    conn: Connection,
    *,
    name: str,
    kind: str,
    epci_siren: str,
    ruleset: RuleSet,
    author: str,
    geometry: dict[str, Any] | None = None,
    parcel_ids: list[str] | None = None,
    occurred_on: datetime.date | None = None,
    reason: str = "project recorded",
) -> dict[str, Any]:
    """Record a planned project, with its NAF consumption and how it was computed."""
    if kind not in KINDS:
        raise LedgerError(f"kind must be one of {', '.join(KINDS)}")
    if ruleset.envelope is None:
        raise LedgerError(f"rule set {ruleset.id} has no envelope")
    if (geometry is None) == (not parcel_ids):
        raise LedgerError("give either a geometry or parcel ids")
    if not conn.execute(text("SELECT 1 FROM epci WHERE siren = :s"), {"s": epci_siren}).first():
        raise LedgerError(f"unknown EPCI {epci_siren}")
    commune = None
    if parcel_ids:
        geom, commune = _geometry_from_parcels(conn, parcel_ids)
    else:
        geom = _geometry_from_geojson(conn, geometry or {})
    naf = conn.execute(text(_NAF), {"geom": geom}).mappings().one()
    touched = conn.execute(text(_LOCATE), {"geom": geom}).all()
    if parcel_ids:
        # parcels name their communes even where boundaries are not loaded
        touched += conn.execute(
            text(
                "SELECT DISTINCT c.insee, c.departement_code, c.region_code FROM parcel p "
                "JOIN commune c ON c.insee = p.commune_insee WHERE p.id = ANY(:ids) "
                "ORDER BY 1"
            ),
            {"ids": parcel_ids},
        ).all()
    communes = list(dict.fromkeys(row[0] for row in touched))
    located = touched[0] if touched else None
    computation = {
        "area_ha": round(naf["area_ha"], 4),
        "on_friche_ha": round(naf["on_friche_ha"], 4),
        "friche_ids": list(naf["friche_ids"]),
        "on_artificialised_ha": round(naf["on_artificialised_ha"], 4),
        "naf_ha": round(naf["naf_ha"], 4),
        "rule": "NAF = area − part on friches − part on already artificialised land (Lambert-93)",
    }
    project_id = conn.execute(
        text(
            """INSERT INTO project (name, kind, ruleset_id, epci_siren, commune_insee, communes,
                                    departement_code, region_code, area_ha, naf_ha,
                                    naf_computation, parcel_ids, created_by, geom)
               VALUES (:name, :kind, :ruleset, :epci, :commune, CAST(:communes AS jsonb),
                       :dep, :region, :area, :naf,
                       CAST(:computation AS jsonb), CAST(:parcels AS jsonb), :author,
                       CAST(:geom AS geometry))
               RETURNING id"""
        ),
        {
            "name": name,
            "kind": kind,
            "ruleset": ruleset.id,
            "epci": epci_siren,
            "commune": located[0] if located else None,
            "communes": json.dumps(communes),
            "dep": located[1] if located else None,
            "region": located[2] if located else None,
            "area": naf["area_ha"],
            "naf": naf["naf_ha"],
            "computation": json.dumps(computation),
            "parcels": json.dumps(sorted(parcel_ids)) if parcel_ids else None,
            "author": author,
            "geom": geom,
        },
    ).scalar_one()
    _account(conn, ruleset.id)
    _append(
        conn,
        ruleset.id,
        project_id,
        kind="status",
        status="planned",
        reserved=0.0,
        consumed=0.0,
        occurred_on=occurred_on,
        author=author,
        reason=reason,
    )
    return get_project(conn, project_id)


def change_status(
    conn: Connection,
    project_id: int,
    new_status: str,
    *,
    ruleset: RuleSet,
    author: str,
    reason: str,
    occurred_on: datetime.date | None = None,
    overdraft: bool = False,
) -> dict[str, Any]:
    """Move a project along its lifecycle, reserving, converting or releasing hectares."""
    if new_status not in STATUSES:
        raise LedgerError(f"status must be one of {', '.join(STATUSES)}")
    project, state = _locked(conn, project_id, ruleset)
    if new_status not in TRANSITIONS[state["status"]]:
        raise LedgerError(
            f"project {project_id} is {state['status']}: it cannot become {new_status} "
            f"(allowed: {', '.join(TRANSITIONS[state['status']]) or 'none'})"
        )
    reserved, consumed = 0.0, 0.0
    if new_status == "authorised":
        reserved = project["naf_ha"]
    elif new_status == "completed":
        reserved, consumed = -state["reserved_ha"], state["reserved_ha"]
    elif new_status == "abandoned":
        reserved = -state["reserved_ha"]
    _guard(conn, ruleset, reserved + consumed, overdraft)
    _append(
        conn,
        ruleset.id,
        project_id,
        kind="status",
        status=new_status,
        reserved=reserved,
        consumed=consumed,
        occurred_on=occurred_on,
        author=author,
        reason=reason,
        overdraft=overdraft,
    )
    return get_project(conn, project_id)


def correct(
    conn: Connection,
    project_id: int,
    delta_ha: float,
    *,
    ruleset: RuleSet,
    author: str,
    reason: str,
    corrects_entry_id: int | None = None,
    occurred_on: datetime.date | None = None,
    overdraft: bool = False,
) -> dict[str, Any]:
    """A compensating entry: adds ``delta_ha`` (negative to give back) to what the project
    holds now, its reservation while authorised or under construction, its consumption
    once completed."""
    if not reason.strip():
        raise LedgerError("a correction needs a reason")
    _, state = _locked(conn, project_id, ruleset)
    if state["status"] in ("authorised", "under_construction"):
        reserved, consumed = delta_ha, 0.0
        held = state["reserved_ha"]
    elif state["status"] == "completed":
        reserved, consumed = 0.0, delta_ha
        held = state["consumed_ha"]
    else:
        raise LedgerError(f"project {project_id} is {state['status']}: it holds nothing to correct")
    if held + delta_ha < -1e-9:
        raise LedgerError(f"the correction would leave the project below zero ({held:g} ha held)")
    if (
        corrects_entry_id is not None
        and not conn.execute(
            text("SELECT 1 FROM envelope_entry WHERE id = :e AND project_id = :p"),
            {"e": corrects_entry_id, "p": project_id},
        ).first()
    ):
        raise LedgerError(f"entry {corrects_entry_id} is not an entry of project {project_id}")
    _guard(conn, ruleset, delta_ha, overdraft)
    _append(
        conn,
        ruleset.id,
        project_id,
        kind="correction",
        status=None,
        reserved=reserved,
        consumed=consumed,
        occurred_on=occurred_on,
        author=author,
        reason=reason,
        overdraft=overdraft,
        corrects=corrects_entry_id,
    )
    return get_project(conn, project_id)


def balance(conn: Connection, ruleset: RuleSet) -> Balance:
    assert ruleset.envelope is not None
    reserved, consumed = conn.execute(
        text(
            "SELECT coalesce(sum(reserved_delta_ha), 0), coalesce(sum(consumed_delta_ha), 0) "
            "FROM envelope_entry WHERE ruleset_id = :r"
        ),
        {"r": ruleset.id},
    ).one()
    return Balance(ruleset.envelope.total_ha, float(reserved), float(consumed))


def get_project(conn: Connection, project_id: int) -> dict[str, Any]:
    project = _project_row(conn, project_id)
    state = _project_state(conn, project_id)
    entries = conn.execute(
        text(
            """SELECT id, kind, status, reserved_delta_ha, consumed_delta_ha, occurred_on,
                      recorded_at, recorded_by, reason, overdraft, corrects_entry_id
               FROM envelope_entry WHERE project_id = :p ORDER BY id"""
        ),
        {"p": project_id},
    ).mappings()
    return {
        **{k: v for k, v in project.items() if k != "geom"},
        "created_at": project["created_at"].isoformat(),
        **state,
        "entries": [
            {
                **e,
                "occurred_on": e["occurred_on"].isoformat(),
                "recorded_at": e["recorded_at"].isoformat(),
            }
            for e in entries
        ],
    }


def list_projects(
    conn: Connection,
    *,
    epci_siren: str | None = None,
    departement: str | None = None,
    region: str | None = None,
    status: str | None = None,
    ruleset_id: str | None = None,
) -> list[dict[str, Any]]:
    """Projects with their current status and holdings, filtered by territory or status."""
    rows = conn.execute(
        text(
            """
            WITH state AS (
                SELECT project_id,
                       (array_agg(status ORDER BY id DESC) FILTER (WHERE status IS NOT NULL))[1]
                           AS status,
                       sum(reserved_delta_ha) AS reserved_ha, sum(consumed_delta_ha) AS consumed_ha
                FROM envelope_entry GROUP BY project_id
            )
            SELECT p.id, p.name, p.kind, p.ruleset_id, p.epci_siren, p.commune_insee,
                   p.departement_code, p.region_code, p.area_ha, p.naf_ha,
                   s.status, s.reserved_ha, s.consumed_ha
            FROM project p JOIN state s ON s.project_id = p.id
            WHERE (CAST(:epci AS text) IS NULL OR p.epci_siren = :epci)
              AND (CAST(:dep AS text) IS NULL OR p.departement_code = :dep)
              AND (CAST(:region AS text) IS NULL OR p.region_code = :region)
              AND (CAST(:status AS text) IS NULL OR s.status = :status)
              AND (CAST(:ruleset AS text) IS NULL OR p.ruleset_id = :ruleset)
            ORDER BY p.id
            """
        ),
        {
            "epci": epci_siren,
            "dep": departement,
            "region": region,
            "status": status,
            "ruleset": ruleset_id,
        },
    ).mappings()
    return [dict(r) for r in rows]


def _project_row(conn: Connection, project_id: int) -> dict[str, Any]:
    row = (
        conn.execute(
            text(
                """SELECT id, name, kind, ruleset_id, epci_siren, commune_insee, communes,
                          departement_code, region_code, area_ha, naf_ha, naf_computation,
                          parcel_ids, created_at, created_by
                   FROM project WHERE id = :p"""
            ),
            {"p": project_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"no project {project_id}")
    return dict(row)


def _project_state(conn: Connection, project_id: int) -> dict[str, Any]:
    status, reserved, consumed = conn.execute(
        text(
            """SELECT (array_agg(status ORDER BY id DESC) FILTER (WHERE status IS NOT NULL))[1],
                      coalesce(sum(reserved_delta_ha), 0), coalesce(sum(consumed_delta_ha), 0)
               FROM envelope_entry WHERE project_id = :p"""
        ),
        {"p": project_id},
    ).one()
    return {"status": status, "reserved_ha": float(reserved), "consumed_ha": float(consumed)}


def _locked(
    conn: Connection, project_id: int, ruleset: RuleSet
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The project and its current state, read once its envelope's account is locked."""
    project = _project_row(conn, project_id)
    if project["ruleset_id"] != ruleset.id:
        raise LedgerError(
            f"project {project['id']} draws on {project['ruleset_id']}, not {ruleset.id}"
        )
    lock_envelope(conn, ruleset.id)
    return project, _project_state(conn, project_id)


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


def _guard(conn: Connection, ruleset: RuleSet, drawn_ha: float, overdraft: bool) -> None:
    """Refuse an entry that would overdraw the envelope (the account row is locked)."""
    if drawn_ha <= 0:
        return
    remaining = balance(conn, ruleset).remaining_ha
    if drawn_ha <= remaining + 1e-9:
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
        f"{ruleset.id}: {drawn_ha:.4f} ha asked, {max(remaining, 0):.4f} ha left; {why}"
    )


def _append(
    conn: Connection,
    ruleset_id: str,
    project_id: int,
    *,
    kind: str,
    status: str | None,
    reserved: float,
    consumed: float,
    occurred_on: datetime.date | None,
    author: str,
    reason: str,
    overdraft: bool = False,
    corrects: int | None = None,
) -> None:
    conn.execute(
        text(
            """INSERT INTO envelope_entry (ruleset_id, project_id, kind, status,
                   reserved_delta_ha, consumed_delta_ha, occurred_on, recorded_by, reason,
                   overdraft, corrects_entry_id)
               VALUES (:r, :p, :kind, :status, :reserved, :consumed, :on, :by, :reason,
                       :overdraft, :corrects)"""
        ),
        {
            "r": ruleset_id,
            "p": project_id,
            "kind": kind,
            "status": status,
            "reserved": reserved,
            "consumed": consumed,
            "on": occurred_on or datetime.date.today(),
            "by": author,
            "reason": reason,
            "overdraft": overdraft,
            "corrects": corrects,
        },
    )


# -- reports ------------------------------------------------------------------------

GROUPS = {
    "region": ("p.region_code", "(SELECT name FROM region WHERE code = p.region_code)"),
    "departement": (
        "p.departement_code",
        "(SELECT name FROM departement WHERE code = p.departement_code)",
    ),
    "epci": ("p.epci_siren", "(SELECT name FROM epci WHERE siren = p.epci_siren)"),
    "territoire_industrie": (
        "e.territoire_industrie_id",
        "(SELECT name FROM territoire_industrie WHERE id = e.territoire_industrie_id)",
    ),
}
ALERT_THRESHOLDS = (0.5, 0.8, 1.0)


def envelope_report(
    conn: Connection,
    ruleset: RuleSet,
    group_by: str | None = None,
    today: datetime.date | None = None,
) -> dict[str, Any]:
    """Consumed / reserved / remaining, by territory, month by month, with the projected
    exhaustion date at the current pace and the alert thresholds crossed."""
    assert ruleset.envelope is not None
    today = today or datetime.date.today()
    total = balance(conn, ruleset)
    out: dict[str, Any] = {
        "ruleset": ruleset.summary(),
        "default_ruleset": default_ruleset_id("envelope"),
        "period": [ruleset.envelope.first_year, ruleset.envelope.last_year],
        "national": total.as_dict(),
    }
    if group_by is not None:
        if group_by not in GROUPS:
            raise LedgerError(f"group_by must be one of {', '.join(GROUPS)}")
        key, name = GROUPS[group_by]
        rows = conn.execute(
            text(
                f"""SELECT {key} AS code, {name} AS name,
                           coalesce(sum(x.reserved_delta_ha), 0),
                           coalesce(sum(x.consumed_delta_ha), 0)
                    FROM envelope_entry x JOIN project p ON p.id = x.project_id
                    JOIN epci e ON e.siren = p.epci_siren
                    WHERE x.ruleset_id = :r GROUP BY 1, 2 ORDER BY 1"""
            ),
            {"r": ruleset.id},
        ).all()
        out["by"] = group_by
        out["groups"] = [
            {"code": code, "name": n, "reserved_ha": round(r, 4), "consumed_ha": round(c, 4)}
            for code, n, r, c in rows
        ]
    series = conn.execute(
        text(
            """SELECT date_trunc('month', occurred_on)::date AS month,
                      sum(reserved_delta_ha), sum(consumed_delta_ha)
               FROM envelope_entry WHERE ruleset_id = :r GROUP BY 1 ORDER BY 1"""
        ),
        {"r": ruleset.id},
    ).all()
    cumulative, reserved, consumed = [], 0.0, 0.0
    crossed: dict[float, str] = {}
    for month, r, c in series:
        reserved += r
        consumed += c
        used = (reserved + consumed) / total.total_ha
        for threshold in ALERT_THRESHOLDS:
            if used >= threshold and threshold not in crossed:
                crossed[threshold] = month.isoformat()
        cumulative.append(
            {
                "month": month.isoformat(),
                "reserved_ha": round(reserved, 4),
                "consumed_ha": round(consumed, 4),
                "remaining_ha": round(total.total_ha - reserved - consumed, 4),
            }
        )
    out["monthly"] = cumulative
    out["projection"] = _exhaustion(ruleset, total, today)
    out["alerts"] = [
        {"threshold": t, "reached": t in crossed, "since": crossed.get(t)} for t in ALERT_THRESHOLDS
    ]
    return out


def _exhaustion(ruleset: RuleSet, total: Balance, today: datetime.date) -> dict[str, Any]:
    """At the pace since the envelope opened (hectares drawn per day), when it runs out."""
    assert ruleset.envelope is not None
    start = datetime.date(ruleset.envelope.first_year, 1, 1)
    drawn = total.reserved_ha + total.consumed_ha
    days = max((today - start).days, 1)
    pace_per_year = drawn / days * 365.25
    end = datetime.date(ruleset.envelope.last_year, 12, 31)
    if drawn <= 0:
        return {"pace_ha_per_year": 0.0, "exhaustion_date": None, "before_end_of_period": False}
    remaining_days = total.remaining_ha / (drawn / days)
    exhaustion = today + datetime.timedelta(days=max(remaining_days, 0))
    return {
        "pace_ha_per_year": round(pace_per_year, 4),
        "exhaustion_date": exhaustion.isoformat(),
        "before_end_of_period": exhaustion <= end,
        "end_of_period": end.isoformat(),
    }
