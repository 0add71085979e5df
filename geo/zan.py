"""ZAN trajectories: each territory's consumption of NAF land against what its rule set
allows for the decade.

Per commune (the unit of the Cerema data), for a rule set and a data vintage:

- reference = the flows of the reference years (2011-2020 by default);
- allowed = max(reference × (1 − reduction), garantie communale) × (1 + tolerance), the
  reduction being the commune's région's own target if it has one (SRADDET), else the
  national one. The 1 ha floor is applied per commune, *before* any aggregation;
- consumed = the flows of the period's years covered by the vintage, plus declared
  projects (the ledger) authorised after the vintage's last year, weighted by kind as
  the rule set says; projects of envelopes that do not count against local
  trajectories (PENE) are left out;
- years elapsed come from the vintage (its last year is provisional), never a constant;
  pace = data consumption / years elapsed; projection = consumed + pace × years left;
- status: ``exceeded`` (consumed > allowed), ``will_exceed`` (projection > allowed) or
  ``on_track``.

A territory (EPCI, département, région, Territoire d'industrie) sums its communes'
figures, and lists its children grouped by status.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from geo.rulesets import RuleSet, default_ruleset_id, load_rulesets

LEVELS = ("commune", "epci", "departement", "region", "territoire_industrie")
_MEMBERS = {
    "commune": "c.insee = :code",
    "epci": "c.epci_siren = :code",
    "departement": "c.departement_code = :code",
    "region": "c.region_code = :code",
    "territoire_industrie": (
        "c.epci_siren IN (SELECT siren FROM epci WHERE territoire_industrie_id = :code)"
    ),
}
_NAMES = {
    "commune": "SELECT name FROM commune WHERE insee = :code",
    "epci": "SELECT name FROM epci WHERE siren = :code",
    "departement": "SELECT name FROM departement WHERE code = :code",
    "region": "SELECT name FROM region WHERE code = :code",
    "territoire_industrie": "SELECT name FROM territoire_industrie WHERE id = :code",
}
# A territory's children, and the commune column that names them.
_CHILDREN = {
    "region": ("departement", "departement_code"),
    "departement": ("epci", "epci_siren"),
    "territoire_industrie": ("epci", "epci_siren"),
    "epci": ("commune", "insee"),
}
ACTIVE = ("authorised", "under_construction", "completed")


class TrajectoryError(ValueError):
    status = 422


class TerritoryNotFound(TrajectoryError):
    status = 404


@dataclass
class Figures:
    reference_ha: float = 0.0
    allowed_ha: float = 0.0
    consumed_data_ha: float = 0.0
    declared_projects_ha: float = 0.0
    pace_ha_per_year: float = 0.0
    projection_ha: float = 0.0
    communes: int = 0
    communes_without_data: int = 0
    floor_applied: int = 0

    @property
    def consumed_ha(self) -> float:
        return self.consumed_data_ha + self.declared_projects_ha

    def add(self, other: Figures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def status(self) -> str:
        if self.consumed_ha > self.allowed_ha + 1e-9:
            return "exceeded"
        if self.projection_ha > self.allowed_ha + 1e-9:
            return "will_exceed"
        return "on_track"

    def as_dict(self) -> dict[str, Any]:
        out = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}
        out["consumed_ha"] = round(self.consumed_ha, 4)
        out["share_used"] = (
            round(self.consumed_ha / self.allowed_ha, 4) if self.allowed_ha else None
        )
        out["status"] = self.status()
        return out


@dataclass
class Vintage:
    vintage: int
    first_year: int
    last_year: int
    provisional_year: int


@dataclass
class _Commune:
    insee: str
    name: str
    parents: dict[str, str | None] = field(default_factory=dict)
    figures: Figures = field(default_factory=Figures)


def latest_vintage(conn: Connection, vintage: int | None = None) -> Vintage:
    row = conn.execute(
        text(
            "SELECT vintage, first_year, last_year, provisional_year FROM naf_consumption_vintage "
            "WHERE (CAST(:v AS integer) IS NULL OR vintage = :v) ORDER BY vintage DESC LIMIT 1"
        ),
        {"v": vintage},
    ).first()
    if row is None:
        raise TrajectoryError(
            f"no NAF consumption vintage {vintage}" if vintage else "no NAF consumption data loaded"
        )
    return Vintage(*row)


def trajectory(
    conn: Connection, level: str, code: str, ruleset: RuleSet, vintage: int | None = None
) -> dict[str, Any]:
    """The trajectory of one territory, and of its children grouped by status."""
    if level not in LEVELS:
        raise TrajectoryError(f"level must be one of {', '.join(LEVELS)}")
    assert ruleset.zan is not None
    name = conn.execute(text(_NAMES[level]), {"code": code}).scalar_one_or_none()
    if name is None:
        raise TerritoryNotFound(f"no {level} {code}")
    data = latest_vintage(conn, vintage)
    communes = _communes(conn, level, code, ruleset, data)
    if not communes:
        raise TrajectoryError(f"{level} {code} has no commune")
    total = Figures()
    for commune in communes:
        total.add(commune.figures)
    rules = ruleset.zan
    elapsed = _years_elapsed(rules.period_first_year, rules.period_last_year, data.last_year)
    out: dict[str, Any] = {
        "territory": {"level": level, "code": code, "name": name},
        "ruleset": ruleset.summary(),
        "default_ruleset": default_ruleset_id("zan"),
        "data": {
            "vintage": data.vintage,
            "years": [data.first_year, data.last_year],
            "provisional_year": data.provisional_year,
        },
        "period": [rules.period_first_year, rules.period_last_year],
        "reference_years": [rules.reference_first_year, rules.reference_last_year],
        "years_elapsed": elapsed,
        "years_left": rules.period_last_year - rules.period_first_year + 1 - elapsed,
        **total.as_dict(),
    }
    if level in _CHILDREN:
        child_level, column = _CHILDREN[level]
        groups: dict[str | None, Figures] = defaultdict(Figures)
        for commune in communes:
            key = commune.insee if column == "insee" else commune.parents[column]
            groups[key].add(commune.figures)
        by_status: dict[str, list[dict[str, Any]]] = {
            "exceeded": [],
            "will_exceed": [],
            "on_track": [],
        }
        names = _child_names(conn, child_level, [k for k in groups if k])
        for key, figures in sorted(groups.items(), key=lambda kv: kv[0] or ""):
            by_status[figures.status()].append(
                {
                    "level": child_level,
                    "code": key,
                    "name": names.get(key or ""),
                    "allowed_ha": round(figures.allowed_ha, 4),
                    "consumed_ha": round(figures.consumed_ha, 4),
                    "projection_ha": round(figures.projection_ha, 4),
                }
            )
        out["children"] = by_status
    return out


def _years_elapsed(first: int, last: int, last_data_year: int) -> int:
    return max(0, min(last_data_year, last) - first + 1)


def _communes(
    conn: Connection, level: str, code: str, ruleset: RuleSet, data: Vintage
) -> list[_Commune]:
    rules = ruleset.zan
    assert rules is not None
    excluded = [
        r.id
        for r in load_rulesets().values()
        if r.envelope is not None and not r.envelope.counts_against_local_trajectories
    ]
    rows = conn.execute(
        text(
            f"""
            WITH members AS (
                SELECT c.insee, c.name, c.region_code, c.departement_code, c.epci_siren
                FROM commune c WHERE c.kind = 'commune-actuelle' AND {_MEMBERS[level]}
            ), flows AS (
                SELECT n.commune_insee,
                       sum(n.total_m2) FILTER (WHERE n.year BETWEEN :ref0 AND :ref1) AS reference,
                       sum(n.total_m2) FILTER (WHERE n.year BETWEEN :p0 AND :p1) AS consumed,
                       count(*) AS years
                FROM naf_consumption n JOIN members m ON m.insee = n.commune_insee
                WHERE n.vintage = :vintage
                GROUP BY n.commune_insee
            ), declared AS (
                SELECT p.commune_insee,
                       sum(p.naf_ha * CASE p.kind WHEN 'industrial' THEN :w_ind
                                                  WHEN 'commercial' THEN :w_com ELSE 1 END) AS ha
                FROM project p JOIN members m ON m.insee = p.commune_insee
                WHERE NOT (p.ruleset_id = ANY(CAST(:excluded AS text[])))
                  AND (SELECT x.status FROM envelope_entry x
                        WHERE x.project_id = p.id AND x.status IS NOT NULL
                        ORDER BY x.id DESC LIMIT 1) = ANY(CAST(:active AS text[]))
                  -- authorised after the data's last year: not yet in the Cerema flows
                  AND (SELECT min(x.occurred_on) FROM envelope_entry x
                        WHERE x.project_id = p.id AND x.status = 'authorised') > :data_end
                GROUP BY p.commune_insee
            )
            SELECT m.insee, m.name, m.region_code, m.departement_code, m.epci_siren,
                   coalesce(f.reference, 0) / 10000, coalesce(f.consumed, 0) / 10000,
                   f.years IS NOT NULL, coalesce(d.ha, 0)
            FROM members m
            LEFT JOIN flows f ON f.commune_insee = m.insee
            LEFT JOIN declared d ON d.commune_insee = m.insee
            ORDER BY m.insee
            """
        ),
        {
            "code": code,
            "ref0": rules.reference_first_year,
            "ref1": rules.reference_last_year,
            "p0": rules.period_first_year,
            "p1": min(rules.period_last_year, data.last_year),
            "vintage": data.vintage,
            "w_ind": rules.industrial_weight,
            "w_com": rules.commercial_weight,
            "excluded": excluded,
            "active": list(ACTIVE),
            "data_end": f"{data.last_year}-12-31",
        },
    ).all()
    elapsed = _years_elapsed(rules.period_first_year, rules.period_last_year, data.last_year)
    left = rules.period_last_year - rules.period_first_year + 1 - elapsed
    out = []
    for insee, name, region, dep, epci, reference, consumed, has_data, declared in rows:
        reduced = reference * (1 - rules.reduction_for(region))
        floor = reduced < rules.garantie_communale_ha
        allowed = max(reduced, rules.garantie_communale_ha) * (1 + rules.communal_tolerance)
        pace = consumed / elapsed if elapsed else 0.0
        figures = Figures(
            reference_ha=reference,
            allowed_ha=allowed,
            consumed_data_ha=consumed,
            declared_projects_ha=float(declared),
            pace_ha_per_year=pace,
            projection_ha=consumed + float(declared) + pace * left,
            communes=1,
            communes_without_data=0 if has_data else 1,
            floor_applied=1 if floor else 0,
        )
        out.append(
            _Commune(
                insee,
                name,
                {"departement_code": dep, "epci_siren": epci, "region_code": region},
                figures,
            )
        )
    return out


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


def yearly_consumption(
    conn: Connection, level: str, code: str, vintage: int | None = None
) -> list[tuple[int, float]]:
    """(year, hectares) of NAF consumption of a territory's communes, for charts."""
    if level not in LEVELS:
        raise TrajectoryError(f"level must be one of {', '.join(LEVELS)}")
    data = latest_vintage(conn, vintage)
    rows = conn.execute(
        text(
            f"""SELECT n.year, sum(n.total_m2) / 10000
                FROM naf_consumption n JOIN commune c ON c.insee = n.commune_insee
                WHERE n.vintage = :v AND c.kind = 'commune-actuelle' AND {_MEMBERS[level]}
                GROUP BY n.year ORDER BY n.year"""
        ),
        {"v": data.vintage, "code": code},
    ).all()
    return [(int(y), float(ha)) for y, ha in rows]
