"""The scoring model: how suitable a parcel is for industry, and why.

Method (ADEME/Cerema Mutafriches, usage "industrie"): each criterion's value scores
very positive (+2), positive (+1), neutral (+0.5, counted on both sides), negative (−1)
or very negative (−2), times the criterion's weight (0.5, 1 or 2) from the profile;

    index = advantages / (advantages + constraints) × 100
    reliability = weight of the criteria whose value is known / weight of all criteria

A criterion without data is skipped, never guessed. Foncier adds what industry asks
first: hard exclusions (named), compactness, slope, fit to the requested size, being on
a friche or in an economic zone, the distance to the nearest activity zone, and the
envelope impact (hectares of NAF land consumed).

Each criterion is defined once, as data (thresholds or categories); the same definition
produces the SQL that scores every parcel in bulk and the Python that explains one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from geo.db.sql import Sql, ident
from geo.land.buildings import DEFAULT_UNDERUSED_SHARE, land_use_of, land_use_sql

MODEL_VERSION = "foncier-score-1.1"

VERY_POSITIVE, POSITIVE, NEUTRAL, NEGATIVE, VERY_NEGATIVE = 2.0, 1.0, 0.5, -1.0, -2.0
# Remediation cost (Intercommunalités de France, 2025): 780 k€/ha is the average over the
# friches brought back to use, polluted or not, and pollution triples the cost on average.
# With p the share of polluted friches in that average, clean × (1 − p) + 3 × clean × p =
# 780 k€/ha, so clean = 780 / (1 + 2p) k€/ha: pollution is counted once. No share is
# published: POLLUTED_SHARE is Foncier's stated assumption (docs/methode.md). A friche whose
# pollution is unknown costs the average itself.
REMEDIATION_EUR_PER_HA = 780_000
POLLUTION_FACTOR = 3
POLLUTED_SHARE = 0.5
REMEDIATION_CLEAN_EUR_PER_HA = round(
    REMEDIATION_EUR_PER_HA / (1 + (POLLUTION_FACTOR - 1) * POLLUTED_SHARE)
)  # 390,000 €/ha
REMEDIATION_POLLUTED_EUR_PER_HA = POLLUTION_FACTOR * REMEDIATION_CLEAN_EUR_PER_HA  # 1,170,000


@dataclass(frozen=True)
class Criterion:
    """Points from a feature: numeric thresholds (``bins``) or categories (``categories``).

    ``bins``: (upper bound exclusive or None for the last, points), in increasing order;
    the bounds listed in ``inclusive`` include their value (Mutafriches scores a site of
    exactly 5 ha, 50,000 m², in its "≤ 50,000 m²" class).
    """

    name: str
    feature: str
    label: str
    bins: tuple[tuple[float | None, float], ...] = ()
    categories: dict[Any, float] = field(default_factory=dict)
    inclusive: frozenset[float] = frozenset()

    def points(self, value: Any) -> float | None:
        if value is None:
            return None
        if self.bins:
            for upper, pts in self.bins:
                if upper is None or value < upper or (upper in self.inclusive and value == upper):
                    return pts
        return self.categories.get(value)

    def sql(self, column: str) -> str:
        if self.bins:
            whens = " ".join(
                f"WHEN {column} {'<=' if upper in self.inclusive else '<'} {upper} "
                f"THEN {_float(pts)}"
                for upper, pts in self.bins
                if upper is not None
            )
            last = self.bins[-1][1]
            return f"(CASE WHEN {column} IS NULL THEN NULL {whens} ELSE {_float(last)} END)"
        whens = " ".join(f"WHEN {_literal(k)} THEN {_float(v)}" for k, v in self.categories.items())
        return f"(CASE {column} {whens} ELSE NULL END)"

    # The value a criterion reads: its feature column, unless a criterion derives it from
    # several columns and the profile (LandUseCriterion).
    per_profile = False

    def value_of(self, features: dict[str, Any]) -> Any:
        return features.get(self.feature)

    def value_sql(self, alias: str) -> str:
        return f"{alias}.{self.feature}"


@dataclass(frozen=True)
class LandUseCriterion(Criterion):
    """vacant / underused / built (geo.land.buildings), with the profile's threshold."""

    threshold: float = DEFAULT_UNDERUSED_SHARE
    per_profile = True

    def value_of(self, features: dict[str, Any]) -> Any:
        return land_use_of(features, self.threshold)

    def value_sql(self, alias: str) -> str:
        return land_use_sql(alias, self.threshold)


