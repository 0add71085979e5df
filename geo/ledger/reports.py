"""What the ledger says: the envelope's balance, a project as it stands with its entries,
lists of projects, and the envelope's report (by territory, month by month, the projected
exhaustion and the alert thresholds crossed)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from geo.errors import Invalid, NotFound
from geo.ledger.naf import ha_json, hectares
from geo.ledger.statuses import PUBLIC
from geo.territories import LEVELS
from geo.zan.rulesets import RuleSet, default_ruleset_id


@dataclass(frozen=True)
class Balance:
    total_ha: Decimal
    reserved_ha: Decimal
    consumed_ha: Decimal

    @property
    def remaining_ha(self) -> Decimal:
        return self.total_ha - self.reserved_ha - self.consumed_ha

    def as_dict(self) -> dict[str, float]:
        return {
            "total_ha": ha_json(self.total_ha),
            "consumed_ha": ha_json(self.consumed_ha),
            "reserved_ha": ha_json(self.reserved_ha),
            "remaining_ha": ha_json(self.remaining_ha),
            "share_used": round(float((self.reserved_ha + self.consumed_ha) / self.total_ha), 6),
        }


def balance(conn: Connection, ruleset: RuleSet) -> Balance:
    assert ruleset.envelope is not None
    reserved, consumed = conn.execute(
        text(
            "SELECT coalesce(sum(reserved_delta_ha), 0), coalesce(sum(consumed_delta_ha), 0) "
            "FROM envelope_entry WHERE ruleset_id = :r"
        ),
        {"r": ruleset.id},
    ).one()
    return Balance(hectares(ruleset.envelope.total_ha), Decimal(reserved), Decimal(consumed))


# A project's columns as the ledger reads them (its geometry aside), and its entries'.
PROJECT_COLUMNS = (
    "id", "name", "kind", "ruleset_id", "epci_siren", "commune_insee", "communes",
    "departement_code", "region_code", "area_ha", "naf_ha", "naf_computation", "parcel_ids",
    "created_at", "created_by",
)  # fmt: skip
ENTRY_COLUMNS = (
    "id", "kind", "status", "reserved_delta_ha", "consumed_delta_ha", "occurred_on",
    "recorded_at", "recorded_by", "reason", "overdraft", "corrects_entry_id",
)  # fmt: skip


@dataclass(frozen=True)
class Project:
    """A project as the ledger holds it: its row, which never changes, and its entries in
    the order written; what it holds is their sum. ``outline`` (EWKB) and ``locked`` are
    a writer's: the project was read once its envelope's account row was locked."""

    row: dict[str, Any]
    entries: tuple[dict[str, Any], ...]
    outline: bytes | None = None
    locked: bool = False

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def status(self) -> str | None:
        """The status of its last status entry."""
        return next((e["status"] for e in reversed(self.entries) if e["status"]), None)

    @property
    def reserved_ha(self) -> Decimal:
        return sum((Decimal(e["reserved_delta_ha"]) for e in self.entries), Decimal(0))

    @property
    def consumed_ha(self) -> Decimal:
        return sum((Decimal(e["consumed_delta_ha"]) for e in self.entries), Decimal(0))

    @property
    def last_on(self) -> datetime.date | None:
        return max((e["occurred_on"] for e in self.entries), default=None)

    def view(self) -> dict[str, Any]:
        """The project as the API answers it, every entry included."""
        row = self.row
        return {
            **row,
            "area_ha": ha_json(row["area_ha"]),
            "naf_ha": ha_json(row["naf_ha"]),
            "created_at": row["created_at"].isoformat(),
            "status": self.status,
            "reserved_ha": ha_json(self.reserved_ha),
            "consumed_ha": ha_json(self.consumed_ha),
            "entries": [
                {
                    **e,
                    "reserved_delta_ha": ha_json(e["reserved_delta_ha"]),
                    "consumed_delta_ha": ha_json(e["consumed_delta_ha"]),
                    "occurred_on": e["occurred_on"].isoformat(),
                    "recorded_at": e["recorded_at"].isoformat(),
                }
                for e in self.entries
            ],
        }


def project_entries(conn: Connection, project_id: int) -> tuple[dict[str, Any], ...]:
    rows = conn.execute(
        text(
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM envelope_entry "
            "WHERE project_id = :p ORDER BY id"
        ),
        {"p": project_id},
    ).mappings()
    return tuple(dict(row) for row in rows)


def read_project(conn: Connection, project_id: int) -> Project:
    """The project and its entries, NotFound if there is none."""
    row = (
        conn.execute(
            text(f"SELECT {', '.join(PROJECT_COLUMNS)} FROM project WHERE id = :p"),
            {"p": project_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no project {project_id}")
    return Project(dict(row), project_entries(conn, project_id))


def get_project(conn: Connection, project_id: int) -> dict[str, Any]:
    """A project, its status, holdings and every ledger entry."""
    return read_project(conn, project_id).view()


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
                       sum(reserved_delta_ha) AS reserved_ha, sum(consumed_delta_ha) AS consumed_ha,
                       max(occurred_on) AS last_entry_on
                FROM envelope_entry GROUP BY project_id
            )
            SELECT p.id, p.name, p.kind, p.ruleset_id, p.epci_siren, p.commune_insee,
                   p.departement_code, p.region_code, p.area_ha, p.naf_ha,
                   s.status, s.reserved_ha, s.consumed_ha, s.last_entry_on
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
    hectare_keys = ("area_ha", "naf_ha", "reserved_ha", "consumed_ha")
    return [{k: ha_json(v) if k in hectare_keys else v for k, v in r.items()} for r in rows]


# The levels a report breaks down by: the SQL naming each project's territory, its name.
GROUPS = {
    level: (column, f"({LEVELS[level].name_sql(column)})")
    for level, column in (
        ("region", "p.region_code"),
        ("departement", "p.departement_code"),
        ("epci", "p.epci_siren"),
        ("territoire_industrie", "e.territoire_industrie_id"),
    )
}
ALERT_THRESHOLDS = (0.5, 0.8, 1.0)

# The entries of the projects that are open data: a planned project is the EPCI's draft
# (geo.access), so neither its territory nor its dates show in a public report. It holds
# nothing, so the balance is the same with or without it.
_PUBLIC_ENTRIES = """
public_entry AS (
    SELECT x.* FROM envelope_entry x
    WHERE x.ruleset_id = :r AND x.project_id IN (
        SELECT project_id FROM envelope_entry WHERE ruleset_id = :r GROUP BY project_id
        HAVING (array_agg(status ORDER BY id DESC) FILTER (WHERE status IS NOT NULL))[1]
               = ANY(CAST(:public AS text[])))
)"""


def envelope_report(
    conn: Connection,
    ruleset: RuleSet,
    group_by: str | None = None,
    today: datetime.date | None = None,
) -> dict[str, Any]:
    """Consumed / reserved / remaining, by territory, month by month, with the projected
    exhaustion date at the current pace and the alert thresholds crossed. Public: planned
    projects (drafts) are left out."""
    assert ruleset.envelope is not None
    if group_by is not None and group_by not in GROUPS:
        raise Invalid(f"group_by must be one of {', '.join(GROUPS)}")
    total = balance(conn, ruleset)
    out: dict[str, Any] = {
        "ruleset": ruleset.summary(),
        "default_ruleset": default_ruleset_id("envelope"),
        "period": [ruleset.envelope.first_year, ruleset.envelope.last_year],
        "national": total.as_dict(),
    }
    if group_by is not None:
        out["by"] = group_by
        out["groups"] = _groups(conn, ruleset, group_by)
    monthly, crossed = _monthly(conn, ruleset, total)
    out["monthly"] = monthly
    out["projection"] = _exhaustion(ruleset, total, today or datetime.date.today())
    out["alerts"] = [
        {"threshold": t, "reached": t in crossed, "since": crossed.get(t)} for t in ALERT_THRESHOLDS
    ]
    return out


def _groups(conn: Connection, ruleset: RuleSet, group_by: str) -> list[dict[str, Any]]:
    """Reserved and consumed hectares of the public entries, by territory of group_by."""
    key, name = GROUPS[group_by]
    rows = conn.execute(
        text(
            f"""WITH {_PUBLIC_ENTRIES}
                SELECT {key} AS code, {name} AS name,
                       coalesce(sum(x.reserved_delta_ha), 0),
                       coalesce(sum(x.consumed_delta_ha), 0)
                FROM public_entry x JOIN project p ON p.id = x.project_id
                JOIN epci e ON e.siren = p.epci_siren
                GROUP BY 1, 2 ORDER BY 1"""
        ),
        {"r": ruleset.id, "public": list(PUBLIC)},
    ).all()
    return [
        {"code": code, "name": n, "reserved_ha": ha_json(r), "consumed_ha": ha_json(c)}
        for code, n, r, c in rows
    ]


def _monthly(
    conn: Connection, ruleset: RuleSet, total: Balance
) -> tuple[list[dict[str, Any]], dict[float, str]]:
    """The cumulative figures at the end of each month with public entries, and the month
    each alert threshold (share of the envelope drawn) was first reached."""
    series = conn.execute(
        text(
            f"""WITH {_PUBLIC_ENTRIES}
                SELECT date_trunc('month', occurred_on)::date AS month,
                       sum(reserved_delta_ha), sum(consumed_delta_ha)
                FROM public_entry GROUP BY 1 ORDER BY 1"""
        ),
        {"r": ruleset.id, "public": list(PUBLIC)},
    ).all()
    cumulative, reserved, consumed = [], Decimal(0), Decimal(0)
    crossed: dict[float, str] = {}
    for month, r, c in series:
        reserved += r
        consumed += c
        used = (reserved + consumed) / total.total_ha
        for threshold in ALERT_THRESHOLDS:
            if used >= Decimal(str(threshold)) and threshold not in crossed:
                crossed[threshold] = month.isoformat()
        cumulative.append(
            {
                "month": month.isoformat(),
                "reserved_ha": ha_json(reserved),
                "consumed_ha": ha_json(consumed),
                "remaining_ha": ha_json(total.total_ha - reserved - consumed),
            }
        )
    return cumulative, crossed


def _exhaustion(ruleset: RuleSet, total: Balance, today: datetime.date) -> dict[str, Any]:
    """At the pace since the envelope opened (hectares drawn per day), when it runs out.

    ``outlook`` says which case holds: ``nothing_drawn``, ``exhausted`` (nothing left),
    ``before_end_of_period`` (then ``exhaustion_date`` is the projected day),
    ``not_before_end_of_period`` (a pace too slow to empty it within the period: no date,
    since a date centuries ahead means nothing), ``period_ended``.
    """
    assert ruleset.envelope is not None
    start = ruleset.envelope.first_day
    end = datetime.date(ruleset.envelope.last_year, 12, 31)
    drawn = float(total.reserved_ha + total.consumed_ha)
    days = max((min(today, end) - start).days, 1)
    per_day = drawn / days
    out: dict[str, Any] = {
        "pace_ha_per_year": round(per_day * 365.25, 4),
        "exhaustion_date": None,
        "before_end_of_period": False,
        "end_of_period": end.isoformat(),
    }
    if total.remaining_ha <= 0:
        return out | {"outlook": "exhausted", "exhaustion_date": today.isoformat(),
                      "before_end_of_period": today <= end}  # fmt: skip
    if today > end:
        return out | {"outlook": "period_ended"}
    if drawn <= 0:
        return out | {"outlook": "nothing_drawn"}
    days_left = float(total.remaining_ha) / per_day
    if days_left > (end - today).days:
        return out | {"outlook": "not_before_end_of_period"}
    exhaustion = today + datetime.timedelta(days=days_left)
    return out | {
        "outlook": "before_end_of_period",
        "exhaustion_date": exhaustion.isoformat(),
        "before_end_of_period": True,
    }
