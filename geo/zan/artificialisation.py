"""Net artificialisation measured on IGN's OCS GE: the unit of the ZAN from 2031.

Loi n° 2021-1104 art. 192 (code de l'urbanisme L101-2-1) defines an artificialised surface;
the décret n° 2023-1096 du 27 novembre 2023 (nomenclature annexed to art. R101-1) sorts
surfaces into artificialised and non-artificialised categories, and the net
artificialisation of a period is the artificialised surfaces less the renaturalised
(désartificialisées) ones. OCS GE describes each polygon by its couverture (CS) and usage
(US) codes; its "artificialisation" product adds each polygon's class (``artif``:
``artif`` / ``non artif``), which is what Foncier uses when a delivery carries it.

Where a delivery has only the CS and US codes, ``classify`` applies the nomenclature's
categories as read (efl.fr, annalesdesloyers.fr, rapport du 120e congrès des notaires):

- artificialised: built or paved surfaces (CS1.1.1.x), stabilised or mineral (CS1.1.2.1)
  and composite (CS1.1.2.2) surfaces; herbaceous surfaces (CS2.2.1) used for housing,
  secondary or tertiary production or infrastructure (US2, US235, US3, US4.x, US5),
  including building sites (US6.1) and abandoned land (US6.2);
- non-artificialised: natural bare or water surfaces (CS1.2.x), mineral surfaces of
  extraction in operation (CS1.1.2.1 with US1.3), woody vegetation (CS2.1.x, in towns
  too), herbaceous surfaces used for farming or forestry or without use, other
  vegetation (CS2.2.2).

The matrix is an approximation: the nomenclature's reference thresholds (``crit_seuil``
in IGN's product), public parks and gardens, and photovoltaic installations on vegetated
land cannot be told from the two codes, and are not applied. An answer says which
classification its figures come from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from geo.errors import Invalid, NotFound
from geo.zan.rulesets import get_ruleset
from geo.zan.targets import ZAN_LEVELS

# IGN's artif values (as MTES-MCT/sparte reads them: 'artif' true, 'non artif' false)
IGN_ARTIF = {"artif": True, "non artif": False}
CLASSIFICATIONS = {
    "ign-artif": "champ artif de la livraison IGN (produit OCS GE artificialisation)",
    "cs-us-matrix": "matrice couverture × usage de Foncier (approchée : seuils de référence, "
    "parcs et jardins publics et photovoltaïque non appliqués)",
}
RULESET = "zan-2031-2041"

_SEALED_OR_MINERAL = ("1.1.1.1", "1.1.1.2", "1.1.2.1", "1.1.2.2")
_URBAN_USES = ("2", "235", "3", "4", "5", "6.1", "6.2")  # 4 covers 4.1.x, 4.2, 4.3
_CODE = re.compile(r"^(?:CS|US)?\s*([0-9]+(?:\.[0-9]+)*)$", re.IGNORECASE)


def code_of(value: str | None) -> str | None:
    """An OCS GE code without its CS/US prefix (``CS1.1.1.1`` -> ``1.1.1.1``), or None."""
    match = _CODE.match((value or "").strip())
    return match.group(1) if match else None


def _within(code: str, prefixes: tuple[str, ...]) -> bool:
    return any(code == p or code.startswith(p + ".") for p in prefixes)


def classify(code_cs: str, code_us: str) -> bool:
    """Whether a polygon of couverture ``code_cs`` and usage ``code_us`` is artificialised
    under the décret n° 2023-1096 nomenclature, as far as the two codes tell (see the
    module docstring for what they cannot)."""
    cs, us = code_of(code_cs), code_of(code_us)
    if cs is None or us is None:
        raise Invalid(f"not an OCS GE code pair: {code_cs!r}, {code_us!r}")
    if _within(cs, _SEALED_OR_MINERAL):
        # extraction in operation: "surfaces naturelles nues", not artificialised
        return not (cs == "1.1.2.1" and _within(us, ("1.3",)))
    if _within(cs, ("2.2.1",)):
        return _within(us, _URBAN_USES)
    return False


@dataclass
class Period:
    first: int
    last: int
    artificialised_m2: float = 0.0
    renaturalised_m2: float = 0.0
    artificial_first_m2: float = 0.0
    artificial_last_m2: float = 0.0
    communes: list[str] = field(default_factory=list)
    classifications: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        ha = 1e-4
        return {
            "from": self.first,
            "to": self.last,
            "artificialised_ha": round(self.artificialised_m2 * ha, 4),
            "renaturalised_ha": round(self.renaturalised_m2 * ha, 4),
            "net_artificialisation_ha": round(
                (self.artificialised_m2 - self.renaturalised_m2) * ha, 4
            ),
            "artificial_ha": {
                str(self.first): round(self.artificial_first_m2 * ha, 4),
                str(self.last): round(self.artificial_last_m2 * ha, 4),
            },
            "communes": len(self.communes),
            "classification": sorted(self.classifications),
        }


# Per commune of :insees, between the millésimes :first and :last of département :dep:
# the surfaces whose class changed (new polygon ∩ old polygon ∩ commune), and each
# millésime's artificial surface and coverage of the commune.
_FLOWS = """
SELECT c.insee,
       coalesce(sum(ST_Area(ST_Intersection(ST_Intersection(n.geom, o.geom), c.geom)))
                FILTER (WHERE n.artificial), 0) AS artificialised_m2,
       coalesce(sum(ST_Area(ST_Intersection(ST_Intersection(n.geom, o.geom), c.geom)))
                FILTER (WHERE NOT n.artificial), 0) AS renaturalised_m2
