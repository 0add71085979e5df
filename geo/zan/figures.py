"""A territory's ZAN figures, commune by commune (the unit of the Cerema data), for a rule
set and a data vintage. docs/methode.md writes every figure down with its formula, legal
source and a worked example.

- reference = the flows of the reference years (2011-2020), in today's geography: an
  arrondissement's flows count in its commune, merged communes sum, a split commune's
  flows are shared (``commune_split``);
- target = the most specific territorialised target (geo.zan.targets);
- own allowance = reference × (period years / reference years) × (1 − target);
- allowed (commune) = max(own allowance, garantie communale if the commune is covered by a
  planning document before the deadline) × (1 + tolerance);
- consumed = the period's flows covered by the vintage, less what PENE projects actually
  consumed in the commune in those years (``pene_consumption``: counted nationally, loi
  2023-630 art. 3), plus declared projects of envelopes the rule set counts locally until
  the data covers the year they are completed; the hectares annex I lists for a PENE are a
  forecast, shown apart (``pene_forecast_ha``) and never deducted;
- pace = consumed data / years elapsed (from the vintage); projection = consumed + pace ×
  years left; status: ``exceeded``, ``will_exceed`` or ``on_track`` against ``allowed``,
  ``no_data`` or ``partial_data`` when some of its communes have no consumption data.

A territory above the commune has its own allowance (its reference × (1 − its target)
when it has a target of its own, else the sum of its communes' own allowances), which is
its ``allowed_ha`` and what its status uses; the sum of its communes' floored allowances
is shown beside it (``communes_allowed_ha``): the garantie communale is counted inside the
envelope of the territory that grants it, it does not enlarge it.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from geo.errors import Invalid
from geo.ledger.statuses import ACTIVE
from geo.zan.rulesets import RuleSet, ZanRules, load_rulesets
from geo.zan.targets import ZAN_LEVELS, Target, Targets

# The statuses of a trajectory. Without consumption data for every commune neither the
# reference (hence the allowance) nor the consumption is known: the answer says so
# (``no_data``: none of its communes; ``partial_data``: some) rather than a status computed
# on what happens to be loaded; ``status_of_communes_with_data`` keeps that one apart.
STATUSES = ("exceeded", "will_exceed", "on_track", "partial_data", "no_data")


@dataclass
class Figures:
    reference_ha: float = 0.0
    own_allowance_ha: float = 0.0
    communes_allowed_ha: float = 0.0
    consumed_data_ha: float = 0.0
    pene_deducted_ha: float = 0.0
    # the hectares annex I lists in the territory for the decade: a forecast, never deducted
    pene_forecast_ha: float = 0.0
    declared_projects_ha: float = 0.0
    pace_ha_per_year: float = 0.0
    projection_ha: float = 0.0
    communes: int = 0
    communes_without_data: int = 0
    floor_applied: int = 0
    communes_without_garantie: int = 0
    communes_planning_unknown: int = 0
    communes_merged: int = 0
    communes_split: int = 0

    @property
    def consumed_ha(self) -> float:
        return self.consumed_data_ha + self.declared_projects_ha

    def add(self, other: Figures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def status(self, allowed: float) -> str:
        if self.communes and self.communes_without_data >= self.communes:
            return "no_data"
        if self.communes_without_data:
            return "partial_data"
        return self.status_of_known(allowed)

    def status_of_known(self, allowed: float) -> str:
        """The status against ``allowed`` of the figures as loaded."""
        if self.consumed_ha > allowed + 1e-9:
            return "exceeded"
        if self.projection_ha > allowed + 1e-9:
            return "will_exceed"
        return "on_track"

    def as_dict(self, allowed: float) -> dict[str, Any]:
        out = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}
        out["allowed_ha"] = round(allowed, 4)
        out["consumed_ha"] = round(self.consumed_ha, 4)
        out["share_used"] = round(self.consumed_ha / allowed, 4) if allowed else None
        out["status"] = self.status(allowed)
        if out["status"] == "partial_data":
            out["status_of_communes_with_data"] = self.status_of_known(allowed)
        return out


@dataclass
class Vintage:
    vintage: int
    first_year: int
    last_year: int
    provisional_year: int
    source: str = ""
    # the file is made-up demonstration data (import_run.synthetic)
    synthetic: bool = False


@dataclass
class Commune:
    insee: str
    name: str
    parents: dict[str, str | None] = field(default_factory=dict)
    figures: Figures = field(default_factory=Figures)
    allowed: float = 0.0
    target: Target | None = None
    status: str = "unchanged"
    planning: dict[str, Any] = field(default_factory=dict)
    pene: list[str] = field(default_factory=list)


def latest_vintage(conn: Connection, vintage: int | None = None) -> Vintage:
    row = conn.execute(
        text(
            "SELECT vintage, first_year, last_year, provisional_year, source, EXISTS ("
            "SELECT 1 FROM import_run r WHERE r.source = v.source AND r.synthetic) "
            "FROM naf_consumption_vintage v "
            "WHERE (CAST(:v AS integer) IS NULL OR vintage = :v) ORDER BY vintage DESC LIMIT 1"
        ),
        {"v": vintage},
    ).first()
    if row is None:
        raise Invalid(
            f"no NAF consumption vintage {vintage}" if vintage else "no NAF consumption data loaded"
        )
    return Vintage(*row)


def communes_of(
    conn: Connection,
    level: str,
    code: str,
    ruleset: RuleSet,
    data: Vintage,
    targets: Targets,
) -> list[Commune]:
    """Each member commune of the territory with its figures (docs/methode.md)."""
    rules = ruleset.zan
    assert rules is not None
    rows = _commune_rows(conn, level, code, rules, data)
    elapsed = years_elapsed(rules.period_first_year, rules.period_last_year, data.last_year)
    return [_commune(row, rules, targets, elapsed) for row in rows]


def _envelopes_counted_locally(rules: ZanRules) -> list[str]:
    """National envelopes exist so that their projects do not weigh on local trajectories;
    only those the rule sets say otherwise of count here."""
    return [
        r.id
        for r in load_rulesets().values()
        if r.envelope is not None
        and (
            r.envelope.counts_against_local_trajectories or r.id in rules.envelopes_counted_locally
        )
    ]


def _commune_rows(
    conn: Connection, level: str, code: str, rules: ZanRules, data: Vintage
) -> Sequence[RowMapping]:
    """Per member commune: reference and period flows (shared by the Cerema's splits and
    merges), declared projects, PENE hectares, planning document."""
    return (
        conn.execute(
            text(
                f"""
            WITH members AS (
                SELECT c.insee, c.name, c.region_code, c.departement_code, c.epci_siren
                FROM commune c WHERE c.kind = 'commune-actuelle' AND {ZAN_LEVELS[level].members}
            ), {_flows_sql("members")}, flows AS (
                SELECT s.insee,
                       sum(s.m2) FILTER (WHERE s.year BETWEEN :ref0 AND :ref1) AS reference,
                       sum(s.m2) FILTER (WHERE s.year BETWEEN :p0 AND :p1) AS consumed,
                       bool_or(s.split) AS split,
                       bool_or(s.source <> s.insee AND NOT s.split) AS merged
                FROM shared s JOIN members m ON m.insee = s.insee
                GROUP BY s.insee
            ), state AS (
                SELECT x.project_id,
                       (array_agg(x.status ORDER BY x.id DESC)
                           FILTER (WHERE x.status IS NOT NULL))[1] AS status,
                       min(x.occurred_on) FILTER (WHERE x.status = 'completed') AS completed_on
                FROM envelope_entry x JOIN project p ON p.id = x.project_id
                WHERE p.ruleset_id = ANY(CAST(:counted AS text[]))
                GROUP BY x.project_id
            ), declared AS (
                SELECT coalesce(a.parent_insee, p.commune_insee) AS insee,
                       sum(p.naf_ha * CASE p.kind WHEN 'industrial' THEN :w_ind
                                                  WHEN 'commercial' THEN :w_com ELSE 1 END) AS ha
                FROM project p JOIN state s ON s.project_id = p.id
                LEFT JOIN commune a
                  ON a.insee = p.commune_insee AND a.kind = 'arrondissement-municipal'
                WHERE s.status = ANY(CAST(:active AS text[]))
                  -- counted until the data covers the year it is completed
                  AND (s.completed_on IS NULL OR extract(year FROM s.completed_on) > :data_last)
                  AND (s.completed_on IS NULL OR extract(year FROM s.completed_on) <= :p_last)
                GROUP BY 1
            ), pene AS (
                SELECT coalesce(a.parent_insee, pp.commune_insee) AS insee,
                       sum(pp.hectares) AS ha,
                       array_agg(DISTINCT pp.pene_id || ' ' || pp.name) AS projects
                FROM pene_project pp
                LEFT JOIN commune a
                  ON a.insee = pp.commune_insee AND a.kind = 'arrondissement-municipal'
                GROUP BY 1
            ), pene_seen AS (
                -- what PENE projects consumed, in the period's years the data covers
                SELECT coalesce(a.parent_insee, pc.commune_insee) AS insee,
                       sum(pc.hectares) AS ha
                FROM pene_consumption pc
                LEFT JOIN commune a
                  ON a.insee = pc.commune_insee AND a.kind = 'arrondissement-municipal'
                WHERE pc.year BETWEEN :p0 AND :p1
                GROUP BY 1
            ), planning AS (
                SELECT commune_insee AS insee,
                       jsonb_agg(jsonb_build_object(
                           'document', document, 'prescribed_on', prescribed_on,
                           'arrete_on', arrete_on, 'approved_on', approved_on,
                           'source', source) ORDER BY document) AS procedures
                FROM commune_planning_document GROUP BY 1
            )
            SELECT m.insee, m.name, m.region_code, m.departement_code, m.epci_siren,
                   coalesce(f.reference, 0) / 10000 AS reference,
                   coalesce(f.consumed, 0) / 10000 AS consumed,
                   f.insee IS NOT NULL AS has_data, coalesce(f.split, false) AS split,
                   coalesce(f.merged, false) AS merged, coalesce(d.ha, 0) AS declared,
                   coalesce(pe.ha, 0) AS pene_forecast, coalesce(ps.ha, 0) AS pene_seen,
                   coalesce(pe.projects, '{{}}') AS pene,
                   doc.procedures
            FROM members m
            LEFT JOIN flows f ON f.insee = m.insee
            LEFT JOIN declared d ON d.insee = m.insee
            LEFT JOIN pene pe ON pe.insee = m.insee
            LEFT JOIN pene_seen ps ON ps.insee = m.insee
            LEFT JOIN planning doc ON doc.insee = m.insee
            ORDER BY m.insee
            """
            ),
            {
                "code": code,
                "ref0": rules.reference_first_year,
                "ref1": rules.reference_last_year,
                "p0": rules.period_first_year,
                "p1": min(rules.period_last_year, data.last_year),
                "p_last": rules.period_last_year,
                "vintage": data.vintage,
                "w_ind": rules.industrial_weight,
                "w_com": rules.commercial_weight,
                "counted": _envelopes_counted_locally(rules),
                "active": list(ACTIVE),
                "data_last": data.last_year,
            },
        )
        .mappings()
        .all()
    )


def _commune(row: Any, rules: ZanRules, targets: Targets, elapsed: float) -> Commune:
    """One commune's allowance, consumption, projection and status."""
    left = rules.period_years - elapsed
    target = targets.for_commune(row["insee"], row["epci_siren"], row["region_code"])
    reference = float(row["reference"])
    own = reference * rules.window_factor * (1 - target.reduction)
    planning, eligible = _planning(row, rules)
    floor = rules.garantie_communale_ha if eligible else 0.0
    allowed = max(own, floor) * (1 + rules.communal_tolerance)
    flows = float(row["consumed"])
    # PENE consumption is counted nationally (loi 2023-630 art. 3): what a PENE actually
    # consumed in the commune comes off its flows (never below zero); the list's hectares
    # are a forecast for the decade, not a consumption, and are only shown.
    pene = min(float(row["pene_seen"]), flows)
    consumed = flows - pene
    declared = float(row["declared"])
    pace = consumed / elapsed if elapsed else 0.0
    if not row["has_data"]:
        status = "missing_from_source"
    elif row["split"]:
        status = "split"
    elif row["merged"]:
        status = "merged"
    else:
        status = "unchanged"
    figures = Figures(
        reference_ha=reference,
        own_allowance_ha=own,
        communes_allowed_ha=allowed,
        consumed_data_ha=consumed,
        pene_deducted_ha=pene,
        pene_forecast_ha=float(row["pene_forecast"]),
        declared_projects_ha=declared,
        pace_ha_per_year=pace,
        projection_ha=consumed + declared + pace * left,
        communes=1,
        communes_without_data=0 if row["has_data"] else 1,
        floor_applied=1 if eligible and own < floor else 0,
        communes_without_garantie=0 if eligible else 1,
        communes_planning_unknown=1 if row["procedures"] is None else 0,
        communes_merged=1 if status == "merged" else 0,
        communes_split=1 if status == "split" else 0,
    )
    return Commune(
        row["insee"],
        row["name"],
        {
            "departement_code": row["departement_code"],
            "epci_siren": row["epci_siren"],
            "region_code": row["region_code"],
        },
        figures,
        allowed,
        target,
        status,
        planning,
        sorted(row["pene"]),
    )


