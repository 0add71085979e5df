"""What a PLU prescription (CNIG PLU standard, ``TYPEPSC``/``STYPEPSC``) does to a
parcel wanted for industry: ``exclude``, ``penalise`` or ``inform``.

The rule (docs/methode.md, "Prescriptions du PLU"), by the code's legal effect:

- exclude — the plan forbids building or changing the land's use there:
  01 espace boisé classé (Code de l'urbanisme L113-1, L113-2: any change of use that
  compromises the woodland is forbidden, land clearing refused);
  02-01 sector where building is forbidden (R151-31 2°, R151-34 1°: risks, nuisance,
  environment); 05 emplacement réservé (L151-41: reserved for a public work, a
  programme of housing or a green space; anything else is refused, the owner may only
  ask the commune to buy, L152-2); 08 land cultivated or unbuilt to protect in an urban
  zone (L151-23 second paragraph: unbuildable whatever the networks).
- penalise — building allowed under conditions that weigh on an industrial project:
  02 (other sub-codes) special conditions for environmental or risk reasons (R151-31,
  R151-34); 03 reconstruction or demolition rules (L151-10, R151-35); 07 heritage,
  landscape or ecological element to protect (L151-19, L151-23: works need a prior
  declaration, demolition a permit); 19 sector protected for its soil or subsoil
  resources (R151-34 2°).
- inform — everything else (implantation rules, STECAL, OAP, social-mix sectors, car
  parking, "other" 99…): shown, not scored.
"""

from __future__ import annotations

_EXCLUDE = {"01", "05", "08"}
_PENALISE = {"02", "03", "07", "19"}

LABELS = {
    "01": "espace boisé classé",
    "02": "constructibilité limitée (environnement, risques)",
    "03": "reconstruction ou démolition réglementée",
    "04": "stationnement (PDU)",
    "05": "emplacement réservé",
    "07": "patrimoine bâti, paysager ou écologique à protéger",
    "08": "terrain cultivé ou non bâti à protéger en zone urbaine",
    "15": "règles d'implantation",
    "16": "règles de constructibilité en zone A ou N (STECAL…)",
    "17": "mixité sociale ou fonctionnelle",
    "18": "orientation d'aménagement et de programmation",
    "19": "secteur protégé (richesse du sol ou du sous-sol)",
    "99": "autre prescription",
}


def normalise_code(value: object) -> str | None:
    """'1', '01', 1.0 -> '01'; None or '' -> None."""
    if value is None:
        return None
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    if not text:
        return None
    return text.zfill(2)[:2] if text.isdigit() else text[:2]


def prescription_effect(typepsc: str | None, stypepsc: str | None = None) -> str:
    code = normalise_code(typepsc)
    sub = normalise_code(stypepsc)
    if code == "02":
        return "exclude" if sub == "01" else "penalise"
    if code in _EXCLUDE:
        return "exclude"
    if code in _PENALISE:
        return "penalise"
    return "inform"