FROM commune c
JOIN ocsge_polygon n
  ON n.departement_code = :dep AND n.millesime = :last AND n.geom && c.geom
JOIN ocsge_polygon o
  ON o.departement_code = :dep AND o.millesime = :first AND o.geom && n.geom
 AND o.artificial <> n.artificial
WHERE c.insee = ANY(:insees)
GROUP BY c.insee
"""
_STOCK = """
SELECT c.insee,
       sum(ST_Area(ST_Intersection(p.geom, c.geom))) / nullif(ST_Area(c.geom), 0) AS coverage,
       coalesce(sum(ST_Area(ST_Intersection(p.geom, c.geom))) FILTER (WHERE p.artificial), 0)
         AS artificial_m2
FROM commune c
JOIN ocsge_polygon p
  ON p.departement_code = :dep AND p.millesime = :millesime AND p.geom && c.geom
WHERE c.insee = ANY(:insees)
GROUP BY c.insee, c.geom
"""
# A commune counts as measured when both millésimes cover this share of its outline: the
# delivery is clipped to the département, the outline may be of another vintage.
MIN_COVERAGE = 0.95


def _pairs(millesimes: list[int], first: int | None, last: int | None) -> list[tuple[int, int]]:
    if first is not None or last is not None:
        if first is None or last is None or first >= last:
            raise Invalid("give both millésimes, from before to")
        return [(first, last)] if {first, last} <= set(millesimes) else []
    return list(zip(millesimes, millesimes[1:], strict=False))


def net_artificialisation(
    conn: Connection,
    level: str,
    code: str,
    first: int | None = None,
    last: int | None = None,
) -> dict[str, Any]:
    """A territory's net artificialisation (artificialised − renaturalised surfaces) per
    period between two OCS GE millésimes of its communes' départements: each pair of
    consecutive millésimes, or ``first`` to ``last``. No 2031-2041 target is loaded, and
    the answer says so."""
    if level not in ZAN_LEVELS:
        raise Invalid(f"level must be one of {', '.join(ZAN_LEVELS)}")
    name = conn.execute(text(ZAN_LEVELS[level].name_sql()), {"code": code}).scalar_one_or_none()
    if name is None:
        raise NotFound(f"no {level} {code}")
    communes = conn.execute(
        text(
            f"SELECT c.insee, c.departement_code, c.geom IS NOT NULL AS outlined "
            f"FROM commune c WHERE {ZAN_LEVELS[level].members} ORDER BY c.insee"
        ),
        {"code": code},
    ).all()
    deliveries: dict[str, dict[int, str]] = {}
    synthetic = False
    for dep, millesime, classification, made_up in conn.execute(
        text(
            "SELECT d.departement_code, d.millesime, d.classification, EXISTS (SELECT 1 "
            "FROM import_run r WHERE r.kind = 'ocsge' AND r.synthetic AND (r.source = d.source "
            "OR right(r.source, length(d.source) + 1) = '/' || d.source)) FROM ocsge_delivery d "
            "WHERE d.departement_code = ANY(:deps) ORDER BY d.millesime"
        ),
        {"deps": sorted({c.departement_code for c in communes})},
    ):
        deliveries.setdefault(dep, {})[millesime] = classification
        synthetic |= made_up
    periods: dict[tuple[int, int], Period] = {}
    not_measured: dict[str, str] = {}
    by_dep: dict[str, list[str]] = {}
    for c in communes:
        if not c.outlined:
            not_measured[c.insee] = "no commune outline loaded"
        elif len(deliveries.get(c.departement_code, {})) < 2:
            not_measured[c.insee] = "fewer than two OCS GE millésimes imported"
        else:
            by_dep.setdefault(c.departement_code, []).append(c.insee)
    for dep, insees in by_dep.items():
        millesimes = deliveries[dep]
        pairs = _pairs(sorted(millesimes), first, last)
        if not pairs:
            for insee in insees:
                not_measured[insee] = "millésimes asked for not imported"
            continue
        for pair in pairs:
            _measure(conn, dep, insees, pair, millesimes, periods, not_measured)
    ruleset = get_ruleset(RULESET, kind="zan")
    return {
        "territory": {"level": level, "code": code, "name": name},
        "unit": "net_artificialisation",
        "ruleset": ruleset.summary(),
        "target": None,
        "target_note": "aucun objectif 2031-2041 chargé : les SRADDET modifiés puis les SCoT "
        "et PLU(i) le fixent ; la mesure est montrée sans objectif",
        "source": "IGN, OCS GE (produit artificialisation), livraisons importées",
        # a delivery of the territory's départements is made-up demonstration data
        "synthetic": synthetic,
        "classifications": {k: v for k, v in CLASSIFICATIONS.items()},
        "periods": [periods[k].as_dict() for k in sorted(periods)],
        "communes": len(communes),
        "communes_not_measured": [
            {"insee": insee, "reason": reason} for insee, reason in sorted(not_measured.items())
        ],
    }


def _measure(
    conn: Connection,
    dep: str,
    insees: list[str],
    pair: tuple[int, int],
    millesimes: dict[int, str],
    periods: dict[tuple[int, int], Period],
    not_measured: dict[str, str],
) -> None:
    first, last = pair
    params = {"dep": dep, "insees": insees}
    stocks = {
        m: {r.insee: r for r in conn.execute(text(_STOCK), {**params, "millesime": m})}
        for m in pair
    }
    flows = {
        r.insee: r for r in conn.execute(text(_FLOWS), {**params, "first": first, "last": last})
    }
    period = periods.setdefault(pair, Period(first, last))
    for insee in insees:
        before, after = (stocks[m].get(insee) for m in pair)
        if (
            before is None
            or after is None
            or min(before.coverage or 0, after.coverage or 0) < MIN_COVERAGE
        ):
            not_measured[insee] = (
                f"OCS GE {first} and {last} cover less than {MIN_COVERAGE:.0%} of its outline"
            )
            continue
        flow = flows.get(insee)
        period.artificialised_m2 += flow.artificialised_m2 if flow else 0.0
        period.renaturalised_m2 += flow.renaturalised_m2 if flow else 0.0
        period.artificial_first_m2 += before.artificial_m2
        period.artificial_last_m2 += after.artificial_m2
        period.communes.append(insee)
        period.classifications.update(millesimes[m] for m in pair)