_STATES = {"prescribed_on": "prescrit", "arrete_on": "arrêté", "approved_on": "approuvé"}


def _planning(row: Any, rules: ZanRules) -> tuple[dict[str, Any], bool]:
    """The commune's planning documents, and whether it gets the garantie communale: loi
    2023-630 art. 4 grants it to a commune covered by a PLU, a document en tenant lieu or a
    carte communale "prescrit, arrêté ou approuvé" before the deadline, so any one of the
    procedure's dates before it is enough (the earliest decides). The RNU alone gives none."""
    procedures: list[dict[str, Any]] | None = row["procedures"]
    if procedures is None:
        eligible = rules.garantie_when_unknown
        return {
            "document": "unknown",
            "garantie": eligible,
            "assumed": "covered by a planning document (no import says otherwise)"
            if eligible
            else "not covered (no import says otherwise)",
        }, eligible
    deadline = rules.garantie_document_deadline
    covering, reasons = [], []
    for procedure in procedures:
        if procedure["document"] == "RNU":
            continue
        dated = sorted(
            (datetime.date.fromisoformat(procedure[k]), state)
            for k, state in _STATES.items()
            if procedure.get(k)
        )
        if not dated:
            covering.append(procedure["document"])
            reasons.append(f"{procedure['document']}: no date given, assumed before {deadline}")
        elif dated[0][0] < deadline:
            covering.append(procedure["document"])
            reasons.append(
                f"{procedure['document']} {dated[0][1]} on {dated[0][0]}, before {deadline}"
            )
        else:
            reasons.append(
                f"{procedure['document']} {dated[0][1]} on {dated[0][0]} at the earliest: too late"
            )
    eligible = bool(covering)
    others = [p["document"] for p in procedures if p["document"] != "RNU"]
    if not reasons:
        reasons.append("RNU: no PLU, document en tenant lieu or carte communale under way")
    return {
        "document": covering[0] if covering else others[0] if others else "RNU",
        "procedures": [
            {
                "document": p["document"],
                **{state: p.get(k) for k, state in _STATES.items() if p["document"] != "RNU"},
                "source": p["source"],
            }
            for p in procedures
        ],
        "garantie": eligible,
        "why": "; ".join(reasons),
    }, eligible


