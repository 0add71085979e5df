"""The demo data set: every real file shipped under data/ (see data/README.md), in the
order the loaders need. ``foncier import demo`` and the README's reproduced searches
(tests/test_demo_territories.py) run these same steps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from geo.ingest.report import ImportReport

Step = tuple[Path, Callable[[Engine, Path], ImportReport]]


def demo_steps(data: Path, *, with_admin: bool = True) -> list[Step]:
    from geo.ingest.admin import load_admin
    from geo.ingest.buildings import load_buildings
    from geo.ingest.cadastre import load_cadastre
    from geo.ingest.consumption import load_consumption
    from geo.ingest.friches import load_friches
    from geo.ingest.ocsge import load_ocsge
    from geo.ingest.plu import load_plu
    from geo.ingest.pollution import load_basol
    from geo.ingest.risks import load_pm3, load_ppr
    from geo.ingest.territoires import load_territoires_industrie
    from geo.ingest.zae import load_site_eco, load_terrain_eco
    from geo.ingest.zan_rules import load_targets

    steps: list[Step] = [(data / "admin", load_admin)] if with_admin else []
    # Épinay-sur-Orge (91216) and four adjacent communes of the Territoire d'industrie
    # Grand-Orly Seine Bièvre (91027, 91326, 91432, 91479)
    steps += [(p, load_cadastre) for p in sorted((data / "cadastre").glob("*.json*"))]
    # Terres-de-Bord (27412): parcels trimmed by their publisher to id/section/numero
    steps.append(
        (data / "batiments" / "cadastre-27412-parcelles-trimmed.geojson.gz", load_cadastre)
    )
    # ... and its Etalab buildings: vacant and built land of that commune
    steps.append((data / "batiments" / "cadastre-27412-batiments.geojson.gz", load_buildings))
    steps += [
        # the 149 Territoires d'industrie of the ANCT, with their outlines
        (data / "territoires-industrie" / "territoires-industrie-anct.geojson.gz",
         load_territoires_industrie),
        (data / "friches" / "cartofriches-08.csv", load_friches),
        (data / "friches" / "ardennes-friches.csv", load_friches),
        (data / "friches" / "ardennes-friches.geojson", load_friches),
        (data / "pollution" / "basol-sample.geojson", load_basol),
        (data / "plu" / "zone_urba_DU_17345.geojson", load_plu),
        # a full CNIG delivery: zones, prescriptions, document (Arpaillargues, 30014)
        (data / "plu" / "30014_PLU_20171013.zip", load_plu),
        # risk plans in vector form: a PPRN of the Isère (CNIG PPR), PPRT servitudes (PM3)
        (data / "risques" / "pprn-38DDT20180003.zip", load_ppr),
        (data / "risques" / "pprt-pm3-28-assiette.geojson", load_pm3),
        (data / "zae" / "site-eco-exemple-cnig.csv", load_site_eco),
        (data / "zae" / "terrain-eco-exemple-cnig.csv", load_terrain_eco),
        # synthetic: see data/consommation/README.md
        (data / "consommation" / "conso-naf-SYNTHETIQUE-2009-2023.csv", load_consumption),
        # real: Mon Diagnostic Artificialisation's territorialisation of Hauts-de-France
        (data / "zan" / "territorialisation-hauts-de-france.json", load_targets),
    ]  # fmt: skip
    # synthetic: see data/ocsge/README.md (two millésimes of Épinay-sur-Orge)
    steps += [(p, load_ocsge) for p in sorted((data / "ocsge").glob("*SYNTHETIQUE*.gpkg"))]
    return steps
