"""The demo data set: every real file shipped under data/ (see data/README.md), in the
order the loaders need, each by its loader's name (geo.ingest.loaders). ``foncier import
demo`` and the README's reproduced searches (tests/docs/test_demo_territories.py) run these
same steps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from geo.ingest.loaders import BY_NAME
from geo.ingest.report import ImportReport

Step = tuple[Path, Callable[[Engine, Path], ImportReport]]


def demo_steps(data: Path, *, with_admin: bool = True) -> list[Step]:
    steps = [(data / "admin", "admin")] if with_admin else []
    # Épinay-sur-Orge (91216) and four adjacent communes of the Territoire d'industrie
    # Grand-Orly Seine Bièvre (91027, 91326, 91432, 91479)
    steps += [(p, "cadastre") for p in sorted((data / "cadastre").glob("*.json*"))]
    steps += [
        # Terres-de-Bord (27412): parcels trimmed by their publisher to id/section/numero
        (data / "batiments" / "cadastre-27412-parcelles-trimmed.geojson.gz", "cadastre"),
        # ... and its Etalab buildings: vacant and built land of that commune
        (data / "batiments" / "cadastre-27412-batiments.geojson.gz", "buildings"),
        # the 149 Territoires d'industrie of the ANCT, with their outlines
        (data / "territoires-industrie" / "territoires-industrie-anct.geojson.gz",
         "territoires-industrie"),
        (data / "friches" / "cartofriches-08.csv", "friches"),
        (data / "friches" / "ardennes-friches.csv", "friches"),
        (data / "friches" / "ardennes-friches.geojson", "friches"),
        (data / "pollution" / "basol-sample.geojson", "basol"),
        (data / "plu" / "zone_urba_DU_17345.geojson", "plu"),
        # a full CNIG delivery: zones, prescriptions, document (Arpaillargues, 30014)
        (data / "plu" / "30014_PLU_20171013.zip", "plu"),
        # risk plans in vector form: a PPRN of the Isère (CNIG PPR), PPRT servitudes (PM3)
        (data / "risques" / "pprn-38DDT20180003.zip", "ppr"),
        (data / "risques" / "pprt-pm3-28-assiette.geojson", "pprt"),
        (data / "zae" / "site-eco-exemple-cnig.csv", "site-eco"),
        (data / "zae" / "terrain-eco-exemple-cnig.csv", "terrain-eco"),
        # synthetic: see data/consommation/README.md
        (data / "consommation" / "conso-naf-SYNTHETIQUE-2009-2023.csv", "consumption"),
        # real: Mon Diagnostic Artificialisation's territorialisation of Hauts-de-France
        (data / "zan" / "territorialisation-hauts-de-france.json", "zan-targets"),
    ]  # fmt: skip
    # synthetic: see data/ocsge/README.md (two millésimes of Épinay-sur-Orge)
    steps += [(p, "ocsge") for p in sorted((data / "ocsge").glob("*SYNTHETIQUE*.gpkg"))]
    return [(path, BY_NAME[name].function) for path, name in steps]