def allowance(
    level: str,
    code: str,
    communes: list[Commune],
    total: Figures,
    targets: Targets,
    rules: ZanRules,
) -> tuple[float, dict[str, Any], str]:
    """A territory's allowed hectares, the target behind them and which figure is used."""
    tolerance = 1 + rules.communal_tolerance
    if level == "commune":
        commune = communes[0]
        assert commune.target is not None
        floored = commune.figures.floor_applied > 0
        basis = (
            "the garantie communale: the commune's own allowance is below it"
            if floored
            else "the commune's own allowance (reference × window × (1 − target))"
        )
        return commune.allowed, commune.target.described(("commune", code)), basis
    own = targets.own(level, code)
    if own is not None:
        allowed = total.reference_ha * rules.window_factor * (1 - own.reduction) * tolerance
        total.own_allowance_ha = allowed / tolerance
        basis = (
            "the territory's own allowance (its reference × window × (1 − its target)); the "
            "garantie communale is counted inside it, so the floored sum of its communes is "
            "shown beside it (communes_allowed_ha), not used"
        )
        return allowed, own.described((level, code)), basis
    basis = (
        "no target of its own: the sum of its communes' own allowances (each with the target "
        "it inherits); the floored sum is shown beside it (communes_allowed_ha), not used"
    )
    sources = sorted({(c.target.level, c.target.code or "") for c in communes if c.target})
    window_reference = total.reference_ha * rules.window_factor
    effective = 1 - total.own_allowance_ha / window_reference if window_reference else None
    target = {
        "reduction": round(effective, 6) if effective is not None else None,
        "set_by": None,
        "origin": "sum of its communes' targets",
        "regulatory": False,
        "binding": all(c.target.binding for c in communes if c.target),
        "targets_of_its_communes": [{"level": lvl, "code": c or None} for lvl, c in sources[:50]],
    }
    return total.own_allowance_ha * tolerance, target, basis


