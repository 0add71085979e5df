"""Why a search found nothing: which communes of its territory have no parcel scored, which
layers are absent where parcels are, and which filter removed what.

Asked only when a search's first page is empty, so its cost (one aggregate over the
territory's scored parcels, one count per filter given, up to COUNT_UP_TO) is paid when the
answer would otherwise say nothing; a search of all France without result gets no count.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Connection, text

from geo.scoring.profiles import Profile
from geo.scoring.search import Filters, count_parcels

# The layers a criterion or a filter reads, each as (French label, its per-parcel column in
# parcel_features: NULL where the layer does not cover the parcel).
LAYERS: dict[str, tuple[str, str]] = {
    "buildings": ("bâtiments", "built_share"),
    "plu": ("zonage du PLU", "zoning_class"),
    "risks": ("plans de prévention des risques", "risk_regulation"),
    "owners": ("propriétaires (personnes morales)", "owner_group"),
    "friches": ("friches", "on_friche"),
}
# The filters (Filters fields) a search may drop to find parcels, their French label, and
# the layer each needs (None: none).
FILTERS: dict[str, tuple[str, str | None]] = {
    "min_area_ha": ("surface minimale", None),
    "max_area_ha": ("surface maximale", None),
    "zoning": ("zonage", "plu"),
    "exclude_zoning": ("zonage exclu", "plu"),
    "on_friche": ("friche", "friches"),
    "min_score": ("score minimal", None),
    "max_built_share": ("part bâtie maximale", "buildings"),
    "land_use": ("occupation du sol", "buildings"),
    "owner": ("propriétaire", "owners"),
    "exclude_risk": ("zones de risque exclues", "risks"),
    "land_cover": ("espace NAF ou artificialisé", None),
}
# at most this many communes named in each list (their count is always given)
LISTED = 50
# each filter's "without it" count stops there
COUNT_UP_TO = 1000


def why_empty(conn: Connection, profile: Profile, filters: Filters) -> dict[str, Any]:
    """The explanation of an empty search (``why_empty`` in /parcels/search and
    /sites/search): its territory's communes without scored parcels, the layers absent
    from those with parcels, what each filter given removed, and a French ``message``."""
    out: dict[str, Any] = {}
    territory = _territory(filters)
    if territory is None:
        # a count of all France without one filter may read every parcel: not done
        out["filters"] = []
        out["message"] = (
            "Aucun résultat sur toute la France : choisissez un territoire pour savoir "
            "quelles communes et quelles couches y manquent."
        )
        return out
    where, params = territory
    out |= _coverage(conn, where, params)
    out["filters"] = _filters(conn, profile, filters)
    out["message"] = _message(out)
    return out


def _territory(filters: Filters) -> tuple[str, dict[str, Any]] | None:
    """The search's territory as a condition on ``commune c``; None: all of France."""
    clauses, params = filters.territory_sql("c", "insee", "c.geom")
    return (" AND ".join(clauses), params) if clauses else None


def _coverage(conn: Connection, where: str, params: dict[str, Any]) -> dict[str, Any]:
    counts = ", ".join(f"count(f.{column}) AS {layer}" for layer, (_, column) in LAYERS.items())
    rows = (
        conn.execute(
            text(
                f"""SELECT c.insee, c.name, count(f.parcel_id) AS parcels, {counts}
                    FROM commune c
                    LEFT JOIN parcel_features f ON f.commune_insee = c.insee
                         AND f.departement_code = c.departement_code
                    WHERE {where}
                    GROUP BY c.insee, c.name ORDER BY c.insee"""
            ),
            params,
        )
        .mappings()
        .all()
    )
    without = [r for r in rows if not r["parcels"]]
    loaded = [r for r in rows if r["parcels"]]
    absent = []
    for layer, (label, _) in LAYERS.items():
        missing = [r for r in loaded if not r[layer]]
        if missing:
            absent.append(
                {
                    "layer": layer,
                    "label": label,
                    "communes_count": len(missing),
                    "communes": [_named(r) for r in missing[:LISTED]],
                }
            )
    return {
        "communes_count": len(rows),
        "communes_with_parcels_count": len(loaded),
        "communes_without_parcels_count": len(without),
        "communes_without_parcels": [_named(r) for r in without[:LISTED]],
        "layers_absent": absent,
    }


def _named(row: Any) -> dict[str, str]:
    return {"insee": row["insee"], "name": row["name"]}


def _filters(conn: Connection, profile: Profile, filters: Filters) -> list[dict[str, Any]]:
    """For each filter given, how many parcels the search finds without it (up to
    COUNT_UP_TO): the filters that emptied the search are those whose count is not 0."""
    out = []
    defaults = Filters()
    for name, (label, layer) in FILTERS.items():
        if getattr(filters, name) == getattr(defaults, name):
            continue
        matched = count_parcels(
            conn,
            profile,
            dataclasses.replace(filters, **{name: getattr(defaults, name)}),
            up_to=COUNT_UP_TO,
        )
        out.append(
            {
                "filter": name,
                "label": label,
                "layer": layer,
                "without_it": matched.count,
                "without_it_exact": matched.exact,
            }
        )
    if not filters.include_excluded:
        # the parcels a hard rule excludes (N/A zoning, risk plan interdiction…) are hidden
        matched = count_parcels(
            conn, profile, dataclasses.replace(filters, include_excluded=True), up_to=COUNT_UP_TO
        )
        out.append(
            {
                "filter": "include_excluded",
                "label": "parcelles exclues par une règle (montrez-les avec include_excluded)",
                "layer": None,
                "without_it": matched.count,
                "without_it_exact": matched.exact,
            }
        )
    return out


def _message(why: dict[str, Any]) -> str:
    """The explanation in one French paragraph."""
    parts = ["Aucun résultat."]
    if "communes_count" in why:
        total, loaded = why["communes_count"], why["communes_with_parcels_count"]
        if total == 0:
            parts.append("Le territoire demandé ne compte aucune commune connue.")
        elif loaded == 0:
            parts.append(
                "La commune n'a aucune parcelle chargée."
                if total == 1
                else f"Aucune des {total} communes du territoire n'a de parcelles chargées."
            )
        elif loaded < total:
            verb = "a" if loaded == 1 else "ont"
            parts.append(f"{_communes(loaded)} sur {total} {verb} des parcelles chargées.")
        for layer in why["layers_absent"]:
            n = layer["communes_count"]
            if n == loaded:
                where = (
                    "de la seule commune qui a des parcelles"
                    if loaded == 1
                    else "de toutes les communes qui ont des parcelles"
                )
            else:
                where = f"de {_communes(n).lower()} sur les {loaded} qui ont des parcelles"
            parts.append(f"Couche {layer['label']} absente {where}.")
    for f in why["filters"]:
        if f["without_it"]:
            found = _number(f["without_it"])
            count = found if f["without_it_exact"] else f"au moins {found}"
            parts.append(f"Sans le filtre « {f['label']} » : {count} parcelle(s).")
    return " ".join(parts)


def _communes(n: int) -> str:
    return f"{_number(n)} commune{'s' if n > 1 else ''}"


def _number(n: int) -> str:
    # French digit groups, with a narrow no-break space
    return f"{n:,}".replace(",", "\u202f")
