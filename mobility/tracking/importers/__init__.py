"""Tracking importers; importing this package registers them with core.imports."""
