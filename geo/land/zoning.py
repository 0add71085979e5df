"""Foncier's zoning classes for PLU zones, the rule the scoring relies on.

Every zone of the Géoportail de l'Urbanisme (``zone_urba``, CNIG PLU standard) gets
one class: ``activity``, ``housing``, ``mixed``, ``agricultural``, ``natural`` or
``other``.

``typezone`` is first brought back to the standard's five values (U, AUc, AUs, A, N) by
:func:`standard_typezone`, because published files carry others: sector labels written
in place of the type (``Nh``, ``Ah``, ``Ap``, ``Ux``, ``1AU``), other cases (``auc``),
``AU`` without its c/s. The rule, first match wins: case ignored; ``AUc``/``AUs`` as
such; ``2AU…`` (a zone opened by a later modification) -> AUs; ``AU``, ``1AU…`` ->
AUc; anything else starting with A -> A, with N -> N, with U -> U; else unknown (None).

Then the class, first match wins:

1. typezone A -> agricultural; N -> natural.
2. ``destdomi``, the zone's dominant destination in the standard: 02 activité ->
   activity; 01 habitat -> housing; 03 mixte habitat/activité -> mixed;
   07 activité agricole -> agricultural; 08 espace naturel -> natural;
   04 loisirs et tourisme, 05 équipement -> other.
3. The zone's label: U or AU (1AU, 2AU, AUc…) followed by X, Y, Z or I (Ux, UYa,
   1AUx, AUi…), the usual naming of economic zones -> activity.
4. Words of the long label: activité, économique, industri-, artisan-, logistique ->
   activity; habitat, résidentiel, logement -> housing.
5. Any other urban (U) or to-be-urbanised (AUc, AUs) zone -> mixed; anything else -> other.
"""

from __future__ import annotations

import re

CLASSES = ("activity", "housing", "mixed", "agricultural", "natural", "other")
STANDARD_TYPEZONES = ("U", "AUc", "AUs", "A", "N")

_DESTDOMI = {
    "01": "housing",
    "02": "activity",
    "03": "mixed",
    "04": "other",
    "05": "other",
    "07": "agricultural",
    "08": "natural",
}
_ACTIVITY_LABEL = re.compile(r"^(?:[0-9]*AU[CS]?|U)[XYZI]", re.IGNORECASE)
_ACTIVITY_WORDS = re.compile(r"activit|économi|economi|industri|artisan|logisti", re.IGNORECASE)
_HOUSING_WORDS = re.compile(r"habitat|résidenti|residenti|logement", re.IGNORECASE)


def standard_typezone(typezone: str | None) -> str | None:
    """The CNIG typezone a published value stands for (see the module docstring)."""
    kind = (typezone or "").strip()
    upper = kind.upper()
    if not upper:
        return None
    if upper in ("AUC", "AUS"):
        return "AUc" if upper == "AUC" else "AUs"
    if re.match(r"^2\s*AU", upper):
        return "AUs"
    if re.match(r"^(?:1\s*)?AU", upper):
        return "AUc"
    if upper[0] in "ANU":
        return upper[0]
    return None


def zoning_class(
    typezone: str | None,
    libelle: str | None,
    destdomi: str | None = None,
    libelong: str | None = None,
) -> str:
    """The zoning class of one PLU zone (see the module docstring for the rule)."""
    kind = standard_typezone(typezone)
    if kind == "A":
        return "agricultural"
    if kind == "N":
        return "natural"
    code = (destdomi or "").strip().zfill(2) if destdomi else ""
    if code in _DESTDOMI:
        return _DESTDOMI[code]
    if _ACTIVITY_LABEL.match((libelle or "").strip()):
        return "activity"
    if libelong and _ACTIVITY_WORDS.search(libelong):
        return "activity"
    if libelong and _HOUSING_WORDS.search(libelong):
        return "housing"
    if kind in ("U", "AUc", "AUs"):
        return "mixed"
    return "other"