def land_use_criterion(threshold: float = DEFAULT_UNDERUSED_SHARE) -> LandUseCriterion:
    return LandUseCriterion(
        "land_use",
        "land_use",
        f"land use from the building footprints: vacant (no building), underused (built share "
        f"under {threshold:.0%} or light buildings only), built; unknown where no building "
        "layer covers the commune",
        categories={"vacant": VERY_POSITIVE, "underused": POSITIVE, "built": VERY_NEGATIVE},
        threshold=threshold,
    )


def _float(value: float) -> str:
    # Points, weights and scores are double precision in SQL, as in Python: a bare 2.0 is
    # a NUMERIC constant, and NUMERIC arithmetic made the score pass twice as slow.
    return f"CAST({float(value)!r} AS float8)"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return "'" + str(value).replace("'", "''") + "'"


CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "site_area",
        "area_ha",
        "site area (Mutafriches `surfaceSite`: < 1 ha very negative, 1 to 5 ha included "
        "positive, more than 5 ha very positive)",
        bins=((1, VERY_NEGATIVE), (5, POSITIVE), (None, VERY_POSITIVE)),
        inclusive=frozenset({5}),
    ),
    Criterion(
        "compactness",
        "compactness",
        "shape: Polsby-Popper 4πA/P² (1 for a disc; long thin parcels score low)",
        bins=((0.25, NEGATIVE), (0.5, NEUTRAL), (None, POSITIVE)),
    ),
    Criterion(
        "zoning",
        "zoning_class",
        "PLU zoning class (geo.land.zoning)",
        categories={
            "activity": VERY_POSITIVE,
            "mixed": NEUTRAL,
            "other": NEGATIVE,
            "housing": VERY_NEGATIVE,
            "agricultural": VERY_NEGATIVE,
            "natural": VERY_NEGATIVE,
        },
    ),
    Criterion(
        "on_friche",
        "on_friche",
        "on a friche (reconversion, no new artificialisation)",
        categories={True: VERY_POSITIVE, False: NEUTRAL},
    ),
    Criterion(
        "in_economic_zone",
        "in_economic_zone",
        "in an economic zone (ZAE, commercial zone, site clé en main)",
        categories={True: VERY_POSITIVE, False: NEUTRAL},
    ),
    Criterion(
        "activity_zone_distance",
        "activity_zone_distance_m",
        "distance to the nearest activity zone (economic site or PLU activity zone), "
        "2000 meaning 2 km or more; unknown where no such layer covers the département "
        "(a Foncier criterion, not Mutafriches')",
        bins=((500, POSITIVE), (2000, NEUTRAL), (None, NEGATIVE)),
    ),
    Criterion(
        "pollution",
        "pollution",
        "soil pollution: known (BASOL, friche 'avérée'/'supposée') or ruled out",
        categories={"known": NEGATIVE, "ruled_out": POSITIVE},
    ),
    Criterion(
        "slope",
        "slope_mean_pct",
        "mean slope in percent (elevation raster)",
        bins=((2, POSITIVE), (5, NEUTRAL), (10, NEGATIVE), (None, VERY_NEGATIVE)),
    ),
    Criterion(
        "flood",
        "flood_high_share",
        "share of the parcel in a high flood hazard class (3 and more) of the loaded hazard "
        "raster; none scores neutral (a Foncier criterion: Mutafriches instead scores 'très "
        "négatif' for industry as soon as a TRI, AZI, PAPI or PPR concerns the site, a "
        "presence test; Foncier measures the hazard on the parcel, and PPR zones are the "
        "risk_regulation criterion)",
        bins=((1e-9, NEUTRAL), (0.5, NEGATIVE), (None, VERY_NEGATIVE)),
    ),
    Criterion(
        "envelope_impact",
        "envelope_impact_ha",
        "NAF hectares the parcel would consume (0 on a friche or artificialised land)",
        bins=((1e-6, VERY_POSITIVE), (None, NEGATIVE)),
    ),
    Criterion(
        "risk_regulation",
        "risk_regulation",
        "regulatory risk plans (PPR, PPRT, geo.land.risks): the strictest zone over 1 % or "
        "more of the parcel; unknown outside the perimeter of a loaded plan",
        categories={"interdiction": VERY_NEGATIVE, "prescription": NEGATIVE, "none": NEUTRAL},
    ),
    Criterion(
        "plu_prescriptions",
        "prescription_effect",
        "PLU prescriptions on the parcel (geo.land.prescriptions): one that forbids building "
        "(espace boisé classé, emplacement réservé…) or one that constrains it (heritage, "
        "landscape…); unknown where the PLU was not loaded from a CNIG delivery",
        categories={"exclude": VERY_NEGATIVE, "penalise": NEGATIVE, "none": NEUTRAL},
    ),
    # Mutafriches criteria without an open layer loaded here yet: always unknown, so
    # they lower reliability instead of being guessed.
    Criterion(
        "motorway_distance",
        "motorway_distance_m",
        "distance to the nearest voie de grande circulation (Mutafriches `distanceAutoroute`: "
        "BD TOPO road sections of motorway type or major importance, not an interchange; "
        "< 1 km very positive, 1-2 km positive, 2-5 km negative, 5 km or more very negative)",
        bins=((1000, VERY_POSITIVE), (2000, POSITIVE), (5000, NEGATIVE), (None, VERY_NEGATIVE)),
    ),
    Criterion(
        "rail_siding",
        "rail_siding",
        "rail siding on or next to the site",
        categories={True: POSITIVE, False: NEUTRAL},
    ),
)
# What stands on the land: buildings and owners, each from its own layer.
LAND_CRITERIA: tuple[Criterion, ...] = (
    land_use_criterion(),
    Criterion(
        "public_owner",
        "owner_group",
        "owner (DGFiP legal-entity parcel file): land a public body holds is easier to "
        "mobilise; commune, EPCI and public establishments (EPF included) very positive, "
        "État, région, département and SEM positive, other owners neutral; unknown where no "
        "owner file covers the commune",
        categories={
            "commune": VERY_POSITIVE,
            "epci": VERY_POSITIVE,
            "etablissement_public": VERY_POSITIVE,
            "etat": POSITIVE,
            "region": POSITIVE,
            "departement": POSITIVE,
            "sem": POSITIVE,
            "personne_morale": NEUTRAL,
            "private_or_unknown": NEUTRAL,
        },
    ),
)
CRITERIA = CRITERIA + LAND_CRITERIA
BY_NAME = {c.name: c for c in CRITERIA}

