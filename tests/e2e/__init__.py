"""Real clients end to end: the page in Chromium, GDAL, QGIS, the schemathesis fuzzer."""