def years_elapsed(first: int, last: int, last_data_year: int) -> int:
    return max(0, min(last_data_year, last) - first + 1)


def _flows_sql(members: str) -> str:
    """Flows of a vintage in today's geography, for the communes of ``members`` (a CTE):
    an arrondissement's source rows count in its commune, merged communes' rows sum (the
    loader maps former codes to their successor), a split source's rows are shared among
    the communes it was split into, when the vintage predates the split."""
    return f"""
    split AS (
        SELECT s.source_insee, s.commune_insee, s.share FROM commune_split s
        WHERE NOT EXISTS (
            SELECT 1 FROM commune_split o JOIN naf_consumption n
              ON n.vintage = :vintage AND n.commune_insee_source = o.commune_insee
            WHERE o.source_insee = s.source_insee AND o.commune_insee <> o.source_insee)
    ), src AS (
        SELECT n.commune_insee_source AS source, n.year, n.total_m2,
               coalesce(a.parent_insee, n.commune_insee) AS insee
        FROM naf_consumption n
        LEFT JOIN commune a ON a.insee = n.commune_insee AND a.kind = 'arrondissement-municipal'
        WHERE n.vintage = :vintage
          AND (coalesce(a.parent_insee, n.commune_insee) IN (SELECT insee FROM {members})
               OR n.commune_insee_source IN (SELECT source_insee FROM split))
    ), shared AS (
        SELECT coalesce(sp.commune_insee, src.insee) AS insee, src.source, src.year,
               src.total_m2 * coalesce(sp.share, 1) AS m2, sp.source_insee IS NOT NULL AS split
        FROM src LEFT JOIN split sp ON sp.source_insee = src.source
    )"""


def yearly_consumption(
    conn: Connection, level: str, code: str, vintage: int | None = None
) -> list[tuple[int, float]]:
    """(year, hectares) of NAF consumption of a territory's communes, for charts, in the
    same geography as the trajectory (arrondissements, merges and splits)."""
    if level not in ZAN_LEVELS:
        raise Invalid(f"level must be one of {', '.join(ZAN_LEVELS)}")
    data = latest_vintage(conn, vintage)
    rows = conn.execute(
        text(
            f"""WITH members AS (
                    SELECT c.insee FROM commune c
                    WHERE c.kind = 'commune-actuelle' AND {ZAN_LEVELS[level].members}
                ), {_flows_sql("members")}
                SELECT s.year, sum(s.m2) / 10000
                FROM shared s JOIN members m ON m.insee = s.insee
                GROUP BY s.year ORDER BY s.year"""
        ),
        {"vintage": data.vintage, "code": code},
    ).all()
    return [(int(y), float(ha)) for y, ha in rows]
