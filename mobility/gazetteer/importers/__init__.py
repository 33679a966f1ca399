"""Gazetteer importers; importing this package registers them with core.imports."""

from . import cod, geojson, locations  # noqa: F401
