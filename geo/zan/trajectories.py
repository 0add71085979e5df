"""ZAN trajectories: each territory's consumption of NAF land against what its rule set
and its planning documents allow for the decade, with its children grouped by status.

The figures are computed commune by commune (geo.zan.figures, whose docstring gives every
formula), the targets come from their cascade (geo.zan.targets); docs/methode.md writes
every figure down with its formula, legal source and a worked example.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from geo.errors import Invalid, NotFound
from geo.zan.figures import (
    STATUSES,
    Commune,
    Figures,
    allowance,
    communes_of,
    latest_vintage,
    yearly_consumption,
    years_elapsed,
)
from geo.zan.rulesets import RuleSet, ZanRules, default_ruleset_id
from geo.zan.targets import ZAN_LEVEL_NAMES, ZAN_LEVELS, Targets

# the public names a trajectory's callers import from here
__all__ = ["ZAN_LEVELS", "ZAN_LEVEL_NAMES", "trajectory", "yearly_consumption"]


# A territory's children, and the commune column that names them.
_CHILDREN = {
    "scot": ("commune", "insee"),
    "region": ("departement", "departement_code"),
    "departement": ("epci", "epci_siren"),
    "territoire_industrie": ("epci", "epci_siren"),
    "epci": ("commune", "insee"),
}


def trajectory(
    conn: Connection, level: str, code: str, ruleset: RuleSet, vintage: int | None = None
) -> dict[str, Any]:
    """The trajectory of one territory, and of its children grouped by status."""
    if level not in ZAN_LEVELS:
        raise Invalid(f"level must be one of {', '.join(ZAN_LEVELS)}")
    rules = ruleset.zan
    assert rules is not None
    if rules.unit != "naf_consumption":
        raise Invalid(
            f"{ruleset.id} measures net artificialisation on IGN's OCS GE (nomenclature of the "
            "décret n° 2023-1096), from 2031: no target for the decade is loaded, so no "
            "trajectory is computed; the measure is at "
            f"/trajectories/{level}/{code}/net-artificialisation (see docs/methode.md)"
        )
    name = conn.execute(text(ZAN_LEVELS[level].name_sql()), {"code": code}).scalar_one_or_none()
    if name is None:
        raise NotFound(f"no {level} {code}")
    data = latest_vintage(conn, vintage)
    targets = Targets(conn, rules)
    communes = communes_of(conn, level, code, ruleset, data, targets)
    if not communes:
        raise Invalid(f"{level} {code} has no commune")
    total = Figures()
    for commune in communes:
        total.add(commune.figures)
    elapsed = years_elapsed(rules.period_first_year, rules.period_last_year, data.last_year)
    allowed, target, basis = allowance(level, code, communes, total, targets, rules)
    out: dict[str, Any] = {
        "territory": {"level": level, "code": code, "name": name},
        "ruleset": ruleset.summary(),
        "default_ruleset": default_ruleset_id("zan"),
        "data": {
            "vintage": data.vintage,
            "years": [data.first_year, data.last_year],
            "provisional_year": data.provisional_year,
            "source": f"Cerema, consommation d'espaces NAF (import {Path(data.source).name})",
            # every figure below is computed from made-up data when true
            "synthetic": data.synthetic,
        },
        "period": [rules.period_first_year, rules.period_last_year],
        "reference_years": [rules.reference_first_year, rules.reference_last_year],
        "allowance_window_factor": round(rules.window_factor, 6),
        "years_elapsed": elapsed,
        "years_left": rules.period_years - elapsed,
        "target": target,
        "allowed_basis": basis,
        "garantie_communale": {
            "ha": rules.garantie_communale_ha,
            "rule": "communes covered by a PLU, a document en tenant lieu or a carte "
            "communale prescribed, arrêté or approved before "
            f"{rules.garantie_document_deadline.isoformat()} (loi n° 2023-630 art. 4, for "
            "the first ten-year tranche): any one of the procedure's dates is enough",
            **({"note": rules.garantie_note} if rules.garantie_note else {}),
            "when_unknown": "assumed covered"
            if rules.garantie_when_unknown
            else "assumed not covered",
        },
        **total.as_dict(allowed),
    }
    if level == "commune":
        commune = communes[0]
        out["commune_status"] = commune.status
        out["planning_document"] = commune.planning
        out["pene_projects"] = commune.pene
    if level in _CHILDREN:
        out["children"] = _children(conn, level, communes, targets, rules)
    return out


def _children(
    conn: Connection, level: str, communes: list[Commune], targets: Targets, rules: ZanRules
) -> dict[str, list[dict[str, Any]]]:
    child_level, column = _CHILDREN[level]
    groups: dict[str | None, list[Commune]] = defaultdict(list)
    for commune in communes:
        key = commune.insee if column == "insee" else commune.parents[column]
        groups[key].append(commune)
    by_status: dict[str, list[dict[str, Any]]] = {s: [] for s in STATUSES}
    names = _child_names(conn, child_level, [k for k in groups if k])
    for key, members in sorted(groups.items(), key=lambda kv: kv[0] or ""):
        figures = Figures()
        for commune in members:
            figures.add(commune.figures)
        allowed, target, _ = allowance(child_level, key or "", members, figures, targets, rules)
        status = figures.status(allowed)
        by_status[status].append(
            {
                "status": status,
                "level": child_level,
                "code": key,
                "name": names.get(key or ""),
                "allowed_ha": round(allowed, 4),
                "communes_allowed_ha": round(figures.communes_allowed_ha, 4),
                "consumed_ha": round(figures.consumed_ha, 4),
                "projection_ha": round(figures.projection_ha, 4),
                "target_origin": target["origin"],
            }
        )
    return by_status


def _child_names(conn: Connection, level: str, codes: list[str]) -> dict[str, str]:
    table, key = {
        "departement": ("departement", "code"),
        "epci": ("epci", "siren"),
        "commune": ("commune", "insee"),
    }[level]
    rows = conn.execute(
        text(f"SELECT {key}, name FROM {table} WHERE {key} = ANY(:codes)"), {"codes": codes}
    ).all()
    return dict(rows)
