"""Rule sets: the ZAN trajectory and the national envelopes as versioned data.

Each rule set is a TOML file in ``geo/rules/`` (or ``FONCIER_RULES_DIR``), validated on
load: a legal status (law / decree / proposal), effective dates and parameters. A
what-if variant ``extends`` another rule set and overrides some parameters. Nothing
here is a constant buried in code: the answer of every computation names the rule
set it used.
"""

from __future__ import annotations

import datetime
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

RULES_DIR = Path(__file__).parent / "rules"


class RuleSetError(ValueError):
    """A rule set file is missing, malformed or inconsistent."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZanRules(_Strict):
    reference_first_year: int
    reference_last_year: int
    period_first_year: int
    period_last_year: int
    reduction: float = Field(ge=0, le=1)
    garantie_communale_ha: float = Field(ge=0)
    communal_tolerance: float = Field(ge=0)
    industrial_weight: float = Field(ge=0)
    commercial_weight: float = Field(ge=0)
    regional_reductions: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _years(self) -> ZanRules:
        if self.reference_first_year > self.reference_last_year:
            raise ValueError("reference_first_year is after reference_last_year")
        if self.period_first_year > self.period_last_year:
            raise ValueError("period_first_year is after period_last_year")
        if self.reference_last_year >= self.period_first_year:
            raise ValueError("the reference must end before the period starts")
        for region, value in self.regional_reductions.items():
            if not 0 <= value <= 1:
                raise ValueError(f"regional reduction of {region} must be within 0..1")
        return self

    def reduction_for(self, region: str | None) -> float:
        """A région's own target overrides the national one; its communes inherit it."""
        return self.regional_reductions.get(region or "", self.reduction)


class EnvelopeRules(_Strict):
    total_ha: float = Field(gt=0)
    first_year: int
    last_year: int
    allow_overdraft: bool = False
    counts_against_local_trajectories: bool = True


class RuleSet(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    legal_status: Literal["law", "decree", "proposal"]
    legal_basis: str
    effective_from: datetime.date
    effective_to: datetime.date | None = None
    default: bool = False
    extends: str | None = None
    zan: ZanRules | None = None
    envelope: EnvelopeRules | None = None

    def summary(self) -> dict[str, object]:
        """What every answer states about the rules it used."""
        return {
            "id": self.id,
            "name": self.name,
            "legal_status": self.legal_status,
            "legal_basis": self.legal_basis,
            "effective_from": self.effective_from.isoformat(),
        }


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
    raw: dict[str, dict] = {}
    for path in sorted(Path(directory).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise RuleSetError(f"{path.name}: not valid TOML ({exc})") from exc
        if data.get("id") != path.stem:
            raise RuleSetError(f"{path.name}: id must be the file name ({path.stem})")
        raw[path.stem] = data
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
        base = {k: v for k, v in resolve(parent, (*seen, rule_id)).items() if k != "default"}
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
