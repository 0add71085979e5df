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


# -- OCS GE -----------------------------------------------------------------------------

# A SYNTHETIC OCS GE "artificialisation" delivery of Épinay-sur-Orge (91216), two
# millésimes, in IGN's schema as MTES-MCT/sparte reads it (layer artif_<millésime>_<dép>,
# id, code_cs, code_us, millesime, source, ossature, id_origine, code_or, aire, artif,
# crit_seuil, geometry the_geom, EPSG:2154). Squares in Lambert-93 inside the commune, the
# rest of its extent one field: (x0, y0, x1, y1), then (code_cs, code_us, artif, crit_seuil)
# per millésime.
OCSGE_EPINAY: dict[str, tuple[tuple[float, float, float, float], dict[int, tuple]]] = {
    # a field built on: +1 ha artificialised
    "S1": ((649700, 6841400, 649800, 6841500), {
        2021: ("CS2.2.1", "US1.1", "non artif", False),
        2024: ("CS1.1.1.1", "US2", "artif", False)}),
    # a car park turned into a wood: 0.25 ha renaturalised
    "S2": ((649820, 6841400, 649870, 6841450), {
        2021: ("CS1.1.1.2", "US4.1.1", "artif", False),
        2024: ("CS2.1.1.1", "US6.3", "non artif", False)}),
    # houses, both millésimes: 0.5 ha of artificial stock, no flow
    "S3": ((649700, 6841520, 649800, 6841570), {
        2021: ("CS1.1.1.1", "US5", "artif", False),
        2024: ("CS1.1.1.1", "US5", "artif", False)}),
    # a 400 m² building below the nomenclature's threshold: IGN keeps it non artificialised
    # (crit_seuil), the couverture × usage matrix cannot tell
    "S5": ((649820, 6841470, 649840, 6841490), {
        2021: ("CS2.2.1", "US1.1", "non artif", False),
        2024: ("CS1.1.1.1", "US5", "non artif", True)}),
}  # fmt: skip
OCSGE_MILLESIMES = (2021, 2024)


def ocsge_artif_gpkg(
    path: Path, millesime: int, commune_outline, *, with_artif: bool = True
) -> Path:
    """Write the SYNTHETIC delivery of one millésime (see OCSGE_EPINAY) to ``path``; the
    rest of ``commune_outline``'s extent (Lambert-93, plus 200 m) is one field.
    ``with_artif=False`` drops the artif and crit_seuil fields (a plain OCS GE layer)."""
    import geopandas as gpd
    import shapely

    squares = {k: shapely.box(*box) for k, (box, _) in OCSGE_EPINAY.items()}
    for key, square in squares.items():
        assert commune_outline.contains(square), f"{key} is not inside the commune"
    rest = shapely.box(*commune_outline.buffer(200).bounds).difference(
        shapely.union_all(list(squares.values()))
    )
    rows = [(key, *OCSGE_EPINAY[key][1][millesime], squares[key]) for key in sorted(squares)] + [
        ("REST", "CS2.2.1", "US1.1", "non artif", False, rest)
    ]
    frame = gpd.GeoDataFrame(
        {
            "id": [f"OCSGE-SYNTHETIQUE-{millesime}-{r[0]}" for r in rows],
            "code_cs": [r[1] for r in rows],
            "code_us": [r[2] for r in rows],
            "millesime": [str(millesime)] * len(rows),
            "source": ["SYNTHETIQUE"] * len(rows),
            "ossature": [0] * len(rows),
            "id_origine": [r[0] for r in rows],
            "code_or": [None] * len(rows),
            "aire": [r[5].area for r in rows],
            "artif": [r[3] for r in rows],
            "crit_seuil": [r[4] for r in rows],
        },
        geometry=gpd.GeoSeries([r[5] for r in rows], crs=2154),
    ).rename_geometry("the_geom")
    if not with_artif:
        frame = frame.drop(columns=["artif", "crit_seuil", "millesime"])
    layer = f"artif_{millesime}_91" if with_artif else "OCCUPATION_SOL"
    frame.to_file(path, layer=layer, driver="GPKG", layer_options={"GEOMETRY_NAME": "the_geom"})
    return path
