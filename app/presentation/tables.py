"""Reports as CSV tables: one header row, then a row per figure, values as the JSON gives them."""

from __future__ import annotations

import csv
import io
from typing import Any

from app.presentation.export import csv_cell

ENVELOPE_COLUMNS = ("level", "code", "name", "reserved_ha", "consumed_ha", "ruleset")


def envelope_csv(report: dict[str, Any], group_by: str | None) -> str:
    """The national line of an envelope report, then one line per group of group_by."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ENVELOPE_COLUMNS)
    ruleset = report["ruleset"]["id"]
    national = report["national"]
    rows = [["national", "", "", national["reserved_ha"], national["consumed_ha"], ruleset]]
    for group in report.get("groups", []):
        rows.append(
            [
                group_by,
                group["code"],
                group["name"],
                group["reserved_ha"],
                group["consumed_ha"],
                ruleset,
            ]
        )
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return out.getvalue()
