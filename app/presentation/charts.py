"""Charts for people who would rather look than read: PNG, drawn with matplotlib."""

from __future__ import annotations

import datetime
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory

import matplotlib.pyplot as plt  # noqa: E402


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
    ax.step(months, remaining, where="post", color="#1f6f8b", lw=2, label="remaining")
    projection = report["projection"]
    per_day = projection["pace_ha_per_year"] / 365.25
    if per_day > 0 and today < end:
        # the current pace carried on until the envelope is empty or the period ends
        left = report["national"]["remaining_ha"]
        exhaustion = projection["exhaustion_date"]
        stop = datetime.date.fromisoformat(exhaustion) if exhaustion else end
        when = f"empty on {exhaustion}" if exhaustion else f"not empty by {end.isoformat()}"
        ax.plot(
            [today, stop],
            [left, max(left - per_day * (stop - today).days, 0)],
            "--",
            color="#c0392b",
            label=f"current pace, {projection['pace_ha_per_year']:.1f} ha/yr: {when}",
        )
    for threshold in (0.5, 0.8, 1.0):
        ax.axhline(total * (1 - threshold), color="#999", lw=0.8, ls=":")
    ax.set_xlim(start, end)
    ax.set_ylim(0, total * 1.05)
    ax.set_ylabel("hectares left")
    ax.set_title(f"{report['ruleset']['name']} ({report['ruleset']['legal_status']})")
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
    ax.plot(years, cumulative, "o-", color="#1f6f8b", label="consumed (Cerema flows)")
    if t["declared_projects_ha"]:
        ax.plot(
            [years[-1], years[-1]],
            [cumulative[-1], t["consumed_ha"]],
            ":",
            color="#8e44ad",
            lw=2,
            label=f"+ declared projects ({t['declared_projects_ha']:.1f} ha)",
        )
    if t["years_left"] > 0:
        ax.plot(
            [years[-1], last],
            [t["consumed_ha"], t["projection_ha"]],
            "--",
            color="#c0392b",
            label=f"projection at {t['pace_ha_per_year']:.2f} ha/yr",
        )
    ax.axhline(t["allowed_ha"], color="#27ae60", label=f"allowed {t['allowed_ha']:.1f} ha")
    ax.set_xlim(first - 1, last)
    ax.set_xlabel("year (flows to 1 January of the next)")
    ax.set_ylabel("hectares since 1 January " + str(first))
    territory = t["territory"]
    ax.set_title(f"{territory['name']} ({territory['level']} {territory['code']}): {t['status']}")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)
