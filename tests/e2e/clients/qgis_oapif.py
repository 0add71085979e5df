"""QGIS (Debian's qgis, headless) as an OGC API - Features client: run by
tests/e2e/test_clients.py with the system Python that python3-qgis belongs to.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/e2e/clients/qgis_oapif.py BASE_URL

Prints one JSON object: QGIS's version, the whole parcels layer (validity, feature count,
CRS, fields and their types), a layer filtered by a subset string (its feature ids), and the
communes layer's feature count and field types.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import Qgis, QgsApplication, QgsVectorLayer  # noqa: E402


def layer(base: str, name: str) -> QgsVectorLayer:
    uri = f"url='{base}/' typename='{name}' restrictToRequestBBOX='0' pageSize='1000'"
    return QgsVectorLayer(uri, name, "OAPIF")


def _xy(point) -> list[float]:
    return [point.x(), point.y()]


def main() -> None:
    base, filter_text = sys.argv[1], sys.argv[2]
    app = QgsApplication([], False)
    app.initQgis()
    whole = layer(base, "parcels")
    communes = layer(base, "communes")
    filtered = layer(base, "parcels")
    subset_ok = filtered.setSubsetString(filter_text)
    ids = sorted(f["id"] for f in filtered.getFeatures())
    first = next(filtered.getFeatures(), None)
    result = {
        "version": Qgis.QGIS_VERSION,
        "valid": whole.isValid(),
        "count": whole.featureCount(),
        "crs": whole.crs().authid(),
        "fields": [f.name() for f in whole.fields()],
        "types": {f.name(): f.typeName() for f in whole.fields()},
        "communes": {
            "valid": communes.isValid(),
            "count": communes.featureCount(),
            "types": {f.name(): f.typeName() for f in communes.fields()},
        },
        "subset_ok": subset_ok,
        "filtered_ids": ids,
        "first_point": _xy(first.geometry().vertexAt(0)) if first else None,
    }
    print(json.dumps(result, default=str), flush=True)
    # QGIS 3.22 may crash while tearing its providers down (exitQgis, interpreter exit):
    # the answer is printed, the process ends here.
    os._exit(0)


if __name__ == "__main__":
    main()
