"""The vacancy rate of economic zones, as art. L318-8-2 code de l'urbanisme defines it.

A land unit is vacant when it is no longer used by an activity liable to the cotisation
foncière des entreprises, for at least two years at 1 January. The ZAE inventory
(CNIG TERRAIN-ECO) gives each unit's occupation state (``terr_etat_occup``) at its update
date (``terr_actu_date``); Foncier keeps every state it was given
(``economic_land_unit_state``). The standard has no field saying since when a unit is
unused (its dates are identification, update and sale), so the start of a vacancy is
read from that history:

- ``vacant`` and ``friche`` are vacancy (a unit that was used and no longer is);
  ``inoccupé`` is vacancy only after the unit was seen used (``occupé``, ``occupation
  transitoire``): a lot never occupied is available stock, not vacancy (counted among the
  units, never among the vacant ones, and reported as stock);
- a run of vacancy observed after an observed use starts at its first observation (a
  known start); a unit vacant from its first observation has been so since at least
  then (an unknown start): it is vacant at 1 January Y when that first observation is on
  or before 1 January Y-2, else its duration is unknown;
- a site's rate is computed when no unit's duration is unknown; otherwise the rate the
  EPCI declared for the site (SITE-ECO ``site_taux_vacance``) is used when there is one,
  else the computed bounds are given (unknown units counted not vacant, then vacant). A
  unit whose last state is ``inconnu`` is of unknown duration too.
  Every rate says which (``basis``), so a single-snapshot inventory no longer shows 0 %
  for two years.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo.errors import Invalid

# States of the standard's terr_etat_occup: vacancy, use, and vacancy only after a use.
VACANT_STATES = ("vacant", "friche")
USED_STATES = ("occupé", "occupation transitoire")
UNUSED_STATES = ("inoccupé",)
VACANCY_YEARS = 2

_RATES = """
WITH known AS (
    SELECT s.terr_id, s.observed_on, s.etat_occup,
           s.etat_occup = ANY(CAST(:used AS text[])) AS used,
           s.etat_occup = ANY(CAST(:vacant AS text[]))
               OR s.etat_occup = ANY(CAST(:unused AS text[])) AS idle,
           s.etat_occup = ANY(CAST(:vacant AS text[])) AS vacant_state
    FROM economic_land_unit_state s
    WHERE s.observed_on <= :reference
), per_unit AS (
    SELECT terr_id,
           (array_agg(idle ORDER BY observed_on DESC))[1] AS idle_now,
           (array_agg(etat_occup = 'inconnu' ORDER BY observed_on DESC))[1] AS unknown_now,
           max(observed_on) FILTER (WHERE used) AS last_used
    FROM known GROUP BY terr_id
), runs AS (
    SELECT p.terr_id, p.idle_now, p.unknown_now, p.last_used,
           (SELECT min(k.observed_on) FROM known k
             WHERE k.terr_id = p.terr_id AND k.idle
               AND k.observed_on > coalesce(p.last_used, '-infinity'::date)) AS idle_since,
           (SELECT bool_or(k.vacant_state) FROM known k
             WHERE k.terr_id = p.terr_id AND k.idle
               AND k.observed_on > coalesce(p.last_used, '-infinity'::date)) AS vacant_state
    FROM per_unit p
), classified AS (
    SELECT terr_id,
           CASE WHEN unknown_now THEN 'unknown'
                WHEN NOT idle_now THEN 'used'
                -- idle, never seen used, never said vacant: a lot still to be taken up
                WHEN last_used IS NULL AND NOT vacant_state THEN 'stock'
                WHEN idle_since <= :threshold THEN 'vacant'
                WHEN last_used IS NOT NULL THEN 'not_yet'
                ELSE 'unknown' END AS state
    FROM runs
)
SELECT u.site_id,
       count(*) AS units,
       count(*) FILTER (WHERE c.state = 'vacant') AS vacant_units,
       count(*) FILTER (WHERE c.state = 'unknown') AS unknown_units,
       count(*) FILTER (WHERE c.state = 'stock') AS stock_units,
       (SELECT e.declared_vacancy_rate FROM economic_site e WHERE e.site_id = u.site_id)
FROM classified c JOIN economic_land_unit u USING (terr_id)
WHERE (CAST(:sites AS text[]) IS NULL OR u.site_id = ANY(CAST(:sites AS text[])))
GROUP BY u.site_id
ORDER BY u.site_id
"""


@dataclass(frozen=True)
class Vacancy:
    site_id: str
    reference: datetime.date
    units: int
    vacant_units: int
    unknown_units: int = 0
    stock_units: int = 0
    declared_rate: float | None = None

    @property
    def basis(self) -> str:
        if not self.unknown_units:
            return "computed"
        return "declared" if self.declared_rate is not None else "bounds"

    @property
    def rate(self) -> float | None:
        """The computed rate, or the EPCI's declared one, or None (see the bounds)."""
        if self.basis == "declared":
            return self.declared_rate
        if self.basis == "bounds" or not self.units:
            return None if self.units else 0.0
        return self.vacant_units / self.units

    @property
    def bounds(self) -> tuple[float, float]:
        if not self.units:
            return (0.0, 0.0)
        return (
            self.vacant_units / self.units,
            (self.vacant_units + self.unknown_units) / self.units,
        )

    def explained(self) -> str:
        low, high = self.bounds
        if self.basis == "computed":
            return "computed from the inventory's occupation history"
        why = f"{self.unknown_units} units vacant since their first observation, < 2 years ago"
        if self.basis == "declared":
            return f"declared by the EPCI (SITE-ECO site_taux_vacance): {why}"
        return f"between {low:.1%} and {high:.1%}: {why}, no declared rate"


def vacancy_rates(
    conn: Connection, reference: datetime.date, site_ids: list[str] | None = None
) -> list[Vacancy]:
    """Vacancy of each site's land units at ``reference``, which must be a 1 January."""
    if (reference.month, reference.day) != (1, 1):
        raise Invalid(f"the legal vacancy is assessed at 1 January, not {reference}")
    threshold = reference.replace(year=reference.year - VACANCY_YEARS)
    rows = conn.execute(
        text(_RATES),
        {
            "vacant": list(VACANT_STATES),
            "used": list(USED_STATES),
            "unused": list(UNUSED_STATES),
            "reference": reference,
            "threshold": threshold,
            "sites": site_ids,
        },
    ).all()
    return [
        Vacancy(site, reference, units, vacant, unknown, stock, declared)
        for site, units, vacant, unknown, stock, declared in rows
    ]