# Hard exclusions: the parcel is ranked but never proposed; each is named in answers.
EXCLUSIONS = {
    "agricultural_or_natural_zoning": "agricultural or natural zoning (and not a friche)",
    "high_flood_hazard": "half of the parcel or more in a high flood hazard class",
    "risk_plan_interdiction": "half of the parcel or more in a zone where a risk prevention "
    "plan (PPR, PPRT) forbids building",
    "plu_prescription_interdiction": "half of the parcel or more under a PLU prescription "
    "that forbids building (espace boisé classé, emplacement réservé…)",
}
# The same rules in SQL, over a parcel_features row ``f`` (kept beside exclusions()).
EXCLUSIONS_SQL = {
    "agricultural_or_natural_zoning": "coalesce(f.zoning_class IN ('agricultural', 'natural'), "
    "FALSE) AND NOT coalesce(f.on_friche, FALSE)",
    "high_flood_hazard": "coalesce(f.flood_high_share, 0) >= 0.5",
    "risk_plan_interdiction": "coalesce(f.risk_interdiction_share, 0) >= 0.5",
    "plu_prescription_interdiction": "coalesce(f.prescription_exclude_share, 0) >= 0.5",
}
EXCLUDED_SQL = "(" + " OR ".join(f"({rule})" for rule in EXCLUSIONS_SQL.values()) + ")"
NOT_EVALUATED = {
    "nature_reserve": "nature reserves (no layer loaded)",
    "wetland": "wetlands (no layer loaded)",
}


