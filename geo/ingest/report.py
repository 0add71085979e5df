"""What an import did, for the CLI summary and the import_run table."""

from __future__ import annotations

import datetime
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# A vintage is read by people (a dossier's sources, GET /sources): French. Imports recorded
# before it was written in French said "updated up to YYYY-MM-DD": read as the same words.
_UPDATED_UP_TO_EN = re.compile(r"^updated up to (\d{4})-(\d{2})-(\d{2})$")


def updated_up_to(day: datetime.date | None) -> str | None:
    """The vintage of a layer whose features carry their own update date: the latest one."""
    return f"mis à jour jusqu'au {day:%d/%m/%Y}" if day else None


def vintage_text(stored: str | None) -> str | None:
    """A recorded vintage as a reader is shown it (an older import's English said in French)."""
    match = _UPDATED_UP_TO_EN.match(stored or "")
    if match is None:
        return stored
    year, month, day = match.groups()
    return f"mis à jour jusqu'au {day}/{month}/{year}"


@dataclass
class ImportReport:
    kind: str
    source: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    # Facts a person must see but that do not stop the import (merged commune codes…).
    warnings: list[str] = field(default_factory=list)
    # Per-table counts for loaders that write several tables.
    tables: dict[str, int] = field(default_factory=dict)
    # Lineage (import_run.departements, .communes, .vintage): the départements and the
    # communes where the file put data (its coverage) and the data's vintage, where the
    # loader can tell them.
    departements: set[str] = field(default_factory=set)
    communes: set[str] = field(default_factory=set)
    vintage: str | None = None

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    def as_json(self) -> dict[str, Any]:
        """The counts and what goes with them (the lineage is in import_run)."""
        counts = ("read", "inserted", "updated", "unchanged", "repaired", "warnings", "tables")
        return {name: getattr(self, name) for name in counts} | {"rejected": dict(self.rejected)}

    def lines(self) -> list[str]:
        if self.read and not (self.written or self.unchanged or self.rejected):
            # Reference loaders upsert several tables: they report each one's count.
            out = [f"  {self.kind}: read {self.read} records"]
        else:
            out = [
                f"  {self.kind}: read {self.read}, written {self.written} "
                f"({self.inserted} new, {self.updated} updated), unchanged {self.unchanged}, "
                f"repaired {self.repaired}, rejected {sum(self.rejected.values())}"
            ]
        out += [f"    {table}: {count}" for table, count in self.tables.items()]
        out += [f"    rejected ({reason}): {n}" for reason, n in self.rejected.items()]
        out += [f"    warning: {w}" for w in self.warnings]
        return out
