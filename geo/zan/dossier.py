"""A territory's trajectory dossier: what a prefecture checks of a commune, an EPCI, a SCoT,
a département or a région, in one answer.

It is the trajectory (geo.zan.trajectories: reference, target and who set it, allowed,
consumed, pace, projection, status) with what a reader needs to check it: the reference
period and the data that measured it (dataset, vintage, file, and ``synthetic`` when the
file is a stand-in, not Cerema's), the legal basis of the rule set, the territory's
parents (to go up), and every member commune with its own status (to go down).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from geo.zan.figures import communes_of, latest_vintage
from geo.zan.rulesets import RuleSet
from geo.zan.targets import ZAN_LEVELS, Targets
from geo.zan.trajectories import trajectory

_DATASET = "Cerema, consommation d'espaces naturels, agricoles et forestiers (fichiers fonciers)"
_REFERENCE_RULE = (
    "the ten annual flows of the reference years, 1 January of the first to 1 January after "
    "the last (Cerema column naf11art21 for 2011-2020), in today's geography"
)


def trajectory_dossier(
    conn: Connection, level: str, code: str, ruleset: RuleSet, vintage: int | None = None
) -> dict[str, Any]:
    """The trajectory of a territory with its source, legal basis, parents and the status
    of each of its communes."""
    found = trajectory(conn, level, code, ruleset, vintage)
    data = latest_vintage(conn, vintage)
    rules = ruleset.zan
    assert rules is not None
    communes = communes_of(conn, level, code, ruleset, data, Targets(conn, rules))
    synthetic = data.synthetic
    members = [
        {
            "insee": c.insee,
            "name": c.name,
            "epci_siren": c.parents["epci_siren"],
            "status": c.figures.status(c.allowed),
            "reference_ha": round(c.figures.reference_ha, 4),
            "allowed_ha": round(c.allowed, 4),
            "consumed_ha": round(c.figures.consumed_ha, 4),
            "projection_ha": round(c.figures.projection_ha, 4),
            "target_origin": c.target.described(("commune", c.insee))["origin"]
            if c.target
            else None,
        }
        for c in communes
    ]
    by_status = Counter(c.figures.status(c.allowed) for c in communes)
    summary = found["ruleset"]
    return {
        **found,
        "reference": {
            "years": found["reference_years"],
            "ha": found["reference_ha"],
            "rule": _REFERENCE_RULE,
        },
        "source": {
            "dataset": _DATASET,
            "vintage": data.vintage,
            "years": [data.first_year, data.last_year],
            "provisional_year": data.provisional_year,
            "file": Path(data.source).name,
            "synthetic": synthetic,
            **(
                {"note": "synthetic data standing in for Cerema's file: not a measure"}
                if synthetic
                else {}
            ),
        },
        "legal_basis": {
            "ruleset": summary["id"],
            "legal_status": summary["legal_status"],
            "text": summary.get("legal_basis"),
            "in_force": summary.get("in_force"),
        },
        "parents": _parents(conn, level, code),
        "member_communes": members,
        "member_communes_by_status": dict(by_status),
    }


def _parents(conn: Connection, level: str, code: str) -> list[dict[str, str]]:
    """The territories above a commune or an EPCI that a reader may go up to."""
    if level not in ("commune", "epci") or level not in ZAN_LEVELS:
        return []
    where = "c.insee = :code" if level == "commune" else "c.epci_siren = :code"
    row = (
        conn.execute(
            text(
                f"""SELECT c.epci_siren, e.name AS epci_name, c.departement_code,
                           d.name AS departement_name, c.region_code, r.name AS region_name
                    FROM commune c
                    LEFT JOIN epci e ON e.siren = c.epci_siren
                    LEFT JOIN departement d ON d.code = c.departement_code
                    LEFT JOIN region r ON r.code = c.region_code
                    WHERE c.kind = 'commune-actuelle' AND {where}
                    ORDER BY c.insee LIMIT 1"""
            ),
            {"code": code},
        )
        .mappings()
        .first()
    )
    if row is None:
        return []
    parents = []
    if level == "commune" and row["epci_siren"]:
        parents.append({"level": "epci", "code": row["epci_siren"], "name": row["epci_name"]})
    for parent in ("departement", "region"):
        if row[f"{parent}_code"]:
            parents.append(
                {"level": parent, "code": row[f"{parent}_code"], "name": row[f"{parent}_name"]}
            )
    return parents
