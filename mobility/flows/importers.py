"""Registers the importers of this app with the importer framework."""
