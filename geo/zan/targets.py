"""Where a territory's ZAN target comes from: the levels a trajectory is asked for (the
territories' table and the SCoT of an imported perimeter), and the cascade of targets,
the most specific first: commune, EPCI/PLUi, SCoT, then the région (``zan_target``, then the
rule set's régions), then the national one. A target says which territory set it and
whether it is regulatory for the territory asking.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo.territories import LEVELS, Level
from geo.zan.rulesets import ZanRules


class _ScotLevel(Level):
    """A SCoT: its communes are its imported perimeter (``foncier import zan-perimeters``,
    ``SCOT_<code>``); it exists only for ZAN trajectories, where a SCoT sees its own."""

    def name_sql(self, code: str = ":code") -> str:
        return (
            "SELECT coalesce(max(land_name), 'SCoT ' || max(land_code)) FROM zan_target_member "
            f"WHERE land_level = 'scot' AND land_code = {code} HAVING count(*) > 0"
        )


# The levels a trajectory is asked for: the territories' table, and the SCoT.
ZAN_LEVELS: dict[str, Level] = {
    **LEVELS,
    "scot": _ScotLevel(
        "scot",
        "zan_target_member",
        "land_code",
        r"^[A-Za-z0-9_-]{1,56}$",
        "c.insee IN (SELECT commune_insee FROM zan_target_member "
        "WHERE land_level = 'scot' AND land_code = :code)",
    ),
}
ZAN_LEVEL_NAMES = tuple(ZAN_LEVELS)


@dataclass(frozen=True)
class Target:
    """A reduction target and where it comes from."""

    reduction: float
    level: str  # the territory that set it: commune, epci, scot, custom, region, national
    code: str | None
    document: str | None
    regulatory: bool  # written in an adopted planning document, for this very territory
    binding: bool  # False where the région is not bound by the intermediate target
    legal_status: str
    source: str
    url: str | None = None
    date: str | None = None
    # what the figure is (a région's: REGIONAL_FIGURES), and what is known beside it
    figure: str | None = None
    note: str | None = None

    def described(self, territory: tuple[str, str]) -> dict[str, Any]:
        own = (self.level, self.code) == territory
        origin = f"{self.level} {self.code}" if self.code else "national"
        return {
            "reduction": round(self.reduction, 6),
            "set_by": {"level": self.level, "code": self.code},
            "origin": "own" if own else f"inherited from {origin}",
            # an inherited target is a suggestion for the territory, not its own rule
            "regulatory": self.regulatory and own,
            "binding": self.binding,
            "legal_status": self.legal_status,
            "document": self.document,
            "source": self.source,
            "url": self.url,
            "date": self.date,
            **({"figure": self.figure} if self.figure else {}),
            **({"note": self.note} if self.note else {}),
        }


class Targets:
    """The targets that apply, read once per answer: the imported cascades and the rule
    set's régions."""

    def __init__(self, conn: Connection, rules: ZanRules) -> None:
        self.rules = rules
        self.cascade: dict[tuple[str, str], Any] = {}
        self.perimeters: dict[str, list[tuple[str, str]]] = defaultdict(list)
        if rules.territorial_targets:
            for row in conn.execute(
                text(
                    "SELECT land_level, land_code, reduction, document, regulatory, "
                    "document_url, comment, source FROM zan_target"
                )
            ).mappings():
                self.cascade[(row["land_level"], row["land_code"])] = row
            for level, code, insee in conn.execute(
                text(
                    "SELECT land_level, land_code, commune_insee FROM zan_target_member "
                    "ORDER BY land_level, land_code"
                )
            ).all():
                if (level, code) in self.cascade:
                    self.perimeters[insee].append((level, code))

    def _imported(self, level: str, code: str) -> Target:
        row = self.cascade[(level, code)]
        note = f"; {row['comment']}" if row["comment"] else ""
        return Target(
            reduction=float(row["reduction"]),
            level=level,
            code=code,
            document=row["document"],
            regulatory=bool(row["regulatory"]),
            binding=True,
            legal_status="document-adopted" if row["regulatory"] else "document-proposed",
            source=f"territorialisation imported from {row['source']}{note}",
            url=row["document_url"],
        )

    def own(self, level: str, code: str) -> Target | None:
        """The target a territory has of its own, if any."""
        if level in ("commune", "epci", "region", "scot") and (level, code) in self.cascade:
            return self._imported(level, code)
        if level == "region":
            return self._regional(code)
        return None

    def _regional(self, region: str | None) -> Target:
        rules = self.rules
        regional = rules.regions.get(region or "")
        if regional is None:
            return self.national()
        if regional.reduction is None:
            # Corsica, overseas: their own document sets the trajectory; the national
            # figure is shown, not binding.
            return Target(
                reduction=rules.national_reduction,
                level="region",
                code=region,
                document=regional.document,
                regulatory=False,
                binding=False,
                legal_status=regional.legal_status,
                source=f"{regional.source}; figure shown: {rules.reduction_source}",
                url=regional.url,
                date=regional.date.isoformat() if regional.date else None,
                figure=regional.figure,
                note=regional.sraddet_note,
            )
        return Target(
            reduction=regional.reduction,
            level="region",
            code=region,
            document=regional.document,
            regulatory=regional.legal_status == "sraddet-adopted",
            binding=True,
            legal_status=regional.legal_status,
            source=regional.source,
            url=regional.url,
            date=regional.date.isoformat() if regional.date else None,
            figure=regional.figure,
            note=regional.sraddet_note,
        )

    def national(self) -> Target:
        return Target(
            reduction=self.rules.national_reduction,
            level="national",
            code=None,
            document="loi n° 2021-1104",
            regulatory=True,
            binding=True,
            legal_status="law",
            source=self.rules.reduction_source,
        )

    def for_commune(self, insee: str, epci: str | None, region: str | None) -> Target:
        """Commune, then EPCI (PLUi), then SCoT/custom perimeter, then région, then nation."""
        if ("commune", insee) in self.cascade:
            return self._imported("commune", insee)
        if epci and ("epci", epci) in self.cascade:
            return self._imported("epci", epci)
        if self.perimeters.get(insee):
            return self._imported(*self.perimeters[insee][0])
        if region and ("region", region) in self.cascade:
            return self._imported("region", region)
        return self._regional(region)
