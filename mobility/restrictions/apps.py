from django.apps import AppConfig


class RestrictionsConfig(AppConfig):
    name = "mobility.restrictions"
    label = "restrictions"
    verbose_name = "Mobility points of entry and travel restrictions"

    def ready(self):
        from . import importers  # noqa: F401  (registers the restriction importers)
