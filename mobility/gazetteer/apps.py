from django.apps import AppConfig


class GazetteerConfig(AppConfig):
    name = "mobility.gazetteer"
    label = "gazetteer"
    verbose_name = "Gazetteer"

    def ready(self):
        from . import importers  # noqa: F401  (registers the gazetteer importers)
