"""Regulatory classes of risk-plan zones, the rule the scoring relies on.

CNIG PPR standard, regulatory zoning (``N_ZONE_REG_…``), attribute ``typereg``
(TypeReglementValue, as styled by the standard's own SLD):

    01 prescription hors zone d'aléa   02 prescriptions      03 interdiction
    04 interdiction stricte            05 délaissement possible
    06 expropriation possible

Foncier's classes:

- ``interdiction`` — 03, 04, 05, 06: new building is forbidden (Code de l'environnement
  L562-1 II 1° for natural-risk plans; L515-16 for PPRT, where délaissement and
  expropriation sectors lie in the most exposed zones);
- ``prescription`` — 02: building allowed under the plan's conditions (L562-1 II 2°);
- ``none`` — 01: the "zone blanche" of the plan, outside any hazard zone, where only
  general precautions apply.

Without ``typereg`` (older deliveries, PPRT servitudes): the zone's code by the colours of
the national guidance (rouge R… -> interdiction, bleu B… -> prescription). A PPRT
servitude perimeter (SUP PM3 ``assiette``) with no regulatory zoning is ``prescription``:
the plan's rules apply there, their detail is not in the file.
"""

from __future__ import annotations

import re

CLASSES = ("interdiction", "prescription", "none")

_INTERDICTION_CODES = {"03", "04", "05", "06"}
_RED = re.compile(r"^(?:rouge|r)(?:[^a-z]|$)", re.IGNORECASE)
_BLUE = re.compile(r"^(?:bleu|b)(?:[^a-z]|$)", re.IGNORECASE)


def regulatory_class(typereg: str | None, codezone: str | None = None) -> str | None:
    """The class of one regulatory zone; None when nothing says it."""
    code = (typereg or "").strip()
    if code.endswith(".0"):
        code = code[:-2]
    if code.isdigit():
        code = code.zfill(2)
        if code in _INTERDICTION_CODES:
            return "interdiction"
        if code == "02":
            return "prescription"
        if code == "01":
            return "none"
        return None
    name = (codezone or "").strip()
    if name and _RED.match(name):
        return "interdiction"
    if name and _BLUE.match(name):
        return "prescription"
    return None


def hazard_family(text: str | None) -> str:
    """flood, ground, technological or other, from a hazard code or label."""
    value = (text or "").lower()
    if any(w in value for w in ("inond", "crue", "ruissel", "submersion", "torrent")):
        return "flood"
    if any(w in value for w in ("technolog", "industri", "pprt", "pm3", "toxique", "thermique")):
        return "technological"
    if any(w in value for w in ("mouvement", "glissement", "chute", "effondr", "retrait", "sism")):
        return "ground"
    return "other"
