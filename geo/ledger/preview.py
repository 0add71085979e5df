"""A project previewed before it is recorded: its NAF hectares, what it would draw on its
envelope once authorised, and its effect on its commune's and its EPCI's trajectories.

The preview runs the ledger's own steps (create, then authorise) in a transaction that is
always rolled back, so that every figure is the one recording would give, computed by the
same code, and nothing stays written (a sequence number may be spent: PostgreSQL does not
give those back).
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Connection

from geo.errors import Conflict, Invalid
from geo.ledger import reports, write
from geo.zan.rulesets import RuleSet
from geo.zan.trajectories import trajectory

# what a trajectory says of itself, before and after
_FIGURES = ("status", "allowed_ha", "consumed_ha", "projection_ha", "share_used")


def preview(
    conn: Connection,
    draft: write.ProjectDraft,
    *,
    ruleset: RuleSet,
    zan: RuleSet,
    author: str,
) -> dict[str, Any]:
    """What recording ``draft`` on ``ruleset``'s envelope, then authorising it, would do;
    ``conn`` must not be in a transaction (the preview's is rolled back)."""
    transaction = conn.begin()
    try:
        project = write.create_project(conn, draft, ruleset=ruleset, author=author)
        territories = [("commune", project["commune_insee"]), ("epci", project["epci_siren"])]
        before = {level: _trajectory(conn, level, code, zan) for level, code in territories}
        balance_before = reports.balance(conn, ruleset).as_dict()
        refused = None
        try:
            write.change_status(
                conn, project["id"], "authorised", ruleset=ruleset, author=author,
                reason="preview", occurred_on=draft.occurred_on or datetime.date.today(),
            )  # fmt: skip
        except Conflict as exhausted:
            refused = str(exhausted)
        after = {level: _trajectory(conn, level, code, zan) for level, code in territories}
        balance_after = reports.balance(conn, ruleset).as_dict()
    finally:
        transaction.rollback()
    return {
        "name": project["name"],
        "kind": project["kind"],
        "epci_siren": project["epci_siren"],
        "commune_insee": project["commune_insee"],
        "communes": project["communes"],
        "parcel_ids": project["parcel_ids"],
        "area_ha": project["area_ha"],
        "naf_ha": project["naf_ha"],
        "naf_computation": project["naf_computation"],
        "envelope": {
            "ruleset": ruleset.summary(),
            "draws_ha": 0.0 if refused else round(balance_after["reserved_ha"]
                                                  - balance_before["reserved_ha"], 4),
            "when": "once authorised (a planned project holds nothing)",
            "before": balance_before,
            "after": balance_after,
            **({"refused": refused} if refused else {}),
        },
        "trajectories": [
            {
                "level": level,
                "code": code,
                "name": (before[level] or {}).get("name"),
                "ruleset": zan.id,
                "before": before[level],
                "after": after[level],
            }
            for level, code in territories
        ],
        "written": False,
    }  # fmt: skip


def _trajectory(
    conn: Connection, level: str, code: str | None, zan: RuleSet
) -> dict[str, Any] | None:
    """The figures of a trajectory that a preview compares, or None without data."""
    if not code:
        return None
    try:
        found = trajectory(conn, level, code, zan)
    except Invalid:  # no consumption data loaded: nothing to compare
        return None
    return {"name": found["territory"]["name"], **{k: found.get(k) for k in _FIGURES}}
