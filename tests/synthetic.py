"""Small synthetic files in the exact published formats, for sources with no real
extract available offline. Every file these functions write is marked synthetic."""

from __future__ import annotations

import random
from pathlib import Path

DESTINATIONS = ("act", "hab", "mix", "rou", "fer", "inc")


def cerema_consumption_csv(
    path: Path,
    flows: dict[str, dict[int, dict[str, float]]],
    first_year: int = 2009,
    last_year: int = 2023,
    with_reference_total: bool = True,
) -> Path:
    """A Cerema conso_com-style CSV: ``flows[commune][year][destination] = m²``.

    Columns in Cerema's order: idcom, idcomtxt, iddep, idreg, epci23, then per year
    the total nafAAartBB and the six artAA{dest}BB, then naf11art21. The total of a
    year is the sum of its destinations unless ``flows[c][y]["total"]`` overrides it.
    """
    header = ["idcom", "idcomtxt", "iddep", "idreg", "epci23"]
    for year in range(first_year, last_year + 1):
        a, b = f"{year % 100:02d}", f"{(year + 1) % 100:02d}"
        header.append(f"naf{a}art{b}")
        header += [f"art{a}{d}{b}" for d in DESTINATIONS]
    if with_reference_total:
        header.append("naf11art21")
    lines = [";".join(header)]
    for commune, years in flows.items():
        row = [commune.lstrip("0"), f"Commune {commune} (synthetic)", commune[:2], "", ""]
        reference = 0.0
        for year in range(first_year, last_year + 1):
            parts = years.get(year, {})
            values = [float(parts.get(d, 0.0)) for d in DESTINATIONS]
            total = float(parts.get("total", sum(values)))
            if 2011 <= year <= 2020:
                reference += total
            row.append(f"{total:g}")
            row += [f"{v:g}" for v in values]
        if with_reference_total:
            row.append(f"{reference:g}")
        lines.append(";".join(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def random_flows(communes: list[str], seed: int = 1) -> dict[str, dict[int, dict[str, float]]]:
    rng = random.Random(seed)
    return {
        c: {
            y: {d: float(rng.randrange(0, 4000, 10)) for d in DESTINATIONS}
            for y in range(2009, 2024)
        }
        for c in communes
    }
