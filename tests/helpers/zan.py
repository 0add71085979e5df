"""ZAN test cases: the worked case of docs/methode.md ("le cas d'école") as synthetic Cerema
flows on real communes, the territorialised targets of Hauts-de-France, synthetic PENE lists."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import DATA

EPINAY, SACLAY, MASSY = "91216", "91534", "91377"  # members of CA Paris-Saclay (27 communes)
ROCHY_CONDE = "60542"  # Oise, CA du Beauvaisis: no target of its own, inherits the région's
SENLIS = "60612"  # CC Senlis Sud Oise (200066975, 17 communes): −57.30 % in the cascade
AJACCIO = "2A004"  # Corse: PADDUC, not bound by the intermediate −50 %
BOGNY = "08081"  # Bogny-sur-Meuse, merged with 08253 and 08108
HDF_TARGETS = DATA / "zan" / "territorialisation-hauts-de-france.json"


def flows(reference_per_year: float, period: dict[int, float]) -> dict[int, dict[str, float]]:
    """m² per year: the reference years evenly, then the given period years."""
    years = {y: {"act": reference_per_year} for y in range(2011, 2021)}
    years.update({y: {"hab": v} for y, v in period.items()})
    return years


# The worked case of docs/methode.md ("le cas d'école"), synthetic flows in m² per year.
CAS_ECOLE = {
    # 20 ha of reference -> 10 ha allowed; 1.5 ha/yr since 2021 -> 15 ha projected
    EPINAY: flows(20_000, {2021: 15_000, 2022: 15_000, 2023: 15_000}),
    # 0.6 ha of reference -> 0.3 ha, raised to the 1 ha floor; 0.1 ha/yr -> 1.0 ha
    SACLAY: flows(600, {2021: 1_000, 2022: 1_000, 2023: 1_000}),
    # 4 ha of reference -> 2 ha allowed; 2.5 ha already consumed
    MASSY: flows(4_000, {2021: 25_000}),
    ROCHY_CONDE: flows(10_000, {2022: 5_000}),
    SENLIS: flows(10_000, {2021: 3_000}),
    AJACCIO: flows(10_000, {2021: 6_000, 2022: 6_000, 2023: 6_000}),
}


def pene_list(tmp_path: Path, massy_ha: float, with_epinay: bool = True) -> Path:
    path = tmp_path / f"pene-SYNTHETIQUE-{massy_ha}-{with_epinay}.csv"
    lines = ["pene_id;name;commune_insee;hectares", f"T1;Ligne test (synthetic);{MASSY};{massy_ha}"]
    if with_epinay:
        lines.append(f"T2;Usine test (synthetic);{EPINAY};30")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def pene_seen(tmp_path: Path) -> Path:
    """What the synthetic PENE T1 consumed at Massy: 1.0 ha in 2021, 0.5 ha in 2022."""
    path = tmp_path / "pene-consumption-SYNTHETIQUE.csv"
    path.write_text(
        f"pene_id;commune_insee;year;hectares\nT1;{MASSY};2021;1.0\nT1;{MASSY};2022;0.5\n",
        encoding="utf-8",
    )
    return path
