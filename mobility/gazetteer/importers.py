"""Gazetteer importers (COD p-code tables, the global p-code list, GeoJSON boundaries)."""
