"""OGC API - Features, Tiles and CQL2: conformance, HTML, the tile cache."""
