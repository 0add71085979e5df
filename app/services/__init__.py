"""Read queries behind the API. GeoJSON is produced by PostGIS and passed through as text."""
