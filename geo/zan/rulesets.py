"""Rule sets: the ZAN trajectory and the national envelopes as versioned data.

Each rule set is a TOML file in ``geo/zan/rules/`` (or ``FONCIER_RULES_DIR``), validated on
load: a legal status (law / decree / proposal), effective dates and parameters. A
what-if variant ``extends`` another rule set and overrides some parameters. Nothing
here is a constant buried in code: the answer of every computation names the rule
set it used.
"""

from __future__ import annotations

import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from geo.errors import Invalid
from geo.registry import ID_PATTERN, read_registry

RULES_DIR = Path(__file__).parent / "rules"


class RuleSetError(Invalid):
    """A rule set file is missing, malformed or inconsistent."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionalTarget(_Strict):
    """A région's reduction target for the decade, with where it comes from."""

    name: str
    # None: the région is not bound by the intermediate target (Corsica, overseas): its own
    # document (PADDUC, SAR) sets its trajectory; the national figure is then only shown.
    reduction: float | None = Field(default=None, ge=0, le=1)
    document: str
    legal_status: Literal[
        "sraddet-adopted", "arrete-minimum", "law-default", "own-document-not-loaded"
    ]
    source: str
    date: datetime.date | None = None
    url: str | None = None
    # What is known of the région's modified SRADDET when its figure is not loaded (adopted
    # on such a day per such a page, figure not read), stated in every answer.
    sraddet_note: str | None = None

    @property
    def figure(self) -> str:
        """What the figure is, in the words an answer uses: the minimum of the arrêté is
        never presented as the région's own target."""
        return REGIONAL_FIGURES[self.legal_status]


REGIONAL_FIGURES = {
    "sraddet-adopted": "objectif du SRADDET modifié adopté",
    "arrete-minimum": "minimum de l'arrêté, SRADDET adopté non chargé",
    "law-default": "objectif national par défaut (document régional non chargé)",
    "own-document-not-loaded": "chiffre national indicatif, document propre non chargé",
}


class ZanRules(_Strict):
    # What is measured: consumption of NAF land (Cerema flows) for 2021-2031; net
    # artificialisation (OCS GE, décret 2023-1096 nomenclature) from 2031.
    unit: Literal["naf_consumption", "net_artificialisation"] = "naf_consumption"
    reference_first_year: int
    reference_last_year: int
    period_first_year: int
    period_last_year: int
    # the national target; None where no text sets one (2031-2041: the regional plans do)
    reduction: float | None = Field(default=None, ge=0, le=1)
    reduction_source: str = "loi n° 2021-1104 art. 191 (réduction de moitié)"
    garantie_communale_ha: float = Field(ge=0)
    # Loi 2023-630: only communes covered by a PLU, a document en tenant lieu or a carte
    # communale prescribed, arrêté or approved before this day get the floor.
    garantie_document_deadline: datetime.date = datetime.date(2026, 8, 22)
    # What a commune whose planning document is not known is assumed to have.
    garantie_when_unknown: bool = True
    communal_tolerance: float = Field(ge=0)
    industrial_weight: float = Field(ge=0)
    commercial_weight: float = Field(ge=0)
    regions: dict[str, RegionalTarget] = Field(default_factory=dict)
    # Use the territorialised targets imported into the database (geo.zan_data).
    territorial_targets: bool = True
    # National envelopes whose projects also count against local trajectories: none once
    # an envelope is in force (it exists so that they do not); while it is not, current law
    # counts its projects locally.
    envelopes_counted_locally: list[str] = Field(default_factory=list)
    # Why the garantie communale has the value it has in this rule set (a what-if on another
    # window than the first decade must say what it does with it).
    garantie_note: str | None = None

    @property
    def national_reduction(self) -> float:
        if self.reduction is None:
            raise RuleSetError("this rule set has no national target (no text sets one)")
        return self.reduction

    @model_validator(mode="after")
    def _years(self) -> ZanRules:
        if self.unit == "naf_consumption" and self.reduction is None:
            raise ValueError("a consumption rule set states its national target (reduction)")
        if self.reference_first_year > self.reference_last_year:
            raise ValueError("reference_first_year is after reference_last_year")
        if self.period_first_year > self.period_last_year:
            raise ValueError("period_first_year is after period_last_year")
        if self.reference_last_year >= self.period_first_year:
            raise ValueError("the reference must end before the period starts")
        return self

    @property
    def period_years(self) -> int:
        return self.period_last_year - self.period_first_year + 1

    @property
    def reference_years(self) -> int:
        return self.reference_last_year - self.reference_first_year + 1

    @property
    def window_factor(self) -> float:
        """The allowance is the reference's annual average over the period's years: a
        13-year window (the −50 % milestone moved to 2034) allows 13 years' worth."""
        return self.period_years / self.reference_years


class EnvelopeShare(_Strict):
    """A part of an envelope reserved to a group of régions (the PENE forfait's split)."""

    total_ha: float = Field(gt=0)
    regions: list[str]
    source: str


