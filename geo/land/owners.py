"""Who owns a parcel, from the DGFiP "fichier des parcelles des personnes morales".

The file (data.gouv.fr, "Fichiers des locaux et des parcelles des personnes morales",
DGFiP, yearly) lists every parcel right held by a legal entity: its SIREN, its name, the
DGFiP *groupe de personne* (``Groupe personne - par``) and its legal form
(``Forme juridique - par``: the INSEE *catégorie juridique*, 4 digits, with the DGFiP's
abbreviation in ``Forme juridique abrégée - par``). Parcels held by natural persons are not
in it: a parcel absent from the file is "private person or unknown", never guessed further.

Groupe de personne codes (DGFiP notice of the file; Cerema Datafoncier, ``ccogrm``):
0 personnes morales non remarquables, 1 État, 2 région, 3 département, 4 commune,
5 office HLM, 6 personnes morales représentant des sociétés d'économie mixte,
7 copropriétaires, 8 associés, 9 établissements publics ou organismes associés.

Owner group, first match wins (the legal form is more precise than the DGFiP group: the
file files a communauté d'agglomération under 9, a SIVU under 3, a hospital under 0):

1. legal form 71xx (État, ministries, State services) -> ``etat``; 7210 -> ``commune``;
   7220 -> ``departement``; 7230 -> ``region``;
2. legal form 7343 communauté urbaine, 7344 métropole, 7345 SIVOM, 7346 communauté de
   communes, 7347 communauté de villes, 7348 communauté d'agglomération, 7349 other
   local cooperation body, 7353 SIVU -> ``epci`` (intercommunal cooperation bodies);
3. any other legal form 72xx, 73xx, 74xx (public bodies: syndicats mixtes, hospitals,
   SDIS, public housing offices 7371, GIP…) or 41xx (EPIC, which includes the
   établissements publics fonciers, EPF) -> ``etablissement_public``;
4. legal form 5515/5615 (SA d'économie mixte), abbreviation SEM, SEML, SPL, SPLA, or group
   6 -> ``sem``;
5. no legal form: group 1 -> ``etat``, 2 -> ``region``, 3 -> ``departement``,
   4 -> ``commune``, 9 -> ``etablissement_public``;
6. anything else (companies, SCI, associations, HLM companies, co-ownerships) ->
   ``personne_morale``.

Which row names the owner of a parcel: the file has one row per right. Ownership rights
(``Code droit``) P propriétaire, N nu-propriétaire, B bailleur à construction, Z gestion
d'un bien de l'État (the State's land) make the row an owner; management rights (S syndic,
G gérant, R preneur, E emphytéote, U usufruitier…) do not. A parcel whose rows are all
management rights keeps no owner (counted in the report). Among several owner rows, the
first public group in ``GROUPS`` order wins (an indivision with a commune is the commune's
to negotiate).
"""

from __future__ import annotations

GROUPS = (
    "etat",
    "region",
    "departement",
    "commune",
    "epci",
    "etablissement_public",
    "sem",
    "personne_morale",
    "private_or_unknown",
)
LABELS = {
    "etat": "État",
    "region": "région",
    "departement": "département",
    "commune": "commune",
    "epci": "EPCI (intercommunality)",
    "etablissement_public": "public establishment (incl. EPF) or other public body",
    "sem": "SEM / SPL (semi-public company)",
    "personne_morale": "other legal entity",
    "private_or_unknown": "private person or unknown (not in the legal-entity file)",
}
PUBLIC = frozenset(("etat", "region", "departement", "commune", "epci", "etablissement_public"))
OWNER_RIGHTS = frozenset("PNBZ")

_EPCI_FORMS = frozenset(("7343", "7344", "7345", "7346", "7347", "7348", "7349", "7353"))
_SEM_FORMS = frozenset(("5515", "5615"))
_SEM_SHORT = frozenset(("SEM", "SEML", "SPL", "SPLA"))
_BY_GROUP = {
    "1": "etat",
    "2": "region",
    "3": "departement",
    "4": "commune",
    "9": "etablissement_public",
}


def owner_group(group: str | None, legal_form: str | None, legal_form_short: str | None) -> str:
    """The owner group of one row of the file (see the module's rule)."""
    form = (legal_form or "").strip()
    short = (legal_form_short or "").strip().upper()
    code = (group or "").strip()[:1]  # "4 - Commune" -> "4"
    if form.startswith("71"):
        return "etat"
    if form in ("7210", "7220", "7230"):
        return {"7210": "commune", "7220": "departement", "7230": "region"}[form]
    if form in _EPCI_FORMS:
        return "epci"
    if form[:2] in ("72", "73", "74", "41"):
        return "etablissement_public"
    if form in _SEM_FORMS or short in _SEM_SHORT or code == "6":
        return "sem"
    if not form and code in _BY_GROUP:
        return _BY_GROUP[code]
    return "personne_morale"


def is_owner_right(right: str | None) -> bool:
    return bool(right) and right.strip()[:1].upper() in OWNER_RIGHTS  # type: ignore[union-attr]
