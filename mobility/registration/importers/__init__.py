"""Registration importers (registered with core.imports when the app loads)."""
