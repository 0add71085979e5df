"""The envelope's dashboard for a prefecture: the rule set's legal standing, and every
Territoire d'industrie with what its projects hold, by région too.

The envelope report (geo.ledger.reports) groups the entries of public projects by
territory, so it lists only territories where something is drawn; a prefecture checks the
whole programme, so every Territoire d'industrie loaded is listed here, with 0 ha where
nothing is drawn.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from geo.ledger.reports import envelope_report
from geo.zan.rulesets import RuleSet


def legal_standing(ruleset: RuleSet) -> dict[str, Any]:
    """Where the envelope's text stands, as its rule set says (never assumed in code)."""
    summary = ruleset.summary()
    return {
        "legal_status": summary["legal_status"],
        "in_force": summary.get("in_force"),
        "status_as_of": summary.get("status_as_of"),
        "legal_basis": summary.get("legal_basis"),
        "sources": summary.get("sources", []),
        "unverified": summary.get("unverified", []),
    }


def territoires_industrie(conn: Connection, ruleset: RuleSet) -> dict[str, Any]:
    """Every Territoire d'industrie with the reserved and consumed hectares of its public
    projects on ``ruleset``'s envelope (0 where none), and the same by région."""
    report = envelope_report(conn, ruleset, "territoire_industrie")
    drawn = {g["code"]: g for g in report["groups"]}
    rows = conn.execute(
        text(
            """SELECT t.id, t.name, t.region_code, r.name AS region_name,
                      (SELECT count(*) FROM epci e WHERE e.territoire_industrie_id = t.id)
                          AS epci_count
               FROM territoire_industrie t LEFT JOIN region r ON r.code = t.region_code
               ORDER BY t.region_code, t.name, t.id"""
        )
    ).mappings()
    territories = []
    regions: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = drawn.get(row["id"], {})
        reserved, consumed = group.get("reserved_ha", 0.0), group.get("consumed_ha", 0.0)
        territories.append(
            {
                "id": row["id"],
                "name": row["name"],
                "region_code": row["region_code"],
                "region_name": row["region_name"],
                "epci_count": row["epci_count"],
                "reserved_ha": reserved,
                "consumed_ha": consumed,
            }
        )
        region = regions.setdefault(
            row["region_code"],
            {
                "code": row["region_code"],
                "name": row["region_name"],
                "territories": 0,
                "territories_drawing": 0,
                "reserved_ha": 0.0,
                "consumed_ha": 0.0,
            },
        )
        region["territories"] += 1
        region["territories_drawing"] += 1 if reserved or consumed else 0
        region["reserved_ha"] = round(region["reserved_ha"] + reserved, 4)
        region["consumed_ha"] = round(region["consumed_ha"] + consumed, 4)
    return {
        "ruleset": report["ruleset"],
        "legal_standing": legal_standing(ruleset),
        "period": report["period"],
        "national": report["national"],
        "count": len(territories),
        "territories": territories,
        "by_region": list(regions.values()),
    }
