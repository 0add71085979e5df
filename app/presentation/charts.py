"""Charts for people who would rather look than read: PNG, drawn with matplotlib."""

from __future__ import annotations

import datetime
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory

import matplotlib.pyplot as plt  # noqa: E402

# The charts speak French, as the page that shows them: numbers with a decimal comma,
# dates day/month/year, statuses and levels in the words of the ZAN.
STATUS = {
    "on_track": "dans la trajectoire",
    "will_exceed": "dépassement projeté",
    "exceeded": "enveloppe dépassée",
    "no_data": "données manquantes",
    "partial_data": "données partielles",
}
LEVELS = {
    "commune": "commune",
    "epci": "EPCI",
    "scot": "SCoT",
    "departement": "département",
    "region": "région",
    "territoire_industrie": "Territoire d'industrie",
}
LEGAL_STATUS = {"law": "loi", "decree": "décret", "proposal": "proposition"}


def _ha(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}".replace(",", "\u202f").replace(".", ",")


def _day(iso: str) -> str:
    return datetime.date.fromisoformat(iso[:10]).strftime("%d/%m/%Y")


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def envelope_burndown(report: dict[str, Any]) -> bytes:
    """Remaining hectares month by month over the envelope's period, and the current pace
    carried on to the end of the period (the exhaustion date is in the legend)."""
    total = report["national"]["total_ha"]
    first, last = report["period"]
    start, end = datetime.date(first, 1, 1), datetime.date(last, 12, 31)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    today = datetime.date.today()
    months = [start] + [datetime.date.fromisoformat(m["month"]) for m in report["monthly"]]
    remaining = [total] + [m["remaining_ha"] for m in report["monthly"]]
    months.append(max(today, months[-1]))  # the last state holds until today
    remaining.append(remaining[-1])
    ax.step(months, remaining, where="post", color="#1f6f8b", lw=2, label="restant")
    projection = report["projection"]
    per_day = projection["pace_ha_per_year"] / 365.25
    if per_day > 0 and today < end:
        # the current pace carried on until the envelope is empty or the period ends
        left = report["national"]["remaining_ha"]
        exhaustion = projection["exhaustion_date"]
        stop = datetime.date.fromisoformat(exhaustion) if exhaustion else end
        when = (
            f"épuisée le {_day(exhaustion)}"
            if exhaustion
            else f"non épuisée au {_day(end.isoformat())}"
        )
        ax.plot(
            [today, stop],
            [left, max(left - per_day * (stop - today).days, 0)],
            "--",
            color="#c0392b",
            label=f"rythme actuel, {_ha(projection['pace_ha_per_year'])} ha/an : {when}",
        )
    for threshold in (0.5, 0.8, 1.0):
        ax.axhline(total * (1 - threshold), color="#999", lw=0.8, ls=":")
    ax.set_xlim(start, end)
    ax.set_ylim(0, total * 1.05)
    ax.set_ylabel("hectares restants")
    status = report["ruleset"]["legal_status"]
    ax.set_title(f"{report['ruleset']['name']} ({LEGAL_STATUS.get(status, status)})")
    ax.legend(loc="lower left")
    ax.grid(alpha=0.3)
    return _png(fig)


def trajectory_chart(t: dict[str, Any], yearly: list[tuple[int, float]]) -> bytes:
    """Cumulative consumption since the period began, the allowance and the projection."""
    first, last = t["period"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    years, cumulative, total = [first - 1], [0.0], 0.0
    for year, ha in yearly:
        if first <= year <= last:
            total += ha
            years.append(year)
            cumulative.append(total)
    ax.plot(years, cumulative, "o-", color="#1f6f8b", label="consommé (flux Cerema)")
    if t["declared_projects_ha"]:
        ax.plot(
            [years[-1], years[-1]],
            [cumulative[-1], t["consumed_ha"]],
            ":",
            color="#8e44ad",
            lw=2,
            label=f"+ projets déclarés ({_ha(t['declared_projects_ha'])} ha)",
        )
    if t["years_left"] > 0:
        ax.plot(
            [years[-1], last],
            [t["consumed_ha"], t["projection_ha"]],
            "--",
            color="#c0392b",
            label=f"projection au rythme de {_ha(t['pace_ha_per_year'], 2)} ha/an",
        )
    ax.axhline(t["allowed_ha"], color="#27ae60", label=f"autorisé {_ha(t['allowed_ha'])} ha")
    ax.set_xlim(first - 1, last)
    ax.set_xlabel("année (flux jusqu'au 1er janvier suivant)")
    ax.set_ylabel(f"hectares depuis le 1er janvier {first}")
    territory = t["territory"]
    level = LEVELS.get(territory["level"], territory["level"])
    status = STATUS.get(t["status"], t["status"])
    ax.set_title(f"{territory['name']} ({level} {territory['code']}) : {status}")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)
