"""What runs after an import, the same for ``foncier import``, ``foncier score refresh``
and ``foncier sync``: the touched communes rescored (when asked), then the saved searches
whose territory holds one of them re-run.

The alerts are returned, never pushed from here: the caller pushes them to their webhooks
once the import is committed and it has said them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from geo.crs import departement_of

# many communes of one département are rescored as the département (its other communes'
# scores are recomputed too, from unchanged data) rather than a query round per commune
WHOLE_DEPARTEMENT_FROM = 21


@dataclass
class PostImport:
    """What the steps after an import did."""

    # the communes whose parcels were rescored
    rescored: list[str] = field(default_factory=list)
    # the saved searches' new alerts (each with its search's name and webhook)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    # the saved searches that could not run, each with its reason
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The alerts and the searches not run, one line each."""
        return [
            f"alert: {a['change']} {a['item_id']} in {a['commune_insee']} "
            f"(saved search {a['saved_search_id']} {a['saved_search_name']!r})"
            for a in self.alerts
        ] + [f"saved search not run: {p}" for p in self.problems]


def after_import(
    engine: Engine,
    cause: str,
    *,
    communes: Iterable[str] | None = None,
    departements: Iterable[str] | None = None,
    rescore: bool = False,
    rerun_budget_s: float | None = None,
    echo: Callable[[str], None] = lambda _m: None,
) -> PostImport:
    """The steps after an import that may have changed ``communes`` (else the communes of
    ``departements``; neither: the whole base).

    With ``rescore`` (which needs ``communes``), the parcels of those communes get their
    scores recomputed (a line per commune or département to ``echo``). Then the saved
    searches whose territory holds one of them run again, ``cause`` saying why in their
    alerts; none runs when there is no saved search at all."""
    from geo.scoring.watch import RERUN_TOTAL_BUDGET_S, communes_of, rerun

    done = PostImport()
    touched = None if communes is None else sorted(set(communes))
    if rescore:
        if touched is None:
            raise ValueError("rescoring after an import needs the communes it touched")
        done.rescored = _rescore(engine, touched, echo)
    with engine.connect() as conn:
        if not conn.execute(text("SELECT EXISTS (SELECT 1 FROM saved_search)")).scalar():
            return done
        if touched is None and departements:
            touched = communes_of(conn, departements)
    budget = RERUN_TOTAL_BUDGET_S if rerun_budget_s is None else rerun_budget_s
    done.alerts, done.problems = rerun(engine, touched, cause=cause, budget_s=budget)
    return done


def _rescore(engine: Engine, communes: list[str], echo: Callable[[str], None]) -> list[str]:
    """The scores of ``communes``' parcels recomputed; the communes that have parcels,
    sorted."""
    from geo.scoring.refresh import refresh_scores

    with engine.connect() as conn:
        with_parcels = sorted(
            conn.execute(
                text("SELECT DISTINCT commune_insee FROM parcel WHERE commune_insee = ANY(:c)"),
                {"c": communes},
            ).scalars()
        )
    by_departement: dict[str, list[str]] = defaultdict(list)
    for insee in with_parcels:
        by_departement[departement_of(insee)].append(insee)
    for dep, insees in by_departement.items():
        whole = len(insees) >= WHOLE_DEPARTEMENT_FROM
        for code in [dep] if whole else insees:
            report = (
                refresh_scores(engine, departement=code)
                if whole
                else refresh_scores(engine, commune=code)
            )
            for line in report.lines():
                echo(f"{code}: {line.strip()}")
    return with_parcels