class EnvelopeRules(_Strict):
    total_ha: float = Field(gt=0)
    first_year: int
    last_year: int
    # No entry may be dated before this day (the text's start, or at the earliest the day
    # the measure was made public); None: the first year's 1 January.
    opens_on: datetime.date | None = None
    # The project kinds the text lets draw on the envelope; None: any kind.
    eligible_kinds: list[Literal["industrial", "commercial", "logistics", "other"]] | None = None
    # Envelopes a project may not also draw on (a project never draws on both the PENE
    # forfait and the industrial envelope).
    exclusive_with: list[str] = Field(default_factory=list)
    allow_overdraft: bool = False
    counts_against_local_trajectories: bool = True
    shares: dict[str, EnvelopeShare] = Field(default_factory=dict)

    @property
    def first_day(self) -> datetime.date:
        return self.opens_on or datetime.date(self.first_year, 1, 1)

    @model_validator(mode="after")
    def _shares(self) -> EnvelopeRules:
        shared = sum(s.total_ha for s in self.shares.values())
        if self.shares and abs(shared - self.total_ha) > 1e-6:
            raise ValueError("the shares of an envelope must add up to its total")
        if self.opens_on is not None and not (
            self.first_year <= self.opens_on.year <= self.last_year
        ):
            raise ValueError("opens_on must lie within the envelope's years")
        return self


# law: promulgated; decree: a regulatory text (décret, arrêté) in force; bill: a provision
# of a projet or proposition de loi voted by at least one chamber, not promulgated (not in
# force); proposal: a what-if that no text has adopted.
LEGAL_STATUSES = ("law", "decree", "bill", "proposal")


class RuleSet(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    legal_status: Literal["law", "decree", "bill", "proposal"]
    legal_basis: str
    # the day the legal status was last read in a source (what "as of" the answer is)
    status_as_of: datetime.date
    # whether the text applies today: a bill or a proposal never does
    in_force: bool
    # what could not be verified about the text, said in every answer
    unverified: list[str] = Field(default_factory=list)
    # the day the rule set applies from, when a text sets it (None: no text in force does)
    effective_from: datetime.date | None = None
    effective_to: datetime.date | None = None
    # The texts and data each figure rests on (the same as docs/methode.md cites).
    sources: list[str] = Field(default_factory=list)
    default: bool = False
    extends: str | None = None
    zan: ZanRules | None = None
    envelope: EnvelopeRules | None = None

    @model_validator(mode="after")
    def _status(self) -> RuleSet:
        if self.in_force and self.legal_status in ("bill", "proposal"):
            raise ValueError(f"a {self.legal_status} is not in force")
        if self.in_force and self.effective_from is None:
            raise ValueError("a rule set in force says since when (effective_from)")
        return self

    def summary(self) -> dict[str, object]:
        """What every answer states about the rules it used."""
        stated = {
            "id", "name", "legal_status", "legal_basis", "status_as_of", "in_force",
            "unverified", "effective_from", "sources",
        }  # fmt: skip
        return {
            **self.model_dump(mode="json", include=stated),
            **(
                {
                    "envelope_shares": {
                        name: {
                            "total_ha": share.total_ha,
                            "regions": share.regions,
                            "source": share.source,
                        }
                        for name, share in self.envelope.shares.items()
                    }
                }
                if self.envelope is not None and self.envelope.shares
                else {}
            ),
        }


_OWN_STANDING = {
    "default", "in_force", "status_as_of", "unverified", "effective_from", "effective_to",
}  # fmt: skip


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@lru_cache
def load_rulesets(directory: Path = RULES_DIR) -> dict[str, RuleSet]:
    """Every rule set of ``directory``, validated; raises RuleSetError on the first problem."""
    raw = read_registry(directory, RuleSetError)
    resolved: dict[str, RuleSet] = {}

    def resolve(rule_id: str, seen: tuple[str, ...] = ()) -> dict:
        if rule_id in seen:
            raise RuleSetError(f"{rule_id}: 'extends' makes a cycle ({' → '.join(seen)})")
        if rule_id not in raw:
            raise RuleSetError(f"unknown rule set {rule_id!r} in 'extends'")
        data = raw[rule_id]
        parent = data.get("extends")
        if parent is None:
            return data
        # a variant states its own legal standing: only the parameters are inherited
        base = {
            k: v for k, v in resolve(parent, (*seen, rule_id)).items() if k not in _OWN_STANDING
        }
        return _merge(base, data)

    for rule_id in raw:
        try:
            resolved[rule_id] = RuleSet.model_validate(resolve(rule_id))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise RuleSetError(f"{rule_id}.toml: {problems}") from exc
    for kind in ("zan", "envelope"):
        defaults = [r.id for r in resolved.values() if r.default and getattr(r, kind)]
        if len(defaults) != 1:
            raise RuleSetError(f"exactly one {kind} rule set must be the default, found {defaults}")
    return resolved


def default_ruleset_id(kind: Literal["zan", "envelope"]) -> str:
    return next(r.id for r in load_rulesets().values() if r.default and getattr(r, kind))


def get_ruleset(rule_id: str | None, *, kind: Literal["zan", "envelope"]) -> RuleSet:
    """The named rule set (or the default one of ``kind``), checked to hold ``kind`` rules."""
    rulesets = load_rulesets()
    rule_id = rule_id or default_ruleset_id(kind)
    if rule_id not in rulesets:
        raise RuleSetError(f"unknown rule set {rule_id!r} (known: {', '.join(sorted(rulesets))})")
    ruleset = rulesets[rule_id]
    if getattr(ruleset, kind) is None:
        raise RuleSetError(f"rule set {rule_id!r} has no {kind} rules")
    return ruleset
