"""Projects of national or European interest (PENE): the list of annex I of the arrêté of
31 May 2024, its hectares by commune, and their place in the PENE envelope's ledger.

PENE consumption is counted nationally (loi 2023-630 art. 3): it is deducted from the
communes it lies in (geo.zan.figures) and drawn on the 12,500 ha forfait. Loading the
list opens the forfait's ledger with each listed project as a ``listed`` entry holding its
listed hectares (dated the arrêté's day, the list file named as its source), so the
envelope's balance is what remains of the forfait, not the forfait. Being listed is not
being authorised: a listed project is never recorded as authorised by the import.

The listed hectares are a forecast for the decade, not a consumption: what a PENE actually
consumed, where and when, is a separate import (``pene_consumption``) and is what ZAN
trajectories deduct (geo.zan.figures).

The ledger is append-only: a re-import keeps the projects already declared, books a
correction where a project's hectares changed and abandons a project no longer listed.
The list carries no outlines, so a declared PENE's geometry is empty (its hectares are the
arrêté's, not computed).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, text

from geo.errors import Conflict
from geo.ingest.errors import LoaderError
from geo.ledger.write import (
    Placement,
    change_status,
    correct,
    lock_envelope,
    lock_project,
    record_listed_project,
)
from geo.zan.rulesets import RuleSet, get_ruleset

PENE_RULESET = "pene-2021-2031"
ARRETE_DATE = datetime.date(2024, 5, 31)
AUTHOR = "import: liste des PENE"


def declare_pene_projects(
    conn: Connection, rows: list[dict[str, Any]], source: str
) -> dict[str, int]:
    """Replace the PENE list by ``rows`` (pene_id, name, insee, ha) and bring the PENE
    envelope's ledger in line with it. Returns counts by what was written."""
    ruleset = get_ruleset(PENE_RULESET, kind="envelope")
    assert ruleset.envelope is not None
    # the ledger's own lock: writers of this envelope are served one after the other
    lock_envelope(conn, PENE_RULESET)
    previous: dict[str, int] = dict(
        conn.execute(
            text(
                "SELECT DISTINCT pene_id, project_id FROM pene_project WHERE project_id IS NOT NULL"
            )
        ).all()
    )
    projects: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        projects[row["id"]].append(row)
    listed = sum(r["ha"] for r in rows)
    if listed > ruleset.envelope.total_ha + 1e-9:
        raise LoaderError(
            f"the list declares {listed:.2f} ha, more than the forfait's "
            f"{ruleset.envelope.total_ha:g} ha"
        )
    counts = {"declared": 0, "corrected": 0, "abandoned": 0, "unchanged": 0}
    ids: dict[str, int] = {}
    for pene_id, parts in projects.items():
        hectares = sum(p["ha"] for p in parts)
        if pene_id in previous:
            ids[pene_id] = previous[pene_id]
            declared = lock_project(conn, previous[pene_id])
            held = float(declared.reserved_ha)
            if abs(held - hectares) > 1e-9:
                correct(
                    conn, declared, hectares - held, ruleset=ruleset, author=AUTHOR,
                    reason=f"liste des PENE mise à jour ({source}): {held:g} → {hectares:g} ha",
                )  # fmt: skip
                counts["corrected"] += 1
            else:
                counts["unchanged"] += 1
            continue
        try:
            ids[pene_id] = _declare(conn, ruleset, pene_id, parts, hectares, source)
        except Conflict as exc:  # already drawn on the industrial envelope
            raise LoaderError(f"PENE {pene_id}: {exc}") from exc
        counts["declared"] += 1
    for pene_id, project_id in previous.items():
        if pene_id in projects:
            continue
        withdrawn = lock_project(conn, project_id)
        if withdrawn.status != "abandoned":
            change_status(
                conn, withdrawn, "abandoned", ruleset=ruleset, author=AUTHOR,
                reason=f"retiré de la liste des PENE ({source})",
            )  # fmt: skip
            counts["abandoned"] += 1
    conn.execute(text("DELETE FROM pene_project"))
    conn.execute(
        text(
            """INSERT INTO pene_project (pene_id, commune_insee, name, hectares, source,
                                         project_id)
               VALUES (:id, :insee, :name, :ha, :source, :project)"""
        ),
        [{**r, "source": source, "project": ids[r["id"]]} for r in rows],
    )
    return counts


def _declare(
    conn: Connection,
    ruleset: RuleSet,
    pene_id: str,
    parts: list[dict[str, Any]],
    hectares: float,
    source: str,
) -> int:
    """A listed project recorded, its listed hectares earmarked on the arrêté's day."""
    communes = [p["insee"] for p in parts]
    located = conn.execute(
        text(
            """SELECT c.insee, coalesce(c.epci_siren, parent.epci_siren),
                      c.departement_code, c.region_code
               FROM commune c LEFT JOIN commune parent ON parent.insee = c.parent_insee
               WHERE c.insee = ANY(:c) ORDER BY coalesce(c.epci_siren, parent.epci_siren)
               IS NULL, array_position(CAST(:c AS text[]), CAST(c.insee AS text))"""
        ),
        {"c": communes},
    ).first()
    if located is None or located[1] is None:
        raise LoaderError(f"PENE {pene_id}: none of its communes belongs to an EPCI")
    reason = f"arrêté du 31 mai 2024, annexe I: projet listé ({source})"
    return int(
        record_listed_project(
            conn,
            name=f"{parts[0]['name']} (PENE {pene_id})",
            ruleset=ruleset,
            location=Placement(located[0], located[1], located[2], located[3], communes),
            hectares=hectares,
            computation={
                "rule": "hectares listed for the project in annex I of the arrêté of 31 May "
                "2024 (no outline: not computed from a geometry); a forecast, not a "
                "consumption",
                "source": source,
                "pene_id": pene_id,
            },
            author=AUTHOR,
            occurred_on=ARRETE_DATE,
            reason=reason,
            pene_id=pene_id,
        )["id"]
    )
