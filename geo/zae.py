"""The vacancy rate of economic zones, as art. L318-8-2 code de l'urbanisme defines it.

A land unit is vacant when it has not been used by an activity liable to the
cotisation foncière des entreprises for at least two years at 1 January. The ZAE
inventory (TERRAIN-ECO) gives each unit's occupation state at its update date;
Foncier keeps every state it was given (``economic_land_unit_state``), so:

- a unit's current run of vacancy starts at the first observation in a state of
  ``VACANT_STATES`` after its last observation in any other state;
- at 1 January of year Y, a unit counts as vacant when its last observation on or
  before that day is a vacant state and its run started on or before 1 January Y-2;
- the rate of a site is its vacant units over its units known on that day.

The start of a run is when the vacancy was first *observed*: a lower bound of its
duration, so a unit is never counted vacant too early.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import Connection, text

# States of the standard's terr_etat_occup meaning "not used by an activity".
VACANT_STATES = ("inoccupé", "vacant", "friche")
VACANCY_YEARS = 2

_RATES = """
WITH known AS (
    SELECT s.terr_id, s.observed_on, s.etat_occup = ANY(CAST(:vacant AS text[])) AS vacant
    FROM economic_land_unit_state s
    WHERE s.observed_on <= :reference
), per_unit AS (
    SELECT terr_id,
           (array_agg(vacant ORDER BY observed_on DESC))[1] AS vacant_now,
           max(observed_on) FILTER (WHERE NOT vacant) AS last_used
    FROM known GROUP BY terr_id
), runs AS (
    SELECT p.terr_id, p.vacant_now,
           (SELECT min(k.observed_on) FROM known k
             WHERE k.terr_id = p.terr_id AND k.vacant
               AND k.observed_on > coalesce(p.last_used, '-infinity'::date)) AS vacant_since
    FROM per_unit p
)
SELECT u.site_id,
       count(*) AS units,
       count(*) FILTER (WHERE r.vacant_now AND r.vacant_since <= :threshold) AS vacant_units
FROM runs r JOIN economic_land_unit u USING (terr_id)
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

    @property
    def rate(self) -> float:
        return self.vacant_units / self.units if self.units else 0.0


def vacancy_rates(
    conn: Connection, reference: datetime.date, site_ids: list[str] | None = None
) -> list[Vacancy]:
    """Vacancy of each site's land units at ``reference``, which must be a 1 January."""
    if (reference.month, reference.day) != (1, 1):
        raise ValueError(f"the legal vacancy is assessed at 1 January, not {reference}")
    threshold = reference.replace(year=reference.year - VACANCY_YEARS)
    rows = conn.execute(
        text(_RATES),
        {
            "vacant": list(VACANT_STATES),
            "reference": reference,
            "threshold": threshold,
            "sites": site_ids,
        },
    ).all()
    return [Vacancy(site, reference, units, vacant) for site, units, vacant in rows]