def size_fit_criterion(size_min_ha: float | None, size_max_ha: float | None) -> Criterion:
    """Fit of the area to the requested size: inside +2, near (half below, half above) +0.5,
    else −2."""
    low = size_min_ha or 0.0
    high = size_max_ha
    near_low = low / 2
    bins: list[tuple[float | None, float]] = [(near_low, VERY_NEGATIVE)] if near_low > 0 else []
    if low > 0:
        bins.append((low, NEUTRAL))
    if high is None:
        bins.append((None, VERY_POSITIVE))
    else:
        bins += [(high, VERY_POSITIVE), (high * 1.5, NEUTRAL), (None, VERY_NEGATIVE)]
    return Criterion(
        "size_fit", "area_ha", "fit of the area to the requested size", bins=tuple(bins)
    )


@dataclass(frozen=True)
class Profile:
    id: str
    name: str
    weights: dict[str, float]
    size_min_ha: float | None = None
    size_max_ha: float | None = None
    # below this built share a parcel is underused (geo.land.buildings)
    underused_built_share: float = DEFAULT_UNDERUSED_SHARE
    # weights given with a request: no score is stored for them, a search computes them
    # from the stored criteria (geo.scoring.search)
    custom: bool = False

    def criteria(self) -> list[tuple[Criterion, float]]:
        return list(self._criteria)

    @cached_property
    def _criteria(self) -> tuple[tuple[Criterion, float], ...]:
        # built once a profile: explain() reads them for every parcel of an export
        out = []
        for name, weight in self.weights.items():
            criterion = (
                size_fit_criterion(self.size_min_ha, self.size_max_ha)
                if name == "size_fit"
                else land_use_criterion(self.underused_built_share)
                if name == "land_use"
                else BY_NAME[name]
            )
            out.append((criterion, weight))
        return tuple(out)


def exclusions(features: dict[str, Any]) -> list[str]:
    out = []
    if features.get("zoning_class") in ("agricultural", "natural") and not features.get(
        "on_friche"
    ):
        out.append("agricultural_or_natural_zoning")
    if (features.get("flood_high_share") or 0) >= 0.5:
        out.append("high_flood_hazard")
    if (features.get("risk_interdiction_share") or 0) >= 0.5:
        out.append("risk_plan_interdiction")
    if (features.get("prescription_exclude_share") or 0) >= 0.5:
        out.append("plu_prescription_interdiction")
    return out


def explain(features: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """The score of one parcel with every criterion's value, points and weight."""
    advantages = constraints = known = total = 0.0
    breakdown = []
    for criterion, weight in profile.criteria():
        value = criterion.value_of(features)
        pts = criterion.points(value)
        total += weight
        if pts is not None:
            known += weight
            if pts > 0:
                advantages += weight * pts
            if pts < 0:
                constraints += weight * -pts
            if pts == NEUTRAL:
                constraints += weight * NEUTRAL  # neutral counts on both sides
        breakdown.append(
            {
                "criterion": criterion.name,
                "label": criterion.label,
                "value": _plain(value),
                "points": pts,
                "weight": weight,
                "known": pts is not None,
            }
        )
    index = 100 * advantages / (advantages + constraints) if advantages + constraints else None
    excluded = exclusions(features)
    return {
        "model_version": MODEL_VERSION,
        "profile": profile.id,
        "score": round(index, 2) if index is not None else None,
        "reliability": round(known / total, 4) if total else 0.0,
        "advantages": round(advantages, 4),
        "constraints": round(constraints, 4),
        "excluded": bool(excluded),
        "exclusions": [{"id": e, "label": EXCLUSIONS[e]} for e in excluded],
        "exclusions_not_evaluated": [{"id": k, "label": v} for k, v in NOT_EVALUATED.items()],
        "envelope_impact_ha": _plain(features.get("envelope_impact_ha")),
        "remediation_cost_eur": _plain(features.get("remediation_cost_eur")),
        # the PLU prescriptions over the parcel, named (code, label, effect, document)
        "prescriptions": features.get("prescriptions") or [],
        # the regulatory zones of risk plans (PPR, PPRT) over it, named
        "risk_zones": features.get("risk_zones") or [],
        "criteria": breakdown,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


def column_of(criterion: Criterion, profile: Profile) -> Sql:
    """The criterion's column in ``pts`` (points_lateral), quoted: a profile's id (from its
    TOML file) becomes part of a name."""
    # size_fit depends on the profile's requested size: one column per profile
    return ident(
        f"{criterion.name}__{profile.id.replace('-', '_')}"
        if criterion.name == "size_fit" or criterion.per_profile
        else criterion.name
    )


def points_lateral(profiles: list[Profile], alias: str = "f") -> str:
    """A LATERAL select ``pts`` of every criterion's points, computed once for all profiles
    (OFFSET 0 keeps PostgreSQL from inlining it into every expression that reads it)."""
    columns: dict[Sql, str] = {}
    for profile in profiles:
        for criterion, _ in profile.criteria():
            columns[column_of(criterion, profile)] = criterion.sql(criterion.value_sql(alias))
    return (
        "CROSS JOIN LATERAL (SELECT "
        + ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
        + " OFFSET 0) pts"
    )


def score_expressions(profile: Profile) -> tuple[str, str, str]:
    """For ``profile``, from the ``pts`` columns: a LATERAL of its advantages, constraints
    and known weight, then its score and reliability expressions over that LATERAL."""
    name = ident("s_" + profile.id.replace("-", "_"))
    terms = [(f"pts.{column_of(c, profile)}", w) for c, w in profile.criteria()]
    zero, neutral = _float(0), _float(NEUTRAL)
    adv = " + ".join(f"{_float(w)} * greatest(coalesce({col}, {zero}), {zero})" for col, w in terms)
    cons = " + ".join(
        f"{_float(w)} * (greatest(-coalesce({col}, {zero}), {zero})"
        f" + CASE WHEN {col} = {neutral} THEN {neutral} ELSE {zero} END)"
        for col, w in terms
    )
    known = " + ".join(
        f"CASE WHEN {col} IS NULL THEN {zero} ELSE {_float(w)} END" for col, w in terms
    )
    total = _float(sum(w for _, w in terms))
    lateral = (
        f"CROSS JOIN LATERAL (SELECT {adv} AS adv, {cons} AS cons, {known} AS known OFFSET 0)"
        f" {name}"
    )
    score = f"100 * {name}.adv / nullif({name}.adv + {name}.cons, 0)"
    return lateral, score, f"{name}.known / {total}"


def score_sql(profile: Profile, alias: str = "f") -> tuple[str, str, str]:
    """For one profile: the LATERALs to join, the score and the reliability."""
    lateral, score, reliability = score_expressions(profile)
    return f"{points_lateral([profile], alias)} {lateral}", score, reliability
